"""Delivery through real servers on loopback: an SMTP server (aiosmtpd), an HTTP SMS gateway stand-in
with faults injected, RQ workers on Redis (one of them killed mid-job), and the CLI."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import ConfigError, ProductionConfig, TestConfig, check_config
from portal.models import MessageChannel, MessageStatus, OutboxMessage
from portal.services.channels import HttpGatewayChannel, SmtpChannel, channels_from_config
from portal.services.outbox import NIK_LIKE, RetryPolicy, deliver_due, queue_message
from tests.messaging import (
    BLOCK,
    DROP,
    ERROR_500,
    OK,
    PASSWORD,
    REFUSED,
    SLOW,
    USERNAME,
    Gateway,
    SmtpServer,
    self_signed_tls,
)
from tests.production.servers import RedisServer

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
PHONE = "081234567890"
EMAIL = "ani.lestari@example.com"
TOKEN = "gateway-token-123"  # noqa: S105 - a test gateway's token


def _body(n: int = 1) -> str:
    return f"Aduan ADU-7K2M-{n:04d}: status ditinjau. Lacak: https://cekbansos.example.go.id/aduan/lacak"


@pytest.fixture
def gateway():
    gateway = Gateway().start()
    yield gateway
    gateway.stop()


@pytest.fixture
def factory(session):
    engine = session.get_bind()
    return lambda: Session(engine)


def _sms(gateway: Gateway, **options) -> dict:
    options.setdefault("timeout", 1.0)
    return {MessageChannel.SMS: HttpGatewayChannel(MessageChannel.SMS, gateway.url, token=TOKEN, **options)}


def _queue(session, vault, n: int = 1, *, channel: str = "sms", recipient: str = PHONE) -> list[int]:
    ids = [queue_message(session, vault, kind="status", channel=channel, recipient=recipient,
                         subject="Kabar aduan ADU-7K2M" if channel == "email" else "", body=_body(i), now=NOW).id
           for i in range(n)]
    session.commit()
    return ids


def _row(session, message_id: int) -> OutboxMessage:
    session.expire_all()
    return session.get(OutboxMessage, message_id)


# -- e-mail through SMTP ------------------------------------------------------------------------

def test_an_email_reaches_the_smtp_server_and_is_marked_sent(session, vault, factory):
    [message_id] = _queue(session, vault, channel="email", recipient=EMAIL)
    with SmtpServer() as smtp:
        channel = SmtpChannel("127.0.0.1", smtp.port, from_address="Portal <noreply@cekbansos.example.go.id>",
                              starttls=False, timeout=5)
        report = deliver_due(factory, vault, {MessageChannel.EMAIL: channel}, now=NOW)
    assert report.sent == 1
    [envelope] = smtp.inbox.envelopes
    assert envelope.rcpt_tos == [EMAIL]
    mail = message_from_bytes(envelope.content, policy=email_policy)
    assert mail["Subject"] == "Kabar aduan ADU-7K2M" and mail["To"] == EMAIL
    assert mail.get_content().strip() == _body(0)
    row = _row(session, message_id)
    assert (row.status, row.channel, row.attempts, row.sent_at) == (MessageStatus.SENT, MessageChannel.EMAIL, 1, NOW)


def test_email_goes_through_starttls_and_login_and_a_wrong_password_is_retried(session, vault, factory, tmp_path):
    server_tls, client_tls = self_signed_tls(tmp_path)
    [message_id] = _queue(session, vault, channel="email", recipient=EMAIL)
    with SmtpServer(auth=True, tls_context=server_tls) as smtp:
        def channel(password: str) -> dict:
            return {MessageChannel.EMAIL: SmtpChannel(
                "127.0.0.1", smtp.port, from_address="noreply@example.go.id", starttls=True,
                username=USERNAME, password=password, timeout=5, ssl_context=client_tls)}

        wrong = deliver_due(factory, vault, channel("salah"), now=NOW)
        assert (wrong.sent, wrong.retried) == (0, 1) and smtp.inbox.envelopes == []
        assert _row(session, message_id).last_error == "smtp login refused 535"

        right = deliver_due(factory, vault, channel(PASSWORD), now=NOW + dt.timedelta(hours=2))
    assert right.sent == 1 and len(smtp.inbox.envelopes) == 1
    assert _row(session, message_id).attempts == 2


def test_with_starttls_required_a_server_without_it_gets_nothing_in_clear(session, vault, factory):
    [message_id] = _queue(session, vault, channel="email", recipient=EMAIL)
    with SmtpServer() as smtp:  # offers no STARTTLS
        channel = SmtpChannel("127.0.0.1", smtp.port, from_address="noreply@example.go.id", starttls=True,
                              username=USERNAME, password=PASSWORD, timeout=5)
        report = deliver_due(factory, vault, {MessageChannel.EMAIL: channel}, now=NOW)
    assert report.retried == 1 and smtp.inbox.envelopes == []
    assert _row(session, message_id).last_error == "smtp server offers no STARTTLS"


def test_an_smtp_server_that_does_not_answer_is_retried_later(session, vault, factory):
    [message_id] = _queue(session, vault, channel="email", recipient=EMAIL)
    with SmtpServer() as smtp:
        port = smtp.port
    channel = SmtpChannel("127.0.0.1", port, from_address="noreply@example.go.id", starttls=False, timeout=2)
    report = deliver_due(factory, vault, {MessageChannel.EMAIL: channel}, now=NOW)
    row = _row(session, message_id)
    assert report.retried == 1 and row.status == MessageStatus.PENDING and row.next_attempt_at > NOW
    assert row.last_error == "smtp ConnectionRefusedError"


# -- SMS / WhatsApp through an HTTP gateway -----------------------------------------------------

def test_the_gateway_gets_the_token_the_number_and_the_text(session, vault, factory, gateway):
    _queue(session, vault)
    assert deliver_due(factory, vault, _sms(gateway), now=NOW).sent == 1
    [request] = gateway.requests
    assert request.authorization == TOKEN and request.content_type == "application/x-www-form-urlencoded"
    assert request.fields == {"target": PHONE, "message": _body(0)}


def test_a_json_gateway_with_the_token_in_a_field(session, vault, factory, gateway):
    _queue(session, vault)
    channels = _sms(gateway, body_format="json", token_field="token", number_field="phone")
    assert deliver_due(factory, vault, channels, now=NOW).sent == 1
    [request] = gateway.requests
    assert request.authorization is None and request.content_type == "application/json"
    assert request.fields == {"phone": PHONE, "message": _body(0), "token": TOKEN}


def test_faults_are_retried_with_growing_backoff_until_the_gateway_accepts(session, vault, factory, gateway,
                                                                           caplog):
    """500, a 200 whose JSON says status false, a reply slower than the timeout, a dropped connection:
    each is a failure tried again later, each wait longer than the last; then the gateway accepts."""
    gateway.script.extend([ERROR_500, REFUSED, SLOW, DROP, OK])
    [message_id] = _queue(session, vault)
    now, waits, errors = NOW, [], []
    caplog.set_level(logging.DEBUG)
    for _ in range(4):
        report = deliver_due(factory, vault, _sms(gateway, timeout=0.5), now=now)
        assert report.retried == 1
        row = _row(session, message_id)
        assert row.status == MessageStatus.PENDING
        waits.append(row.next_attempt_at - now)
        errors.append(row.last_error)
        # Not yet due: a run before next_attempt_at sends nothing.
        assert deliver_due(factory, vault, _sms(gateway), now=row.next_attempt_at - dt.timedelta(seconds=1)).sent == 0
        now = row.next_attempt_at
    assert deliver_due(factory, vault, _sms(gateway), now=now).sent == 1

    assert errors == ["sms gateway HTTP 500", "sms gateway refused: target [nomor] invalid", "sms gateway timeout",
                      "sms gateway RemoteDisconnected"]
    assert waits == sorted(waits) and waits[0] >= dt.timedelta(seconds=15)
    row = _row(session, message_id)
    assert (row.status, row.attempts, len(gateway.requests), len(gateway.delivered())) == (MessageStatus.SENT, 5, 5, 1)
    # The gateway quoted the number back: neither the row nor a log line keeps it.
    assert all(PHONE not in record.getMessage() for record in caplog.records)


def test_after_max_attempts_the_message_is_dead_and_never_tried_again(session, vault, factory, gateway):
    gateway.default = ERROR_500
    [message_id] = _queue(session, vault)
    policy = RetryPolicy(max_attempts=8)
    now = NOW
    for attempt in range(1, 9):
        report = deliver_due(factory, vault, _sms(gateway), now=now, policy=policy)
        row = _row(session, message_id)
        assert row.attempts == attempt
        now = row.next_attempt_at
    assert report.dead == 1 and row.status == MessageStatus.DEAD
    assert deliver_due(factory, vault, _sms(gateway), now=now + dt.timedelta(days=1), policy=policy).sent == 0
    assert len(gateway.requests) == 8


def test_a_rolled_back_change_sends_nothing_and_a_committed_one_is_sent(session, vault, factory, gateway):
    queue_message(session, vault, kind="receipt", channel="sms", recipient=PHONE, body=_body(1), subject="", now=NOW)
    session.rollback()  # the change that caused the message failed
    assert deliver_due(factory, vault, _sms(gateway), now=NOW).sent == 0
    assert gateway.requests == []

    queue_message(session, vault, kind="receipt", channel="sms", recipient=PHONE, body=_body(2), subject="", now=NOW)
    session.commit()
    assert deliver_due(factory, vault, _sms(gateway), now=NOW).sent == 1
    assert [r.fields["message"] for r in gateway.requests] == [_body(2)]


def test_two_workers_draining_200_messages_deliver_each_exactly_once(session, vault, factory, gateway):
    ids = _queue(session, vault, 200)
    barrier = threading.Barrier(2)
    reports = []

    def worker() -> None:
        barrier.wait()
        reports.append(deliver_due(factory, vault, _sms(gateway, timeout=10), now=NOW, limit=1000))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    delivered = sorted(r.fields["message"] for r in gateway.requests)
    assert delivered == sorted(_body(i) for i in range(200))  # every one, none twice
    assert sum(r.sent for r in reports) == 200 and all(r.sent > 0 for r in reports)
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))).all()
    assert {(r.status, r.attempts) for r in rows} == {(MessageStatus.SENT, 1)}
    # What left the portal carries no NIK-like number.
    assert not any(NIK_LIKE.search(r.fields["message"]) for r in gateway.requests)
    assert not any(NIK_LIKE.search(r.body + r.subject) for r in rows)


# -- configuration ------------------------------------------------------------------------------

def test_channels_are_off_by_default_and_production_never_pretends():
    development = channels_from_config(vars(TestConfig) | {"OUTBOX_DEV_CHANNEL": True})
    assert {c.name for c in development.values()} == {MessageChannel.DEV}
    production = {k: getattr(ProductionConfig, k) for k in dir(ProductionConfig) if k.isupper()}
    assert channels_from_config(production | {"OUTBOX_DEV_CHANNEL": ProductionConfig.OUTBOX_DEV_CHANNEL}) == {}


def test_production_refuses_a_gateway_over_http_and_an_smtp_password_without_starttls():
    base = {"PORTAL_ENV": "production", "SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
            "NIK_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(), "SQLALCHEMY_DATABASE_URI": "postgresql://db",
            "PUBLIC_BASE_URL": "https://cekbansos.example.go.id"}
    check_config(base | {"SMS_GATEWAY_URL": "https://api.fonnte.com/send"})
    with pytest.raises(ConfigError, match="https"):
        check_config(base | {"WHATSAPP_GATEWAY_URL": "http://gateway.example/send"})
    with pytest.raises(ConfigError, match="STARTTLS"):
        check_config(base | {"SMTP_PASSWORD": "p", "SMTP_STARTTLS": False})


# -- the command line ---------------------------------------------------------------------------

def test_flask_outbox_deliver_and_list_show_what_would_be_sent(app, runner, session, vault):
    app.config["OUTBOX_DEV_CHANNEL"] = True
    _queue(session, vault, 2)
    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code == 0, result.output
    assert "Terkirim: 2" in result.output
    listed = runner.invoke(args=["outbox", "list"])
    assert listed.exit_code == 0 and _body(1) in listed.output and " dev sent " in listed.output
    assert PHONE not in listed.output


# -- RQ workers on Redis ------------------------------------------------------------------------

@pytest.fixture
def rq_redis(tmp_path) -> str:
    """The suite's Redis database (TEST_REDIS_URL, emptied before each test) or a redis-server of our own."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        try:
            with redis.Redis.from_url(url, socket_timeout=2) as probe:
                probe.ping()
        except redis.RedisError:
            pytest.skip("TEST_REDIS_URL does not answer")
        yield url
        return
    server = RedisServer(tmp_path)
    server.start()
    yield server.url
    server.kill()


