"""Background jobs (RQ on Redis): the outbox's delivery.

Workers run `rq worker portal --url $REDIS_URL` with the portal's environment; a job builds the app
with `create_app()` and delivers what is due. `enqueue_delivery(app)` is called after a commit
that queued messages; a timer running `flask outbox deliver` every minute is the safety net for
retries that come due later and for a Redis that was down when a commit happened.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask
from sqlalchemy.orm import Session

from portal.services.channels import channels_from_config
from portal.services.outbox import DeliveryReport, RetryPolicy, deliver_due

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
