"""Configuration: production refuses to start unsafe; development secrets are made once."""

import base64
import os
import re
import secrets
import subprocess

import pytest

from config import PROJECT_ROOT, ConfigError, TestConfig, check_config
from portal import create_app
from portal.secrets import secret_problem


def random_nik_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


# Keys are made when the tests run: any key written in the repository is refused by design.
PRODUCTION = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(32),
    "NIK_ENCRYPTION_KEY": random_nik_key(),
    "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1/test",
    "PUBLIC_BASE_URL": "https://cekbansos.example.go.id",
}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "NIK_ENCRYPTION_KEY", "SQLALCHEMY_DATABASE_URI"])
def test_production_refuses_to_start_without_explicit_settings(missing):
    with pytest.raises(ConfigError, match="production"):
        create_app({**PRODUCTION, missing: None})


def test_production_starts_with_everything_set():
    app = create_app(PRODUCTION)
    assert app.config["PORTAL_ENV"] == "production"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_development_secrets_are_generated_once(tmp_path, monkeypatch):
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(tmp_path / "instance"))
    first = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    second = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["NIK_ENCRYPTION_KEY"] == second.config["NIK_ENCRYPTION_KEY"]
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_refuses_a_fixed_captcha_answer():
    with pytest.raises(ConfigError, match="CAPTCHA_FIXED_ANSWER"):
        create_app({**PRODUCTION, "CAPTCHA_FIXED_ANSWER": "12345"})


def test_production_refuses_a_public_address_without_https():
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app({**PRODUCTION, "PUBLIC_BASE_URL": "http://cekbansos.example.go.id"})
    assert create_app({**PRODUCTION, "PUBLIC_BASE_URL": "https://cekbansos.example.go.id"})


def test_workers_starting_at_once_agree_on_a_complete_secret(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from portal.secrets import _read_or_create

    path = tmp_path / "instance" / "nik_encryption_key"
    with ThreadPoolExecutor(8) as pool:
        values = set(pool.map(lambda _: _read_or_create(path, os.urandom(32)), range(32)))
    assert len(values) == 1 and len(values.pop()) == 44  # base64 of 32 bytes, never empty
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


WEAK_SECRET_KEYS = {
    "changeme": "changeme",
    "one letter": "a",
    "the test configuration's": TestConfig.SECRET_KEY,
    "long but one character": "x" * 64,
    "zero bytes, base64": "A" * 43,
    "zero bytes, hex": "00" * 32,
    "a counting pattern": "0123456789abcdef" * 4,
    "16 random bytes": secrets.token_urlsafe(16),
    "a sentence": "this is my very secret production key for the portal",
    "the NIK key": PRODUCTION["NIK_ENCRYPTION_KEY"],
    "the NIK key's bytes in hex": base64.b64decode(PRODUCTION["NIK_ENCRYPTION_KEY"]).hex(),
}


@pytest.mark.parametrize("value", WEAK_SECRET_KEYS.values(), ids=WEAK_SECRET_KEYS.keys())
def test_production_refuses_a_weak_or_reused_secret_key(value):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({**PRODUCTION, "SECRET_KEY": value})


WEAK_NIK_KEYS = {
    "the test configuration's": TestConfig.NIK_ENCRYPTION_KEY,
    "31 bytes": base64.b64encode(os.urandom(31)).decode(),
    "48 bytes": base64.b64encode(os.urandom(48)).decode(),
    "hex": os.urandom(32).hex(),
    "a repeated byte": base64.b64encode(b"k" * 32).decode(),
    "the secret key": PRODUCTION["SECRET_KEY"],
}


@pytest.mark.parametrize("value", WEAK_NIK_KEYS.values(), ids=WEAK_NIK_KEYS.keys())
def test_production_refuses_a_weak_nik_encryption_key(value):
    with pytest.raises(ConfigError, match="NIK_ENCRYPTION_KEY"):
        create_app({**PRODUCTION, "NIK_ENCRYPTION_KEY": value})


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(32), lambda: secrets.token_hex(32),
                                  random_nik_key], ids=["token_urlsafe", "hex", "base64"])
def test_production_accepts_freshly_generated_secret_keys(make):
    for _ in range(20):
        check_config({**PRODUCTION, "SECRET_KEY": make()})


def test_a_strong_key_written_in_a_project_file_is_refused(tmp_path):
    key = secrets.token_urlsafe(32)
    (tmp_path / "docs").mkdir()
    assert secret_problem("SECRET_KEY", key, root=tmp_path) is None
    (tmp_path / "docs" / "contoh.md").write_text(f"SECRET_KEY={key}\n")
    assert "docs/contoh.md" in secret_problem("SECRET_KEY", key, root=tmp_path)


def _repository_strings() -> set[str]:
    """Every word and every quoted string of every file the repository tracks."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True,
                           text=True).stdout.split("\0")
    found: set[str] = set()
    for name in filter(None, names):
        try:
            text = (PROJECT_ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary (voice recordings) or removed in this checkout
        found.update(re.findall(r"[A-Za-z0-9+/=_-]{6,}", text))
        found.update(m.group(2) for m in re.finditer(r"([\"'])([^\"'\n]{1,200})\1", text))
    return found


def test_no_value_found_in_the_repository_is_accepted_as_a_production_key():
    """An attacker reads the repository first: nothing in it may work as a key.

    `check_config` refuses exactly what `secret_problem` finds a problem with; the other key of
    each call is checked once, not once per candidate.
    """
    candidates = _repository_strings()
    assert len(candidates) > 1000  # the scan did read the repository
    accepted = [(value, exact) for value in candidates for exact in (False, True)
                if secret_problem("KEY", value, root=PROJECT_ROOT, exact_bytes=exact) is None]
    assert accepted == []
