"""Outbox throughput: queueing messages and draining them with one and with two workers.

`python benchmarks/outbox_bench.py [--messages 2000] [--database-url URL]` prints

* the cost of `queue_message` inside a transaction (encrypting the recipient, the NIK check,
  the insert and flush), per message;
* messages per second delivered by `deliver_due` through the development channel (no network:
  what is measured is the claim, the per-message outcome commit and the bookkeeping), with one
  worker and with two threads draining the same outbox at once, and that each was sent once.

It runs on a temporary SQLite file, or on `--database-url` (e.g. PostgreSQL), a scratch database
whose `outbox_message` table it creates and drops. A measurement, not a test: it exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from config import TestConfig  # noqa: E402
from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import MessageChannel, MessageStatus, OutboxMessage  # noqa: E402
from portal.services.channels import DevChannel  # noqa: E402
from portal.services.outbox import deliver_due, queue_message  # noqa: E402

BODY = "Aduan ADU-7K2M-{n:04d}: status ditinjau. Lacak: https://cekbansos.example.go.id/aduan/lacak"


def _queue(engine, vault, n: int) -> float:
    """Seconds per queued message, all in one transaction as a burst of filings would not be."""
    started = time.perf_counter()
    with Session(engine) as session:
        for i in range(n):
            queue_message(session, vault, kind="status", channel="sms", recipient="081234567890", subject="",
                          body=BODY.format(n=i))
        session.commit()
    return (time.perf_counter() - started) / n


def _drain(engine, vault, workers: int) -> tuple[float, list[int]]:
    channels = {name: DevChannel() for name in MessageChannel}
    reports = []
    barrier = threading.Barrier(workers)

    def worker() -> None:
        barrier.wait()
        reports.append(deliver_due(lambda: Session(engine), vault, channels, limit=10**9))

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, [r.sent for r in reports]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--database-url", help="a scratch database (e.g. PostgreSQL) instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{os.path.join(tmp, 'bench.db')}"

        class Config(TestConfig):
            SQLALCHEMY_DATABASE_URI = url
            REDIS_URL = None

        app = create_app(Config)
        with app.app_context():
            db.create_all()
            engine = db.engine
            vault = app.extensions["pii_vault"]
            try:
                print(f"database: {engine.dialect.name}, {args.messages} messages per run")
                for workers in (1, 2):
                    with Session(engine) as session:
                        session.execute(delete(OutboxMessage))
                        session.commit()
                    per_message = _queue(engine, vault, args.messages)
                    seconds, sent = _drain(engine, vault, workers)
                    with Session(engine) as session:
                        statuses = dict(session.execute(
                            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
                    once = sum(sent) == args.messages == statuses.get(MessageStatus.SENT, 0)
                    print(f"queue_message: {per_message * 1e6:,.0f} µs per message (one transaction)")
                    print(f"deliver_due, {workers} worker(s): {args.messages / seconds:,.0f} messages/s "
                          f"({seconds:.2f} s; sent per worker {sent}; each sent once: {once})")
            finally:
                db.drop_all()
                engine.dispose()


if __name__ == "__main__":
    main()
