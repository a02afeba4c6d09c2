"""Captcha media: the picture and the spoken version of a challenge's digits.

Both renderings are deterministic functions of ``(digits, seed)``: the caller derives the seed from
the challenge id with a server key, so fetching the same challenge again returns the same bytes
(voting over several fetches gains nothing, and a rendering can be cached), while nobody without
the key can predict the variation. All randomness comes from a generator seeded by ``seed``;
nothing here reads a global random state, and what is shared between threads (the glyph atlas,
the voice bank) is built once under a lock and never written again. "The same bytes" holds for the
pinned numpy and Pillow: another version may draw other numbers from the same seed (numpy does not
promise its generators' streams across versions), so hosts serving one challenge run one version.

We do not use flask-captcha2, though the design card names it: 3.1.0 fails to import its local
image captcha, and 3.0.x puts the answer in the Flask session, a cookie the client can read. The
``captcha`` library it wraps was our first renderer; we now keep only its bundled font, because its
audio merely resamples the shipped recordings (a template match read them all) and its image costs
~9 ms.

The audio speaks Bahasa Indonesia from our own voice files in ``portal/captcha_voice/id`` (made
once with espeak-ng; see the README there). Nothing here calls a speech engine. The files are
public, so they are not the defence: each spoken digit is bent by the seed (voice, speed, a
wobbling tempo and pitch, a shift of every frequency, echoes) so that no shipped recording lines up
with it, and it sits on a murmur of other digits played backwards and a little noise.
"""

from __future__ import annotations

import io
import random
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from captcha.image import DEFAULT_FONTS
from PIL import Image, ImageDraw, ImageFont

#: One directory per digit, each holding 8 kHz, 8-bit unsigned, mono PCM WAV files, one per voice.
VOICE_DIR = Path(__file__).resolve().parent.parent / "captcha_voice" / "id"

#: Fits a 360-px phone screen with the page's margins to spare.
IMAGE_WIDTH = 280
IMAGE_HEIGHT = 90
#: Large enough for five or six digits to be read at arm's length on a small phone.
IMAGE_FONT_SIZES = (56, 62, 68)

#: Text colours are drawn per channel from this range, backgrounds from the next: at least 5.9:1.
_TEXT_CHANNELS = (30, 90)
_BACKGROUND_CHANNELS = (238, 255)
#: Pre-drawn shapes per digit (size, rotation, warp), drawn once per process from a fixed seed so
#: that every worker has the same atlas and a seed gives the same picture everywhere.
_GLYPH_VARIANTS = 24
_ATLAS_SEED = 20261201
#: Anti-aliasing levels kept in the palette: 4 colours pack into 2 bits per pixel.
_PALETTE_LEVELS = 4

AUDIO_RATE = 8000
#: Loudness of the murmur and of the noise below the speech, drawn per rendering (dB).
AUDIO_BABBLE_DB = (9.0, 12.0)
AUDIO_NOISE_DB = 20.0
#: Silence before the first digit and between digits (seconds).
_LEAD_IN = (0.25, 0.5)
_GAP = (0.4, 0.8)
_TAIL = 0.3
#: Per-digit variation: length factor (above 1 is slower and lower), tempo/pitch wobble,
#: frequency shift (Hz), echoes (mean delay in samples, gain, how often the delay swings).
_SPEED = (0.85, 1.2)
_WOBBLE_DEPTH = (0.06, 0.12)
_WOBBLE_HZ = (2.5, 6.0)
_SHIFT_HZ = (40.0, 110.0)
_ECHO_DELAY = (8, 40)
_ECHO_GAIN = (0.2, 0.45)
_ECHO_SWEEP_HZ = (0.7, 2.0)
_SPEECH_RMS = 0.18

_build_lock = threading.Lock()
_atlas: list[list[Image.Image]] | None = None
_voices: list[list[np.ndarray]] | None = None


def _check_digits(digits: str) -> None:
    # The message must not repeat the digits: it may end up in a log or an error report.
    if not (digits and digits.isascii() and digits.isdigit()):
        raise ValueError("a captcha answer must be a non-empty string of ASCII digits")


def _check_seed(seed: bytes) -> None:
    if not isinstance(seed, bytes | bytearray) or not seed:
        raise TypeError("the seed must be non-empty bytes")


# --- image -----------------------------------------------------------------------------------

