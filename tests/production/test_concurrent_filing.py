"""Payout day at the complaint desk: 200 residents press "Kirim" at the same moment (PostgreSQL).

Every filing that was acknowledged with a code is stored, the codes are unique, nobody gets a 5xx,
and a double tap sent from a second phone with the same form gets the same code."""

from __future__ import annotations

import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import make_url, select

from config import TestConfig
from portal import create_app
from portal.extensions import db
from portal.models import Complaint
from portal.services.captcha import ChallengePurpose
from tests.routes.test_complaints import VALID

FILINGS = 200
TWINS = 20  # of those, filed a second time at the same moment with the same form token
#: As in gunicorn, the app serves at most as many requests at once as it has threads, and the
#: pool is sized from the threads (a request may hold two connections: its session and, without
#: Redis, the captcha spend), so that no request waits for a connection; the rest queue at the door.
SERVER_THREADS = 10
CODE = re.compile(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
def busy_app(app, tmp_path):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if make_url(url).get_backend_name() != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL question; SQLite has one writer")

    class Busy(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
        UPLOAD_FOLDER = str(tmp_path / "uploads")
        DATABASE_POOL_SIZE = SERVER_THREADS  # and as many again in overflow

    busy = create_app(Busy)
    busy.instance_path = str(tmp_path / "instance")
    yield busy
    with busy.app_context():
        db.engine.dispose()


def test_200_simultaneous_filings_are_all_stored_with_unique_codes(busy_app, session):
    # Each resident has their own phone (client), form (token) and captcha; a twin is a second
    # phone sending the same form as resident n, with a captcha of its own. The ids and tokens
    # are what the form page would carry (drawing 220 pages first is not what is under test).
    captcha = busy_app.extensions["captcha"]
    residents = [(n, secrets.token_urlsafe(24)) for n in range(1, FILINGS + 1)]
    requests = [(n, busy_app.test_client(), captcha.issue(ChallengePurpose.COMPLAINT), token)
                for n, token in residents + residents[:TWINS]]

    start = threading.Barrier(len(requests))
    server = threading.BoundedSemaphore(SERVER_THREADS)

    def file(request) -> tuple[int, int, str | None]:
        n, client, challenge, token = request
        data = {**VALID, "captcha_id": challenge, "captcha_jawaban": captcha.keys.answer(challenge),
                "token": token, "pelapor_nik": f"320405410385{n:04d}"}
        start.wait()
        with server:
            response = client.post("/aduan/kirim", data=data)
        if response.status_code != 303:
            return n, response.status_code, None
        # The receipt survives a reload: a resident whose receipt did not load (the machine is
        # saturated by 220 filings) reloads it, as the test does, up to twice.
        for _attempt in range(3):
            with server:
                receipt = client.get("/aduan/terkirim")
            if receipt.status_code == 200:
                break
        found = CODE.search(receipt.text)
        assert found, (response.headers.get("Location"), receipt.status_code, receipt.headers.get("Location"),
                       re.findall(r"<h1>([^<]*)</h1>", receipt.text))
        return n, 303, found.group(0)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        answers = list(pool.map(file, requests))

    assert [status for _n, status, _code in answers if status >= 500] == []
    first, twins = answers[:FILINGS], answers[FILINGS:]
    acknowledged = {code for _n, status, code in first if status == 303}
    assert len(acknowledged) == FILINGS  # every filing acknowledged, no two with one code
    assert set(session.scalars(select(Complaint.code))) == acknowledged
    for (_n, _status, code), (_twin_n, twin_status, twin_code) in zip(first, twins, strict=False):
        assert twin_status == 303 and twin_code == code
