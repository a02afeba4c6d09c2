"""Filing, idempotency, duplicates, the sanggah quota, tracking and reopening."""

from __future__ import annotations

import datetime as dt
import io
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, func, select

from portal.extensions import db
from portal.models import ActorKind, Complaint, ComplaintEvent, ComplaintKind, ComplaintStatus, Evidence
from portal.services import unit_of_work
from portal.services.complaints import (
    CODE_ALPHABET,
    ComplaintDraft,
    ReopenClash,
    ReopenRefused,
    SanggahQuotaExceeded,
    file_complaint,
    new_code,
    normalise_code,
    reopen_complaint,
    track_complaint,
)
from portal.services.uploads import clean_image
from tests.conftest import DESA_A

COMPLAINANT_NIK = "3204054103850001"
SUBJECT_NIK = "3204051212700002"


def draft(**changes) -> ComplaintDraft:
    base = ComplaintDraft(
        kind=ComplaintKind.USUL, desa_code=DESA_A, complainant_name="Ani Lestari",
        complainant_nik=COMPLAINANT_NIK, complainant_phone="+6281234567890", subject_name="Budi Santoso",
        subject_nik=None, subject_rt="003", subject_rw="002", correction_field=None, correction_value=None,
        description="Keluarga Pak Budi tidak punya penghasilan tetap sejak tahun lalu.",
    )
    return replace(base, **changes)


def photo() -> object:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(buffer, "JPEG")
    buffer.seek(0)
    return clean_image(buffer)


def file(session, vault, tmp_path: Path, the_draft=None, images=(), key="form-1", **kwargs):
    """File in a unit of work of its own, committed as the end of a request commits it."""
    try:
        result = file_complaint(session, vault, the_draft or draft(), list(images), idempotency_key=key,
                                upload_dir=tmp_path / "uploads", sanggah_limit=kwargs.pop("sanggah_limit", 3),
                                **kwargs)
        unit_of_work.commit(session)
    except BaseException as error:
        unit_of_work.rollback(session, unit_of_work.RollbackCause(error))
        raise
    return result


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_filing_writes_one_complaint_one_event_and_its_files(session, vault, tmp_path):
    result = file(session, vault, tmp_path, images=[photo(), photo()])
    assert result.created and re_code(result.code)
    complaint = session.scalars(select(Complaint)).one()
    assert complaint.status is ComplaintStatus.DITERIMA
    assert [(e.to_status, e.actor, e.public) for e in complaint.events] == [
        (ComplaintStatus.DITERIMA, ActorKind.PELAPOR, True)
    ]
    stored = sorted(p.name for p in (tmp_path / "uploads").iterdir())
    assert stored == sorted(e.stored_name for e in complaint.evidence) and len(stored) == 2
    # NIK and phone are stored encrypted, with a keyed hash for matching.
    assert COMPLAINANT_NIK.encode() not in complaint.complainant_nik_encrypted
    assert vault.decrypt(complaint.complainant_nik_encrypted, "nik") == COMPLAINANT_NIK
    assert vault.decrypt(complaint.complainant_phone_encrypted, "phone") == "+6281234567890"
    assert complaint.complainant_nik_hash == vault.digest(COMPLAINANT_NIK)


def re_code(code: str) -> bool:
    prefix, first, second = code.split("-")
    return prefix == "ADU" and len(first + second) == 8 and set(first + second) <= set(CODE_ALPHABET)


def test_a_failing_commit_leaves_no_files_and_no_rows(app, session, vault, tmp_path):
    def fail(*_args):
        raise RuntimeError("disk full")

    event.listen(session, "before_commit", fail)
    try:
        with pytest.raises(RuntimeError):
            file(session, vault, tmp_path, images=[photo()])
    finally:
        event.remove(session, "before_commit", fail)
    assert list((tmp_path / "uploads").iterdir()) == []
    assert count(session, Complaint) == count(session, Evidence) == count(session, ComplaintEvent) == 0


def test_the_same_form_twice_is_one_complaint(session, vault, tmp_path):
    first = file(session, vault, tmp_path, images=[photo()])
    again = file(session, vault, tmp_path, images=[photo()])
    assert (again.code, again.created) == (first.code, False)
    assert count(session, Complaint) == 1
    assert len(list((tmp_path / "uploads").iterdir())) == 1


def test_an_open_duplicate_is_recognised_but_its_code_is_not_handed_out(session, vault, tmp_path):
    first = file(session, vault, tmp_path)
    same_subject = file(session, vault, tmp_path, draft(subject_name="budi  SANTOSO"), key="form-2")
    # Only the first half: whoever else knows the complainant's NIK must not get a working code.
    assert (same_subject.created, same_subject.duplicate_open) == (False, True)
    assert same_subject.code == first.code[:8] + "-…"
    other_kind = file(session, vault, tmp_path, draft(kind=ComplaintKind.SANGGAH), key="form-3")
    assert other_kind.created and other_kind.code != first.code


