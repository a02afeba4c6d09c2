"""Escalation as people see it: the public timeline on lacak, the staff queues, the command line."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from portal.models import Complaint, ComplaintEvent, utcnow
from tests.conftest import DESA_A, make_complaint, make_staff
from tests.routes.test_staff import as_user


def _aged(session, vault, days: int, subject: str = "Budi Santoso") -> str:
    code = make_complaint(session, vault, subject=subject)
    session.execute(update(Complaint).where(Complaint.code == code)
                    .values(created_at=utcnow() - dt.timedelta(days=days)))
    session.commit()
    return code


def test_flask_complaints_escalate_twice_escalates_once_and_lacak_says_so(app, runner, client, session, vault):
    code = _aged(session, vault, 15)
    first = runner.invoke(args=["complaints", "escalate"])
    assert first.exit_code == 0, first.output
    assert "Diteruskan ke kecamatan: 1, ke kabupaten/kota: 0" in first.output
    second = runner.invoke(args=["complaints", "escalate"])
    assert "Diteruskan ke kecamatan: 0, ke kabupaten/kota: 0" in second.output
    assert session.scalar(select(func.count()).select_from(ComplaintEvent).where(
        ComplaintEvent.note.like("Diteruskan otomatis%"))) == 1

    page = client.post("/aduan/lacak", data={"kode": code}).get_data(as_text=True)
    assert "Diteruskan otomatis ke kecamatan karena melewati 14 hari" in page


def test_the_kecamatan_queue_flags_and_filters_escalated_complaints(app, runner, session, vault):
    make_staff(session, "camat.cileunyi", "kecamatan", "32.04.05")
    escalated = _aged(session, vault, 15)
    fresh = _aged(session, vault, 1, subject="Ahmad Yani")
    assert runner.invoke(args=["complaints", "escalate"]).exit_code == 0
    client = as_user(app, "camat.cileunyi")

    page = client.get("/staf/antrian").get_data(as_text=True)
    row = page[page.index(escalated):].split("</tr>")[0]
    assert "Naik ke kecamatan" in row
    assert "Naik ke kecamatan" not in page[page.index(fresh):].split("</tr>")[0]

    only = client.get("/staf/antrian?naik=1").get_data(as_text=True)
    assert escalated in only and fresh not in only
    assert "Naik ke kecamatan" in client.get(f"/staf/aduan/{escalated}").get_data(as_text=True)


def test_flask_complaints_sweep_runs_every_sweep_and_digest_only_when_asked(app, runner, session, vault):
    _aged(session, vault, 22)
    result = runner.invoke(args=["complaints", "sweep"])
    assert result.exit_code == 0, result.output
    assert "ke kabupaten/kota: 1" in result.output and "Pertanyaan tindak lanjut: 0" in result.output
    digest = runner.invoke(args=["complaints", "digest"])
    assert digest.exit_code == 0 and "Ringkasan harian: 0, daftar lewat waktu: 0" in digest.output
    assert DESA_A not in result.output