def _worker(app, redis_url: str, gateway: Gateway, log: Path, *, burst: bool, lease: int) -> subprocess.Popen:
    """`rq worker portal` as production starts it, with the portal's settings in its environment."""
    env = {
        "PATH": os.environ["PATH"], "PORTAL_ENV": "development", "SECRET_KEY": TestConfig.SECRET_KEY,
        "NIK_ENCRYPTION_KEY": TestConfig.NIK_ENCRYPTION_KEY, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": redis_url, "SMS_GATEWAY_URL": gateway.url, "SMS_GATEWAY_TOKEN": TOKEN,
        "SMS_GATEWAY_TIMEOUT_SECONDS": "120", "OUTBOX_LEASE_SECONDS": str(lease), "OUTBOX_DEV_CHANNEL": "0",
    }
    rq = Path(sys.executable).parent / "rq"
    command = [str(rq), "worker", "portal", "--url", redis_url, "--path", str(Path(__file__).parents[1])]
    if burst:
        command.append("--burst")
    with log.open("ab") as out:
        # A session of its own: killing the group kills the worker and the work horse it forked.
        return subprocess.Popen(command, env=env, cwd=Path(__file__).parents[1], stdout=out, stderr=out,
                                start_new_session=True)


def _enqueue(app, redis_url: str) -> bool:
    from portal.jobs import enqueue_delivery

    app.extensions["redis"] = redis.Redis.from_url(redis_url)
    return enqueue_delivery(app)


