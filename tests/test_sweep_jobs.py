"""The sweeps as an RQ job that schedules its own next run, against a real Redis and `rq worker`."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

from config import TestConfig
from portal.jobs import QUEUE, SWEEP_JOB_PREFIX, schedule_sweep
from portal.models import Complaint, EscalationLevel, utcnow
from tests.conftest import make_complaint
from tests.test_outbox_delivery import rq_redis  # noqa: F401 - the fixture: TEST_REDIS_URL or a server of our own

ROOT = Path(__file__).resolve().parents[1]


def _scheduled(connection) -> list[str]:
    return list(ScheduledJobRegistry(QUEUE, connection=connection).get_job_ids())


def test_scheduling_twice_gives_one_job_for_the_next_slot(app, rq_redis):  # noqa: F811
    connection = redis.Redis.from_url(rq_redis)
    app.extensions["redis"] = connection
    app.config["SWEEP_INTERVAL_SECONDS"] = 900
    at = dt.datetime(2026, 11, 25, 3, 7, tzinfo=dt.UTC)
    first = schedule_sweep(app, after=at)
    assert schedule_sweep(app, after=at + dt.timedelta(minutes=5)) == first
    assert _scheduled(connection) == [first]
    job = Queue(QUEUE, connection=connection).fetch_job(first)
    assert job.func_name == "portal.jobs.sweep"
    when = ScheduledJobRegistry(QUEUE, connection=connection).get_scheduled_time(first)
    assert when == dt.datetime(2026, 11, 25, 3, 15, tzinfo=dt.UTC)


def test_without_redis_nothing_is_scheduled_and_the_command_says_to_use_the_timer(app, runner):
    app.extensions.pop("redis", None)
    assert schedule_sweep(app) is None
    result = runner.invoke(args=["complaints", "schedule"])
    assert result.exit_code != 0 and "flask complaints sweep" in result.output


def test_an_rq_worker_runs_the_sweep_and_the_job_schedules_the_next_one(app, session, vault, rq_redis,  # noqa: F811
                                                                        tmp_path):
    code = make_complaint(session, vault)
    session.execute(update(Complaint).where(Complaint.code == code)
                    .values(created_at=utcnow() - dt.timedelta(days=15)))
    session.commit()
    connection = redis.Redis.from_url(rq_redis)
    Queue(QUEUE, connection=connection).enqueue("portal.jobs.sweep", job_id=f"{SWEEP_JOB_PREFIX}now")
    env = {
        "PATH": os.environ["PATH"], "PORTAL_ENV": "development", "SECRET_KEY": TestConfig.SECRET_KEY,
        "NIK_ENCRYPTION_KEY": TestConfig.NIK_ENCRYPTION_KEY, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": rq_redis,
    }
    rq = Path(sys.executable).parent / "rq"
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        worker = subprocess.run([str(rq), "worker", QUEUE, "--burst", "--url", rq_redis, "--path", str(ROOT)],
                                env=env, cwd=ROOT, stdout=out, stderr=out, timeout=120, check=False)
    assert worker.returncode == 0, log.read_text()
    session.expire_all()
    escalated = session.scalars(select(Complaint).where(Complaint.code == code)).one()
    assert escalated.escalation_level is EscalationLevel.KECAMATAN, log.read_text()
    [next_one] = _scheduled(connection)
    connection.close()
    assert next_one.startswith(SWEEP_JOB_PREFIX) and next_one != f"{SWEEP_JOB_PREFIX}now"
