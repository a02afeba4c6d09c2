"""Small pieces that several blueprints share: limits from config, no-store, the captcha, app services."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Response, current_app
from flask_babel import gettext as _
from limits import parse_many

from portal.extensions import limiter
from portal.forms import CaptchaForm
from portal.services.captcha import Captcha, ChallengePurpose
from portal.services.complaint_changes import Kabar
from portal.services.pii import PiiVault


def limit(config_key: str) -> Callable[[], str]:
    """A Flask-Limiter limit read from the app's config at request time."""
    return lambda: current_app.config[config_key]


def within_shared_limit(config_key: str, *target: str) -> bool:
    """Count one hit against a limit on a target (a desa, a person) shared by every address.

    Called only after the request proved itself (a solved captcha, a valid pass), so that posts
    which prove nothing cannot use up a village's or a resident's allowance."""
    if not limiter.enabled:
        return True
    windows = parse_many(current_app.config[config_key])
    return all([limiter.limiter.hit(window, config_key, *target) for window in windows])  # count every window


def no_store(response: Response) -> Response:
    """Pages with personal answers or one-time codes must not be kept by browsers or proxies."""
    response.headers["Cache-Control"] = "no-store"
    return response


def pii_vault() -> PiiVault:
    return current_app.extensions["pii_vault"]


def kabar() -> Kabar:
    """What the services need to compose messages to complainants (see complaint_changes)."""
    return Kabar(pii_vault(), current_app.config["PUBLIC_BASE_URL"])


def upload_dir() -> Path:
    """Where evidence and minutes photos are kept: private, served only through scoped routes."""
    return Path(current_app.config["UPLOAD_FOLDER"] or Path(current_app.instance_path) / "uploads")


def captcha() -> Captcha:
    return current_app.extensions["captcha"]


def new_captcha(form: CaptchaForm, purpose: ChallengePurpose) -> None:
    """Give the form a fresh challenge for its purpose; the old answer is cleared, never re-shown."""
    form.captcha_id.data = captcha().issue(purpose)
    form.captcha_jawaban.data = ""


def captcha_solved(form: CaptchaForm, purpose: ChallengePurpose) -> bool:
    """Spend the form's challenge; on failure put the message next to the answer field.

    Raises CaptchaUnavailable when the attempt cannot be judged (the store is down)."""
    if captcha().attempt(purpose, form.captcha_id.data, form.captcha_jawaban.data):
        return True
    form.captcha_jawaban.errors = [_("Angka tidak sesuai atau gambar sudah kedaluwarsa. "
                                     "Ketik angka pada gambar yang baru.")]
    return False


def public_base_url() -> str:
    """The portal's real address without a trailing slash (`PUBLIC_BASE_URL`, https in production)."""
    return current_app.config["PUBLIC_BASE_URL"]


def official_address() -> str:
    """The real address as a resident reads and types it: the host, and a path if it has one."""
    return public_base_url().split("://", 1)[-1]
