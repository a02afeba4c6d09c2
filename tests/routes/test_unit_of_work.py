"""One unit of work per request: a request that fails after a service call leaves nothing committed."""

from __future__ import annotations

from sqlalchemy import event, func, select

from portal.extensions import db
from portal.models import AuditEntry, Complaint, ComplaintEvent, ComplaintStatus, Evidence
from portal.routes import staff as staff_routes
from tests.conftest import DESA_A, login, make_complaint, make_staff
from tests.routes.test_complaints import jpeg_bytes, submit


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_move_whose_request_fails_afterwards_is_not_committed(app, session, vault, monkeypatch):
    make_staff(session, "operator.a", "desa", DESA_A)
    code = make_complaint(session, vault)
    session.close()
    client = app.test_client()
    assert login(client, "operator.a").status_code == 302
    audit_before = count(session, AuditEntry)

    def broken_redirect(*_args, **_kwargs):
        raise RuntimeError("the page after the move fails")

    # The service has moved the complaint, appended its event and audit entry, and flushed.
    monkeypatch.setattr(staff_routes, "_back_to", broken_redirect)
    response = client.post(f"/staf/aduan/{code}/pindah", data={"to": "ditinjau", "version": "1", "note": ""})
    assert response.status_code == 500
    complaint = session.scalars(select(Complaint).where(Complaint.code == code)).one()
    assert complaint.status is ComplaintStatus.DITERIMA and complaint.version == 1
    assert [e.to_status for e in complaint.events] == [ComplaintStatus.DITERIMA]
    assert count(session, AuditEntry) == audit_before
    session.close()

    monkeypatch.undo()  # the same move, now with a page that works, commits
    assert client.post(f"/staf/aduan/{code}/pindah",
                       data={"to": "ditinjau", "version": "1", "note": ""}).status_code == 303
    assert session.scalars(select(Complaint.status).where(Complaint.code == code)).one() is ComplaintStatus.DITINJAU


def test_a_filing_whose_commit_fails_leaves_no_rows_and_no_photos(app, session, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    client = app.test_client()

    def fail(unit):
        if any(isinstance(row, Complaint) for row in unit.identity_map.values()):
            raise RuntimeError("the commit of the filing fails")

    with app.app_context():
        session_factory = db.session.session_factory
    event.listen(session_factory, "before_commit", fail)
    try:
        response = submit(app, client, files=[("rumah.jpg", jpeg_bytes())])
    finally:
        event.remove(session_factory, "before_commit", fail)
    assert response.status_code == 500
    assert count(session, Complaint) == count(session, ComplaintEvent) == count(session, Evidence) == 0
    # No evidence file is left; the chosen photo stays pending for the form's retry until it expires.
    assert [path for path in (tmp_path / "uploads").iterdir() if path.name != "pending"] == []
