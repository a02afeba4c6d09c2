"""Fixtures: a fresh app and database per test, on SQLite or on TEST_DATABASE_URL (PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from config import TestConfig
from portal import create_app
from portal.extensions import db
from portal.services.regions import RegionRecord, load_regions, official_regions

#: Kecamatan whose regions the tests load: Cileunyi (Kab. Bandung), Cibinong (Kab. Bogor),
#: Alak (Kota Kupang). Loading all 91,599 regions is for the one test that counts them.
TEST_KECAMATAN = ("32.04.05", "32.01.01", "53.71.01")
DESA_A = "32.04.05.2001"  # Cileunyi Kulon
DESA_B = "32.04.05.2002"  # Cileunyi Wetan
DESA_C = "53.71.01.1001"  # Namosain, Kota Kupang
TODAY = dt.date(2026, 11, 25)

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
#: A Redis database the suite may empty before each test (TestConfig reads it as REDIS_URL).
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


def postgres_available(url: str) -> bool:
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def test_regions() -> list[RegionRecord]:
    keep = {code[:2] for code in TEST_KECAMATAN} | {code[:5] for code in TEST_KECAMATAN} | set(TEST_KECAMATAN)
    return [r for r in official_regions() if r.code in keep or r.code[:8] in TEST_KECAMATAN]


@pytest.fixture(scope="session")
def database_server() -> str:
    """TEST_DATABASE_URL when it answers; skips where it is absent, but never in CI (CI=true)."""
    if POSTGRES_URL and not postgres_available(POSTGRES_URL):
        _unavailable("TEST_DATABASE_URL")
    return POSTGRES_URL


def _unavailable(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is set but does not answer")
    pytest.skip(f"{what} does not answer on this machine")


@pytest.fixture(autouse=True)
def redis_server() -> Iterator[str]:
    """TEST_REDIS_URL emptied before each test, so counters and spent ids never leak between tests."""
    if not REDIS_URL:
        yield ""
        return
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError:
        _unavailable("TEST_REDIS_URL")
    yield REDIS_URL
    client.close()


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: writes beyond it fail with the kernel's own ENOSPC. Mounting needs root
    (CAP_SYS_ADMIN); without it the test skips."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(folder)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def _database_url(server: str, tmp_path: Path) -> str:
    return server or f"sqlite:///{tmp_path / 'portal.db'}"


@pytest.fixture
def app(tmp_path: Path, test_regions: list[RegionRecord], database_server: str) -> Iterator[Flask]:
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = _database_url(database_server, tmp_path)

    app = create_app(Config)
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        db.drop_all()
        db.create_all()
        load_regions(db.session, test_regions)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    close_redis(app)


def close_redis(app: Flask) -> None:
    """Close the app's Redis client (its own, or one a test put there): no socket outlives its test."""
    client = app.extensions.get("redis")
    if client is not None:
        client.close()


