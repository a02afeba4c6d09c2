"""Column types and defaults shared by the models."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import DateTime, Dialect, Enum
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A moment in time, stored in UTC and always read back timezone-aware in UTC.

    PostgreSQL keeps the zone (timestamptz). SQLite keeps text without a zone: an aware
    moment is turned to UTC before it is written, and what is read back is marked UTC, so
    services compare and subtract moments without caring which database they came from.
    A naive moment is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def str_enum(enum_cls: type[enum.StrEnum], name: str, length: int = 10) -> Enum:
    """Column type storing an enum's value ("L", "pkh"), checked by a constraint, not a native type."""
    return Enum(
        enum_cls, name=name, native_enum=False, create_constraint=True,
        values_callable=lambda members: [m.value for m in members], length=length,
    )
