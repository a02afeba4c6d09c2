"""The outbox's own promises: a message lives and dies with its transaction, claims never overlap,
backoff grows, the recipient is stored encrypted, and no body carries a NIK."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.models import MessageChannel, MessageStatus, OutboxMessage
from portal.services.channels import DevChannel, scrub
from portal.services.outbox import (
    RetryPolicy,
    UnsafeMessage,
    claim_due,
    deliver_due,
    queue_message,
    recent_messages,
)

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)
PHONE = "081234567890"
BODY = "Aduan ADU-7K2M-9QXP: status ditinjau. Lacak: https://cekbansos.example.go.id/aduan/lacak"


def _queue(session, vault, n: int = 1, **overrides) -> list[OutboxMessage]:
    values = {"kind": "status", "channel": "sms", "recipient": PHONE, "subject": "", "body": BODY, "now": NOW}
    values.update(overrides)
    return [queue_message(session, vault, **values) for _ in range(n)]


def _factory(session: Session):
    engine = session.get_bind()
    return lambda: Session(engine)


def test_queue_message_flushes_in_the_callers_transaction_and_a_rollback_takes_it_away(session, vault):
    [message] = _queue(session, vault)
    assert message.id is not None and message.status == MessageStatus.PENDING
    session.rollback()

    report = deliver_due(_factory(session), vault, {MessageChannel.SMS: DevChannel()}, now=NOW)
    assert report.sent == 0
    assert session.scalar(select(OutboxMessage.id)) is None


def test_the_recipient_is_stored_encrypted_and_never_in_clear(session, vault):
    _queue(session, vault)
    session.commit()
    raw = session.execute(text("SELECT * FROM outbox_message")).one()
    assert not any(PHONE in (value.decode("latin-1") if isinstance(value, bytes) else str(value)) for value in raw)
    assert all(PHONE not in repr(summary) for summary in recent_messages(session))


@pytest.mark.parametrize("body", [
    "Aduan atas NIK 3204054103850001 diterima",
    "NIK 3204 0541 0385 0001 diterima",
    "KK 3204.0541.0385.0001",
    "nomor3204054103850001x",
])
def test_a_message_with_a_nik_like_number_is_refused(session, vault, body):
    with pytest.raises(UnsafeMessage):
        _queue(session, vault, body=body)
    with pytest.raises(UnsafeMessage):
        _queue(session, vault, channel="email", subject=body, body=BODY)


def test_a_tracking_code_date_and_link_are_not_mistaken_for_a_nik(session, vault):
    _queue(session, vault, channel="email", body=BODY + " pada 01-12-2026 pukul 10.00, telepon 1500-299")


def test_an_sms_longer_than_160_characters_is_refused(session, vault):
    with pytest.raises(UnsafeMessage):
        _queue(session, vault, body="x" * 161)
    _queue(session, vault, body="x" * 160)
    _queue(session, vault, channel="whatsapp", body="x" * 400)


def test_claim_takes_only_due_messages_and_counts_the_attempt(session, vault):
    due, later = _queue(session, vault, 2)
    later.next_attempt_at = NOW + dt.timedelta(minutes=1)
    session.commit()

    claimed = claim_due(session, NOW, 10, LEASE)
    session.commit()
    assert [m.id for m in claimed] == [due.id]
    assert claimed[0].status == MessageStatus.SENDING and claimed[0].attempts == 1
    assert claimed[0].lease_until == NOW + LEASE
    # Claimed and leased: nobody else may take it before the lease runs out.
    assert claim_due(session, NOW + LEASE - dt.timedelta(seconds=1), 10, LEASE) == [later]
    session.commit()


def test_an_expired_claim_comes_back_and_the_last_allowed_one_goes_dead(session, vault):
    [message] = _queue(session, vault)
    session.commit()
    claim_due(session, NOW, 10, LEASE, max_attempts=2)
    session.commit()  # the worker dies here: no outcome is ever recorded

    [again] = claim_due(session, NOW + LEASE, 10, LEASE, max_attempts=2)
    session.commit()
    assert again.id == message.id and again.attempts == 2

    # The second worker dies too: after its lease, the message is given up, not tried a third time.
    report = deliver_due(_factory(session), vault, {MessageChannel.SMS: DevChannel()}, now=NOW + 2 * LEASE,
                         policy=RetryPolicy(max_attempts=2))
    assert (report.sent, report.dead) == (0, 1)
    session.expire_all()
    assert session.get(OutboxMessage, message.id).status == MessageStatus.DEAD


def test_a_worker_that_outlived_its_claim_cannot_overwrite_the_newer_attempt(session, vault):
    _queue(session, vault)
    session.commit()
    factory = _factory(session)

    class Slow:
        """A channel that takes longer than the lease: meanwhile another worker re-claims and sends."""
        name = MessageChannel.SMS

        def send(self, recipient, subject, body):
            deliver_due(factory, vault, {MessageChannel.SMS: DevChannel()}, now=NOW + 2 * LEASE)
            raise RuntimeError("the gateway finally failed")

    report = deliver_due(factory, vault, {MessageChannel.SMS: Slow()}, now=NOW)
    assert report.lost_claims == 1
    [row] = session.scalars(select(OutboxMessage)).all()
    assert (row.status, row.attempts, row.channel) == (MessageStatus.SENT, 2, MessageChannel.DEV)


def test_two_sessions_claiming_at_once_take_different_messages(session, vault):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time (see the threads test)")
    _queue(session, vault, 10)
    session.commit()
    first, second = _factory(session)(), _factory(session)()
    try:
        mine = {m.id for m in claim_due(first, NOW, 6, LEASE)}  # not committed: its rows stay locked
        theirs = {m.id for m in claim_due(second, NOW, 6, LEASE)}  # skips the locked rows, no waiting
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    assert len(mine) == 6 and len(theirs) == 4
    assert not mine & theirs


def test_backoff_grows_within_its_jitter_and_stops_at_the_cap():
    policy = RetryPolicy(backoff_base=30, backoff_cap=3600)
    rng = random.Random(7)
    delays = [policy.backoff(n, rng).total_seconds() for n in range(1, 11)]
    for attempts, delay in enumerate(delays, start=1):
        step = min(3600, 30 * 2 ** (attempts - 1))
        assert step / 2 <= delay <= step
    # Below the cap each wait is at least as long as the one before (half of a step is the whole previous one).
    below_cap = [d for n, d in enumerate(delays, start=1) if 30 * 2 ** (n - 1) < 3600]
    assert len(below_cap) == 7 and below_cap == sorted(below_cap)
    # Jitter: two workers failing at the same attempt do not retry in lockstep.
    assert len({round(policy.backoff(3, rng).total_seconds(), 3) for _ in range(20)}) > 1


def test_recent_messages_shows_what_was_sent_without_the_recipient(session, vault):
    _queue(session, vault, 2)
    session.commit()
    deliver_due(_factory(session), vault, {MessageChannel.SMS: DevChannel()}, now=NOW)
    listed = recent_messages(session, 10)
    assert [m.status for m in listed] == [MessageStatus.SENT, MessageStatus.SENT]
    assert {m.channel for m in listed} == {MessageChannel.DEV}
    assert listed[0].body == BODY and listed[0].id > listed[1].id
    assert not hasattr(listed[0], "recipient")
    assert recent_messages(session, 10, status=MessageStatus.DEAD) == []


def test_scrub_hides_numbers_and_addresses_and_stays_short():
    reason = scrub("target 0812-3456-7890 invalid for ani@example.com, NIK 3204054103850001 " + "x" * 300)
    assert "7890" not in reason and "ani@" not in reason and "0001" not in reason
    assert len(reason) <= 200
