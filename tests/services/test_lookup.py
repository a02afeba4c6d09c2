"""Whole-name lookup within one desa, masked results, desil only with the NIK."""

import datetime as dt

import pytest

from portal.models import Programme
from portal.services.lookup import MAX_RESULTS, LookupOutcome, find_people, reveal_desil
from portal.services.registry_import import import_registry
from tests.conftest import DESA_A, DESA_B, TODAY, make_row, write_csv


@pytest.fixture
def registry(session, vault, tmp_path):
    rows = [
        make_row(1, name="Siti Aminah", birth=dt.date(1985, 3, 14), desil="3"),
        make_row(2, name="Moch. Djoenaedi", sex="L", birth=dt.date(1970, 12, 1), blt="YA"),
        make_row(3, name="Siti Aminah", desa=DESA_B),
        *[make_row(10 + n, name="Sri Wahyuni") for n in range(MAX_RESULTS + 1)],
    ]
    import_registry(session, vault, write_csv(tmp_path / "r.csv", rows), imported_by="t",
                    period="2025-Q4", today=TODAY)
    return rows


def test_found_by_whole_name_masked_with_programmes(session, registry):
    result = find_people(session, DESA_A, "siti  AMINAH", today=TODAY)
    assert result.outcome is LookupOutcome.FOUND
    (person,) = result.people
    assert (person.masked_name, person.age, person.rt, person.rw) == ("Si** Am****", 41, "003", "002")
    status = {p.programme: (p.receives, p.period) for p in person.programmes}
    assert status[Programme.PKH] == (True, "2025-Q4")
    assert status[Programme.BPNT] == (False, "2025-Q4")
    assert status[Programme.BLT] == (None, None)
    assert person.data_period == "2025-Q4"
    assert not hasattr(person, "desil") and not hasattr(person, "nik")


def test_spelling_variants_find_the_same_person(session, registry):
    result = find_people(session, DESA_A, "Muhammad Junaedi", today=TODAY)
    assert result.outcome is LookupOutcome.FOUND
    assert result.people[0].masked_name == "Mo** Dj*******"


@pytest.mark.parametrize("name", ["Siti", "Siti Amina", "Siti Aminah Binti", "Aminah Siti"])
def test_never_a_prefix_or_a_partial_name(session, registry, name):
    assert find_people(session, DESA_A, name).outcome is LookupOutcome.NOT_FOUND


def test_only_within_the_chosen_desa(session, registry):
    assert len(find_people(session, DESA_A, "Siti Aminah").people) == 1
    assert len(find_people(session, DESA_B, "Siti Aminah").people) == 1
    assert find_people(session, DESA_B, "Moch Djoenaedi").outcome is LookupOutcome.NOT_FOUND


def test_more_than_five_matches_asks_for_a_fuller_name(session, registry):
    result = find_people(session, DESA_A, "Sri Wahyuni")
    assert result.outcome is LookupOutcome.TOO_MANY and result.people == ()


def test_desil_only_with_the_right_nik(session, vault, registry):
    nik = registry[0]["nik"]
    assert reveal_desil(session, vault, DESA_A, "Siti Aminah", nik).desil == 3
    assert reveal_desil(session, vault, DESA_A, "Siti Aminah", registry[1]["nik"]) is None
    assert reveal_desil(session, vault, DESA_B, "Siti Aminah", nik) is None
