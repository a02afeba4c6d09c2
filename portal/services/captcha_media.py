"""Captcha media: the picture and the spoken version of a challenge's digits.

A challenge's answer never leaves the server except as one of these renderings: the form
carries only a random challenge id, the answer is a keyed function of that id (see
`portal.services.captcha`), and the image and audio views draw it afresh from the id.

We do not use flask-captcha2 to draw it, though the design card names it. 3.1.0 fails to import
its local image captcha, and 3.0.x puts the answer in the Flask session, which is a cookie the
client can read (it also writes the answer to its debug log). So we render with the ``captcha``
library that flask-captcha2 itself wraps, and keep the answer where it belongs.

The audio speaks Bahasa Indonesia from our own voice files in ``portal/captcha_voice/id``
(made once with espeak-ng; see the README there). Nothing here calls a speech engine.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha

#: One directory per digit, each holding 8 kHz, 8-bit unsigned, mono PCM WAV files.
VOICE_DIR = Path(__file__).resolve().parent.parent / "captcha_voice" / "id"

#: Fits a 360-px phone screen with the page's margins to spare.
IMAGE_WIDTH = 280
IMAGE_HEIGHT = 90
#: Large enough for five or six digits to be read at arm's length on a small phone.
IMAGE_FONT_SIZES = (56, 62, 68)

#: Text colours are drawn per channel from this range: dark on the library's near-white backgrounds.
_TEXT_CHANNEL_MIN = 30
_TEXT_CHANNEL_MAX = 90


class _ReadableImageCaptcha(ImageCaptcha):
    """ImageCaptcha tuned for people reading on a phone rather than for resisting OCR at all cost.

    The library pastes each glyph through a mask taken from the glyph's own luminance, so a dark
    colour comes out pale grey: at best 3.4-3.9:1 contrast against its backgrounds, and its own
    random colours (channels 10-200) are often far paler. Our lookup table makes every pixel whose
    luminance reaches the darkest text colour fully opaque, so the text keeps its colour (channels
    30-90, at least 5.9:1); the anti-aliased edges, blended towards black when the glyph is rotated,
    stay partly transparent. Rotation and overlap are milder than the library's defaults; the noise
    dots and arc are the library's own.
    """

    lookup_table = [min(255, i * 255 // _TEXT_CHANNEL_MIN) for i in range(256)]
    character_rotate = (-20, 20)
    word_offset_dx = 0.1


class _SafeAudioCaptcha(AudioCaptcha):
    """AudioCaptcha whose cached voices cannot be altered by mixing.

    In captcha 0.7.1, when the random speed and volume both come out at exactly 1, ``_twist_pick``
    returns the cached voice itself; if that voice is the last one and runs past the end of the
    background, ``mix_wave`` mixes the background into it in place. With one instance shared by
    every request (and thread) that would slowly spoil the voices, so we hand out a copy.
    """

    def _twist_pick(self, key: str) -> bytearray:
        return bytearray(super()._twist_pick(key))


_audio_captcha: AudioCaptcha | None = None
_audio_lock = threading.Lock()


def _check_answer(answer: str) -> None:
    # The message must not repeat the answer: it may end up in a log or an error report.
    if not (answer and answer.isascii() and answer.isdigit()):
        raise ValueError("a captcha answer must be a non-empty string of ASCII digits")


def _audio() -> AudioCaptcha:
    """The process's one AudioCaptcha, with every voice loaded before it is shared."""
    global _audio_captcha
    if _audio_captcha is None:
        with _audio_lock:
            if _audio_captcha is None:
                captcha = _SafeAudioCaptcha(voicedir=str(VOICE_DIR))
                # Load eagerly: the library would otherwise load lazily on first use, from
                # whichever threads got there first.
                captcha.load()
                _audio_captcha = captcha
    return _audio_captcha


def render_image(answer: str) -> bytes:
    """Draw the digits of ``answer`` as a PNG image of ``IMAGE_WIDTH`` × ``IMAGE_HEIGHT`` pixels.

    Every call draws a different picture (placement, rotation, colours and noise are random).
    Uses the font bundled with the ``captcha`` library, so no system font is needed.
    Raises ``ValueError`` if ``answer`` is not a non-empty string of ASCII digits.
    """
    _check_answer(answer)
    # A fresh instance per call costs a fraction of a millisecond (loading three font sizes)
    # and keeps FreeType faces from being shared between threads.
    captcha = _ReadableImageCaptcha(width=IMAGE_WIDTH, height=IMAGE_HEIGHT, font_sizes=IMAGE_FONT_SIZES)
    span = _TEXT_CHANNEL_MAX - _TEXT_CHANNEL_MIN + 1
    red, green, blue = (_TEXT_CHANNEL_MIN + secrets.randbelow(span) for _ in range(3))
    return captcha.generate(answer, format="png", fg_color=(red, green, blue, 255)).getvalue()


def render_audio(answer: str) -> bytes:
    """Speak the digits of ``answer`` in Bahasa Indonesia as WAV bytes (8 kHz, 8-bit, mono).

    Three beeps, then each digit at a random speed and volume with random pauses over a murmur of
    reversed digits, then a closing beep. Every call sounds different.
    Raises ``ValueError`` if ``answer`` is not a non-empty string of ASCII digits.
    """
    _check_answer(answer)
    return bytes(_audio().generate(answer))