def test_an_rq_worker_delivers_what_a_commit_enqueued(app, session, vault, gateway, rq_redis, tmp_path):
    _queue(session, vault, 3)
    assert _enqueue(app, rq_redis)
    worker = _worker(app, rq_redis, gateway, tmp_path / "worker.log", burst=True, lease=300)
    assert worker.wait(timeout=120) == 0, (tmp_path / "worker.log").read_text()
    assert sorted(r.fields["message"] for r in gateway.delivered()) == [_body(i) for i in range(3)]
    session.expire_all()
    assert {m.status for m in session.scalars(select(OutboxMessage))} == {MessageStatus.SENT}


def test_a_worker_killed_mid_delivery_leaves_the_message_to_the_next_one(app, session, vault, gateway, rq_redis,
                                                                         tmp_path):
    """At-least-once: the gateway holds the first request, the worker is SIGKILLed (with the work horse it
    forked); after the claim's lease the next worker delivers it, with exactly one more attempt."""
    gateway.script.append(BLOCK)
    [message_id] = _queue(session, vault)
    log = tmp_path / "worker.log"
    assert _enqueue(app, rq_redis)
    first = _worker(app, rq_redis, gateway, log, burst=False, lease=3)
    try:
        assert gateway.blocked.wait(120), log.read_text()
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    claimed = _row(session, message_id)
    assert (claimed.status, claimed.attempts, claimed.sent_at) == (MessageStatus.SENDING, 1, None)

    while dt.datetime.now(dt.UTC) <= claimed.lease_until:  # the claim's lease runs out
        time.sleep(0.2)
    assert _enqueue(app, rq_redis)
    second = _worker(app, rq_redis, gateway, log, burst=True, lease=300)
    assert second.wait(timeout=120) == 0, log.read_text()

    row = _row(session, message_id)
    assert (row.status, row.attempts) == (MessageStatus.SENT, 2)
    assert [r.behaviour for r in gateway.requests] == [BLOCK, OK]


def test_without_redis_nothing_is_enqueued_and_the_request_goes_on(app):
    from portal.jobs import enqueue_delivery

    app.extensions["redis"] = None
    assert enqueue_delivery(app) is False
    app.extensions["redis"] = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    assert enqueue_delivery(app) is False