def test_a_closed_complaint_does_not_block_a_new_one(session, vault, tmp_path):
    first = file(session, vault, tmp_path)
    session.scalars(select(Complaint)).one().status = ComplaintStatus.SELESAI
    session.commit()
    second = file(session, vault, tmp_path, key="form-2")
    assert second.created and second.code != first.code


def test_sanggah_quota_per_complainant(session, vault, tmp_path):
    for n in range(2):
        file(session, vault, tmp_path, draft(kind=ComplaintKind.SANGGAH, subject_name=f"Orang Ke {'AB'[n]}"),
             key=f"s{n}", sanggah_limit=2)
    with pytest.raises(SanggahQuotaExceeded):
        file(session, vault, tmp_path, draft(kind=ComplaintKind.SANGGAH, subject_name="Orang Lain"), key="s9",
             sanggah_limit=2)
    assert file(session, vault, tmp_path, draft(kind=ComplaintKind.USUL), key="u1", sanggah_limit=2).created


def test_codes_are_random_and_forgiving_to_type():
    codes = {new_code() for _ in range(500)}
    assert len(codes) == 500
    assert normalise_code("adu 7k2m 9qxp") == "ADU-7K2M-9QXP"
    assert normalise_code("ADU-OK2M-9QXL") == "ADU-0K2M-9QX1"
    assert normalise_code("ADU-7K2M") is None and normalise_code("<script>") is None


def test_track_shows_public_events_only_and_nothing_personal(session, vault, tmp_path):
    code = file(session, vault, tmp_path).code
    complaint = session.scalars(select(Complaint)).one()
    complaint.events.append(ComplaintEvent(actor=ActorKind.STAF, note="catatan internal", public=False))
    session.commit()
    view = track_complaint(session, code.lower())
    assert (view.code, view.kind, view.desa_name, view.status) == (code, ComplaintKind.USUL, "Cileunyi Kulon",
                                                                    ComplaintStatus.DITERIMA)
    assert [e.status for e in view.events] == [ComplaintStatus.DITERIMA]
    assert "Ani Lestari" not in repr(view) and "Budi" not in repr(view) and COMPLAINANT_NIK not in repr(view)
    assert track_complaint(session, "ADU-0000-0000") is None


def _decide(session, status: ComplaintStatus, at: dt.datetime) -> None:
    complaint = session.scalars(select(Complaint)).one()
    complaint.events.append(ComplaintEvent(actor=ActorKind.STAF, from_status=complaint.status, to_status=status,
                                           note="Sudah diverifikasi.", created_at=at))
    complaint.status = status
    session.commit()


def test_reopen_once_within_30_days_of_the_decision(session, vault, tmp_path):
    code = file(session, vault, tmp_path).code
    decided = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with pytest.raises(ReopenRefused):
        reopen_complaint(session, code, "Belum ada perubahan.", now=decided)  # still open
    _decide(session, ComplaintStatus.SELESAI, decided)
    with pytest.raises(ReopenRefused):
        reopen_complaint(session, code, "Terlambat.", now=decided + dt.timedelta(days=31))
    reopen_complaint(session, code, "Belum ada perubahan.", now=decided + dt.timedelta(days=29))
    view = track_complaint(session, code)
    assert view.status is ComplaintStatus.DITINJAU and not view.can_reopen
    assert "Belum ada perubahan." not in repr(view)  # the comment is for staff only
    _decide(session, ComplaintStatus.DITOLAK, decided + dt.timedelta(days=30))
    with pytest.raises(ReopenRefused):
        reopen_complaint(session, code, "Sekali lagi.", now=decided + dt.timedelta(days=31))


FIRST = ("Adi", "Bayu", "Cici", "Dodi", "Eka", "Fajar", "Gita", "Hadi", "Indah", "Joko")
LAST = ("Lestari", "Santoso", "Wijaya", "Pratama", "Saputra")


def test_fifty_threads_filing_at_once(app, vault, tmp_path):
    barrier = threading.Barrier(50)
    results, errors = [], []

    def worker(n: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                subject = f"{FIRST[n % 10]} {LAST[n // 10]}"  # fifty different people
                results.append(file(db.session, vault, tmp_path, draft(subject_name=subject), key=f"t{n}"))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(exc))
            finally:
                db.session.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.code for r in results}) == 50 and all(r.created for r in results)
    with app.app_context():
        assert count(db.session, Complaint) == 50


def test_reopening_is_refused_while_a_newer_same_complaint_is_open(session, vault, tmp_path):
    code = file(session, vault, tmp_path).code
    decided = dt.datetime.now(dt.UTC)
    _decide(session, ComplaintStatus.SELESAI, decided)
    file(session, vault, tmp_path, key="form-2")  # the same complaint again, now open
    with pytest.raises(ReopenClash):
        reopen_complaint(session, code, "Belum ada perubahan.", now=decided + dt.timedelta(days=1))
