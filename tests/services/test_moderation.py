"""The complaint lifecycle: every legal and illegal move, notes, conflicts, concurrency."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, Complaint, ComplaintStatus
from portal.services import moderation
from portal.services.moderation import TRANSITIONS
from tests.conftest import DESA_A, DESA_B, DESA_C, make_complaint, make_staff

S = ComplaintStatus


@pytest.fixture
def operator(session):
    return make_staff(session, "operator.a", "desa", DESA_A)


def complaint_in(session, vault, status: ComplaintStatus) -> Complaint:
    code = make_complaint(session, vault)
    complaint = session.scalars(select(Complaint).where(Complaint.code == code)).one()
    complaint.status = status
    session.commit()
    return complaint


LEGAL = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
ILLEGAL = sorted((a, b) for a, b in itertools.product(S, S) if b not in TRANSITIONS[a])


@pytest.mark.parametrize(("start", "to"), LEGAL)
def test_every_legal_move_appends_one_event_and_one_audit_entry(session, vault, operator, start, to):
    complaint = complaint_in(session, vault, start)
    events = len(complaint.events)
    moderation.move_complaint(session, operator, complaint, to, "Sudah diverifikasi di lapangan.",
                              expected_version=complaint.version)
    assert complaint.status is to
    event = complaint.events[-1]
    assert len(complaint.events) == events + 1
    assert (event.from_status, event.to_status, event.staff_id) == (start, to, operator.id)
    assert event.public is (to is not S.DISEMBUNYIKAN)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "aduan_dipindah")).one()
    assert audit.detail == {"dari": start.value, "ke": to.value} and audit.target == complaint.code


@pytest.mark.parametrize(("start", "to"), ILLEGAL)
def test_every_illegal_move_is_refused(session, vault, operator, start, to):
    complaint = complaint_in(session, vault, start)
    with pytest.raises(moderation.IllegalMove):
        moderation.move_complaint(session, operator, complaint, to, "catatan", expected_version=complaint.version)
    session.refresh(complaint)
    assert complaint.status is start


@pytest.mark.parametrize("to", [S.DITOLAK, S.SELESAI])
def test_decisions_need_a_public_note(session, vault, operator, to):
    complaint = complaint_in(session, vault, S.DITINJAU)
    with pytest.raises(moderation.NoteRequired):
        moderation.move_complaint(session, operator, complaint, to, "  ", expected_version=complaint.version)


def test_hiding_needs_a_reason(session, vault, operator):
    complaint = complaint_in(session, vault, S.DITERIMA)
    with pytest.raises(moderation.NoteRequired):
        moderation.move_complaint(session, operator, complaint, S.DISEMBUNYIKAN, "", expected_version=1)


def test_taking_a_complaint_assigns_it(session, vault, operator):
    complaint = complaint_in(session, vault, S.DITERIMA)
    moderation.move_complaint(session, operator, complaint, S.DITINJAU, "", expected_version=complaint.version)
    assert complaint.assigned_staff_id == operator.id


def test_a_stale_version_is_refused(session, vault, operator):
    complaint = complaint_in(session, vault, S.DITERIMA)
    old_version = complaint.version
    moderation.move_complaint(session, operator, complaint, S.DITINJAU, "", expected_version=old_version)
    with pytest.raises(moderation.StaleComplaint):
        moderation.move_complaint(session, operator, complaint, S.DITOLAK, "Tidak sesuai.",
                                  expected_version=old_version)


def test_two_sessions_moving_at_once_cannot_both_win(app, vault):
    with app.app_context():
        operator = make_staff(db.session, "operator.a", "desa", DESA_A)
        other = make_staff(db.session, "operator.b", "desa", DESA_A)
        code = complaint_in(db.session, vault, S.DITINJAU).code
    first = db.session  # two independent sessions on the same database
    with app.app_context():
        one = first.get(Complaint, first.scalar(select(Complaint.id).where(Complaint.code == code)))
        two_session = db.session.session_factory()
        two = two_session.get(Complaint, one.id)
        version = one.version
        moderation.move_complaint(first, first.merge(operator), one, S.SELESAI, "Sudah diverifikasi.",
                                  expected_version=version)
        first.commit()  # the first request's unit of work ends
        with pytest.raises(moderation.StaleComplaint):
            moderation.move_complaint(two_session, two_session.merge(other), two, S.DITOLAK, "Tidak layak.",
                                      expected_version=version)
        two_session.close()
        assert first.get(Complaint, one.id).status is S.SELESAI


def test_staff_cannot_act_on_a_complaint_about_themselves(session, vault):
    nik = "3204054103850001"
    me = make_staff(session, "operator.c", "desa", DESA_A, nik_hash=vault.digest(nik))
    complaint = complaint_in(session, vault, S.DITERIMA)  # filed with complainant NIK = nik
    assert moderation.allowed_moves(me, complaint) == []
    with pytest.raises(moderation.ConflictOfInterest):
        moderation.move_complaint(session, me, complaint, S.DITINJAU, "", expected_version=complaint.version)


def test_internal_notes_are_not_public(session, vault, operator):
    complaint = complaint_in(session, vault, S.DITERIMA)
    moderation.add_note(session, operator, complaint, "Sudah ditelepon, menunggu foto KK.")
    session.refresh(complaint)
    assert complaint.events[-1].public is False and complaint.status is S.DITERIMA


def test_the_queue_shows_only_the_scope_oldest_first(session, vault):
    first = make_complaint(session, vault, desa=DESA_A, subject="Adi Saputra")
    second = make_complaint(session, vault, desa=DESA_B, subject="Bayu Saputra")
    make_complaint(session, vault, desa=DESA_C, subject="Cici Saputra")
    operator_a = make_staff(session, "op.a", "desa", DESA_A)
    kecamatan = make_staff(session, "camat", "kecamatan", "32.04.05")
    admin = make_staff(session, "admin", "admin", None)
    codes = lambda user: [c.code for c in moderation.queue(session, user, moderation.QueueFilter()).complaints]  # noqa: E731
    assert codes(operator_a) == [first]
    assert codes(kecamatan) == [first, second]
    assert len(codes(admin)) == 3


def test_hidden_complaints_leave_the_default_queue_but_are_kept(session, vault, operator):
    complaint = complaint_in(session, vault, S.DITERIMA)
    moderation.move_complaint(session, operator, complaint, S.DISEMBUNYIKAN, "Spam berulang.",
                              expected_version=complaint.version)
    assert moderation.queue(session, operator, moderation.QueueFilter()).total == 0
    hidden = moderation.queue(session, operator, moderation.QueueFilter(status=S.DISEMBUNYIKAN))
    assert [c.code for c in hidden.complaints] == [complaint.code]


def test_the_audit_log_is_append_only(session, operator):
    entry = session.scalars(select(AuditEntry)).first()
    entry.target = "diubah"
    with pytest.raises(Exception, match="append-only"):
        session.commit()
    session.rollback()
    session.delete(session.scalars(select(AuditEntry)).first())
    with pytest.raises(Exception, match="append-only"):
        session.commit()
    session.rollback()


def test_the_dashboard_median_counts_the_first_staff_action_in_scope_only(session, vault, operator):
    import datetime as dt

    from portal.models import ActorKind, ComplaintEvent

    outsider = make_staff(session, "operator.c", "desa", DESA_C)
    for desa, subject, days in ((DESA_A, "Budi Santoso", (1, 5)), (DESA_A, "Citra Dewi", (3,)),
                                (DESA_C, "Dedi Kurnia", (10,))):
        complaint = session.scalars(select(Complaint).where(
            Complaint.code == make_complaint(session, vault, desa=desa, subject=subject))).one()
        for day in days:
            session.add(ComplaintEvent(complaint_id=complaint.id, actor=ActorKind.STAF, to_status=S.DITINJAU,
                                       created_at=complaint.created_at + dt.timedelta(days=day), note="",
                                       public=True))
    session.commit()

    assert moderation.dashboard(session, operator).median_days_to_first_response == 2.0  # of 1 and 3
    assert moderation.dashboard(session, outsider).median_days_to_first_response == 10.0
