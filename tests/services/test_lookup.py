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
    session.commit()  # the import flushes; its command commits
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


@pytest.mark.parametrize("name", ["Siti Ami", "Siti Aminah Binti", "Aminah Siti", "Siti Aminah Aminah"])
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


@pytest.fixture
def neighbours(session, vault, tmp_path):
    """A desa where the tolerant pass has something to find, and names one letter apart."""
    rows = [
        make_row(1, name="Paris Agustina", desil="4"),
        make_row(2, name="Paris Agustine"),
        make_row(3, name="Rahmat Hidayat", sex="L"),
        make_row(4, name="Nur Hayati Siregar"),
        make_row(5, name="Sukarni"),
        make_row(6, name="Budi Santoso", sex="L"),
        make_row(7, name="Ani Lestari"),
        make_row(8, name="Yanti Susanti"),
        make_row(9, name="Siti Aminah Lestari"),
        make_row(10, name="Wahyudi Pratama", sex="L"),
        make_row(11, name="Wahyuni Sari"),
        make_row(12, name="Rahmat Hidayat", sex="L", desa=DESA_B),
        *[make_row(20 + n, name="Sri Wahyuni") for n in range(MAX_RESULTS + 1)],
    ]
    import_registry(session, vault, write_csv(tmp_path / "n.csv", rows), imported_by="t",
                    period="2025-Q4", today=TODAY)
    session.commit()  # the import flushes; its command commits
    return rows


@pytest.mark.parametrize(("typed", "masked"), [
    ("Paris Agusrina", "Pa*** Ag******"),  # one typo on a phone keyboard
    ("Ramat Hidayat", "Ra**** Hi*****"),  # a silent H
    ("Rahmat Hidayath", "Ra**** Hi*****"),
    ("Nurhayati Siregar", "Nu* Ha**** Si*****"),  # one word for two
])
def test_a_close_spelling_finds_the_person_masked_and_marked(session, neighbours, typed, masked):
    result = find_people(session, DESA_A, typed, today=TODAY)
    assert result.outcome is LookupOutcome.FOUND
    assert [(p.masked_name, p.spelling_differs) for p in result.people] == [(masked, True)]


def test_an_exact_match_never_also_shows_a_similar_neighbour(session, neighbours):
    for typed in ("Paris Agustina", "Paris Agustine"):
        result = find_people(session, DESA_A, typed, today=TODAY)
        assert len(result.people) == 1 and not result.people[0].spelling_differs


@pytest.mark.parametrize("typed", [
    "Budi Susanto",  # a different word
    "Ana Lestari",  # short words that differ
    "Yanto Susanti",  # a male ending for a female name
    "Siti Aminah",  # a word missing ...
    "Siti Aminah Lestari Putri",  # ... or added
    "Rahmat Hidayat Lestari",
    "Wahyuni Pratama",  # two real names one letter apart
    "Paris Agustin",  # a prefix of a word
])
def test_different_names_that_share_most_letters_are_not_found(session, neighbours, typed):
    assert find_people(session, DESA_A, typed).outcome is LookupOutcome.NOT_FOUND


@pytest.mark.parametrize("typed", ["R Hidayat", "Ra Hidayat", "Rahmat H", "Rahmat Hi"])
def test_a_one_or_two_letter_word_never_matches_a_longer_one(session, neighbours, typed):
    assert find_people(session, DESA_A, typed).outcome is LookupOutcome.NOT_FOUND


def test_a_single_typed_word_never_matches_tolerantly_and_asks_for_the_full_name(session, neighbours):
    # A registered one-word name is still found when typed as registered ...
    assert find_people(session, DESA_A, "Sukarni", today=TODAY).outcome is LookupOutcome.FOUND
    # ... but one word is never stretched to a neighbour, nor to a longer name.
    for typed in ("Sukarny", "Sukarnie", "Paris", "Agustina", "Rahmat"):
        result = find_people(session, DESA_A, typed)
        assert (result.outcome, result.people) == (LookupOutcome.FULL_NAME_NEEDED, ())


def test_the_tolerant_pass_never_returns_more_than_max_results(session, neighbours):
    result = find_people(session, DESA_A, "Sri Wahyuny")
    assert result.outcome is LookupOutcome.TOO_MANY and result.people == ()


def test_the_tolerant_pass_stays_in_the_chosen_desa(session, neighbours):
    assert find_people(session, DESA_B, "Paris Agusrina").outcome is LookupOutcome.NOT_FOUND
    (person,) = find_people(session, DESA_B, "Ramat Hidayat", today=TODAY).people
    assert person.spelling_differs


def test_desil_of_a_person_found_by_a_close_spelling(session, vault, neighbours):
    assert reveal_desil(session, vault, DESA_A, "Paris Agusrina", neighbours[0]["nik"]).desil == 4
    assert reveal_desil(session, vault, DESA_A, "Paris", neighbours[0]["nik"]) is None


def test_a_new_import_is_never_answered_from_the_names_of_the_old_one(session, vault, neighbours, tmp_path):
    assert find_people(session, DESA_A, "Paris Agusrina").outcome is LookupOutcome.FOUND
    rows = [make_row(1, name="Rahmat Hidayat", sex="L")]
    import_registry(session, vault, write_csv(tmp_path / "new.csv", rows), imported_by="t",
                    period="2026-Q1", today=TODAY)
    session.commit()  # the import flushes; its command commits
    assert find_people(session, DESA_A, "Paris Agusrina").outcome is LookupOutcome.NOT_FOUND
    (person,) = find_people(session, DESA_A, "Ramat Hidayat", today=TODAY).people
    assert person.spelling_differs and person.data_period == "2026-Q1"
