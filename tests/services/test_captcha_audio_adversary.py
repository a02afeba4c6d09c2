"""The audio captcha against a machine that knows the code and every shipped recording (issue 10).

The solver (``captcha_audio_solver``) matches renderings against the recordings under
``portal/captcha_voice``. On the first renderer, which only resampled those files, it read 200 of
200 renderings; here it must read at most 5 % of 200, while a matched listener (the same
correlation handed the exact variant of every digit) still reads them all and the speech stays
well above the murmur.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from portal.services import captcha_media
from portal.services.captcha_media import AUDIO_RATE, VOICE_DIR, render_audio
from tests.services.captcha_audio_solver import TemplateSolver, ncc_given_variants, read_wav, stretch

RENDERINGS = 200
LISTENED = 20
DIGITS = 5
MURMUR = 0.3
#: Three speeds keep 200 renderings within seconds; the renderer's speed is continuous and wobbles,
#: so a finer grid reads no more of it (the README gives the figures for 7 and 31 speeds).
TEST_SPEEDS = (0.9, 1.02, 1.15)
METHODS = ("sliding", "spectral")


def _draws(count: int, salt: int) -> list[tuple[str, bytes]]:
    # Fixed draws, so that a failure can be replayed; the seeds stand in for keyed challenge ids.
    rng = random.Random(20261201 + salt)
    return [("".join(rng.choice("0123456789") for _ in range(DIGITS)), rng.randbytes(32)) for _ in range(count)]


def _wav(samples: np.ndarray) -> bytes:
    return captcha_media._wav(samples)


@pytest.fixture(scope="module")
def solver() -> TemplateSolver:
    # Correlation at 4 kHz: speech keeps its waveform there (the solver reads replayed files as well as at 8 kHz).
    return TemplateSolver(VOICE_DIR, speeds=TEST_SPEEDS, decimate=2)


@pytest.fixture(scope="module")
def readings(solver):
    draws = _draws(RENDERINGS, 0)
    return [(digits, solver.read(render_audio(digits, seed), DIGITS)) for digits, seed in draws]


def _replayed_rendering(rng: random.Random, recordings: dict[str, list[np.ndarray]], digits: str) -> np.ndarray:
    """What the first renderer did: shipped files, resampled, with pauses, over backwards murmur."""
    parts = []
    for d in digits:
        parts += [np.zeros(int(AUDIO_RATE * rng.uniform(0.5, 1.0))),
                  0.8 * stretch(rng.choice(recordings[d]), rng.choice(TEST_SPEEDS))]
    speech = np.concatenate(parts + [np.zeros(AUDIO_RATE // 2)])
    murmur = np.concatenate([stretch(rng.choice(recordings[rng.choice("0123456789")])[::-1], rng.uniform(0.8, 1.6))
                             for _ in range(40)])
    return speech + MURMUR * murmur[: len(speech)]


def test_the_solver_reads_renderings_that_only_replay_the_shipped_files(solver):
    # The adversary is real: a renderer that only resamples the recordings, as the first one did,
    # falls to it (speeds from the solver's grid, as the first renderer's 31 speeds were matched).
    rng = random.Random(7)
    recordings = {d: [read_wav(p.read_bytes()) for p in sorted((VOICE_DIR / d).glob("*.wav"))] for d in "0123456789"}
    draws = [("".join(rng.choice("0123456789") for _ in range(DIGITS))) for _ in range(10)]
    readings = [(digits, solver.read(_wav(_replayed_rendering(rng, recordings, digits)), DIGITS)) for digits in draws]

    assert sum(read["sliding"] == digits for digits, read in readings) >= 9


@pytest.mark.parametrize("method", METHODS)
def test_the_template_solver_reads_at_most_5_percent_of_renderings(readings, method):
    solved = sum(read[method] == digits for digits, read in readings)

    assert solved <= 0.05 * RENDERINGS


@pytest.mark.parametrize("method", METHODS)
def test_the_template_solver_gets_few_digits_right(readings, method):
    # Per digit the correlation does little better than a guess (10 %; measured ~17 %) and the
    # spectral reader reads about a third (measured 29-37 %): the answer-level figure is not luck.
    right = sum(a == b for digits, read in readings for a, b in zip(read[method], digits, strict=False))

    assert right <= 0.45 * DIGITS * RENDERINGS


def test_a_listener_told_each_variant_reads_every_digit_above_the_murmur():
    # The upper bound: the exact variant of each digit at its place is still found in the mix, so
    # the speech survives the murmur and noise; and each digit stands at least 5 dB above them.
    voices = captcha_media._voice_bank()
    right = 0
    for digits, seed in _draws(LISTENED, 1):
        rendering = captcha_media._compose(digits, seed)
        mix = rendering.speech + rendering.masker
        variants = [{str(d): v.apply(voices[v.voice][d]) for d in range(10)} for v in rendering.variations]
        right += sum(a == b for a, b in zip(ncc_given_variants(mix, rendering.spans, variants), digits, strict=True))
        for start, end in rendering.spans:
            speech = np.mean(rendering.speech[start:end] ** 2)
            masker = np.mean(rendering.masker[start:end] ** 2)
            assert 10 * np.log10(speech / masker) >= 5

    assert right >= 0.98 * LISTENED * DIGITS
