"""Times shown with the zone of the region they belong to: WIB, WITA or WIT."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.services.local_time import LocalZone, format_local_time, zone_of

NOON_UTC = dt.datetime(2026, 11, 25, 5, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("code", "zone"), [
    ("32.04.05.2001", LocalZone.WIB),  # Kab. Bandung, Jawa Barat
    ("11", LocalZone.WIB), ("21.71", LocalZone.WIB), ("61.01", LocalZone.WIB), ("62.01", LocalZone.WIB),
    ("51.71", LocalZone.WITA), ("52.01", LocalZone.WITA), ("53.71.01.1001", LocalZone.WITA),
    ("63.01", LocalZone.WITA), ("64.01", LocalZone.WITA), ("65.01", LocalZone.WITA),
    ("71.01", LocalZone.WITA), ("75.01", LocalZone.WITA), ("76.01", LocalZone.WITA),
    ("81.01", LocalZone.WIT), ("82.01", LocalZone.WIT), ("91.71", LocalZone.WIT), ("96.01", LocalZone.WIT),
    (None, LocalZone.WIB), ("", LocalZone.WIB),
])
def test_the_zone_follows_the_province(code, zone):
    assert zone_of(code) is zone


def test_every_province_of_the_region_list_has_the_zone_of_its_clock():
    from portal.services.regions import official_regions

    eastern = {r.code: zone_of(r.code) for r in official_regions() if len(r.code) == 2}
    assert len(eastern) == 38
    assert sum(z is LocalZone.WITA for z in eastern.values()) == 12
    assert sum(z is LocalZone.WIT for z in eastern.values()) == 8


def test_a_time_is_written_in_its_zone_with_the_zone_named():
    assert format_local_time(NOON_UTC, "32.04.05.2001", "d MMM yyyy HH:mm", "id") == "25 Nov 2026 12:00 WIB"
    assert format_local_time(NOON_UTC, "53.71.01.1001", "HH:mm", "en") == "13:00 WITA"
    assert format_local_time(NOON_UTC, "91.71", "HH:mm", "en") == "14:00 WIT"
    # After midnight in the east the date moves on too.
    late = dt.datetime(2026, 11, 25, 16, 30, tzinfo=dt.UTC)
    assert format_local_time(late, "91.71", "d MMM HH:mm", "en") == "26 Nov 01:30 WIT"
    assert format_local_time(late.replace(tzinfo=None), "32", "HH:mm", "en") == "23:30 WIB"