def _glyph(digit: str, font: ImageFont.FreeTypeFont, rng: random.Random) -> Image.Image:
    """One digit as an 8-bit coverage mask: rotated, sheared and squeezed a little, cropped."""
    left, top, right, bottom = font.getbbox(digit)
    im = Image.new("L", (right + 8, bottom + 8))
    ImageDraw.Draw(im).text((4, 4), digit, font=font, fill=255)
    shear = rng.uniform(-0.25, 0.25)
    squeeze = rng.uniform(0.85, 1.15)
    w, h = im.size
    im = im.transform((int(w * squeeze) + 12, h), Image.Transform.AFFINE,
                      (1 / squeeze, shear, -shear * h / 2, 0, 1, 0), Image.Resampling.BILINEAR)
    im = im.rotate(rng.uniform(-22, 22), Image.Resampling.BILINEAR, expand=True)
    return im.crop(im.getbbox())


def _glyph_atlas() -> list[list[Image.Image]]:
    """Per digit, ``_GLYPH_VARIANTS`` pre-drawn masks; built once per process (~0.1 s)."""
    global _atlas
    if _atlas is None:
        with _build_lock:
            if _atlas is None:
                rng = random.Random(_ATLAS_SEED)  # noqa: S311 - fixed on purpose: the same atlas everywhere
                fonts = [ImageFont.truetype(DEFAULT_FONTS[0], size) for size in IMAGE_FONT_SIZES]
                _atlas = [[_glyph(str(d), rng.choice(fonts), rng) for _ in range(_GLYPH_VARIANTS)]
                          for d in range(10)]
    return _atlas


def _palette(rng: random.Random) -> list[int]:
    text = [rng.randint(*_TEXT_CHANNELS) for _ in range(3)]
    paper = [rng.randint(*_BACKGROUND_CHANNELS) for _ in range(3)]
    steps = _PALETTE_LEVELS - 1
    return [round(p + (t - p) * level / steps) for level in range(_PALETTE_LEVELS) for p, t in zip(paper, text,
                                                                                                   strict=True)]


