"""Portal Cek Bansos: the application factory."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask
from flask_babel import get_locale
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, ProductionConfig, check_config
from portal.extensions import babel, csrf, db, limiter, login_manager, migrate
from portal.secrets import load_development_secrets, private_folder
from portal.security import add_security_headers
from portal.services.captcha import CaptchaKeys
from portal.services.login_throttle import LoginThrottle
from portal.services.pii import PiiVault


def create_app(config: type[Config] | Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints and CLI. No I/O beyond instance/."""
    app = Flask(__name__, instance_relative_config=False)
    if config is None:
        from config import config_for_environment

        config = config_for_environment()
    if isinstance(config, Mapping):
        # Overrides on top of the class their PORTAL_ENV names (e.g. production's cookie flags).
        app.config.from_object(ProductionConfig if config.get("PORTAL_ENV") == "production" else Config)
        app.config.update(config)
    else:
        app.config.from_object(config)

    check_config(app.config)
    load_development_secrets(app.config, app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        private_folder(app.instance_path)  # the database holds names and birth dates: 0700
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            "sqlite:///" + os.path.join(app.instance_path, "portal.db")
        )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # The driver's busy timeout: concurrent writers wait instead of failing with "locked".
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("connect_args", {})["timeout"] = app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000
    if app.config["PROXY_HOPS"] > 0:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    app.extensions["pii_vault"] = PiiVault(app.config["NIK_ENCRYPTION_KEY"])
    app.extensions["captcha_keys"] = CaptchaKeys(app.config["SECRET_KEY"], app.config["CAPTCHA_FIXED_ANSWER"])
    app.extensions["login_throttle"] = LoginThrottle(
        app.config["RATELIMIT_STORAGE_URI"], app.config["LOGIN_CAPTCHA_AFTER"], app.config["SECRET_KEY"])
    app.after_request(add_security_headers)

    db.init_app(app)
    migrate.init_app(
        app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True, compare_type=True,
    )
    csrf.init_app(app)
    babel.init_app(app)
    app.jinja_env.globals["get_locale"] = get_locale
    limiter.init_app(app)
    login_manager.init_app(app)

    from portal.routes import complaints, errors, public, staff, statistics

    app.register_blueprint(public.bp)
    app.register_blueprint(complaints.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(statistics.bp)
    errors.register(app)

    from portal import cli

    cli.register(app)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers keep reading the old registry while an import writes the new one.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        _keep_private(row[2] for row in cursor.execute("PRAGMA database_list"))
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _keep_private(database_files: Iterable[str]) -> None:
    """The SQLite file holds names and birth dates: 0600 before its WAL and shared-memory
    files are made (SQLite gives them the database file's mode), and they too if they exist."""
    for name in database_files:
        if not name:  # an in-memory database
            continue
        for path in (name, name + "-wal", name + "-shm"):
            if os.path.exists(path) and os.stat(path).st_mode & 0o077:
                os.chmod(path, 0o600)
