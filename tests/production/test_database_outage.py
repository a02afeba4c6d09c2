"""The database cut off for real, through a TCP proxy between the app and PostgreSQL.

What a resident depends on: a 503 page in Bahasa Indonesia and never a stack trace; a complaint
form that comes back with everything typed; no tracking code for a complaint that was not
committed; a retry after recovery (same form, fresh captcha) that files it exactly once."""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import URL, event, make_url, select, text

from config import TestConfig
from portal import create_app
from portal.extensions import db
from portal.models import Complaint, Evidence
from tests.conftest import DESA_A
from tests.production.servers import TcpProxy
from tests.routes.test_complaints import VALID, complaints, form_page, jpeg_bytes, submit, token_of
from tests.routes.test_public import CHAIN, lookup, registry  # noqa: F401 - fixture

CODE = re.compile(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}")
TYPED = ("Ani Lestari", "Budi Santoso", VALID["uraian"], f'value="{VALID["pelapor_nik"]}"')


def postgres_url(app) -> URL:
    main = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if main.get_backend_name() != "postgresql":
        pytest.skip("the database fails between the app and a PostgreSQL server")
    return main


@contextmanager
def app_on(url: URL, tmp_path: Path, **settings: object) -> Iterator[Flask]:
    """An app on `url` with its own upload folder (and `settings`), its pool closed afterwards."""
    class Settings(TestConfig):
        SQLALCHEMY_DATABASE_URI = url.render_as_string(hide_password=False)
        UPLOAD_FOLDER = str(tmp_path / "uploads")

    for name, value in settings.items():
        setattr(Settings, name, value)
    built = create_app(Settings)
    built.instance_path = str(tmp_path / "instance")
    try:
        yield built
    finally:
        with built.app_context():
            db.engine.dispose()


@pytest.fixture
def proxied(app, tmp_path):
    """An app whose every database connection goes through a proxy the test can cut."""
    main = postgres_url(app)
    proxy = TcpProxy((main.host or "127.0.0.1", main.port or 5432))
    try:
        with app_on(main.set(host="127.0.0.1", port=proxy.port), tmp_path,
                    DATABASE_CONNECT_TIMEOUT_SECONDS=2) as proxied_app:
            yield proxied_app, proxy
    finally:
        proxy.close()


def uploads(app) -> list[Path]:
    """The evidence files of filed complaints (the photos forms keep pending live in a folder apart)."""
    folder = Path(app.config["UPLOAD_FOLDER"])
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def filed_code(client) -> str:
    return CODE.search(client.get("/aduan/terkirim").text).group(0)


def assert_form_kept_and_no_code(response) -> None:
    assert response.status_code == 503
    assert "Layanan sedang gangguan sehingga aduan Anda belum terkirim" in response.text
    for typed in TYPED:
        assert typed in response.text
    # The chosen desa is still selected, so the retry sends it again: named from the worker's region
    # directory when it holds the region already, else by its code alone (the only option left).
    assert re.search(rf'<option selected value="{re.escape(DESA_A)}">({re.escape(DESA_A)}|Cileunyi Kulon)</option>',
                     response.text)
    assert not CODE.search(response.text) and "Traceback" not in response.text


def test_a_connection_cut_at_the_insert_keeps_the_form_and_a_retry_files_once(proxied, session):
    app, proxy = proxied
    client = app.test_client()
    page = form_page(client)
    proxy.cut_when(b"INSERT INTO complaint ")  # after the captcha was spent and the photo written
    response = submit(app, client, page, files=[("rumah.jpg", jpeg_bytes())])

    assert proxy.cut_happened.is_set()
    assert_form_kept_and_no_code(response)
    assert token_of(response.text) == token_of(page)
    assert client.get("/aduan/terkirim").status_code == 302  # no code waiting to be shown
    assert complaints(session) == 0
    assert uploads(app) == []

    proxy.restore()
    assert "rumah.jpg" in response.text  # still chosen: the retry need not choose it again
    retry = submit(app, client, response.text)  # a fresh captcha
    assert retry.status_code == 303
    code = filed_code(client)
    submit(app, client, response.text)  # the same form once more
    assert filed_code(client) == code
    assert session.scalars(select(Complaint.code)).all() == [code]
    assert len(uploads(app)) == 1