def render_image(digits: str, seed: bytes) -> bytes:
    """Draw ``digits`` as a PNG of ``IMAGE_WIDTH`` × ``IMAGE_HEIGHT`` pixels, the same for the same seed.

    Each digit is one of the atlas's pre-drawn shapes, placed at a seeded height and touching its
    neighbours, crossed by two seeded curves and dotted with seeded specks, all in the text
    colour; a 4-colour palette keeps the file near 2-3 KB. Dark text (channels 30-90) on a near-white
    background (238-255) gives at least 5.9:1 contrast.
    Raises ``ValueError`` if ``digits`` is not a non-empty string of ASCII digits.
    """
    _check_digits(digits)
    _check_seed(seed)
    # The secret is the seed (keyed by the caller); a picture shows far too little of the
    # generator's output to recover its state.
    rng = random.Random(bytes(seed))  # noqa: S311
    atlas = _glyph_atlas()
    glyphs = [atlas[int(d)][rng.randrange(_GLYPH_VARIANTS)] for d in digits]
    canvas = Image.new("L", (IMAGE_WIDTH, IMAGE_HEIGHT))
    # Each glyph advances by 82-97 % of its width (neighbours touch, as people still read them),
    # the row spread over 75-95 % of the width, or squeezed if it would not fit.
    advances = [g.width * rng.uniform(0.82, 0.97) for g in glyphs]
    room = IMAGE_WIDTH - 12 - glyphs[-1].width
    target = room * rng.uniform(0.75, 0.95)
    scale = min(1.25, target / max(1.0, sum(advances[:-1]))) if len(glyphs) > 1 else 1.0
    scale = min(scale, room / max(1.0, sum(advances[:-1])))
    x = rng.uniform(6, max(6.0, IMAGE_WIDTH - 6 - glyphs[-1].width - scale * sum(advances[:-1])))
    for glyph, advance in zip(glyphs, advances, strict=True):
        # Heights wander by up to a quarter of the free space either side of the middle.
        free = max(0, IMAGE_HEIGHT - glyph.height)
        y = free // 2 + rng.randint(-free // 4, free // 4)
        canvas.paste(255, (int(x), y), glyph)
        x += advance * scale
    draw = ImageDraw.Draw(canvas)
    for _ in range(2):
        # A gentle wave across most of the width, where it crosses the digits.
        x0, x1 = rng.uniform(0, 60), rng.uniform(IMAGE_WIDTH - 60, IMAGE_WIDTH)
        mid, amp = rng.uniform(25, IMAGE_HEIGHT - 25), rng.uniform(6, 18)
        phase, period = rng.uniform(0, 6.3), rng.uniform(90, 200)
        points = [(x0 + (x1 - x0) * i / 16, mid + amp * np.sin(phase + 6.283 * (x0 + (x1 - x0) * i / 16) / period))
                  for i in range(17)]
        draw.line(points, fill=255, width=rng.choice((2, 3)))
    for _ in range(30):
        cx, cy = rng.randrange(IMAGE_WIDTH), rng.randrange(IMAGE_HEIGHT)
        draw.rectangle((cx, cy, cx + 1, cy + 1), fill=255)
    steps = _PALETTE_LEVELS - 1
    image = canvas.point([(value * steps + 127) // 255 for value in range(256)])
    image.putpalette(_palette(rng))
    out = io.BytesIO()
    image.save(out, format="PNG", bits=2, compress_level=6)
    return out.getvalue()


# --- audio -----------------------------------------------------------------------------------

def _read_voice(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        raw = wav.readframes(wav.getnframes())
    samples = np.frombuffer(raw, np.uint8).astype(np.float32) - 128
    return samples / (np.sqrt(np.mean(samples**2)) + 1e-9)


def _voice_bank() -> list[list[np.ndarray]]:
    """voices[v][digit]: every recording, unit RMS, read once per process and never written."""
    global _voices
    if _voices is None:
        with _build_lock:
            if _voices is None:
                names = sorted(path.name for path in (VOICE_DIR / "0").glob("*.wav"))
                bank = [[_read_voice(VOICE_DIR / str(d) / name) for d in range(10)] for name in names]
                for voice in bank:
                    for samples in voice:
                        samples.flags.writeable = False
                _voices = bank
    return _voices


@dataclass(frozen=True)
class _Variation:
    """How one spoken digit is bent: the same recipe applied to another digit gives its twin."""

    voice: int
    speed: float
    wobble_depth: float
    wobble_hz: float
    wobble_phase: float
    shift_hz: float
    echoes: tuple[tuple[int, float, float], ...]
    gain: float

    @classmethod
    def draw(cls, rng: np.random.Generator, voices: int) -> _Variation:
        return cls(
            voice=int(rng.integers(voices)),
            speed=float(rng.uniform(*_SPEED)),
            wobble_depth=float(rng.uniform(*_WOBBLE_DEPTH)),
            wobble_hz=float(rng.uniform(*_WOBBLE_HZ)),
            wobble_phase=float(rng.uniform(0, 2 * np.pi)),
            shift_hz=float(rng.uniform(*_SHIFT_HZ) * rng.choice((-1, 1))),
            echoes=tuple((int(rng.integers(*_ECHO_DELAY)), float(rng.uniform(*_ECHO_GAIN) * rng.choice((-1, 1))),
                          float(rng.uniform(*_ECHO_SWEEP_HZ))) for _ in range(2)),
            gain=float(10 ** (rng.uniform(-2, 2) / 20)),
        )

    def apply(self, samples: np.ndarray) -> np.ndarray:
        """The recording re-read at a wobbling rate, every frequency shifted, with two sweeping echoes."""
        # A tempo that swings around 1/speed: no single lag or speed lines it up with the file.
        t = np.arange(int(len(samples) * self.speed * 1.2)) / AUDIO_RATE
        step = (1 + self.wobble_depth * np.sin(2 * np.pi * self.wobble_hz * t + self.wobble_phase)) / self.speed
        position = np.cumsum(step) - step[0]
        position = position[position < len(samples) - 1]
        out = np.interp(position, np.arange(len(samples)), samples)
        # Single-sideband shift: harmonics stop being multiples of the pitch, so the waveform
        # matches no recording, while the formants (what the word is) move by only 40-110 Hz.
        # Moving the half spectrum by whole bins (2 Hz apart) is that shift, at a quarter of the
        # cost of an analytic signal; what would fall below 0 Hz or past Nyquist is dropped.
        n = 1 << int(np.ceil(np.log2(len(out))))
        half = np.fft.rfft(out, n)
        bins = round(self.shift_hz * n / AUDIO_RATE)
        moved = np.zeros_like(half)
        if bins >= 0:
            moved[bins:] = half[: len(half) - bins]
        else:
            moved[:bins] = half[-bins:]
        out = np.fft.irfft(moved, n)[: len(out)]
        # Echoes whose delay swings (0.5-1.5x its mean, once or twice a second): the notches they
        # cut sweep across the spectrum, so no fixed filter, and no per-band average, undoes them.
        echoed = out.copy()
        t = np.arange(len(out))
        for delay, gain, sweep_hz in self.echoes:
            lag = delay * (1 + 0.5 * np.sin(2 * np.pi * sweep_hz * t / AUDIO_RATE + delay))
            echoed += gain * np.interp(t - lag, t, out, left=0.0)
        return echoed * (self.gain * _SPEECH_RMS / (np.sqrt(np.mean(echoed**2)) + 1e-9))


@dataclass
class _Rendering:
    speech: np.ndarray
    masker: np.ndarray
    spans: list[tuple[int, int]]
    variations: list[_Variation]


def _babble(rng: np.random.Generator, voices: list[list[np.ndarray]], length: int) -> np.ndarray:
    """Two overlapping streams of random digits, backwards and resampled: speech-like, but no words."""
    out = np.zeros(length)
    for _ in range(2):
        pos = int(rng.integers(0, AUDIO_RATE // 4))
        while pos < length:
            samples = voices[int(rng.integers(len(voices)))][int(rng.integers(10))][::-1]
            factor = rng.uniform(0.75, 1.3)
            piece = np.interp(np.arange(0, len(samples) - 1, 1 / factor), np.arange(len(samples)), samples)
            piece = piece[: length - pos] * rng.uniform(0.6, 1.0)
            out[pos: pos + len(piece)] += piece
            pos += len(piece) + int(rng.integers(0, AUDIO_RATE // 10))
    return out


def _compose(digits: str, seed: bytes) -> _Rendering:
    """The speech and the masking sound of a rendering, kept apart (tests measure them)."""
    rng = np.random.default_rng(int.from_bytes(seed, "big"))
    voices = _voice_bank()
    variations = [_Variation.draw(rng, len(voices)) for _ in digits]
    parts = [v.apply(voices[v.voice][int(d)]) for v, d in zip(variations, digits, strict=True)]
    gaps = [rng.uniform(*_LEAD_IN)] + [rng.uniform(*_GAP) for _ in digits[1:]]
    starts, pos = [], 0
    for gap, part in zip(gaps, parts, strict=True):
        pos += int(gap * AUDIO_RATE)
        starts.append(pos)
        pos += len(part)
    length = pos + int(_TAIL * AUDIO_RATE)
    speech = np.zeros(length)
    for start, part in zip(starts, parts, strict=True):
        speech[start: start + len(part)] += part
    babble = _babble(rng, voices, length)
    babble *= _SPEECH_RMS * 10 ** (-rng.uniform(*AUDIO_BABBLE_DB) / 20) / (np.sqrt(np.mean(babble**2)) + 1e-9)
    # Noise, lowered towards high frequencies a little, so it hisses less than white noise.
    noise = np.convolve(rng.standard_normal(length), (0.5, 0.3, 0.2), mode="same")
    noise *= _SPEECH_RMS * 10 ** (-AUDIO_NOISE_DB / 20) / np.sqrt(np.mean(noise**2))
    spans = [(start, start + len(part)) for start, part in zip(starts, parts, strict=True)]
    return _Rendering(speech=speech, masker=babble + noise, spans=spans, variations=variations)


def _wav(samples: np.ndarray) -> bytes:
    """8 kHz, 8-bit unsigned, mono PCM: small, and played by every phone."""
    pcm = np.clip(np.round(samples * 127 + 128), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(AUDIO_RATE)
        wav.writeframes(pcm.tobytes())
    return out.getvalue()


def render_audio(digits: str, seed: bytes) -> bytes:
    """Speak ``digits`` in Bahasa Indonesia as WAV bytes (8 kHz, 8-bit, mono), the same for the same seed.

    Each digit in a seeded voice, bent by the seed (speed, wobbling tempo, frequency shift, echoes),
    with seeded pauses, over a murmur of backwards digits 9-12 dB below the speech and noise 20 dB
    below it. About 5 s and 40 KB for five digits.
    Raises ``ValueError`` if ``digits`` is not a non-empty string of ASCII digits.
    """
    _check_digits(digits)
    _check_seed(seed)
    rendering = _compose(digits, bytes(seed))
    return _wav(rendering.speech + rendering.masker)
