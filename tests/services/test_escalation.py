"""Escalation of overdue complaints: 14 days to the kecamatan, 21 to the kabupaten, once each."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.models import (
    ActorKind,
    AuditEntry,
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    EscalationLevel,
    MessageKind,
    MessageStatus,
    NewComplaintNotice,
    OutboxMessage,
)
from portal.services import moderation
from portal.services.escalation import EscalationRules, escalate_overdue, level_region
from portal.services.staff_notifications import Messenger, set_preferences
from tests.conftest import DESA_A, DESA_C, make_complaint, make_staff

NOW = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
COMPLAINANT_NIK = "3204054103850001"


@pytest.fixture
def messenger(vault) -> Messenger:
    return Messenger(vault, "https://portal.example")


def filed(session, vault, days_ago: float, *, desa: str = DESA_A, subject: str = "Budi Santoso",
          status: ComplaintStatus | None = None) -> Complaint:
    code = make_complaint(session, vault, desa=desa, subject=subject)
    session.execute(update(Complaint).where(Complaint.code == code).values(
        created_at=NOW - dt.timedelta(days=days_ago), **({"status": status} if status else {})))
    session.commit()
    return session.scalars(select(Complaint).where(Complaint.code == code)).one()


def system_events(session, complaint: Complaint) -> list[ComplaintEvent]:
    return list(session.scalars(select(ComplaintEvent).where(
        ComplaintEvent.complaint_id == complaint.id, ComplaintEvent.actor == ActorKind.SISTEM)
        .order_by(ComplaintEvent.id)))


def sweep(session, messenger, now=NOW):
    report = escalate_overdue(session, messenger, EscalationRules(14, 21), now=now)
    session.commit()
    session.expire_all()
    return report


def test_level_region_names_the_kecamatan_and_the_kabupaten():
    assert level_region(DESA_A, EscalationLevel.KECAMATAN) == "32.04.05"
    assert level_region(DESA_A, EscalationLevel.KABUPATEN) == "32.04"


def test_14_days_go_to_the_kecamatan_21_to_the_kabupaten_and_younger_ones_stay(app, session, vault, messenger):
    young = filed(session, vault, 13.9, subject="Ahmad Yani")
    kecamatan = filed(session, vault, 14.1, subject="Cici Paramida")
    kabupaten = filed(session, vault, 21.5, subject="Dedi Mulyadi")
    report = sweep(session, messenger)
    assert (report.kecamatan, report.kabupaten) == (1, 1)
    assert young.escalation_level is None and system_events(session, young) == []
    assert kecamatan.escalation_level is EscalationLevel.KECAMATAN
    assert kabupaten.escalation_level is EscalationLevel.KABUPATEN
    [to_kecamatan] = system_events(session, kecamatan)
    assert to_kecamatan.public
    assert to_kecamatan.note == "Diteruskan otomatis ke kecamatan karena melewati 14 hari"
    # Straight to the kabupaten when the kecamatan step was never taken: one event, not two.
    assert [e.note for e in system_events(session, kabupaten)] == [
        "Diteruskan otomatis ke kabupaten/kota karena melewati 21 hari"]
    # The status is the desa's to change: escalation only raises who is looking.
    assert kecamatan.status is ComplaintStatus.DITERIMA and kecamatan.version == 1


def test_a_sweep_run_twice_escalates_once_and_the_next_level_follows_later(app, session, vault, messenger):
    complaint = filed(session, vault, 15)
    assert sweep(session, messenger).kecamatan == 1
    again = sweep(session, messenger)
    assert (again.kecamatan, again.kabupaten) == (0, 0)
    assert len(system_events(session, complaint)) == 1
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "aduan_dieskalasi")).target == complaint.code

    later = NOW + dt.timedelta(days=7)
    assert sweep(session, messenger, later).kabupaten == 1
    assert sweep(session, messenger, later).kabupaten == 0
    assert complaint.escalation_level is EscalationLevel.KABUPATEN
    assert len(system_events(session, complaint)) == 2
    assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "aduan_dieskalasi").offset(2)) is None


@pytest.mark.parametrize("status", [ComplaintStatus.DITERUSKAN, ComplaintStatus.SELESAI, ComplaintStatus.DITOLAK,
                                    ComplaintStatus.DISEMBUNYIKAN])
def test_only_waiting_complaints_are_escalated(app, session, vault, messenger, status):
    complaint = filed(session, vault, 30, status=status)
    assert sweep(session, messenger).kabupaten == 0
    assert complaint.escalation_level is None


def test_ditinjau_is_still_waiting(app, session, vault, messenger):
    complaint = filed(session, vault, 15, status=ComplaintStatus.DITINJAU)
    assert sweep(session, messenger).kecamatan == 1
    assert complaint.escalation_level is EscalationLevel.KECAMATAN


def _with_contact(session, vault, username, role, region, channel="email", address=None):
    user = make_staff(session, username, role, region)
    set_preferences(session, vault, user, channel=channel, address=address or f"{username}@dinsos.go.id",
                    notify_new=NewComplaintNotice.HARIAN, notify_overdue=False)
    session.commit()
    return user


def test_the_staff_of_the_level_are_told_and_nobody_else(app, session, vault, messenger):
    _with_contact(session, vault, "op.desa", "desa", DESA_A)
    _with_contact(session, vault, "camat.cileunyi", "kecamatan", "32.04.05", channel="sms", address="0812 3456 7890")
    _with_contact(session, vault, "camat.bogor", "kecamatan", "32.01.01")
    _with_contact(session, vault, "dinsos.bandung", "kabupaten", "32.04")
    silent = make_staff(session, "camat.diam", "kecamatan", "32.04.05")  # no contact
    assert silent.contact_encrypted is None
    complaint = filed(session, vault, 15)
    filed(session, vault, 15, desa=DESA_C, subject="Cici Lestari")  # another kabupaten's, no staff here

    report = sweep(session, messenger)
    messages = list(session.scalars(select(OutboxMessage)))
    assert report.notices == 1 == len(messages)
    [message] = messages
    assert (message.kind, message.channel, message.status) == (MessageKind.STAFF_OVERDUE, "sms", MessageStatus.PENDING)
    assert vault.decrypt(message.recipient_encrypted, "outbox_recipient") == "+6281234567890"
    assert complaint.code in message.body and "https://portal.example/staf/aduan/" + complaint.code in message.body
    for personal in (complaint.complainant_name, complaint.subject_name, COMPLAINANT_NIK, "003", DESA_A):
        assert personal not in message.body and personal not in message.subject
    assert len(message.body) <= 160

    later = sweep(session, messenger, NOW + dt.timedelta(days=7))
    assert later.notices == 1
    kabupaten = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert vault.decrypt(kabupaten.recipient_encrypted, "outbox_recipient") == "dinsos.bandung@dinsos.go.id"


def test_the_queue_flags_escalated_complaints_and_filters_them(app, session, vault, messenger):
    kecamatan = make_staff(session, "camat.cileunyi", "kecamatan", "32.04.05")
    escalated = filed(session, vault, 15)
    filed(session, vault, 2, subject="Ahmad Yani")
    sweep(session, messenger)
    page = moderation.queue(session, kecamatan, moderation.QueueFilter(escalated=True), now=NOW)
    assert [row.complaint.code for row in page.rows] == [escalated.code]
    everything = moderation.queue(session, kecamatan, moderation.QueueFilter(), now=NOW)
    levels = {row.complaint.code: row.complaint.escalation_level for row in everything.rows}
    assert levels[escalated.code] == "kecamatan"


def test_two_sweeps_at_the_same_moment_escalate_once(app, session, vault, messenger):
    """Two workers sweeping at once (PostgreSQL: real concurrent transactions on their own connections)."""
    if session.bind.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time; the race needs PostgreSQL (TEST_DATABASE_URL)")
    complaints = [filed(session, vault, 15, subject=name) for name in ("Ahmad Yani", "Cici Paramida", "Dedi Mulyadi")]
    start = threading.Barrier(2)
    reports = []

    def run() -> None:
        with app.app_context(), Session(session.bind) as own:
            start.wait()
            reports.append(escalate_overdue(own, messenger, now=NOW))
            own.commit()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.kecamatan for r in reports) == 3
    for complaint in complaints:
        assert len(system_events(session, complaint)) == 1


def test_a_sweep_that_rolls_back_leaves_no_level_event_or_message(app, session, vault, messenger):
    _with_contact(session, vault, "camat.cileunyi", "kecamatan", "32.04.05")
    complaint = filed(session, vault, 15)
    report = escalate_overdue(session, messenger, now=NOW)
    assert (report.kecamatan, report.notices) == (1, 1)
    session.rollback()
    session.expire_all()
    assert complaint.escalation_level is None
    assert system_events(session, complaint) == []
    assert session.scalar(select(OutboxMessage.id)) is None
    # ... and the next sweep does it all, once.
    assert sweep(session, messenger).kecamatan == 1
    assert len(list(session.scalars(select(OutboxMessage)))) == 1


def test_a_complainant_who_asked_for_news_hears_of_the_escalation(app, session, vault, messenger):
    from portal.models import ContactChannel
    from portal.services.complaint_changes import CONTACT_FIELD, contact_hash
    from portal.services.outbox import RECIPIENT_FIELD

    waiting = filed(session, vault, 14.5)
    waiting.contact_channel = ContactChannel.SMS
    waiting.contact_encrypted = vault.encrypt("+6281234567890", CONTACT_FIELD)
    waiting.contact_hash = contact_hash(vault, "+6281234567890")
    waiting.contact_consent_at = NOW - dt.timedelta(days=14.5)
    session.commit()
    sweep(session, messenger)
    sweep(session, messenger)  # a second sweep tells nobody again
    [news] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == MessageKind.STATUS)).all()
    assert vault.decrypt(news.recipient_encrypted, RECIPIENT_FIELD) == "+6281234567890"
    assert waiting.code in news.body and "Diteruskan otomatis ke kecamatan" in news.body and len(news.body) <= 160
    assert COMPLAINANT_NIK not in news.body and "Budi" not in news.body
