"""The command line: registry import output and report, demo seed through the importer."""

import csv

from sqlalchemy import func, select

from portal.models import ImportBatch, RegistryPerson
from portal.services.demo import SHOWCASE_NAMES
from tests.conftest import DESA_A, DESA_C, make_row, write_csv


def test_import_prints_counts_per_reason_and_writes_the_report(app, runner, tmp_path):
    path = write_csv(tmp_path / "x.csv", [make_row(1), make_row(2, desil="0"), make_row(3, rt="")])
    report = tmp_path / "ditolak.csv"
    result = runner.invoke(args=["registry", "import", str(path), "--period", "2025-Q4",
                                 "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "Diterima: 1" in result.output and "Ditolak: 2" in result.output
    assert "[desil_invalid]: 1" in result.output and "[rt_rw_invalid]: 1" in result.output
    with report.open(encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    assert lines[0][:4] == ["baris", "status", "alasan", "keterangan"]
    assert [(r[0], r[1], r[2]) for r in lines[1:]] == [("3", "ditolak", "desil_invalid"),
                                                       ("4", "ditolak", "rt_rw_invalid")]


def test_a_stopped_import_exits_non_zero_with_a_clear_message(app, runner, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("nama\nSiti\n")
    result = runner.invoke(args=["registry", "import", str(path), "--period", "2025-Q4"])
    assert result.exit_code != 0
    assert "Kolom wajib tidak ada" in result.output


def test_output_and_report_never_print_a_nik_to_the_terminal(app, runner, tmp_path):
    row = make_row(1, desil="0")
    result = runner.invoke(args=["registry", "import", str(write_csv(tmp_path / "x.csv", [row])),
                                 "--period", "2025-Q4"])
    assert row["nik"] not in result.output


def test_demo_seed_goes_through_the_importer(app, runner, session):
    result = runner.invoke(args=["demo", "seed", "--desa", DESA_A, "--desa", DESA_C.replace(".", ""),
                                 "--people", "120"])
    assert result.exit_code == 0, result.output
    assert "Diterima: 240" in result.output and "Ditolak: 0" in result.output
    batch = session.scalars(select(ImportBatch)).one()
    assert (batch.rows_accepted, batch.imported_by, batch.desa_count) == (240, "demo", 2)
    names = set(session.scalars(select(RegistryPerson.name).where(RegistryPerson.desa_code == DESA_A)))
    assert {name for name, _ in SHOWCASE_NAMES} <= names
    assert "Coba cari nama berikut" in result.output

    again = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert "sudah berisi data" in again.output
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 1


def test_demo_seed_refuses_an_unknown_desa(app, runner):
    result = runner.invoke(args=["demo", "seed", "--desa", "99.99.99.9999"])
    assert result.exit_code != 0 and "tidak dikenal" in result.output


def test_uploads_sweep_forgets_the_pending_photos_of_forms_left_for_too_long(app, runner, tmp_path):
    import io
    import os
    import time
    from pathlib import Path

    from PIL import Image

    from portal.services.uploads import PendingUploads

    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    photo = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(photo, "JPEG")
    pending = PendingUploads(Path(app.config["UPLOAD_FOLDER"]), max_files=3, max_bytes=10**6)
    left, fresh = pending.new_token(), pending.new_token()
    pending.keep(left, "a.jpg", photo.getvalue())
    (left_folder,) = (tmp_path / "uploads" / "pending").iterdir()
    pending.keep(fresh, "b.jpg", photo.getvalue())
    long_ago = time.time() - app.config["UPLOAD_PENDING_SECONDS"] - 60
    os.utime(left_folder, (long_ago, long_ago))
    result = runner.invoke(args=["uploads", "sweep"])
    assert result.exit_code == 0 and "yang masih disimpan" in result.output
    assert not left_folder.exists() and [p.filename for p in pending.photos(fresh)] == ["b.jpg"]
