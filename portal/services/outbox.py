"""The transactional outbox: a message is a row written in the transaction of the change that
causes it, and delivered by a worker after that transaction commits.

Guarantees (tested in tests/services/test_outbox.py and tests/test_outbox_delivery.py):

- **Nothing is sent for a change that rolled back.** `queue_message` only adds and flushes in the
  caller's session; the row exists for workers only once the caller's unit of work commits.
- **Nothing committed is left unsent.** A committed row stays due until a worker records it sent
  or dead; a worker killed mid-delivery leaves its claim to expire (`lease_until`), and the next
  worker claims the message again.
- **At-least-once, not exactly-once.** A worker killed after the channel accepted a message but
  before it recorded `sent` leaves a message that is delivered again: the recipient may get it
  twice. No channel here can deduplicate, and a lost message is worse than a repeated one.
- **Two live workers never deliver the same message.** A claim is one atomic statement
  (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one `UPDATE … RETURNING` under its single
  writer lock), and each outcome is recorded only by the worker that holds the current claim.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from portal.models.outbox import MessageChannel, MessageKind, MessageStatus, OutboxMessage
from portal.models.types import utcnow
from portal.services.channels import Channel, DeliveryFailed, scrub
from portal.services.pii import PiiVault
from portal.services.unit_of_work import OUTBOX_QUEUED, announce

log = logging.getLogger(__name__)

RECIPIENT_FIELD = "outbox_recipient"
SMS_LENGTH = 160
#: Messages claimed at once: a claim's lease must cover this many sends at the channels' timeouts.
CLAIM_CHUNK = 10
# Sixteen digits in a row, also written in groups ("3204 0541 0385 0001", "3204.0541…"): a NIK or KK.
NIK_LIKE = re.compile(r"(?<!\d)\d(?:[\s.\-]?\d){15}(?!\d)")


class UnsafeMessage(ValueError):
    """A message that would carry personal data or could not be sent as written."""


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a failed message is tried again."""

    max_attempts: int = 8
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0
    lease_seconds: float = 300.0
    batch_size: int = 200

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RetryPolicy:
        return cls(
            max_attempts=config["OUTBOX_MAX_ATTEMPTS"], backoff_base=config["OUTBOX_BACKOFF_BASE_SECONDS"],
            backoff_cap=config["OUTBOX_BACKOFF_CAP_SECONDS"], lease_seconds=config["OUTBOX_LEASE_SECONDS"],
            batch_size=config["OUTBOX_BATCH_SIZE"],
        )

    def backoff(self, attempts: int, rng: random.Random | None = None) -> dt.timedelta:
        """Delay before the try after `attempts` failed ones: exponential (base × 2^(n−1), capped),
        with "equal jitter" — half the step fixed, half random. Workers that failed together
        spread out, and a retry never comes sooner than half its step: below the cap each wait is
        at least as long as the one before, and a failing gateway is not hammered."""
        step = min(self.backoff_cap, self.backoff_base * 2 ** max(attempts - 1, 0))
        return dt.timedelta(seconds=step / 2 + (rng or random).uniform(0, step / 2))  # noqa: S311 - not secret


def check_message(channel: MessageChannel, subject: str, body: str) -> None:
    """Refuse a message that holds a NIK/KK-like number, or an SMS longer than 160 characters.

    Bodies are written from templates holding the code, status, public note and a link only;
    this is the last guard against a template or note that let a number through."""
    for text in (subject, body):
        if NIK_LIKE.search(text):
            raise UnsafeMessage("a message may not contain a NIK or KK number")
    if channel == MessageChannel.SMS and len(body) > SMS_LENGTH:
        raise UnsafeMessage(f"an SMS body has at most {SMS_LENGTH} characters, not {len(body)}")


