"""Configuration: production refuses to start unsafe; development secrets are made once."""

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
