"""Small pieces that several blueprints share: limits from config, no-store, the captcha, app services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from flask import Response, current_app
from flask_babel import gettext as _

from portal.extensions import db
from portal.forms import CaptchaForm
from portal.services.captcha import CHALLENGE_TTL, CaptchaKeys, attempt_challenge, issue_challenge
from portal.services.pii import PiiVault


def limit(config_key: str) -> Callable[[], str]:
    """A Flask-Limiter limit read from the app's config at request time."""
    return lambda: current_app.config[config_key]


def no_store(response: Response) -> Response:
    """Pages with personal answers or one-time codes must not be kept by browsers or proxies."""
    response.headers["Cache-Control"] = "no-store"
    return response


def pii_vault() -> PiiVault:
    return current_app.extensions["pii_vault"]


def upload_dir() -> Path:
    """Where evidence and minutes photos are kept: private, served only through scoped routes."""
    return Path(current_app.config["UPLOAD_FOLDER"] or Path(current_app.instance_path) / "uploads")


def captcha_keys() -> CaptchaKeys:
    return current_app.extensions["captcha_keys"]


def new_captcha(form: CaptchaForm, ttl: dt.timedelta = CHALLENGE_TTL) -> None:
    """Give the form a fresh challenge; the old answer is cleared, never re-shown."""
    form.captcha_id.data = issue_challenge(db.session, captcha_keys(), ttl=ttl)
    form.captcha_jawaban.data = ""


def captcha_solved(form: CaptchaForm) -> bool:
    """Spend the form's challenge; on failure put the message next to the answer field."""
    if attempt_challenge(db.session, captcha_keys(), form.captcha_id.data, form.captcha_jawaban.data):
        return True
    form.captcha_jawaban.errors = [_("Angka tidak sesuai atau gambar sudah kedaluwarsa. "
                                     "Ketik angka pada gambar yang baru.")]
    return False
