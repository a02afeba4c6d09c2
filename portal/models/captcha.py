"""Captcha challenges, kept only on the server."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime


class CaptchaChallenge(db.Model):
    """One challenge: a random id handed to the form, the answer only as a keyed hash."""

    __tablename__ = "captcha_challenge"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    answer_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    #: Set by the one attempt the challenge allows, whatever its outcome.
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
