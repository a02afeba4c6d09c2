"""Two hosts behind a proxy: two gunicorn instances (2 workers each) in production mode, one
PostgreSQL, one Redis. A challenge drawn on one host is answered on the other; a lookup limit holds
across both. Needs TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL; CI has both."""

from __future__ import annotations

import base64
import http.client
import os
import re
import secrets
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from portal import create_app
from portal.extensions import db
from portal.services.captcha import CaptchaKeys
from portal.services.regions import load_regions
from portal.services.registry_import import import_registry
from tests.conftest import DESA_A, POSTGRES_URL, REDIS_URL, TODAY, make_row, write_csv
from tests.production.servers import free_port, wait_for_health, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
NIK_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
LOOKUP_LIMIT = 3
FORM = {"provinsi": "32", "kabupaten": "32.04", "kecamatan": "32.04.05", "desa": DESA_A, "nama": "Siti Aminah"}


@pytest.fixture(scope="module")
def production_database(database_server):
    if not (POSTGRES_URL.startswith("postgresql") and REDIS_URL):
        pytest.skip("needs TEST_DATABASE_URL on PostgreSQL and TEST_REDIS_URL")
    name = f"portal_two_hosts_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def two_hosts(production_database, test_regions, tmp_path_factory):
    """Started once for the module: creating, migrating and booting two hosts is the slow part."""
    tmp_path = tmp_path_factory.mktemp("two_hosts")
    env = {**os.environ, "PORTAL_ENV": "production", "DATABASE_URL": production_database, "REDIS_URL": REDIS_URL,
           "SECRET_KEY": SECRET_KEY, "NIK_ENCRYPTION_KEY": NIK_KEY, "PROXY_HOPS": "1", "WEB_CONCURRENCY": "2",
           "PUBLIC_BASE_URL": "https://cekbansos.example.go.id",
           "LOOKUP_LIMIT": f"{LOOKUP_LIMIT}/minute", "UPLOAD_FOLDER": str(tmp_path / "uploads")}
    env.pop("TEST_DATABASE_URL", None)
    # As the README deploys it: migrations first, never from the app's start.
    subprocess.run([BIN / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    app = create_app({"PORTAL_ENV": "production", "SQLALCHEMY_DATABASE_URI": production_database,
                      "SECRET_KEY": SECRET_KEY, "NIK_ENCRYPTION_KEY": NIK_KEY,
                      "PUBLIC_BASE_URL": "https://cekbansos.example.go.id"})
    with app.app_context():
        load_regions(db.session, test_regions)
        db.session.commit()
        import_registry(db.session, app.extensions["pii_vault"], write_csv(tmp_path / "r.csv", [make_row(1)]),
                        imported_by="t", period="2025-Q4", today=TODAY)
        db.session.commit()  # the import flushes; its command commits
        db.engine.dispose()
    hosts, logs = [], []
    for n in range(2):
        port = free_port()
        log = (tmp_path / f"host{n}.log").open("w")
        server = subprocess.Popen([BIN / "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                  env={**env, "PORTAL_BIND": f"127.0.0.1:{port}"}, stdout=log, stderr=subprocess.STDOUT)
        hosts.append((port, server))
        logs.append(log)
    try:
        for port, server in hosts:
            wait_for_port(port, timeout=30, process=server)
            wait_for_health(port)
        yield [port for port, _ in hosts]
    finally:
        for (_, server), log in zip(hosts, logs, strict=True):
            server.terminate()
            server.wait(timeout=30)
            log.close()


class Browser:
    """One resident behind the proxy: keeps cookies itself, since production marks them Secure."""

    def __init__(self, address: str) -> None:
        self.cookies: dict[str, str] = {}
        self.headers = {"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}

    def request(self, port: int, method: str, path: str, form: dict[str, str] | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {**self.headers, "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read().decode(errors="replace")
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        connection.close()
        return response, content

    def form(self, port: int) -> dict[str, str]:
        _, page = self.request(port, "GET", "/")
        challenge = re.search(r'name="captcha_id" type="hidden" value="([^"]+)"', page).group(1)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        answer = CaptchaKeys(SECRET_KEY).answer(challenge)
        return {"captcha_id": challenge, "csrf_token": csrf, "captcha_jawaban": answer}


def test_a_challenge_drawn_on_one_host_is_answered_on_the_other(two_hosts):
    first, second = two_hosts
    resident = Browser("10.30.0.1")
    solved = resident.form(first)
    image, _ = resident.request(second, "GET", f"/captcha/{solved['captcha_id']}.png")
    assert image.status == 200
    response, page = resident.request(second, "POST", "/cek", {**FORM, **solved})
    assert response.status == 200 and "Data ditemukan" in page
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    # Spent on the second host means spent on the first.
    again, page = resident.request(first, "POST", "/cek", {**FORM, **solved})
    assert "Data ditemukan" not in page
    ready, _ = resident.request(first, "GET", "/readyz")
    assert ready.status == 200


def test_the_lookup_limit_holds_across_both_hosts(two_hosts):
    resident = Browser("10.30.0.2")
    outcomes = []
    for n in range(3 * LOOKUP_LIMIT):
        port = two_hosts[n % 2]
        response, page = resident.request(port, "POST", "/cek", {**FORM, **resident.form(two_hosts[(n + 1) % 2])})
        outcomes.append("found" if "Data ditemukan" in page else response.status)
    assert outcomes.count("found") == LOOKUP_LIMIT
    assert outcomes.count(429) == 2 * LOOKUP_LIMIT
