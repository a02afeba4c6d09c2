"""Public complaint statistics per kabupaten/kota and per desa, with small cells suppressed.

Only numbers leave this module, never a name, a NIK or a complaint code. A count below
`THRESHOLD` is hidden (shown as "<5"), and a median is given only when it rests on at least
`THRESHOLD` resolved complaints, so that nobody can be picked out of a small village.

A hidden cell must also not be recomputable from a total. There is no grand total row (no
national or provincial sum is published at all). But the row of a kabupaten *is* the total of
its desa rows, so the desa breakdown applies a complementary suppression: see `desa_cells`.
"""

from __future__ import annotations

import datetime as dt
import enum
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from portal.models import DECIDED_STATUSES, Complaint, ComplaintEvent, ComplaintStatus, Region, RegionLevel, utcnow

#: Counts below this are hidden; a median needs at least this many resolved complaints.
THRESHOLD = 5
#: Desa rows per page of a kabupaten (Kabupaten Bogor has 435): a phone page stays short.
DESA_PER_PAGE = 50
_MAX_QUERY_LENGTH = 60
_KABUPATEN_CODE_LENGTH = 5  # "32.04" out of "32.04.05.2001"


class UnknownKabupaten(LookupError):
    """The code asked for is not a kabupaten/kota."""


class Mark(enum.StrEnum):
    """What a hidden cell shows instead of its number."""

    #: The count itself is below the threshold (and may be zero).
    SMALL = "<5"
    #: A count of 5 or more, hidden so that a small count beside it cannot be worked out from the total.
    COMPLEMENT = "×"
    #: A median that would rest on fewer than 5 resolved complaints.
    TOO_FEW = "—"


@dataclass(frozen=True, slots=True)
class Cell:
    """One number of the table. A hidden cell has no value at all, so no template can print it."""

    value: float | None
    mark: Mark | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.mark is None):
            raise ValueError("a cell has either a value or a mark")

    @property
    def suppressed(self) -> bool:
        return self.mark is not None


@dataclass(frozen=True, slots=True)
class StatisticsRow:
    """The complaints of one kabupaten/kota or one desa/kelurahan."""

    code: str
    name: str
    received: Cell
    resolved: Cell
    #: Median days from filing to the decision, over the resolved complaints.
    median_days: Cell


@dataclass(frozen=True, slots=True)
class StatisticsTable:
    """What the statistics page shows.

    Without a kabupaten: a row for every kabupaten/kota that has a complaint and `desa` is None.
    With one: `kabupaten` holds just its row (the same numbers as in the overview) and `desa` a row
    for every desa/kelurahan in it, including those without complaints.
    """

    kabupaten: tuple[StatisticsRow, ...]
    desa: tuple[StatisticsRow, ...] | None
    as_of: dt.datetime


@dataclass(slots=True)
class _Tally:
    received: int = 0
    resolved: int = 0
    days: list[float] = field(default_factory=list)

    def add(self, resolved: bool, days: float | None) -> None:
        self.received += 1
        if resolved:
            self.resolved += 1
            if days is not None:
                self.days.append(days)


@dataclass(frozen=True, slots=True)
class _Filed:
    desa_code: str
    resolved: bool
    #: Days from filing to the decision; None when open, or when the deciding event is missing.
    days: float | None


def count_cell(count: int) -> Cell:
    """A count, hidden as "<5" below the threshold."""
    return Cell(None, Mark.SMALL) if count < THRESHOLD else Cell(count)


def median_cell(days: Iterable[float]) -> Cell:
    """The median of resolution times in days (one decimal), only over at least 5 of them."""
    values = list(days)
    if len(values) < THRESHOLD:
        return Cell(None, Mark.TOO_FEW)
    return Cell(round(statistics.median(values), 1))


