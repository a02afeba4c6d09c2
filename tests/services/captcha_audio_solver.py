"""A machine that reads the audio captcha by matching the shipped voice files: the attack of issue 10.

It knows everything but the server's key: the code, and every recording under
``portal/captcha_voice``. It compares a rendering with every shipped recording of every digit,
resampled over a range of speeds, in two ways:

- ``sliding``: normalised cross-correlation of every template at every lag of the whole rendering,
  then the best separate matches in time order. With the 31 speeds the first renderer used
  (``LANDED_SPEEDS``) this read every one of 200 renderings of that renderer;
- ``spectral``: per loud stretch (the speech stands above the murmur), log band energies per
  16 ms frame, mean-normalised per band (so a filter, echoes or a gain do not matter), aligned by
  dynamic time warping (so tempo does not matter), with a one-band tolerance (so a moderate pitch
  or formant shift does not matter).

``ncc_given_variants`` is the upper bound: the same correlation, told where each digit is and
handed the exact variant of every digit that the renderer would have made there.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

RATE = 8000
_FRAME = 128  # 16 ms at 8 kHz
_BANDS = 18
#: Length factors (time stretch, pitch down above 1) tried for every template by default.
SPEEDS = (0.82, 0.88, 0.94, 1.0, 1.06, 1.12, 1.19)
#: The first renderer (captcha 0.7.1) stretched each digit by one of these exactly.
LANDED_SPEEDS = tuple(round(0.90 + 0.01 * i, 2) for i in range(31))


def read_wav(data: bytes) -> np.ndarray:
    """Samples in [-1, 1] of an 8 kHz mono PCM WAV (8-bit unsigned or 16-bit signed)."""
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (1, RATE)
        width = wav.getsampwidth()
        raw = wav.readframes(wav.getnframes())
    if width == 1:
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768


def stretch(samples: np.ndarray, factor: float) -> np.ndarray:
    """Resample to ``factor`` times the length (linear interpolation)."""
    n = max(2, round(len(samples) * factor))
    return np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples).astype(np.float32)


def _decimate(x: np.ndarray, factor: int) -> np.ndarray:
    """Low-pass (windowed sinc, 41 taps) below the new Nyquist frequency, then keep one in ``factor``."""
    if factor == 1:
        return x
    taps = np.arange(-20, 21)
    kernel = np.sinc(taps / factor) * np.hamming(len(taps))
    return np.convolve(x, kernel / kernel.sum(), mode="same")[::factor]


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    return x / (np.linalg.norm(x) + 1e-9)


def _band_edges() -> np.ndarray:
    # Mel-like spacing between 100 Hz and 3.8 kHz, as FFT bins of a 256-point frame at 8 kHz.
    mel = np.linspace(2595 * np.log10(1 + 100 / 700), 2595 * np.log10(1 + 3800 / 700), _BANDS + 1)
    hz = 700 * (10 ** (mel / 2595) - 1)
    return np.round(hz / RATE * 256).astype(int)


_EDGES = _band_edges()


def features(x: np.ndarray) -> np.ndarray:
    """Frames x bands of mean-normalised log energies."""
    if len(x) < 256:
        x = np.pad(x, (0, 256 - len(x)))
    count = 1 + (len(x) - 256) // _FRAME
    idx = np.arange(256)[None, :] + _FRAME * np.arange(count)[:, None]
    power = np.abs(np.fft.rfft(x[idx] * np.hanning(256), axis=1)) ** 2
    cum = np.concatenate([np.zeros((count, 1)), np.cumsum(power, axis=1)], axis=1)
    bands = np.log(cum[:, _EDGES[1:]] - cum[:, _EDGES[:-1]] + 1e-6)
    return bands - bands.mean(axis=0)


def band_shifts(templates: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The template frames with their bands shifted by -1, 0 and +1, flattened, with squared norms."""
    count, m, bands = templates.shape
    out = []
    for shift in (-1, 0, 1):
        t = np.ascontiguousarray(np.roll(templates, shift, axis=2)[:, :, 1:-1].reshape(count * m, bands - 2))
        out.append((t, (t**2).sum(axis=1)))
    return out


