"""Staff login under attack: strangers' failures cannot keep the owner out, guessing stays throttled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry
from tests.conftest import DESA_A, STRONG_PASSWORD, limited_app, make_staff
from tests.routes.test_public import solve

WRONG = "salah-kata-sandi-sekali"
CAPTCHA_NOTICE = "Jawab pemeriksaan keamanan"


@pytest.fixture
def limited(app, session):
    """Rate limits on, as in production: 10 attempts a minute per address, a captcha per
    username after 5 failures from anywhere."""
    make_staff(session, "op.desa", "desa", DESA_A)
    session.close()
    with limited_app(app, LOGIN_LIMIT="10/minute;50/day", LOGIN_CAPTCHA_AFTER="5/day") as limited:
        yield limited


def post(client, address: str, username: str = "op.desa", password: str = STRONG_PASSWORD, **extra):
    return client.post("/staf/masuk", data={"username": username, "password": password, **extra},
                       environ_base={"REMOTE_ADDR": address})


def strangers_fail(app, username: str = "op.desa", count: int = 30) -> None:
    """Many addresses, each under its own limit, typing wrong passwords for one username; the
    strongest kind of attacker, who even has every captcha solved (by people paid for it)."""
    for n in range(count):
        client = app.test_client()
        response = post(client, f"10.66.0.{n}", username, WRONG)
        if CAPTCHA_NOTICE in response.text:
            post(client, f"10.66.0.{n}", username, WRONG, **solve(app, response.text))


def test_strangers_failures_never_keep_the_right_password_out(limited):
    owner = limited.test_client()
    assert post(owner, "192.0.2.10").status_code == 302  # the owner's office PC, yesterday
    owner.post("/staf/keluar")

    strangers_fail(limited)

    # The same browser (its known-device cookie), even from another address: straight in.
    assert post(owner, "198.51.100.7").status_code == 302
    # The same office address from a fresh browser: straight in.
    assert post(limited.test_client(), "192.0.2.10").status_code == 302
    # A new phone on a new address: a captcha first, then in. Never a 429, never a lock.
    phone = limited.test_client()
    first = post(phone, "203.0.113.50")
    assert first.status_code == 200 and CAPTCHA_NOTICE in first.text
    assert post(phone, "203.0.113.50", **solve(limited, first.text)).status_code == 302


def test_guessing_from_many_addresses_meets_a_captcha_before_any_password_is_checked(limited):
    strangers_fail(limited, count=5)
    with limited.app_context():
        checked = db.session.scalar(select(db.func.count()).where(AuditEntry.action == "masuk_gagal"))
    # The sixth stranger even has the right password: without the captcha it is not looked at.
    guesser = limited.test_client()
    refused = post(guesser, "10.77.0.1")
    assert refused.status_code == 200 and CAPTCHA_NOTICE in refused.text
    wrong_answer = post(guesser, "10.77.0.1", **{**solve(limited, refused.text), "captcha_jawaban": "00000"})
    assert wrong_answer.status_code == 200 and CAPTCHA_NOTICE in wrong_answer.text
    with limited.app_context():
        assert db.session.scalar(select(db.func.count()).where(AuditEntry.action == "masuk_gagal")) == checked
        assert db.session.scalar(select(db.func.count()).where(AuditEntry.action == "masuk")) == 0


def test_an_unknown_username_meets_the_same_captcha(limited):
    """Whether the captcha appears tells an attacker nothing about which usernames exist."""
    strangers_fail(limited, "tidak.ada", count=5)
    assert CAPTCHA_NOTICE in post(limited.test_client(), "10.78.0.1", "tidak.ada").text
    assert CAPTCHA_NOTICE not in post(limited.test_client(), "10.78.0.2", "op.lain", WRONG).text


def test_one_address_guessing_is_rate_limited(limited):
    client = limited.test_client()
    statuses = [post(client, "10.79.0.1", f"tebak.{n}", WRONG).status_code for n in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429