@contextmanager
def limited_app(app: Flask, **settings) -> Iterator[Flask]:
    """A second app on the same database with rate limits on (as in production) and `settings`."""
    config = type("Limited", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                                             "RATELIMIT_ENABLED": True, **settings})
    limited = create_app(config)
    yield limited
    with limited.app_context():
        db.engine.dispose()
    close_redis(limited)


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session of its own, with no app context held open: requests made during the test get
    their own context and session, as in production (a held context would be shared, `g` too)."""
    with app.app_context():
        engine = db.engine
    own = Session(engine)
    yield own
    own.close()


@pytest.fixture
def vault(app: Flask):
    return app.extensions["pii_vault"]


# -- registry extract factories ---------------------------------------------------------------

COLUMNS = ["nik", "no_kk", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "rt", "rw", "desil",
           "pkh", "bpnt", "pbi_jk", "blt"]


def make_nik(kecamatan: str, birth: dt.date, sex: str, serial: int) -> str:
    day = birth.day + (40 if sex == "P" else 0)
    return f"{kecamatan.replace('.', '')}{day:02d}{birth:%m%y}{serial:04d}"


def make_row(serial: int = 1, *, desa: str = DESA_A, name: str = "Siti Aminah", sex: str = "P",
             birth: dt.date = dt.date(1985, 3, 14), **overrides: str) -> dict[str, str]:
    """One valid extract row; keyword arguments replace columns."""
    kecamatan = desa.rsplit(".", 1)[0]
    row = {
        "nik": make_nik(kecamatan, birth, sex, serial),
        "no_kk": f"{kecamatan.replace('.', '')}010120{serial:04d}",
        "nama": name,
        "tanggal_lahir": birth.isoformat(),
        "jenis_kelamin": sex,
        "kode_desa": desa,
        "rt": "3",
        "rw": "2",
        "desil": "2",
        "pkh": "YA",
        "bpnt": "TIDAK",
        "pbi_jk": "1",
        "blt": "",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], *, columns: list[str] | None = None,
              delimiter: str = ",", encoding: str = "utf-8") -> Path:
    columns = columns or COLUMNS
    with path.open("w", newline="", encoding=encoding) as f:
        writer = csv.DictWriter(f, fieldnames=columns, delimiter=delimiter, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


# -- staff and complaint factories ------------------------------------------------------------

STRONG_PASSWORD = "kuda-laut-merah-berenang-7"


def fixed_vault():
    from portal.services.pii import PiiVault

    return PiiVault(TestConfig.NIK_ENCRYPTION_KEY)


def make_staff(session, username: str, role: str, region: str | None, *, nik_hash: bytes | None = None,
               two_factor: bool | None = None):
    """An account; kabupaten and admin ones (or `two_factor=True`) with a second factor enrolled."""
    import pyotp

    from portal.models import StaffRole
    from portal.services import two_factor as second_factor
    from portal.services.staff import create_staff

    user = create_staff(session, username, StaffRole(role), region, STRONG_PASSWORD, nik_hash=nik_hash)
    if two_factor or (two_factor is None and second_factor.is_required(user)):
        secret = second_factor.enrolment_secret(session, fixed_vault(), user)
        second_factor.confirm_enrolment(session, fixed_vault(), user, pyotp.TOTP(secret).now())
    session.commit()  # services flush; the caller's unit of work commits
    return user


def current_code(app, username: str) -> str:
    """The code the user's authenticator shows now, made usable once more.

    A test logs in the same account several times within one 30-second step, which the portal
    rightly refuses as a replay; forgetting the last used step stands for the time between
    two real logins. Replays are tested with this off (tests/routes/test_two_factor.py).
    """
    import pyotp
    from sqlalchemy import update

    from portal.models import StaffUser
    from portal.services import two_factor as second_factor
    from portal.services.staff import get_staff

    with app.app_context():
        user = get_staff(db.session, username)
        secret = second_factor.secret_of(app.extensions["pii_vault"], user)
        db.session.execute(update(StaffUser).where(StaffUser.id == user.id).values(totp_last_step=None))
        db.session.commit()
    return pyotp.TOTP(secret).now()


def make_complaint(session, vault, *, desa: str = DESA_A, kind: str = "sanggah", subject: str = "Budi Santoso",
                   complainant_nik: str = "3204054103850001", key: str | None = None) -> str:
    import secrets

    from portal.models import ComplaintKind
    from portal.services.complaints import ComplaintDraft, file_complaint

    draft = ComplaintDraft(
        kind=ComplaintKind(kind), desa_code=desa, complainant_name="Ani Lestari", complainant_nik=complainant_nik,
        complainant_phone=None, subject_name=subject, subject_nik=None, subject_rt="003", subject_rw="002",
        correction_field=None, correction_value=None,
        description="Rumah bertingkat dua dan punya mobil, tetapi masih menerima PKH.",
    )
    code = file_complaint(session, vault, draft, [], idempotency_key=key or secrets.token_hex(8),
                          upload_dir=Path("/nonexistent"), sanggah_limit=100).code
    session.commit()  # services flush; the caller's unit of work commits
    return code


def login(client, username: str, password: str = STRONG_PASSWORD):
    """Log in through the form; an account with a second factor also types its current code."""
    response = client.post("/staf/masuk", data={"username": username, "password": password})
    if response.status_code == 302 and response.headers["Location"].endswith("/staf/masuk/kode"):
        response = client.post("/staf/masuk/kode", data={"kode": current_code(client.application, username)})
    return response
