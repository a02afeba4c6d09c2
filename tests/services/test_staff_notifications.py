"""What staff hear: contacts encrypted at rest, new complaints at once or as a daily digest, the
daily overdue list, the follow-up question to complainants; never a name, NIK or address."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from portal.models import (
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    ContactChannel,
    MessageChannel,
    MessageKind,
    NewComplaintNotice,
    OutboxMessage,
    StaffUser,
)
from portal.services.complaint_changes import CONTACT_FIELD, complainant_contact, contact_hash
from portal.services.contacts import ContactInvalid
from portal.services.followup import send_followups
from portal.services.outbox import RECIPIENT_FIELD
from portal.services.staff_notifications import (
    Messenger,
    mask_address,
    notify_staff_of_new,
    send_daily_notices,
    set_preferences,
    staff_contact,
)
from tests.conftest import DESA_A, DESA_B, DESA_C, make_complaint, make_staff

# 08:00 WIB on 25 November 2026.
NOW = dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.UTC)
COMPLAINANT_NIK = "3204054103850001"
PERSONAL = ("Ani Lestari", "Budi Santoso", COMPLAINANT_NIK, "Rumah bertingkat")


@pytest.fixture
def messenger(vault) -> Messenger:
    return Messenger(vault, "https://portal.example", overdue_days=14)


def staff_with(session, vault, username, role, region, *, channel="email", address=None,
               new=NewComplaintNotice.SEGERA, overdue=False) -> StaffUser:
    user = make_staff(session, username, role, region)
    set_preferences(session, vault, user, channel=channel, address=address or f"{username}@dinsos.go.id",
                    notify_new=new, notify_overdue=overdue)
    session.commit()
    return user


def complaint(session, vault, *, desa=DESA_A, subject="Budi Santoso", created: dt.datetime | None = None) -> Complaint:
    code = make_complaint(session, vault, desa=desa, subject=subject)
    if created is not None:
        session.execute(update(Complaint).where(Complaint.code == code).values(created_at=created))
        session.commit()
    return session.scalars(select(Complaint).where(Complaint.code == code)).one()


def outbox(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def recipient(vault, message: OutboxMessage) -> str:
    return vault.decrypt(message.recipient_encrypted, RECIPIENT_FIELD)


def assert_nothing_personal(messages):
    for message in messages:
        for text in (message.subject, message.body):
            for personal in PERSONAL:
                assert personal not in text, (personal, text)


def test_a_contact_is_encrypted_at_rest_normalised_and_masked(app, session, vault):
    user = staff_with(session, vault, "op.desa", "desa", DESA_A, channel="whatsapp", address="0812-3456-7890")
    assert b"6281234567890" not in user.contact_encrypted
    assert staff_contact(vault, user) == (MessageChannel.WHATSAPP, "+6281234567890")
    assert mask_address("+6281234567890") == "+628******7890"
    assert mask_address("budi.s@dinsos.go.id") == "bu***@di***.id"
    with pytest.raises(ContactInvalid):
        set_preferences(session, vault, user, channel="sms", address="021 555", notify_new=NewComplaintNotice.TIDAK,
                        notify_overdue=False)
    with pytest.raises(ContactInvalid):
        set_preferences(session, vault, user, channel="email", address="bukan-email",
                        notify_new=NewComplaintNotice.TIDAK, notify_overdue=False)
    set_preferences(session, vault, user, channel=None, address="", notify_new=NewComplaintNotice.TIDAK,
                    notify_overdue=False)
    assert staff_contact(vault, user) is None


def test_a_new_complaint_tells_at_once_only_staff_in_scope_who_asked_for_it(app, session, vault, messenger):
    staff_with(session, vault, "op.desa", "desa", DESA_A, channel="sms", address="081234567890")
    staff_with(session, vault, "op.wetan", "desa", DESA_B)  # another desa
    staff_with(session, vault, "camat.cileunyi", "kecamatan", "32.04.05", new=NewComplaintNotice.HARIAN)
    staff_with(session, vault, "dinsos.bandung", "kabupaten", "32.04")
    staff_with(session, vault, "dinsos.kupang", "kabupaten", "53.71")
    staff_with(session, vault, "admin.pusat", "admin", None, new=NewComplaintNotice.TIDAK)
    filed = complaint(session, vault)

    assert notify_staff_of_new(session, filed, messenger) == 2
    session.commit()
    messages = outbox(session)
    assert sorted(recipient(vault, m) for m in messages) == ["+6281234567890", "dinsos.bandung@dinsos.go.id"]
    for message in messages:
        assert message.kind is MessageKind.STAFF_NEW and message.complaint_id == filed.id
        assert f"https://portal.example/staf/aduan/{filed.code}" in message.body
        assert "Diterima" in message.body
    sms = next(m for m in messages if m.channel is MessageChannel.SMS)
    assert len(sms.body) <= 160
    assert_nothing_personal(messages)


def test_the_daily_digest_and_overdue_list_go_once_a_day(app, session, vault, messenger):
    daily = staff_with(session, vault, "camat.cileunyi", "kecamatan", "32.04.05", new=NewComplaintNotice.HARIAN,
                       overdue=True)
    staff_with(session, vault, "op.wetan", "desa", DESA_B, channel="sms", address="081234567891",
               new=NewComplaintNotice.HARIAN)  # nothing new in its desa: no message
    new = [complaint(session, vault, subject=name, created=NOW - dt.timedelta(hours=hours))
           for name, hours in (("Ahmad Yani", 3), ("Cici Paramida", 20))]
    complaint(session, vault, subject="Dedi Mulyadi", created=NOW - dt.timedelta(days=3))  # before the window
    old = complaint(session, vault, subject="Euis Darliah", created=NOW - dt.timedelta(days=15))
    complaint(session, vault, desa=DESA_C, subject="Cici Lestari", created=NOW - dt.timedelta(days=20))  # elsewhere

    report = send_daily_notices(session, messenger, now=NOW)
    session.commit()
    assert (report.digests, report.overdue_lists) == (1, 1)
    digest, overdue = outbox(session)
    assert recipient(vault, digest) == recipient(vault, overdue) == "camat.cileunyi@dinsos.go.id"
    assert digest.kind is MessageKind.STAFF_NEW and digest.body.startswith("2 aduan baru")
    assert all(c.code in digest.body for c in new)
    assert overdue.kind is MessageKind.STAFF_OVERDUE and overdue.body.startswith("1 aduan terbuka melewati 14 hari")
    assert old.code in overdue.body and "https://portal.example/staf/antrian?umur=14" in overdue.body
    assert_nothing_personal([digest, overdue])

    # Later the same local day: nothing more. The next day: only what is new since.
    again = send_daily_notices(session, messenger, now=NOW + dt.timedelta(hours=10))
    assert (again.digests, again.overdue_lists) == (0, 0)
    newest = complaint(session, vault, subject="Fajar Sidik", created=NOW + dt.timedelta(hours=12))
    next_day = send_daily_notices(session, messenger, now=NOW + dt.timedelta(days=1))
    session.commit()
    assert (next_day.digests, next_day.overdue_lists) == (1, 1)
    digest2 = [m for m in outbox(session) if m.kind is MessageKind.STAFF_NEW][-1]
    assert digest2.body.startswith("1 aduan baru") and newest.code in digest2.body
    session.refresh(daily)
    assert daily.digest_sent_at == NOW + dt.timedelta(days=1)


def _resolved(session, vault, days_ago: float, subject: str = "Budi Santoso") -> Complaint:
    filed = complaint(session, vault, subject=subject, created=NOW - dt.timedelta(days=40))
    filed.status = ComplaintStatus.SELESAI
    session.add(ComplaintEvent(complaint_id=filed.id, created_at=NOW - dt.timedelta(days=days_ago),
                               actor="staf", from_status="ditinjau", to_status="selesai", note="Sudah diperbaiki"))
    session.commit()
    return filed


def test_the_follow_up_asks_once_a_week_after_selesai_and_only_within_the_reopen_window(app, session, vault,
                                                                                         messenger):
    due = _resolved(session, vault, 8)
    _resolved(session, vault, 5, subject="Ahmad Yani")  # too soon
    _resolved(session, vault, 31, subject="Cici Paramida")  # past the reopen window

    for asked_news in (due, session.get(Complaint, due.id + 1), session.get(Complaint, due.id + 2)):
        _ask_news(asked_news, vault)
    session.commit()
    report = send_followups(session, messenger, after_days=7, now=NOW)
    session.commit()
    assert report.asked == 1
    [question] = outbox(session)
    assert question.kind is MessageKind.FOLLOWUP and question.complaint_id == due.id
    assert due.code in question.body and "https://portal.example/aduan/lacak" in question.body
    assert len(question.body) <= 160
    assert_nothing_personal([question])
    assert send_followups(session, messenger, after_days=7, now=NOW).asked == 0
    assert len(outbox(session)) == 1


def test_a_complainant_without_news_or_who_stopped_it_is_not_asked(app, session, vault, messenger):
    silent = _resolved(session, vault, 8)
    stopped = _resolved(session, vault, 8, subject="Ahmad Yani")
    _ask_news(stopped, vault)
    stopped.contact_stopped_at = NOW - dt.timedelta(days=2)
    session.commit()
    assert complainant_contact(vault, silent) is None and complainant_contact(vault, stopped) is None
    report = send_followups(session, messenger, after_days=7, now=NOW)
    assert (report.asked, report.without_contact) == (0, 2)
    assert outbox(session) == []


def _ask_news(filed: Complaint, vault) -> None:
    """The complainant ticked "Kabari saya" with an SMS number."""
    filed.contact_channel = ContactChannel.SMS
    filed.contact_encrypted = vault.encrypt("+6281234567890", CONTACT_FIELD)
    filed.contact_hash = contact_hash(vault, "+6281234567890")
    filed.contact_consent_at = NOW - dt.timedelta(days=40)


def test_notify_staff_of_new_reads_the_apps_settings_when_called_from_the_filing_path(app, session, vault):
    staff_with(session, vault, "op.desa", "desa", DESA_A)
    filed = complaint(session, vault)
    app.config["PUBLIC_BASE_URL"] = "https://cekbansos.example.go.id/"
    with app.app_context():
        assert notify_staff_of_new(session, filed) == 1
    session.commit()
    [message] = outbox(session)
    assert f"https://cekbansos.example.go.id/staf/aduan/{filed.code}" in message.body