def dtw_distances(query: np.ndarray, shifted: list[tuple[np.ndarray, np.ndarray]], lengths: np.ndarray) -> np.ndarray:
    """Per template, the mean frame distance along the best warping path through it.

    ``shifted`` is ``band_shifts`` of the templates (templates x frames x bands, padded past each
    one's ``lengths``). A path takes 0-2 template frames per query frame, paying for every template
    frame at least once, and may start and end anywhere in the query. Frame distances forgive a
    shift of one band either way.
    """
    count = len(lengths)
    q = query[:, 1:-1]
    q2 = (q**2).sum(axis=1)[:, None]
    cost = None
    for t, t2 in shifted:
        # Squared distances through one product: |q|^2 + |t|^2 - 2 q.t (einsum without optimize
        # stays out of BLAS, whose threads cost more than they save at this size).
        d2 = q2 + t2[None, :] - 2 * np.einsum("ik,jk->ij", q, t)
        cost = d2 if cost is None else np.minimum(cost, d2)
    cost = np.sqrt(np.maximum(cost, 0)).reshape(len(q), count, -1).transpose(1, 0, 2)
    count, n, m = cost.shape
    last = lengths - 1
    acc = np.full((count, m), np.inf)
    best = np.full(count, np.inf)
    for i in range(n):
        here = cost[:, i]
        step = acc.copy()  # stay on the template frame: the query frame is paid again
        step[:, 1:] = np.minimum(step[:, 1:], acc[:, :-1])
        # Skip a template frame only by paying for it too, so a path cannot save by skipping.
        step[:, 2:] = np.minimum(step[:, 2:], acc[:, :-2] + here[:, 1:-1])
        step[:, 0] = 0.0  # a path may start at any query frame, at the template's first frame
        acc = here + step
        best = np.minimum(best, acc[np.arange(count), last] / lengths)
    return best


