"""Configuration: production refuses to start unsafe; development secrets are made once."""

import os

import pytest

from config import ConfigError
from portal import create_app

PRODUCTION = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": "x" * 32,
    "NIK_ENCRYPTION_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1/test",
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


def test_workers_starting_at_once_agree_on_a_complete_secret(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from portal.secrets import _read_or_create

    path = tmp_path / "instance" / "nik_encryption_key"
    with ThreadPoolExecutor(8) as pool:
        values = set(pool.map(lambda _: _read_or_create(path, os.urandom(32)), range(32)))
    assert len(values) == 1 and len(values.pop()) == 44  # base64 of 32 bytes, never empty
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
