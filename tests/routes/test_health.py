"""Health checks for the load balancer, production headers, and limits on every public GET."""

from __future__ import annotations

import base64
import os
import re

import pytest
from flask import Flask

from config import TestConfig
from portal import create_app
from portal.services.captcha import ChallengePurpose
from portal.services.complaint_changes import stop_token
from tests.conftest import limited_app


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.text == "ok\n"
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_checks_the_database_and_redis(app, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "failed": []}


def test_readyz_names_the_part_that_fails(tmp_path):
    class Broken(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path}/missing-dir/portal.db"
        REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = create_app(Broken).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "failed": ["database", "redis"]}


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://cekbansos.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_production_cookies_are_secure():
    app = create_app({"PORTAL_ENV": "production", "SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
                      "NIK_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
                      "SQLALCHEMY_DATABASE_URI": "sqlite://", "PUBLIC_BASE_URL": "https://cekbansos.example.go.id"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]


@pytest.fixture
def strict_app(app: Flask):
    """The test database with every limit at two requests a minute."""
    with limited_app(app, **{name: "2/minute" for name in dir(TestConfig) if name.endswith("_LIMIT")}) as strict:
        yield strict


def _public_get_paths(app: Flask, challenge: str) -> list[str]:
    """Every GET route outside the staff area and the health checks, with sample arguments."""
    samples = {"code": "32.04", "challenge_id": challenge}
    per_endpoint = {"language.choose": {"code": "en"}, "kabar.track_link": {"code": "ADU-7K2M-9QXP"},
                    "kabar.stop": {"token": stop_token(app.extensions["pii_vault"], "ADU-7K2M-9QXP")}}
    adapter = app.url_map.bind("localhost")
    return [
        adapter.build(rule.endpoint, {arg: per_endpoint.get(rule.endpoint, samples)[arg] for arg in rule.arguments})
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint.split(".")[0] not in ("static", "staff", "health")
    ]


def test_every_public_get_is_rate_limited_per_address(strict_app):
    client = strict_app.test_client()
    challenge = strict_app.extensions["captcha"].issue(ChallengePurpose.LOOKUP)
    paths = _public_get_paths(strict_app, challenge)
    assert {"/", "/aduan/baru", "/aduan/lacak", f"/captcha/{challenge}.png", "/api/wilayah/32.04"} <= set(paths)
    for n, path in enumerate(paths):
        address = {"REMOTE_ADDR": f"10.9.0.{n}"}
        for _ in range(2):
            assert client.get(path, environ_base=address).status_code < 400, path
        assert client.get(path, environ_base=address).status_code == 429, path
    # The load balancer's checks are never limited.
    for _ in range(5):
        assert client.get("/healthz", environ_base={"REMOTE_ADDR": "10.9.1.1"}).status_code == 200


def test_over_https_a_form_without_its_token_is_still_refused(app, client):
    """The Referer check is off (our pages send none); the CSRF token still guards every form."""
    app.config["WTF_CSRF_ENABLED"] = True
    https = "https://cekbansos.example"
    refused = client.post("/cek", base_url=https, data={"desa": "32.04.05.2001", "nama": "Siti Aminah"},
                          headers={"Origin": "https://evil.example"})
    assert refused.status_code == 400
    page = client.get("/", base_url=https).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    accepted = client.post("/", base_url=https, data={"csrf_token": token, "provinsi": "32", "lanjut": "provinsi"})
    assert accepted.status_code == 200  # no Referer sent, as with our no-referrer policy
