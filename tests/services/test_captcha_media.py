"""Captcha media: the PNG and WAV renderings of a challenge's digits."""

from __future__ import annotations

import io
import wave

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


def wav_params(data: bytes) -> wave._wave_params:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getparams()


def test_render_image_is_a_png_of_the_chosen_size():
    data = render_image("274051")

    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.size == (IMAGE_WIDTH, IMAGE_HEIGHT) == (280, 90)


def test_render_image_fits_a_small_phone_screen():
    assert IMAGE_WIDTH <= 360 - 2 * 16


def test_render_image_differs_each_time():
    assert render_image("274051") != render_image("274051")


def test_render_audio_is_an_8khz_8bit_mono_wav():
    params = wav_params(render_audio("274051"))

    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 1, 8000)
    assert params.comptype == "NONE"
    assert params.nframes > 0


def test_render_audio_differs_each_time():
    assert render_audio("2740") != render_audio("2740")


def test_render_audio_grows_with_the_number_of_digits():
    # Each digit adds a voice and a random 1-3 s pause, so one digit against eight cannot overlap.
    one = wav_params(render_audio("5")).nframes
    eight = wav_params(render_audio("27405193")).nframes

    assert eight > one + 7 * 8000


@pytest.mark.parametrize("render", [render_image, render_audio])
@pytest.mark.parametrize("answer", ["", "12a4", "12 34", "١٢٣٤"])
def test_render_refuses_anything_but_ascii_digits(render, answer):
    with pytest.raises(ValueError) as excinfo:
        render(answer)

    # The refusal does not echo the answer back, so it cannot leak into a log.
    if answer:
        assert answer not in str(excinfo.value)


@pytest.mark.parametrize("digit", "0123456789")
def test_every_digit_has_a_voice_in_the_library_format(digit):
    files = sorted((VOICE_DIR / digit).glob("*.wav"))

    assert files
    for path in files:
        params = wav_params(path.read_bytes())
        assert (params.nchannels, params.sampwidth, params.framerate) == (1, 1, 8000)
        assert params.comptype == "NONE"
        # Trimmed and small: a spoken word, not a recording with silence around it.
        assert 0.15 < params.nframes / params.framerate < 1.0
        assert path.stat().st_size < 20_000


def test_audio_captcha_is_shared_and_its_voices_are_not_altered(monkeypatch):
    shared = captcha_media._audio()
    assert captcha_media._audio() is shared

    # Force speed and volume to exactly 1, the case where captcha 0.7.1 hands out its cached voice.
    monkeypatch.setattr("captcha.audio.secrets.randbelow", lambda n: {31: 10, 41: 20}.get(n, 0))
    picked = shared._twist_pick("8")

    assert all(picked is not cached for cached in shared._cache["8"])
