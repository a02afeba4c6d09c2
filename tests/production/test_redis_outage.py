"""Redis goes away mid-run and comes back: limits keep applying, forms say so plainly, nothing restarts.

The test starts a redis-server of its own on a free port and kills it (the machine's shared Redis is
never touched)."""

from __future__ import annotations

import time

import pytest

from tests.conftest import limited_app
from tests.production.servers import RedisServer
from tests.routes.test_public import CHAIN, captcha_of, registry, solve  # noqa: F401 - fixture


@pytest.fixture
def redis_server_of_its_own(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_app(app, redis_server_of_its_own):
    with limited_app(app, REDIS_URL=redis_server_of_its_own.url, PAGE_LIMIT="3/minute",
                     LOOKUP_LIMIT="100/minute") as on_redis:
        yield on_redis


def _lookup(app, client, address: str = "10.20.0.1"):
    page = client.get("/", environ_base={"REMOTE_ADDR": address}).text
    return client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **solve(app, page)},
                       environ_base={"REMOTE_ADDR": address})


def test_limits_and_spent_challenges_live_in_redis(redis_app, redis_server_of_its_own, registry):  # noqa: F811
    client = redis_app.test_client()
    assert "Data ditemukan" in _lookup(redis_app, client).text
    keys = [key.decode() for key in redis_app.extensions["redis"].keys("*")]
    assert any(key.startswith("portal:captcha:spent:") for key in keys)
    assert any(key.startswith("LIMITS:LIMITER/portal/10.20.0.1/public.check") for key in keys), keys


def test_without_redis_limits_still_apply_and_forms_answer_503_then_recover(
        redis_app, redis_server_of_its_own, registry):  # noqa: F811
    client = redis_app.test_client()
    page = client.get("/", environ_base={"REMOTE_ADDR": "10.20.0.9"}).text
    solved = solve(redis_app, page)
    redis_server_of_its_own.kill()

    # The form still shows (issuing a challenge needs no store) ...
    shown = [client.get("/", environ_base={"REMOTE_ADDR": "10.20.0.2"}).status_code for _ in range(4)]
    # ... but never without limits: the fourth page from one address is refused from memory.
    assert shown == [200, 200, 200, 429]

    # An attempt cannot be judged without the spent-challenge store: 503, plainly, with the name kept.
    response = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **solved},
                           environ_base={"REMOTE_ADDR": "10.20.0.9"})
    assert response.status_code == 503
    assert "Layanan sedang gangguan" in response.text and 'value="Siti Aminah"' in response.text
    assert "Traceback" not in response.text and "Si** Am****" not in response.text

    redis_server_of_its_own.start()
    deadline = time.monotonic() + 10
    while True:
        response = _lookup(redis_app, client, address="10.20.0.3")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "Data ditemukan" in response.text, "the portal did not recover without a restart"
