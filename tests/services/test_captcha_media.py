"""Captcha media: the PNG and WAV renderings of a challenge's digits."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import wave
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from portal.services import captcha_media
from portal.services.captcha_media import (
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    VOICE_DIR,
    render_audio,
    render_image,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))


def wav_params(data: bytes) -> wave._wave_params:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getparams()


def luminance(rgb: tuple[int, int, int]) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_render_image_is_a_png_of_the_chosen_size():
    data = render_image("27405", SEED)

    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.size == (IMAGE_WIDTH, IMAGE_HEIGHT) == (280, 90)


def test_render_image_fits_a_small_phone_screen():
    assert IMAGE_WIDTH <= 360 - 2 * 16


def test_render_image_is_small_on_slow_mobile_data():
    sizes = [len(render_image("27405193"[:n], bytes([n, i]) * 16)) for n in (4, 5, 8) for i in range(20)]

    assert max(sizes) <= 6 * 1024


def test_render_image_is_the_same_for_the_same_seed_and_differs_otherwise():
    assert render_image("27405", SEED) == render_image("27405", SEED)
    assert render_image("27405", SEED) != render_image("27405", OTHER_SEED)
    assert render_image("27405", SEED) != render_image("27406", SEED)


def test_render_image_text_keeps_its_contrast():
    # The text colour (the palette's last entry) against the background (its first), WCAG-style.
    for i in range(50):
        with Image.open(io.BytesIO(render_image("27405", bytes([i]) * 32))) as image:
            palette = image.getpalette()
        paper, text = tuple(palette[0:3]), tuple(palette[9:12])
        ratio = (luminance(paper) + 0.05) / (luminance(text) + 0.05)
        assert ratio >= 5.9


def test_render_image_draws_every_digit_across_the_picture():
    # Ink spread over most of the width, and more ink for more digits: the digits are there.
    def ink(digits: str) -> np.ndarray:
        with Image.open(io.BytesIO(render_image(digits, SEED))) as image:
            return np.asarray(image) == 3

    five, one = ink("27405"), ink("2")
    columns = np.flatnonzero(five.sum(axis=0) > 3)
    assert columns.max() - columns.min() > IMAGE_WIDTH / 2
    assert five.sum() > one.sum() * 2


def test_render_audio_is_an_8khz_8bit_mono_wav():
    params = wav_params(render_audio("27405", SEED))

    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 1, 8000)
    assert params.comptype == "NONE"
    assert params.nframes > 0


def test_render_audio_is_the_same_for_the_same_seed_and_differs_otherwise():
    # A re-fetch of one challenge gets the very same sound, so voting over fetches gains nothing.
    assert render_audio("2740", SEED) == render_audio("2740", SEED)
    assert render_audio("2740", SEED) != render_audio("2740", OTHER_SEED)


def test_renderings_are_the_same_in_another_process():
    # Several workers (and hosts) serve one challenge: the glyph atlas and the voice bank are built
    # alike everywhere, so the same seed gives the same bytes in a fresh interpreter.
    script = (
        "import hashlib; from portal.services.captcha_media import render_audio, render_image; "
        "seed = bytes(range(32)); print(hashlib.sha256(render_image('27405', seed)).hexdigest(), "
        "hashlib.sha256(render_audio('27405', seed)).hexdigest())"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    here = [hashlib.sha256(render("27405", SEED)).hexdigest() for render in (render_image, render_audio)]
    assert done.stdout.split() == here


def test_render_audio_grows_with_the_number_of_digits():
    # Each digit adds a word and a pause of at least 0.4 s.
    one = wav_params(render_audio("5", SEED)).nframes
    eight = wav_params(render_audio("27405193", SEED)).nframes

    assert eight > one + 7 * (0.4 + 0.2) * 8000


def test_render_audio_stays_short_for_phones():
    params = wav_params(render_audio("27405", SEED))

    assert params.nframes / params.framerate < 8
    assert params.nframes < 64_000


def test_render_audio_does_not_clip_much():
    with wave.open(io.BytesIO(render_audio("89898", SEED))) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), np.uint8)

    assert np.mean((samples == 0) | (samples == 255)) < 0.001


@pytest.mark.parametrize("render", [render_image, render_audio])
def test_render_is_the_same_from_many_threads_at_once(render):
    # Several gunicorn threads render at once; nothing shared may be disturbed.
    jobs = [("27405", bytes([i]) * 32) for i in range(24)]
    alone = [render(digits, seed) for digits, seed in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda job: render(*job), jobs))

    assert together == alone


@pytest.mark.parametrize("render", [render_image, render_audio])
@pytest.mark.parametrize("answer", ["", "12a4", "12 34", "١٢٣٤"])
def test_render_refuses_anything_but_ascii_digits(render, answer):
    with pytest.raises(ValueError) as excinfo:
        render(answer, SEED)

    # The refusal does not echo the answer back, so it cannot leak into a log.
    if answer:
        assert answer not in str(excinfo.value)


@pytest.mark.parametrize("render", [render_image, render_audio])
@pytest.mark.parametrize("seed", ["not bytes", b""])
def test_render_refuses_a_seed_that_is_not_bytes(render, seed):
    with pytest.raises(TypeError):
        render("1234", seed)


@pytest.mark.parametrize("digit", "0123456789")
def test_every_digit_has_every_voice_in_the_expected_format(digit):
    files = sorted((VOICE_DIR / digit).glob("*.wav"))

    assert [path.name for path in files] == [f"{voice}.wav" for voice in "abcdef"]
    for path in files:
        params = wav_params(path.read_bytes())
        assert (params.nchannels, params.sampwidth, params.framerate) == (1, 1, 8000)
        assert params.comptype == "NONE"
        # Trimmed and small: a spoken word, not a recording with silence around it.
        assert 0.15 < params.nframes / params.framerate < 1.0
        assert path.stat().st_size < 20_000


def test_the_voice_bank_is_shared_and_cannot_be_altered():
    bank = captcha_media._voice_bank()

    assert captcha_media._voice_bank() is bank
    assert len(bank) == 6 and all(len(voice) == 10 for voice in bank)
    with pytest.raises(ValueError):
        bank[0][0][0] = 1.0
