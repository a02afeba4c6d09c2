"""Indonesia's three time zones, told from a region code, and times written with their zone.

A resident of Jayapura reading "14:00" must not have to guess whether that is Jakarta's time:
every time the portal shows carries WIB, WITA or WIT, chosen by the province of the desa (or
other region) the time belongs to. The province is the first two digits of a Kemendagri code.
"""

from __future__ import annotations

import datetime as dt
import enum
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime


class LocalZone(enum.Enum):
    """A zone of Indonesia: its abbreviation (the same in every language) and its tz database name."""

    WIB = "Asia/Jakarta"  # UTC+7: Sumatra, Java, West and Central Kalimantan
    WITA = "Asia/Makassar"  # UTC+8: Bali, Nusa Tenggara, South/East/North Kalimantan, Sulawesi
    WIT = "Asia/Jayapura"  # UTC+9: Maluku and the Papua provinces

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.value)


#: BPS/Kemendagri province codes east of WIB (Permendagri 58/2021 and the 2022 Papua provinces).
_WITA_PROVINCES = frozenset({"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"})
_WIT_PROVINCES = frozenset({"81", "82", "91", "92", "93", "94", "95", "96", "97"})


def zone_of(region_code: str | None) -> LocalZone:
    """The zone of a region (any level, e.g. "53.71.01.1001" or "53"); WIB when none is known."""
    province = (region_code or "")[:2]
    if province in _WIT_PROVINCES:
        return LocalZone.WIT
    if province in _WITA_PROVINCES:
        return LocalZone.WITA
    return LocalZone.WIB


def format_local_time(moment: dt.datetime, region_code: str | None, pattern: str, locale: Locale | str) -> str:
    """`moment` (timezone-aware) in the zone of `region_code`, in the CLDR `pattern`, then the zone:
    "25 Nov 2026 21:03 WITA". A naive datetime is taken as UTC, as the database stores it."""
    zone = zone_of(region_code)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return f"{format_datetime(moment, pattern, tzinfo=zone.tzinfo, locale=locale)} {zone.name}"
