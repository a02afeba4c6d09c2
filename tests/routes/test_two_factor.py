"""TOTP second factor: enrolment, login with a right, wrong, replayed and recovery code, reset."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, StaffSession
from portal.services import two_factor
from portal.services.staff import get_staff
from tests.conftest import DESA_A, STRONG_PASSWORD, current_code, fixed_vault, login, make_staff

STAFF_PAGES = ["/staf/", "/staf/antrian", "/staf/antrian.csv", "/staf/audit", "/staf/akun"]


def actions(app) -> list[str]:
    with app.app_context():
        return [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def password_step(client, username: str):
    return client.post("/staf/masuk", data={"username": username, "password": STRONG_PASSWORD})


def key_of(page: str) -> str:
    """The key shown for typing into an authenticator, in groups of four."""
    return re.search(r'<code class="totp-key">([A-Z2-7 ]{39})</code>', page).group(1).replace(" ", "")


@pytest.mark.parametrize(("role", "region"), [("kabupaten", "32.04"), ("admin", None)])
def test_kabupaten_and_admin_reach_no_staff_page_before_enrolling(app, session, role, region):
    make_staff(session, "wajib", role, region, two_factor=False)
    session.close()
    client = app.test_client()
    assert password_step(client, "wajib").headers["Location"].endswith("/staf/2fa")
    for url in STAFF_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].endswith("/staf/2fa"), url

    page = client.get("/staf/2fa").text
    secret = key_of(page)
    assert 'src="/staf/2fa/qr.svg"' in page and "wajib memakai" in page
    qr = client.get("/staf/2fa/qr.svg")
    assert qr.mimetype == "image/svg+xml" and qr.headers["Cache-Control"] == "no-store"
    assert qr.data.startswith(b"<?xml") and b"<script" not in qr.data
    assert key_of(client.get("/staf/2fa").text) == secret  # a reload shows the same secret
    with app.app_context():
        stored = get_staff(db.session, "wajib").totp_secret_encrypted
        assert secret.encode() not in stored  # encrypted at rest

    wrong = client.post("/staf/2fa", data={"kode": "000000"})
    assert "Kode tidak cocok" in wrong.text
    done = client.post("/staf/2fa", data={"kode": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<code>([0-9A-Z]{5}-[0-9A-Z]{5})</code>", done.text)
    assert len(set(codes)) == 10
    assert all(client.get(url).status_code == 200 for url in STAFF_PAGES)
    assert "2fa_didaftarkan" in actions(app)


def test_desa_and_kecamatan_are_offered_a_second_factor_not_forced(app, session):
    make_staff(session, "op.desa", "desa", DESA_A)
    session.close()
    client = app.test_client()
    assert login(client, "op.desa").headers["Location"].endswith("/staf/")
    assert 'href="/staf/2fa"' in client.get("/staf/").text
    assert "Pindai kode QR" in client.get("/staf/2fa").text


def test_login_needs_a_right_code_and_a_code_works_only_once(app, session):
    make_staff(session, "dinsos", "kabupaten", "32.04")
    session.close()
    client = app.test_client()
    assert password_step(client, "dinsos").headers["Location"].endswith("/staf/masuk/kode")
    assert client.get("/staf/").status_code == 302  # the password alone opens nothing
    code = current_code(app, "dinsos")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    refused = client.post("/staf/masuk/kode", data={"kode": wrong})
    assert refused.status_code == 200 and "Kode salah" in refused.text
    assert client.post("/staf/masuk/kode", data={"kode": code}).headers["Location"].endswith("/staf/")
    assert client.get("/staf/").status_code == 200

    # Someone who saw the code (over a shoulder, in a phishing page) and has the password too.
    thief = app.test_client()
    password_step(thief, "dinsos")
    replayed = thief.post("/staf/masuk/kode", data={"kode": code})
    assert replayed.status_code == 200 and "sudah pernah dipakai" in replayed.text
    assert thief.get("/staf/").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(StaffSession)) == 1
    assert actions(app).count("2fa_gagal") == 2


def test_a_recovery_code_works_once(app, session):
    user = make_staff(session, "dinsos", "kabupaten", "32.04", two_factor=False)
    secret = two_factor.enrolment_secret(session, fixed_vault(), user)
    codes = two_factor.confirm_enrolment(session, fixed_vault(), user, pyotp.TOTP(secret).now())
    session.commit()  # services flush; the caller's unit of work commits
    session.close()
    client = app.test_client()
    password_step(client, "dinsos")
    typed = codes[0].lower().replace("-", " ")  # as read out over the phone
    used = client.post("/staf/masuk/kode", data={"kode": typed}, follow_redirects=True)
    assert "Sisa kode: 9" in used.text
    again = app.test_client()
    password_step(again, "dinsos")
    assert again.post("/staf/masuk/kode", data={"kode": codes[0]}).status_code == 200
    assert again.post("/staf/masuk/kode", data={"kode": codes[1]}).status_code == 302
    assert actions(app).count("2fa_kode_pemulihan") == 2


def test_wrong_codes_are_capped_per_account(app, session):
    make_staff(session, "dinsos", "kabupaten", "32.04")
    session.close()
    client = app.test_client()
    password_step(client, "dinsos")
    for _ in range(10):
        client.post("/staf/masuk/kode", data={"kode": "000000"})
    capped = client.post("/staf/masuk/kode", data={"kode": current_code(app, "dinsos")})
    assert capped.status_code == 200 and "Terlalu banyak kode salah" in capped.text


def test_reset_on_the_command_line_and_by_a_manager_is_audited(app, session, runner):
    make_staff(session, "admin", "admin", None)
    make_staff(session, "dinsos", "kabupaten", "32.04")
    make_staff(session, "op.desa", "desa", DESA_A, two_factor=True)
    session.close()
    dinsos = app.test_client()
    login(dinsos, "dinsos")

    result = runner.invoke(args=["staff", "reset-2fa", "dinsos"])
    assert result.exit_code == 0, result.output
    assert dinsos.get("/staf/").status_code == 302  # its sessions ended
    assert password_step(app.test_client(), "dinsos").headers["Location"].endswith("/staf/2fa")

    admin = app.test_client()
    login(admin, "admin")
    assert admin.post("/staf/akun/op.desa/reset-2fa").status_code == 303
    assert admin.post("/staf/akun/admin/reset-2fa").status_code == 404  # never oneself
    with app.app_context():
        assert get_staff(db.session, "op.desa").totp_enabled_at is None
        resets = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "2fa_direset")).all()
        assert [(e.target, e.username) for e in resets] == [("dinsos", ""), ("op.desa", "admin")]
