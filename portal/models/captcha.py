"""Spent captcha challenges: the only thing a captcha ever writes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime


class SpentChallenge(db.Model):
    """A challenge id whose one attempt was made; kept until the challenge would have expired."""

    __tablename__ = "spent_challenge"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