class TemplateSolver:
    """Reads renderings by matching them against every shipped recording."""

    def __init__(self, voice_dir: Path, speeds: Sequence[float] = SPEEDS, decimate: int = 2) -> None:
        self.decimate = decimate
        recordings = [(path.parent.name, read_wav(path.read_bytes())) for path in sorted(voice_dir.glob("*/*.wav"))]
        self.digit_names = sorted({digit for digit, _ in recordings})
        bank = [(digit, _unit(_decimate(stretch(rec, speed), decimate))) for digit, rec in recordings
                for speed in speeds]
        self.rows = np.array([self.digit_names.index(digit) for digit, _ in bank])
        self.lengths = np.array([len(t) for _, t in bank])
        self.longest = int(self.lengths.max())
        self.shortest = int(self.lengths.min())
        # Length classes 4 % apart, each represented by its geometric middle.
        classes = np.round(np.log(self.lengths) / np.log(1.04)).astype(int)
        names, self.length_class = np.unique(classes, return_inverse=True)
        self.class_lengths = np.round(1.04 ** names).astype(int)
        self.bank = [t for _, t in bank]
        self._spectra: dict[int, np.ndarray] = {}
        feats = [(digit, features(rec)) for digit, rec in recordings]
        self.feature_rows = np.array([self.digit_names.index(digit) for digit, _ in feats])
        self.feature_lengths = np.array([len(f) for _, f in feats])
        self.feature_bank = np.zeros((len(feats), self.feature_lengths.max(), _BANDS))
        for i, (_, f) in enumerate(feats):
            self.feature_bank[i, : len(f)] = f
        self.feature_shifts = band_shifts(self.feature_bank)

    def _bank_spectrum(self, nfft: int) -> np.ndarray:
        if nfft not in self._spectra:
            padded = np.stack([np.pad(t, (0, nfft - len(t))) for t in self.bank])
            self._spectra[nfft] = np.conj(np.fft.rfft(padded.astype(np.float32), axis=1))
        return self._spectra[nfft]

    def ncc_tracks(self, x: np.ndarray) -> np.ndarray:
        """Digits x lags (in decimated samples): the best normalised correlation of any template of
        the digit starting at that lag.

        Each template is divided by the rendering's energy over a length within 4 % of its own
        (one division per length class rather than per template): normalised correlation to within
        a few per cent, at a fraction of the cost."""
        w = _decimate(x, self.decimate)
        w = (w - w.mean()).astype(np.float32)
        energy = np.concatenate([[0.0], np.cumsum(w.astype(np.float64) ** 2)])
        lags = np.arange(len(w))
        local = np.sqrt(np.maximum(energy[np.minimum(lags[None, :] + self.class_lengths[:, None], len(w))]
                                   - energy[lags][None, :], 1e-12))
        # Quiet stretches (pauses, the murmur) would be levelled up into false matches: the
        # attacker trusts loud speech, so the energy is floored at a third of the loudest.
        local = np.maximum(local, 0.33 * local.max(axis=1, keepdims=True)).astype(np.float32)
        # A multiple of 4096 (few sizes, so the templates' transforms are reused across renderings).
        # No room for the longest template past the end: only alignments that run past the end,
        # which no spoken digit needs, wrap around onto the quiet lead-in.
        nfft = -(-len(w) // 4096) * 4096
        spectrum = np.fft.rfft(w, nfft)[None, :]
        bank = self._bank_spectrum(nfft)
        tracks = np.empty((len(self.digit_names), len(w)), np.float32)
        for digit in range(len(self.digit_names)):
            rows = self.rows == digit
            corr = np.fft.irfft(spectrum * bank[rows], nfft, axis=1)[:, : len(w)]
            tracks[digit] = (corr / local[self.length_class[rows]]).max(axis=0)
        return tracks

    def read_sliding(self, tracks: np.ndarray, count: int) -> str:
        """The ``count`` best separate matches over the whole rendering, in time order."""
        tracks = tracks.copy()
        # Two matches closer than the shortest template are the same word.
        guard = self.shortest
        found = []
        for _ in range(count):
            digit, lag = np.unravel_index(np.argmax(tracks), tracks.shape)
            found.append((lag, self.digit_names[digit]))
            tracks[:, max(0, lag - guard): lag + guard] = -np.inf
        return "".join(digit for _, digit in sorted(found))

    @staticmethod
    def segments(x: np.ndarray, count: int) -> list[tuple[int, int]]:
        """Loud stretches of at least 150 ms (pauses under 150 ms are inside a word), at the
        highest threshold that yields ``count`` of them."""
        frames = len(x) // 80
        env = np.sqrt((x[: frames * 80].reshape(frames, 80) ** 2).mean(axis=1))
        env = np.convolve(env, np.ones(5) / 5, mode="same")
        found: list[tuple[int, int]] = []
        for factor in (0.5, 0.4, 0.3, 0.22, 0.15, 0.1, 0.06):
            runs: list[tuple[int, int]] = []
            start = None
            for i, loud in enumerate(np.append(env > factor * env.max(), False)):
                if loud and start is None:
                    start = i
                elif not loud and start is not None:
                    if runs and start - runs[-1][1] < 15:
                        runs[-1] = (runs[-1][0], i)
                    else:
                        runs.append((start, i))
                    start = None
            found = [(a * 80, b * 80) for a, b in runs if b - a >= 15]
            if len(found) >= count:
                break
        return found

    def read(self, data: bytes, count: int) -> dict[str, str]:
        """The solver's answers for one rendering of ``count`` digits, by method."""
        x = read_wav(data)
        candidates = []
        for start, end in self.segments(x, count):
            window = x[max(0, start - 240): min(len(x), end + 240)]
            distances = dtw_distances(features(window), self.feature_shifts, self.feature_lengths)
            nearest = int(distances.argmin())
            candidates.append((-float(distances[nearest]), start, self.digit_names[self.feature_rows[nearest]]))
        chosen = sorted(sorted(candidates, reverse=True)[:count], key=lambda c: c[1])
        return {
            "sliding": self.read_sliding(self.ncc_tracks(x), count),
            "spectral": "".join(digit for _, _, digit in chosen),
        }


def ncc_given_variants(mix: np.ndarray, spans: Sequence[tuple[int, int]],
                       variants: Sequence[dict[str, np.ndarray]]) -> str:
    """Read each digit at its known place by correlating with the exact variant of every digit there."""
    answer = []
    for (start, end), candidates in zip(spans, variants, strict=True):
        window = _unit(mix[start:end])

        def score(digit: str, window: np.ndarray = window, candidates: dict = candidates) -> float:
            variant = candidates[digit][: len(window)]
            return float(np.dot(window[: len(variant)], _unit(variant)))

        answer.append(max(candidates, key=score))
    return "".join(answer)