def test_a_commit_whose_answer_was_lost_is_found_by_the_retry_with_its_photo(proxied, session):
    app, proxy = proxied
    client = app.test_client()
    page = form_page(client)

    def arm(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("INSERT INTO complaint "):
            proxy.cut_when(b"COMMIT", after_reply=True)

    with app.app_context():
        event.listen(db.engine, "after_cursor_execute", arm)
    response = submit(app, client, page, files=[("rumah.jpg", jpeg_bytes())])

    assert proxy.cut_happened.is_set()
    assert_form_kept_and_no_code(response)
    # The database did commit; its answer never arrived, so the photo was kept, not removed.
    assert complaints(session) == 1
    (stored,) = uploads(app)
    proxy.restore()
    assert submit(app, client, response.text).status_code == 303
    assert filed_code(client) == session.scalar(select(Complaint.code))
    assert session.scalar(select(Evidence.stored_name)) == stored.name


def test_a_database_that_is_down_gets_the_form_back_with_what_was_typed(proxied, session):
    app, proxy = proxied
    client = app.test_client()
    page = form_page(client)
    proxy.cut()
    response = submit(app, client, page)
    assert_form_kept_and_no_code(response)
    # The provinces this worker listed before the outage still come from its region directory.
    blank = client.get("/aduan/baru")
    assert blank.status_code == 200 and ">Jawa Barat</option>" in blank.text
    proxy.restore()
    assert submit(app, client, response.text).status_code == 303
    assert complaints(session) == 1


def test_an_insert_that_times_out_behind_a_lock_keeps_the_form_and_files_nothing(app, session, tmp_path):
    # The database answers but cannot take the insert in time (an import or a migration holds
    # the table): the statement timeout ends the wait mid-request, after the captcha was spent.
    with app_on(postgres_url(app), tmp_path, DATABASE_STATEMENT_TIMEOUT_MS=500) as slow:
        client = slow.test_client()
        page = form_page(client)
        session.execute(text("LOCK TABLE complaint IN EXCLUSIVE MODE"))  # reads pass, writes wait
        response = submit(slow, client, page, files=[("rumah.jpg", jpeg_bytes())])
        session.rollback()
        assert response.status_code == 503
        assert "Layanan sedang gangguan sehingga aduan Anda belum terkirim" in response.text
        for typed in TYPED:
            assert typed in response.text
        assert not CODE.search(response.text)
        assert complaints(session) == 0 and uploads(slow) == []
        assert submit(slow, client, response.text).status_code == 303
        assert complaints(session) == 1


def answer_in_thread(request) -> object:
    """The response of `request()`, made in a thread so that a hang fails the test instead of
    stopping the suite (a liveness bound, generous on purpose, not a speed measurement)."""
    answers: list[object] = []
    worker = threading.Thread(target=lambda: answers.append(request()), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert answers, "no answer: the request waited for the database without a timeout"
    return answers[0]


@pytest.mark.parametrize("outage", ["refused", "silent"])
def test_a_lookup_while_the_database_is_away_is_a_503_page_and_logs_nothing_personal(
        proxied, registry, outage, caplog):  # noqa: F811
    app, proxy = proxied
    client = app.test_client()
    assert client.get("/").status_code == 200
    caplog.set_level(logging.DEBUG)
    # Refused: the host is down. Silent: it takes connections and never answers (a dropped
    # network); only the connect timeout ends the wait.
    if outage == "refused":
        proxy.cut()
    else:
        proxy.hold()
    response = answer_in_thread(lambda: client.post("/cek", data={**CHAIN, "nama": "Siti Aminah",
                                                                   "captcha_id": "x", "captcha_jawaban": "1"}))
    assert response.status_code == 503
    assert "Layanan sedang gangguan" in response.text and "Traceback" not in response.text
    assert "Si** Am****" not in response.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "database unavailable" in logged
    for secret in ("Siti Aminah", "SITI AMINAH", "siti aminah", registry[0]["nik"]):
        assert secret not in logged
    proxy.restore()
    answer = lookup(app, client, "Siti Aminah")
    assert answer.status_code == 200 and "Si** Am****" in answer.text


def test_a_pooled_connection_to_a_host_gone_silent_is_given_up_by_the_kernel(app):
    # Not reproducible here without dropping packets on the machine; what can be checked is that
    # the kernel was told: sent data unacknowledged for the connect timeout aborts the connection.
    postgres_url(app)  # skips on SQLite
    expected = app.config["DATABASE_CONNECT_TIMEOUT_SECONDS"] * 1000
    with app.app_context(), db.engine.connect() as connection:
        probe = socket.socket(fileno=connection.connection.driver_connection.pgconn.socket)
        try:
            assert probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == expected
        finally:
            probe.detach()  # the socket stays the driver's