def queue_message(session: Session, vault: PiiVault, *, kind: MessageKind | str, channel: MessageChannel | str,
                  recipient: str, subject: str, body: str, complaint_id: int | None = None,
                  now: dt.datetime | None = None) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction, and flush; never commit.

    The message is delivered only if the caller's unit of work commits: a change that rolls back
    takes its messages with it. The recipient (phone or e-mail) is stored encrypted. Raises
    `UnsafeMessage` for a body with a NIK-like number or an SMS over 160 characters.
    """
    channel = MessageChannel(channel)
    check_message(channel, subject, body)
    now = now or utcnow()
    message = OutboxMessage(
        kind=MessageKind(kind), channel=channel, recipient_encrypted=vault.encrypt(recipient, RECIPIENT_FIELD),
        subject=subject, body=body, status=MessageStatus.PENDING, attempts=0, next_attempt_at=now,
        complaint_id=complaint_id, created_at=now,
    )
    session.add(message)
    session.flush()
    announce(session, OUTBOX_QUEUED)  # the commit place wakes a delivery worker after the commit
    return message


def _due(now: dt.datetime) -> Any:
    return or_(
        and_(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        # A claim whose worker died: its lease ran out without an outcome.
        and_(OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.lease_until <= now),
    )


def claim_due(session: Session, now: dt.datetime, limit: int, lease: dt.timedelta,
              max_attempts: int = 8) -> list[OutboxMessage]:
    """Claim up to `limit` due messages for this worker until `now + lease`, counting the attempt.

    One statement: on PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so concurrent
    workers take different rows without waiting for each other; on SQLite the single
    `UPDATE … RETURNING` runs under the database's one writer lock. Due means pending and
    `next_attempt_at` passed, or sending with an expired lease (a killed worker's: at-least-once).
    The caller commits at once, before sending, so that the claim is visible to other workers.
    """
    picked = (
        select(OutboxMessage.id)
        .where(_due(now), OutboxMessage.attempts < max_attempts)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        # A CTE, so PostgreSQL runs the locking pick once (a plain IN subquery may be re-run).
        .cte("picked")
    )
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(select(picked.c.id)), _due(now))
        .values(status=MessageStatus.SENDING, lease_until=now + lease, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    )
    claimed = list(session.scalars(statement))
    return sorted(claimed, key=lambda m: (m.next_attempt_at, m.id))


def bury_exhausted(session: Session, now: dt.datetime, max_attempts: int) -> int:
    """Mark dead the messages whose last allowed claim expired without an outcome (their worker
    died on the last attempt); the caller commits. Returns how many."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.lease_until <= now,
               OutboxMessage.attempts >= max_attempts)
        .values(status=MessageStatus.DEAD, lease_until=None, last_error="lease expired on the last attempt")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


