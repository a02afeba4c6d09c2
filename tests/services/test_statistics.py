"""Complaint statistics: counts, medians, hidden complaints, small cells and their complements."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets

import pytest

from portal.models import ActorKind, Complaint, ComplaintEvent, ComplaintKind, ComplaintStatus
from portal.services.complaints import new_code
from portal.services.names import phonetic_key
from portal.services.statistics import (
    Cell,
    Mark,
    StatisticsRow,
    UnknownKabupaten,
    complaint_statistics,
    count_cell,
    desa_cells,
    desa_page,
    median_cell,
    total_cell,
)
from tests.conftest import DESA_A, DESA_B, DESA_C

FILED = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
#: The six desa of kecamatan Cileunyi, all the test database knows of Kabupaten Bandung.
CILEUNYI = tuple(f"32.04.05.{n}" for n in range(2001, 2007))
DESA_BOGOR = "32.01.01.1001"


def make_complaint(
    session,
    vault,
    desa: str = DESA_A,
    status: ComplaintStatus = ComplaintStatus.DITERIMA,
    *,
    days: float = 3,
    filed: dt.datetime = FILED,
    kind: ComplaintKind = ComplaintKind.USUL,
    complainant: str = "Ani Lestari",
    subject: str = "Budi Santoso",
) -> Complaint:
    """A complaint as filing leaves it; a decided one is moved to `status` after `days`."""
    complaint = Complaint(
        code=new_code(), idempotency_key=secrets.token_hex(16), kind=kind, status=status, desa_code=desa,
        complainant_name=complainant, complainant_nik_encrypted=vault.encrypt("3204054103850001", "nik"),
        complainant_nik_hash=vault.digest(secrets.token_hex(8)), subject_name=subject,
        subject_phonetic_key=phonetic_key(subject), subject_key=vault.digest(secrets.token_hex(8)),
        description="Keluarga ini tidak punya penghasilan tetap.", consent_at=filed, created_at=filed,
    )
    complaint.events.append(ComplaintEvent(created_at=filed, actor=ActorKind.PELAPOR,
                                           to_status=ComplaintStatus.DITERIMA, note="", public=True))
    if status is not ComplaintStatus.DITERIMA:
        complaint.events.append(ComplaintEvent(
            created_at=filed + dt.timedelta(days=days), actor=ActorKind.SISTEM,
            from_status=ComplaintStatus.DITERIMA, to_status=status, note="Alasan.", public=True,
        ))
    session.add(complaint)
    return complaint


def make_many(session, vault, desa: str, count: int, status=ComplaintStatus.DITERIMA, **kwargs) -> None:
    for _ in range(count):
        make_complaint(session, vault, desa, status, **kwargs)


def rows_by_code(rows) -> dict:
    return {row.code: row for row in rows}


def test_counts_per_kabupaten_hide_small_ones_and_spam(session, vault):
    make_many(session, vault, DESA_A, 3, ComplaintStatus.SELESAI)
    make_many(session, vault, DESA_A, 2, ComplaintStatus.DITOLAK)
    make_many(session, vault, DESA_A, 2, ComplaintStatus.DITERUSKAN)
    make_many(session, vault, DESA_B, 1, ComplaintStatus.DITINJAU)
    make_many(session, vault, DESA_C, 4)
    make_many(session, vault, DESA_C, 5, ComplaintStatus.DISEMBUNYIKAN)  # spam is no complaint
    make_many(session, vault, DESA_BOGOR, 3, ComplaintStatus.DISEMBUNYIKAN)
    session.commit()

    table = complaint_statistics(session, now=NOW)

    assert table.desa is None and table.as_of == NOW
    rows = rows_by_code(table.kabupaten)
    assert list(rows) == ["32.04", "53.71"]  # Kab. Bogor has only spam: not listed at all
    bandung, kupang = rows["32.04"], rows["53.71"]
    assert (bandung.name, kupang.name) == ("Kabupaten Bandung", "Kota Kupang")
    assert bandung.received == Cell(8) and bandung.resolved == Cell(5)
    assert bandung.median_days == Cell(3.0)
    assert kupang.received == Cell(None, Mark.SMALL)  # 4, not 9
    assert kupang.resolved == Cell(None, Mark.SMALL)
    assert kupang.median_days == Cell(None, Mark.TOO_FEW)


def test_per_desa_lists_every_desa_of_the_kabupaten_and_only_those(session, vault):
    make_many(session, vault, DESA_A, 6, ComplaintStatus.SELESAI)
    make_many(session, vault, DESA_A, 2)
    make_many(session, vault, DESA_B, 2, ComplaintStatus.SELESAI)
    make_many(session, vault, DESA_B, 1, ComplaintStatus.DISEMBUNYIKAN)
    make_many(session, vault, DESA_C, 9)
    session.commit()

    table = complaint_statistics(session, kabupaten_code="32.04", now=NOW)

    (bandung,) = table.kabupaten
    assert (bandung.code, bandung.received, bandung.resolved) == ("32.04", Cell(10), Cell(8))
    desa = rows_by_code(table.desa)
    assert set(desa) == set(CILEUNYI)  # none of Kupang's; the ones without complaints too
    assert [row.name for row in table.desa] == sorted(row.name for row in table.desa)
    assert desa[DESA_A].received == Cell(8) and desa[DESA_A].resolved == Cell(6)
    assert desa[DESA_A].median_days == Cell(3.0)
    for code in CILEUNYI[1:]:
        assert desa[code].received == Cell(None, Mark.SMALL)
        assert desa[code].median_days == Cell(None, Mark.TOO_FEW)
    # The same kabupaten row as in the overview.
    assert rows_by_code(complaint_statistics(session).kabupaten)["32.04"] == bandung


def test_median_needs_five_resolved_and_uses_the_last_decision(session, vault):
    for days in (1, 2, 4, 10):
        make_complaint(session, vault, DESA_A, ComplaintStatus.SELESAI, days=days)
    make_many(session, vault, DESA_A, 3)  # open ones do not count towards the median
    session.commit()
    assert complaint_statistics(session).kabupaten[0].median_days == Cell(None, Mark.TOO_FEW)

    # Decided, reopened by the complainant, decided again after 9.5 days: the last decision counts.
    reopened = make_complaint(session, vault, DESA_A, ComplaintStatus.DITOLAK, days=2)
    reopened.events.append(ComplaintEvent(created_at=FILED + dt.timedelta(days=3), actor=ActorKind.PELAPOR,
                                          from_status=ComplaintStatus.DITOLAK, to_status=ComplaintStatus.DITINJAU))
    reopened.events.append(ComplaintEvent(created_at=FILED + dt.timedelta(days=9, hours=12), actor=ActorKind.SISTEM,
                                          from_status=ComplaintStatus.DITINJAU, to_status=ComplaintStatus.DITOLAK))
    session.commit()

    row = complaint_statistics(session).kabupaten[0]
    assert row.resolved == Cell(5)
    assert row.median_days == Cell(4.0)  # of 1, 2, 4, 9.5, 10


def test_median_is_rounded_to_a_tenth_of_a_day(session, vault):
    for hours in (10, 20, 30, 40, 50):
        make_complaint(session, vault, DESA_C, ComplaintStatus.SELESAI, days=hours / 24)
    session.commit()
    assert complaint_statistics(session).kabupaten[0].median_days == Cell(1.2)  # 30 hours


def test_one_small_desa_beside_a_published_total_hides_the_smallest_shown_one_too(session, vault):
    # Without a complement, 37 − (5 + 7 + 6 + 8 + 9) would give the one small count away.
    counts = dict(zip(CILEUNYI, (5, 7, 6, 8, 9, 2), strict=True))
    for code, count in counts.items():
        make_many(session, vault, code, count)
    session.commit()

    table = complaint_statistics(session, kabupaten_code="32.04")

    assert table.kabupaten[0].received == Cell(37)
    desa = rows_by_code(table.desa)
    assert desa[CILEUNYI[5]].received == Cell(None, Mark.SMALL)
    assert desa[CILEUNYI[0]].received == Cell(None, Mark.COMPLEMENT)  # the smallest shown: 5
    assert [desa[code].received for code in CILEUNYI[1:5]] == [Cell(7), Cell(6), Cell(8), Cell(9)]


def test_a_kabupaten_whose_every_desa_has_four_hides_its_total_everywhere(session, vault):
    for code in CILEUNYI:
        make_many(session, vault, code, 4)
    make_many(session, vault, DESA_C, 4)
    session.commit()

    overview = rows_by_code(complaint_statistics(session).kabupaten)
    assert overview["32.04"].received == Cell(None, Mark.COMPLEMENT)  # 24 = 6 × 4 would pin them all
    assert overview["53.71"].received == Cell(None, Mark.SMALL)
    breakdown = complaint_statistics(session, kabupaten_code="32.04")
    assert breakdown.kabupaten[0] == overview["32.04"]
    assert {row.received for row in breakdown.desa} == {Cell(None, Mark.SMALL)}


@pytest.mark.parametrize("code", ["99.99", "32", "32.04.05", DESA_A, "", "32.04%"])
def test_only_a_kabupaten_code_selects_a_breakdown(session, code):
    with pytest.raises(UnknownKabupaten):
        complaint_statistics(session, kabupaten_code=code)


def test_a_kabupaten_without_complaints_has_small_cells_only(session):
    table = complaint_statistics(session, kabupaten_code="53.71")
    assert table.kabupaten[0].received == Cell(None, Mark.SMALL)
    assert len(table.desa) == 12 and all(row.received.suppressed for row in table.desa)
    assert complaint_statistics(session).kabupaten == ()


# -- the cells on their own -------------------------------------------------------------------


@pytest.mark.parametrize(("count", "cell"), [(0, Cell(None, Mark.SMALL)), (1, Cell(None, Mark.SMALL)),
                                             (4, Cell(None, Mark.SMALL)), (5, Cell(5)), (120, Cell(120))])
def test_counts_below_five_are_hidden(count, cell):
    assert count_cell(count) == cell


def test_median_cell():
    assert median_cell([1, 2, 3, 4]) == Cell(None, Mark.TOO_FEW)
    assert median_cell([1, 2, 3, 4, 100]) == Cell(3)
    assert median_cell([1, 2, 3, 4, 5, 6]) == Cell(3.5)


def test_a_cell_has_a_value_or_a_mark_never_both():
    with pytest.raises(ValueError):
        Cell(3, Mark.SMALL)
    with pytest.raises(ValueError):
        Cell(None)
    assert Cell(None, Mark.SMALL).suppressed and not Cell(7).suppressed


def feasible_values(counts: tuple[int, ...]) -> tuple[dict[int, set[int]], dict[str, Cell]]:
    """Every value each small cell could have, for someone who reads the published cells and total."""
    codes = [f"d{i}" for i in range(len(counts))]
    total = total_cell(sum(counts), every_desa_four=all(c == 4 for c in counts))
    cells = desa_cells(dict(zip(codes, counts, strict=True)), total)
    shown = sum(cells[c].value for c in codes if not cells[c].suppressed)
    small = [i for i, c in enumerate(codes) if cells[c].mark is Mark.SMALL]
    complements = sum(1 for c in codes if cells[c].mark is Mark.COMPLEMENT)
    possible: dict[int, set[int]] = {i: set() for i in small}
    for guess in itertools.product(range(5), repeat=len(small)):
        least = shown + sum(guess) + 5 * complements  # complements are 5 or more, without upper bound
        if total.value is not None:
            fits = least <= total.value if complements else least == total.value
        elif total.mark is Mark.SMALL:
            fits = least <= 4
        else:
            fits = complements > 0 or least >= 5
        if fits:
            for i, value in zip(small, guess, strict=True):
                possible[i].add(value)
    return possible, cells


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_no_small_desa_count_can_be_worked_out_from_the_kabupaten_total(size):
    values = range(8) if size < 4 else (0, 1, 3, 4, 5, 6)
    for counts in itertools.product(values, repeat=size):
        possible, cells = feasible_values(counts)
        for i, values_left in possible.items():
            assert counts[i] in values_left, counts
            if counts[i] > 0:  # a zero identifies nobody
                assert len(values_left) > 1, (counts, cells)
        # Nothing is hidden that need not be: at most one complement, and only beside a small cell.
        complements = [c for c in cells.values() if c.mark is Mark.COMPLEMENT]
        assert len(complements) <= 1 and (not complements or possible)


def _rows(*names: str) -> tuple[StatisticsRow, ...]:
    return tuple(StatisticsRow(f"32.04.05.{2001 + n}", name, count_cell(n), count_cell(0), median_cell([]))
                 for n, name in enumerate(names))


def test_a_page_of_desa_rows_counts_what_it_shows():
    rows = _rows(*(f"Desa {n:03d}" for n in range(1, 121)))
    first = desa_page(rows, "", 1)
    assert len(first.rows) == 50 and (first.first, first.last, first.pages) == (1, 50, 3)
    last = desa_page(rows, "", 3)
    assert [r.name for r in last.rows][0] == "Desa 101" and (last.first, last.last) == (101, 120)
    assert desa_page(rows, "", 99).page == 3 and desa_page(rows, "", -4).page == 1


def test_searching_desa_rows_needs_every_word_in_any_case():
    rows = _rows("Cileunyi Kulon", "Cileunyi Wetan", "Cimekar", "Cibiru Hilir")
    found = desa_page(rows, "  cileunyi   KULON ", 1, per_page=2)
    assert [r.name for r in found.rows] == ["Cileunyi Kulon"] and found.query == "cileunyi KULON"
    assert (found.matching, found.total) == (1, 4)
    both = desa_page(rows, "cileunyi", 2, per_page=1)
    assert [r.name for r in both.rows] == ["Cileunyi Wetan"] and both.pages == 2
    nothing = desa_page(rows, "sukamaju", 1)
    assert nothing.rows == () and nothing.pages == 1 and (nothing.first, nothing.last) == (0, 0)


def test_a_search_shows_the_cells_as_the_whole_table_hides_them(session, vault):
    for code, count in zip((f"32.04.05.{n}" for n in range(2001, 2007)), (5, 7, 6, 8, 9, 2), strict=True):
        make_many(session, vault, code, count)
    session.commit()
    table = complaint_statistics(session, kabupaten_code="32.04")
    kulon = desa_page(table.desa, "kulon", 1).rows[0]
    assert kulon.name == "Cileunyi Kulon" and kulon.received.mark is Mark.COMPLEMENT