def complaint_statistics(
    session: Session, *, kabupaten_code: str | None = None, now: dt.datetime | None = None
) -> StatisticsTable:
    """Complaints received, resolved and the median days to a decision, per kabupaten/kota.

    With `kabupaten_code` (e.g. "32.04"): that kabupaten's row and one row per desa/kelurahan
    in it. Hidden complaints (`disembunyikan`, spam) are not complaints and are not counted.
    Raises `UnknownKabupaten` when the code is not a kabupaten/kota.
    """
    now = now or utcnow()
    if kabupaten_code is None:
        filed = _filed(session, None)
        per_kabupaten = _tally(filed, lambda desa: desa[:_KABUPATEN_CODE_LENGTH])
        names = dict(session.execute(
            select(Region.code, Region.name).where(Region.code.in_(per_kabupaten))
        ).all())
        all_four = _all_desa_at_four(session, filed, per_kabupaten)
        rows = tuple(
            _kabupaten_row(code, names.get(code, code), per_kabupaten[code], all_four.get(code, (False, False)))
            for code in sorted(per_kabupaten)
        )
        return StatisticsTable(kabupaten=rows, desa=None, as_of=now)

    kabupaten = session.get(Region, kabupaten_code)
    if kabupaten is None or kabupaten.level != RegionLevel.KABUPATEN:
        raise UnknownKabupaten(kabupaten_code)
    desa_names = dict(session.execute(
        select(Region.code, Region.name)
        .where(Region.level == RegionLevel.DESA, Region.code.startswith(kabupaten.code + "."))
    ).all())
    filed = _filed(session, kabupaten.code)
    per_desa = _tally(filed, lambda desa: desa)
    tallies = {code: per_desa.get(code, _Tally()) for code in desa_names}
    total = _Tally()
    for complaint in filed:
        total.add(complaint.resolved, complaint.days)
    all_four = (
        _every_count_is_four([t.received for t in tallies.values()]),
        _every_count_is_four([t.resolved for t in tallies.values()]),
    )
    row = _kabupaten_row(kabupaten.code, kabupaten.name, total, all_four)
    received = desa_cells({code: t.received for code, t in tallies.items()}, row.received)
    resolved = desa_cells({code: t.resolved for code, t in tallies.items()}, row.resolved)
    desa_rows = sorted(
        (StatisticsRow(code, desa_names[code], received[code], resolved[code], median_cell(t.days))
         for code, t in tallies.items()),
        key=lambda r: (r.name, r.code),
    )
    return StatisticsTable(kabupaten=(row,), desa=tuple(desa_rows), as_of=now)


def _filed(session: Session, kabupaten_code: str | None) -> list[_Filed]:
    """Every counted complaint (scoped to one kabupaten if given), with its time to a decision.

    One query: each complaint joined to the events that moved it into its current decided state;
    the last of those (highest id, as on the public timeline) is when it was decided.
    """
    query = (
        select(Complaint.id, Complaint.desa_code, Complaint.status, Complaint.created_at,
               ComplaintEvent.id, ComplaintEvent.created_at)
        .outerjoin(ComplaintEvent, and_(
            ComplaintEvent.complaint_id == Complaint.id,
            Complaint.status.in_(DECIDED_STATUSES),
            ComplaintEvent.to_status == Complaint.status,
        ))
        .where(Complaint.status != ComplaintStatus.DISEMBUNYIKAN)
    )
    if kabupaten_code is not None:
        query = query.where(Complaint.desa_code.startswith(kabupaten_code + "."))
    complaints: dict[int, tuple[str, bool, dt.datetime]] = {}
    decided: dict[int, tuple[int, dt.datetime]] = {}
    for complaint_id, desa_code, status, created_at, event_id, decided_at in session.execute(query):
        complaints[complaint_id] = (desa_code, status in DECIDED_STATUSES, created_at)
        if event_id is not None and (complaint_id not in decided or event_id > decided[complaint_id][0]):
            decided[complaint_id] = (event_id, decided_at)
    filed = []
    for complaint_id, (desa_code, resolved, created_at) in complaints.items():
        days = None
        if complaint_id in decided:
            seconds = (decided[complaint_id][1] - created_at).total_seconds()
            days = max(seconds, 0.0) / 86400
        filed.append(_Filed(desa_code, resolved, days))
    return filed



def _tally(filed: Iterable[_Filed], key: Callable[[str], str]) -> dict[str, _Tally]:
    """Complaints counted per `key(desa_code)`."""
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for complaint in filed:
        tallies[key(complaint.desa_code)].add(complaint.resolved, complaint.days)
    return dict(tallies)


def total_cell(total: int, *, every_desa_four: bool) -> Cell:
    """The count of a kabupaten, which is also the total of its desa counts.

    `every_desa_four`: every desa of the kabupaten (those without complaints too) has exactly 4.
    Published, such a total would pin every hidden desa count at 4 (see `desa_cells`), so it is
    hidden instead.
    """
    if total >= THRESHOLD and every_desa_four:
        return Cell(None, Mark.COMPLEMENT)
    return count_cell(total)


def _kabupaten_row(code: str, name: str, tally: _Tally, all_four: tuple[bool, bool]) -> StatisticsRow:
    """A kabupaten's row; `all_four` says per count whether every one of its desa has exactly 4."""
    return StatisticsRow(
        code, name, total_cell(tally.received, every_desa_four=all_four[0]),
        total_cell(tally.resolved, every_desa_four=all_four[1]), median_cell(tally.days),
    )