@dataclasses.dataclass
class DeliveryReport:
    """What one `deliver_due` run did."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    #: Outcomes not recorded because another worker had claimed the message again meanwhile.
    lost_claims: int = 0


@dataclasses.dataclass(frozen=True)
class _Claim:
    id: int
    attempts: int
    lease_until: dt.datetime
    channel: MessageChannel
    recipient: str
    subject: str
    body: str


def _record(session_factory: Callable[[], Session], claim: _Claim, values: dict[str, Any]) -> bool:
    """Write one outcome, fenced by the claim: only the worker whose claim is current may record,
    so a worker that outlived its lease cannot overwrite a newer attempt's outcome."""
    with session_factory() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == claim.id, OutboxMessage.status == MessageStatus.SENDING,
                   OutboxMessage.attempts == claim.attempts)
            .values(lease_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return bool(result.rowcount)


def deliver_due(session_factory: Callable[[], Session], vault: PiiVault, channels: Mapping[MessageChannel, Channel],
                *, now: dt.datetime | None = None, policy: RetryPolicy | None = None,
                limit: int | None = None, rng: random.Random | None = None) -> DeliveryReport:
    """Deliver up to `limit` due messages one by one, committing each outcome at once.

    Messages are claimed a few at a time (`CLAIM_CHUNK`), so a claim's lease only has to cover
    a few sends; a claim whose lease ran out before its turn is left for the next claim.
    Sent: status `sent` (and `channel` = the channel that delivered, `dev` for the development
    channel). Failed: `pending` again with `next_attempt_at` pushed back (`RetryPolicy.backoff`),
    or `dead` after `max_attempts` claims, or at once for a permanent failure or a channel that is
    not configured. Delivery is at-least-once: see the module docstring. `now` fixes the clock
    (tests); otherwise each step is timed when it happens.
    """
    policy = policy or RetryPolicy()
    clock = (lambda: now) if now is not None else utcnow
    limit = limit or policy.batch_size
    report = DeliveryReport()
    handled = 0
    while handled < limit:
        claims = _claim_chunk(session_factory, vault, clock(), min(CLAIM_CHUNK, limit - handled), policy, report)
        if not claims:
            break
        handled += len(claims)
        for claim in claims:
            if clock() >= claim.lease_until:
                report.lost_claims += 1  # too late to send under this claim: the next claim takes it
                continue
            outcome = _deliver_one(claim, channels, policy, clock, rng)
            if not _record(session_factory, claim, outcome):
                report.lost_claims += 1
                log.warning("outbox message %s: claim lost before its outcome was recorded", claim.id)
                continue
            status = outcome["status"]
            if status == MessageStatus.SENT:
                report.sent += 1
            elif status == MessageStatus.DEAD:
                report.dead += 1
            else:
                report.retried += 1
    return report


def _claim_chunk(session_factory: Callable[[], Session], vault: PiiVault, now: dt.datetime, size: int,
                 policy: RetryPolicy, report: DeliveryReport) -> list[_Claim]:
    """Claim and commit a few due messages (burying those whose last claim expired first)."""
    with session_factory() as session:
        report.dead += bury_exhausted(session, now, policy.max_attempts)
        claims = [
            _Claim(m.id, m.attempts, m.lease_until, m.channel, vault.decrypt(m.recipient_encrypted, RECIPIENT_FIELD),
                   m.subject, m.body)
            for m in claim_due(session, now, size, dt.timedelta(seconds=policy.lease_seconds), policy.max_attempts)
        ]
        session.commit()
    return claims


def _deliver_one(claim: _Claim, channels: Mapping[MessageChannel, Channel], policy: RetryPolicy,
                 clock: Callable[[], dt.datetime], rng: random.Random | None) -> dict[str, Any]:
    """Send one claimed message; the values its row takes. Logs ids and outcomes, never who or what."""
    channel = channels.get(claim.channel)
    if channel is None:
        log.warning("outbox message %s: channel %s is not configured", claim.id, claim.channel)
        return {"status": MessageStatus.DEAD, "last_error": f"channel {claim.channel} not configured"}
    try:
        channel.send(claim.recipient, claim.subject, claim.body)
    except DeliveryFailed as exc:
        failure, permanent = exc.reason, exc.permanent
    except Exception as exc:  # a bug in a channel must not stop the other messages
        failure, permanent = scrub(f"{type(exc).__name__} in channel"), False
        log.exception("outbox message %s: channel %s raised %s", claim.id, claim.channel, type(exc).__name__)
    else:
        log.info("outbox message %s sent through %s (attempt %s)", claim.id, channel.name, claim.attempts)
        return {"status": MessageStatus.SENT, "sent_at": clock(), "channel": channel.name, "last_error": None}
    if permanent or claim.attempts >= policy.max_attempts:
        log.warning("outbox message %s dead after %s attempts: %s", claim.id, claim.attempts, failure)
        return {"status": MessageStatus.DEAD, "last_error": failure}
    log.info("outbox message %s attempt %s failed: %s", claim.id, claim.attempts, failure)
    return {"status": MessageStatus.PENDING, "last_error": failure,
            "next_attempt_at": clock() + policy.backoff(claim.attempts, rng)}


@dataclasses.dataclass(frozen=True)
class MessageSummary:
    """A message as admins see it: everything but the recipient."""

    id: int
    kind: MessageKind
    channel: MessageChannel
    status: MessageStatus
    subject: str
    body: str
    attempts: int
    last_error: str | None
    complaint_id: int | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None


def recent_messages(session: Session, limit: int = 50, *,
                    status: MessageStatus | None = None) -> list[MessageSummary]:
    """The newest messages (optionally of one status, e.g. `dead`), without their recipients."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return [
        MessageSummary(m.id, m.kind, m.channel, m.status, m.subject, m.body, m.attempts, m.last_error,
                       m.complaint_id, m.created_at, m.next_attempt_at, m.sent_at)
        for m in session.scalars(query)
    ]
