"""The registry importer: every rejection reason, all-or-nothing stops, replacement per desa."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.models import ImportBatch, Programme, RegistryPerson
from portal.services.registry_import import (
    CHUNK_ROWS,
    REASONS,
    ImportStopped,
    RowIssue,
    import_registry,
)
from tests.conftest import COLUMNS, DESA_A, DESA_B, DESA_C, TODAY, make_row, write_csv


def run(session, vault, path: Path, **kwargs):
    """Import as `flask registry import` does: one unit of work, rolled back for a dry run or a failure."""
    issues: list[RowIssue] = []
    kwargs.setdefault("period", "2025-Q4")
    try:
        result = import_registry(session, vault, path, imported_by="test", today=TODAY,
                                 on_issue=issues.append, **kwargs)
    except BaseException:
        session.rollback()
        raise
    if kwargs.get("dry_run"):
        session.rollback()
    else:
        session.commit()
    return result, issues


def people(session, desa: str | None = None) -> list[RegistryPerson]:
    query = select(RegistryPerson).order_by(RegistryPerson.source_line)
    if desa:
        query = query.where(RegistryPerson.desa_code == desa)
    return list(session.scalars(query))


def test_valid_rows_are_stored_with_programmes_and_protected_numbers(session, vault, tmp_path):
    rows = [make_row(1), make_row(2, name="Moch. Djoenaedi", sex="L", birth=dt.date(1970, 12, 1))]
    result, issues = run(session, vault, write_csv(tmp_path / "a.csv", rows))

    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (2, 2, 0)
    assert issues == []
    siti, moch = people(session)
    assert siti.name == "Siti Aminah" and siti.rt == "003" and siti.rw == "002" and siti.desil == 2
    assert moch.name_key == "MOCH DJOENAEDI" and moch.phonetic_key == "MHD YUNAEDI"
    # An empty programme cell says nothing: neither YA nor TIDAK.
    assert {p: siti.receives(p) for p in Programme} == {
        Programme.PKH: True, Programme.BPNT: False, Programme.PBI_JK: True, Programme.BLT: None}
    assert siti.period == "2025-Q4"
    # NIK and KK are never stored in clear, but can be matched and decrypted.
    assert rows[0]["nik"].encode() not in siti.nik_encrypted
    assert siti.nik_hash == vault.digest(rows[0]["nik"])
    assert vault.decrypt(siti.nik_encrypted, "nik") == rows[0]["nik"]
    assert vault.decrypt(siti.kk_encrypted, "kk") == rows[0]["no_kk"]
    batch = session.get(ImportBatch, result.batch_id)
    assert (batch.rows_accepted, batch.period, batch.imported_by) == (2, "2025-Q4", "test")
    assert len(batch.sha256) == 64


BAD_ROWS = {
    "nik_format": {"nik": "32040541031"},
    "nik_region": {"nik": "9999995403850001"},
    "nik_birth_date": {"nik": "3204057313850001"},
    "nik_birth_date_mismatch": {"tanggal_lahir": "1985-03-15"},
    "nik_sex_mismatch": {"jenis_kelamin": "L"},
    "kk_format": {"no_kk": "12345"},
    "name_invalid": {"nama": "Siti 123"},
    "birth_date_invalid": {"tanggal_lahir": "14 Maret 1985"},
    "sex_invalid": {"jenis_kelamin": "X"},
    "desa_unknown": {"kode_desa": "32.04.05.9999"},
    "rt_rw_invalid": {"rt": "A1"},
    "desil_invalid": {"desil": "11"},
    "programme_invalid": {"pkh": "MUNGKIN"},
}


@pytest.mark.parametrize("reason", sorted(BAD_ROWS))
def test_each_bad_row_is_rejected_with_its_reason_and_line(session, vault, tmp_path, reason):
    rows = [make_row(1, name="Ani Lestari"), make_row(2, **BAD_ROWS[reason])]
    result, issues = run(session, vault, write_csv(tmp_path / "bad.csv", rows))

    assert result.rows_accepted == 1
    assert dict(result.rejected) == {reason: 1}
    assert [(i.line, i.reason) for i in issues] == [(3, reason)]
    assert issues[0].fields[0] == rows[1]["nik"]
    assert [p.name for p in people(session)] == ["Ani Lestari"]


@pytest.mark.parametrize(("column", "text", "reason"), [
    ("desil", "²", "desil_invalid"), ("rt", "١", "rt_rw_invalid"), ("no_kk", "٣" * 16, "kk_format"),
])
def test_digits_other_than_0_to_9_are_rejected_not_crashed_on(session, vault, tmp_path, column, text, reason):
    result, issues = run(session, vault, write_csv(tmp_path / "digits.csv", [make_row(1, **{column: text})]))
    assert (result.rows_accepted, [i.reason for i in issues]) == (0, [reason])


def test_empty_name_and_empty_nik_are_rejected(session, vault, tmp_path):
    rows = [make_row(1, nama="   "), make_row(2, nik="")]
    result, _ = run(session, vault, write_csv(tmp_path / "empty.csv", rows))
    assert dict(result.rejected) == {"name_invalid": 1, "nik_format": 1}


def test_household_members_share_their_kk_and_flags_are_read_in_any_case(session, vault, tmp_path):
    kk = make_row(1)["no_kk"]
    rows = [make_row(1, no_kk=kk, pkh="ya", bpnt="Tidak", pbi_jk=" y "),
            make_row(2, name="Budi Santoso", sex="L", no_kk=kk, pkh="0", bpnt="", blt="TRUE"),
            make_row(3, name="Ani Lestari")]
    result, issues = run(session, vault, write_csv(tmp_path / "kk.csv", rows))

    assert result.rows_accepted == 3, issues
    siti, budi, ani = people(session)
    assert [vault.decrypt(p.kk_encrypted, "kk") for p in (siti, budi, ani)] == [kk, kk, rows[2]["no_kk"]]
    assert siti.kk_hash == budi.kk_hash != ani.kk_hash
    assert [(p.pkh, p.bpnt, p.pbi_jk, p.blt) for p in (siti, budi)] == [(True, False, True, None),
                                                                       (False, None, True, True)]


def test_a_file_without_programme_columns_records_nothing_about_them(session, vault, tmp_path):
    columns = [c for c in COLUMNS if c not in {p.value for p in Programme}]
    result, issues = run(session, vault, write_csv(tmp_path / "bare.csv", [make_row(1)], columns=columns))
    assert result.rows_accepted == 1, issues
    (person,) = people(session)
    assert [person.receives(p) for p in Programme] == [None] * len(Programme)


def test_a_row_with_the_wrong_number_of_fields_is_rejected(session, vault, tmp_path):
    path = write_csv(tmp_path / "short.csv", [make_row(1)])
    with path.open("a") as f:
        f.write("3204054103850002,3204050101200002,Ani\n")
    result, issues = run(session, vault, path)
    assert [(i.line, i.reason) for i in issues] == [(3, "field_count")]
    assert result.rows_accepted == 1


def test_a_repeated_nik_keeps_the_first_row_and_reports_both_lines(session, vault, tmp_path):
    first = make_row(1, name="Siti Aminah")
    rows = [first] + [make_row(n, name="Ani Lestari") for n in range(2, CHUNK_ROWS + 5)]
    rows.append({**first, "nama": "Siti Aminah Binti Usman"})  # same NIK, in a later chunk
    rows.append({**first, "nama": "Siti A"})
    result, issues = run(session, vault, write_csv(tmp_path / "dup.csv", rows))

    duplicates = [(i.line, i.reason, i.detail) for i in issues]
    last = len(rows) + 1
    assert duplicates == [(last - 1, "nik_duplicate", "2"), (last, "nik_duplicate", "2")]
    assert result.rows_accepted == len(rows) - 2
    assert people(session)[0].name == "Siti Aminah"


def test_semicolons_bom_undotted_codes_and_period_column(session, vault, tmp_path):
    row = make_row(1, kode_desa=DESA_A.replace(".", ""), periode="2025-Q3")
    path = write_csv(tmp_path / "excel.csv", [row], columns=[*COLUMNS, "periode"],
                     delimiter=";", encoding="utf-8-sig")
    result, issues = run(session, vault, path, period=None)
    assert result.rows_accepted == 1, issues
    (person,) = people(session)
    assert person.desa_code == DESA_A
    assert person.period == "2025-Q3"
    assert session.get(ImportBatch, result.batch_id).period == "2025-Q3"


def test_reimport_replaces_only_the_desa_in_the_file(session, vault, tmp_path):
    run(session, vault, write_csv(tmp_path / "1.csv", [
        make_row(1, desa=DESA_A, name="Ani Lestari"),
        make_row(2, desa=DESA_B, name="Budi Santoso", sex="L"),
    ]))
    result, _ = run(session, vault, write_csv(tmp_path / "2.csv", [
        make_row(3, desa=DESA_A, name="Citra Dewi"),
    ]), period="2026-Q1")

    assert result.people_removed == 1 and result.desa_replaced == 1
    assert [p.name for p in people(session, DESA_A)] == ["Citra Dewi"]
    assert [p.name for p in people(session, DESA_B)] == ["Budi Santoso"]
    assert [[p.period for p in people(session, desa)] for desa in (DESA_A, DESA_B)] == [["2026-Q1"], ["2025-Q4"]]


def test_importing_the_same_file_twice_gives_the_same_registry(session, vault, tmp_path):
    path = write_csv(tmp_path / "same.csv", [make_row(n, name="Ani Lestari") for n in range(1, 6)])
    first, _ = run(session, vault, path)
    snapshot = [(p.name, p.source_line, p.desa_code) for p in people(session)]
    second, _ = run(session, vault, path)
    assert [(p.name, p.source_line, p.desa_code) for p in people(session)] == snapshot
    assert first.sha256 == second.sha256 and second.people_removed == 5
    assert session.scalar(select(func.count()).select_from(RegistryPerson)) == 5


def test_dry_run_changes_nothing(session, vault, tmp_path):
    result, issues = run(session, vault, write_csv(tmp_path / "d.csv", [make_row(1), make_row(2, rt="X")]),
                         dry_run=True)
    assert (result.rows_accepted, result.rows_rejected, result.batch_id) == (1, 1, None)
    assert people(session) == []
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_nik_registered_in_another_desa_is_reported_without_blocking(session, vault, tmp_path):
    row = make_row(1, desa=DESA_A)
    run(session, vault, write_csv(tmp_path / "a.csv", [row]))
    moved = {**row, "kode_desa": DESA_B}
    result, issues = run(session, vault, write_csv(tmp_path / "b.csv", [moved]))
    assert result.rows_accepted == 1 and result.nik_elsewhere == 1
    assert [(i.line, i.reason, i.detail) for i in issues] == [(2, "nik_elsewhere", DESA_A)]
    assert session.get(ImportBatch, result.batch_id).nik_elsewhere == 1

    # A later import of another desa reports only its own people, not the pair above.
    result, issues = run(session, vault, write_csv(tmp_path / "c.csv", [make_row(2, desa=DESA_C)]))
    assert (result.rows_accepted, result.nik_elsewhere, issues) == (1, 0, [])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "kosong"),
        (b"nik,no_kk,nama\n1,2,3\n", "Kolom wajib tidak ada: tanggal_lahir"),
        (",".join(COLUMNS).encode() + b"\n", "tidak berisi baris data"),
    ],
    ids=["empty", "missing-column", "header-only"],
)
def test_unusable_files_stop_and_change_nothing(session, vault, tmp_path, content, message):
    run(session, vault, write_csv(tmp_path / "before.csv", [make_row(1, desa=DESA_C, name="Ani Lestari")]))
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(ImportStopped, match=message):
        run(session, vault, path)
    assert [p.name for p in people(session)] == ["Ani Lestari"]
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 1


def test_wrong_encoding_late_in_the_file_rolls_back_rows_already_written(session, vault, tmp_path):
    run(session, vault, write_csv(tmp_path / "before.csv", [make_row(1, name="Ani Lestari")]))
    rows = [make_row(n, name="Budi Santoso", sex="L") for n in range(2, CHUNK_ROWS + 100)]
    path = write_csv(tmp_path / "latin1.csv", rows)
    with path.open("ab") as f:
        f.write("3204051403850001,3204050101200001,Désirée,1985-03-14,L,32.04.05.2001,1,1,1,,,,\n"
                .encode("latin-1"))
    with pytest.raises(ImportStopped, match="UTF-8"):
        run(session, vault, path)
    assert [p.name for p in people(session)] == ["Ani Lestari"]


def test_no_period_at_all_stops(session, vault, tmp_path):
    with pytest.raises(ImportStopped, match="Periode"):
        run(session, vault, write_csv(tmp_path / "p.csv", [make_row(1)]), period=None)


def test_every_reason_has_a_message():
    assert set(BAD_ROWS) | {"field_count", "nik_duplicate", "period_missing"} == set(REASONS)


def _peak_memory_of_import(session, vault, path: Path, chunk_rows: int) -> int:
    tracemalloc.start()
    try:
        run(session, vault, path, chunk_rows=chunk_rows)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_file(session, vault, tmp_path):
    def extract(n: int) -> Path:
        rows = [make_row(i % 9000 + 1, birth=dt.date(1950 + i // 9000, 1, 1), name="Ani Lestari",
                         desa=DESA_A if i % 2 else DESA_B) for i in range(n)]
        return write_csv(tmp_path / f"{n}.csv", rows)

    chunk = 250
    small, large = extract(2 * chunk), extract(10 * chunk)
    small_peak = _peak_memory_of_import(session, vault, small, chunk)
    large_peak = _peak_memory_of_import(session, vault, large, chunk)
    # Five times the rows, about the same peak: rows are held one chunk at a time.
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)
