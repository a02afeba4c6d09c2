"""Background jobs (RQ on Redis): the outbox's delivery, and the sweeps (escalation, follow-up,
daily staff notices) as a job that schedules its next run itself.

Workers run `rq worker portal --url $REDIS_URL` with the portal's environment; a job builds the app
with `create_app()` and delivers what is due. `enqueue_delivery(app)` is called after a commit
that queued messages; a timer running `flask outbox deliver` every minute is the safety net for
retries that come due later and for a Redis that was down when a commit happened.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import redis
from flask import Flask
from sqlalchemy.orm import Session

from portal.models import utcnow
from portal.services.channels import channels_from_config
from portal.services.escalation import EscalationReport, EscalationRules, escalate_overdue
from portal.services.followup import FollowupReport, send_followups
from portal.services.outbox import DeliveryReport, RetryPolicy, deliver_due
from portal.services.staff_notifications import LOCAL_ZONE, DigestReport, Messenger, send_daily_notices

log = logging.getLogger(__name__)

QUEUE = "portal"
#: A delivery job waiting longer than this in the queue is dropped: the timer's sweep covers it.
JOB_TTL_SECONDS = 600
#: RQ stops a job running longer (OUTBOX_BATCH_SIZE sends at their timeouts fit); its claims come back.
JOB_TIMEOUT_SECONDS = 3600


def deliver_app_outbox(app: Flask, *, limit: int | None = None) -> DeliveryReport:
    """Deliver the app's due messages through its configured channels (the job's and the CLI's work)."""
    with app.app_context():
        from portal.extensions import db

        engine = db.engine
    return deliver_due(
        lambda: Session(engine), app.extensions["pii_vault"], channels_from_config(app.config),
        policy=RetryPolicy.from_config(app.config), limit=limit,
    )


def deliver_outbox() -> dict[str, int]:
    """RQ job: build the app from the environment, deliver what is due, return the counts."""
    from portal import create_app

    app = create_app()
    report = deliver_app_outbox(app)
    with app.app_context():
        from portal.extensions import db

        db.engine.dispose()
    return {"sent": report.sent, "retried": report.retried, "dead": report.dead}


def enqueue_delivery(app: Flask) -> bool:
    """Ask a worker to deliver now; call only after the commit that queued the messages.

    Without `REDIS_URL`, or while Redis does not answer, nothing is enqueued (returns False) and
    the request goes on: the messages are committed and the timer's `flask outbox deliver`
    delivers them within its interval."""
    connection = app.extensions.get("redis")
    if connection is None:
        return False
    from rq import Queue

    try:
        Queue(QUEUE, connection=connection).enqueue(
            "portal.jobs.deliver_outbox", ttl=JOB_TTL_SECONDS, result_ttl=0,
            job_timeout=JOB_TIMEOUT_SECONDS,
        )
    except redis.RedisError as exc:
        log.warning("outbox delivery not enqueued (%s): the timer will deliver", type(exc).__name__)
        return False
    return True


# -- the sweeps: escalation, follow-up, the daily staff notices ----------------------------------

#: The sweep job of each time slot has this id and the slot's number: two chains that schedule
#: the same slot (the schedule command run twice, a job retried) collapse into one job.
SWEEP_JOB_PREFIX = "portal-sweep-"


@dataclasses.dataclass
class SweepReport:
    escalation: EscalationReport
    followup: FollowupReport
    #: None when the day's notices were not due yet (before DIGEST_HOUR, local time).
    daily: DigestReport | None


def run_sweeps(app: Flask, *, now: dt.datetime | None = None, escalate: bool = True, followup: bool = True,
               daily: bool | None = None) -> SweepReport:
    """Run the sweeps in one transaction, commit once, then ask a worker to deliver the messages.

    `daily=None` sends the day's digests and overdue lists only from DIGEST_HOUR (WIB) on; each
    account gets them once a day whenever the sweep runs after that. Every sweep is idempotent,
    so a timer and an RQ chain may both run it."""
    from portal.extensions import db

    now = now or utcnow()
    config = app.config
    if daily is None:
        daily = now.astimezone(LOCAL_ZONE).hour >= config["DIGEST_HOUR"]
    messenger = Messenger.from_app(app)
    with app.app_context():
        session = db.session
        try:
            report = SweepReport(
                escalate_overdue(session, messenger, EscalationRules.from_config(config), now=now)
                if escalate else EscalationReport(),
                send_followups(session, messenger, after_days=config["FOLLOWUP_AFTER_DAYS"], now=now)
                if followup else FollowupReport(),
                send_daily_notices(session, messenger, now=now) if daily else None,
            )
            session.commit()
        except BaseException:
            session.rollback()
            raise
    enqueue_delivery(app)
    return report


def schedule_sweep(app: Flask, *, after: dt.datetime | None = None) -> str | None:
    """Schedule the sweep job at the start of the next slot of SWEEP_INTERVAL_SECONDS after
    `after` (now); its id names the slot. Needs a worker started with `--with-scheduler`.
    Returns the job id, or None without Redis (then a timer runs `flask complaints sweep`)."""
    connection = app.extensions.get("redis")
    if connection is None:
        return None
    from rq import Queue

    interval = app.config["SWEEP_INTERVAL_SECONDS"]
    slot = int((after or utcnow()).timestamp() // interval) + 1
    job_id = f"{SWEEP_JOB_PREFIX}{slot}"
    at = dt.datetime.fromtimestamp(slot * interval, dt.UTC)
    try:
        Queue(QUEUE, connection=connection).enqueue_at(
            at, "portal.jobs.sweep", job_id=job_id, result_ttl=0, job_timeout=JOB_TIMEOUT_SECONDS,
        )
    except redis.RedisError as exc:
        log.warning("sweep not scheduled (%s): run `flask complaints schedule` again", type(exc).__name__)
        return None
    return job_id


def sweep() -> dict[str, int]:
    """RQ job: run the sweeps, then schedule the next one — also when this one failed, so one
    bad run does not end the chain."""
    from portal import create_app
    from portal.extensions import db

    app = create_app()
    try:
        report = run_sweeps(app)
    finally:
        schedule_sweep(app)
        with app.app_context():
            db.engine.dispose()
    return {"kecamatan": report.escalation.kecamatan, "kabupaten": report.escalation.kabupaten,
            "followups": report.followup.asked,
            "digests": report.daily.digests if report.daily else 0}