def _every_count_is_four(counts: list[int]) -> bool:
    return bool(counts) and all(count == THRESHOLD - 1 for count in counts)


def _all_desa_at_four(
    session: Session, filed: list[_Filed], per_kabupaten: Mapping[str, _Tally]
) -> dict[str, tuple[bool, bool]]:
    """For the overview: the kabupaten whose every desa has exactly 4 received (or resolved) complaints.

    Almost never true, so the desa of a kabupaten are only counted (one more query) when every
    desa *with* complaints has exactly 4.
    """
    desa_of: dict[str, list[_Tally]] = defaultdict(list)
    for desa, tally in _tally(filed, lambda desa: desa).items():
        desa_of[desa[:_KABUPATEN_CODE_LENGTH]].append(tally)
    candidates = {
        code: (_every_count_is_four([t.received for t in desa_of[code]]),
               _every_count_is_four([t.resolved for t in desa_of[code]]))
        for code in per_kabupaten
    }
    candidates = {code: flags for code, flags in candidates.items() if any(flags)}
    if not candidates:
        return {}
    kabupaten = func.substr(Region.code, 1, _KABUPATEN_CODE_LENGTH)
    desa_counts = dict(session.execute(
        select(kabupaten, func.count())
        .where(Region.level == RegionLevel.DESA, kabupaten.in_(candidates))
        .group_by(kabupaten)
    ).all())
    result = {}
    for code, (received_four, resolved_four) in candidates.items():
        every_desa = len(desa_of[code]) == desa_counts.get(code, 0)
        result[code] = (received_four and every_desa, resolved_four and every_desa)
    return result


def desa_cells(counts: Mapping[str, int], total: Cell) -> dict[str, Cell]:
    """Cells for the desa of one kabupaten, whose total is published as `total`.

    Every desa is listed, those without complaints too, so "<5" means anything from 0 to 4.
    The published total minus the shown desa is the sum of the hidden ones. That sum gives a
    hidden count away in exactly two cases: only one desa is hidden (the sum *is* its count), or
    every hidden desa has 4 (the sum is 4 times their number). Then the smallest shown count is
    hidden as well: once a cell of unknown size (5 or more, unbounded) is in the sum, the sum no
    longer bounds any small cell from below, so each could still be anything from 0 to 4. When
    there is no shown count left to hide, every desa has exactly 4, and the kabupaten row hides
    its total instead (`total_cell`).

    Limits: each column is protected on its own (resolved ≤ received is not used as a constraint),
    and counts compared across days can still reveal that one new complaint arrived.
    """
    cells = {code: count_cell(count) for code, count in counts.items()}
    if total.suppressed:
        return cells
    hidden = [code for code, cell in cells.items() if cell.suppressed]
    shown = sorted((count, code) for code, count in counts.items() if not cells[code].suppressed)
    if hidden and shown and (len(hidden) == 1 or all(counts[code] == THRESHOLD - 1 for code in hidden)):
        cells[shown[0][1]] = Cell(None, Mark.COMPLEMENT)
    return cells


@dataclass(frozen=True, slots=True)
class DesaPage:
    """One page of a kabupaten's desa rows, after an optional search by name."""

    rows: tuple[StatisticsRow, ...]
    query: str
    #: 1-based; `pages` is at least 1 even when nothing matches.
    page: int
    pages: int
    #: Rows that match `query` (all of them without one), and all rows of the kabupaten.
    matching: int
    total: int
    per_page: int = DESA_PER_PAGE

    @property
    def first(self) -> int:
        """The number of the first row shown (1-based), 0 when none is."""
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def desa_page(rows: Sequence[StatisticsRow], query: str, page: int, *, per_page: int = DESA_PER_PAGE) -> DesaPage:
    """The rows whose name holds every word of `query` (any case), `per_page` at a time.

    Searching and paging only choose which rows to show: the cells were suppressed over the whole
    kabupaten first, so no page or search result shows a number that the full table hides.
    A page beyond the last shows the last one.
    """
    query = " ".join(query.split())[:_MAX_QUERY_LENGTH]
    words = query.casefold().split()
    matching = [row for row in rows if all(word in row.name.casefold() for word in words)]
    pages = max(1, -(-len(matching) // per_page))
    page = min(max(page, 1), pages)
    shown = tuple(matching[(page - 1) * per_page: page * per_page])
    return DesaPage(shown, query, page, pages, len(matching), len(rows), per_page)
