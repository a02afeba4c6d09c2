"""Portal Cek Bansos: the application factory."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from typing import Any

import redis
from flask import Flask
from flask_babel import get_locale
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, ProductionConfig, check_config
from portal.extensions import babel, close_read_session, csrf, db, limiter, login_manager, migrate
from portal.forms import error_summary
from portal.i18n import select_language
from portal.routes.page_cache import RenderedPages
from portal.secrets import load_development_secrets, private_folder
from portal.security import add_security_headers
from portal.services.captcha import Captcha, CaptchaKeys, RedisSpentChallenges, SpentChallenges, SqlSpentChallenges
from portal.services.local_time import format_local_time
from portal.services.login_throttle import LoginThrottle
from portal.services.pii import PiiVault
from portal.services.regions import RegionDirectory


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
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {}).update(engine_options(app.config))
    replica = app.config["DATABASE_REPLICA_URL"]
    # Its own engine, not a Flask-SQLAlchemy bind: no model lives there, nothing is created there.
    app.extensions["replica_engine"] = (
        create_engine(replica, **engine_options(app.config, replica)) if replica else None
    )
    if app.config["PROXY_HOPS"] > 0:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    app.extensions["pii_vault"] = PiiVault(app.config["NIK_ENCRYPTION_KEY"])
    _bind_redis(app)
    app.extensions["captcha"] = Captcha(
        CaptchaKeys(app.config["SECRET_KEY"], app.config["CAPTCHA_FIXED_ANSWER"]), _spent_challenges(app)
    )
    app.extensions["region_directory"] = RegionDirectory(max_age=app.config["REGION_CACHE_SECONDS"])
    app.extensions["rendered_pages"] = RenderedPages(ttl=app.config["RENDERED_PAGE_SECONDS"])
    app.extensions["login_throttle"] = LoginThrottle(
        app.config["RATELIMIT_STORAGE_URI"], app.config["LOGIN_CAPTCHA_AFTER"], app.config["SECRET_KEY"])
    app.after_request(add_security_headers)

    db.init_app(app)
    migrate.init_app(
        app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True, compare_type=True,
    )
    app.teardown_appcontext(close_read_session)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_language)
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["error_summary"] = error_summary
    app.jinja_env.filters["local_time"] = _local_time
    limiter.init_app(app)
    login_manager.init_app(app)

    from portal.routes import complaints, errors, health, kabar, language, public, staff, statistics, unit_of_work

    app.register_blueprint(health.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(complaints.bp)
    app.register_blueprint(kabar.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(statistics.bp)
    app.register_blueprint(language.bp)
    errors.register(app)
    unit_of_work.install(app)

    from portal import cli

    cli.register(app)
    return app


def _local_time(moment: dt.datetime, region_code: str | None, pattern: str = "d MMM yyyy HH:mm") -> str:
    """Jinja: `{{ event.at|local_time(desa_code) }}`, the time in its region's zone, "… 14:05 WITA"."""
    return format_local_time(moment, region_code, pattern, get_locale())


def engine_options(config: Mapping[str, Any], url: str | None = None) -> dict[str, Any]:
    """SQLAlchemy engine options for the database at `url` (default: the main one)."""
    url = url or config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        # The driver's busy timeout: concurrent writers wait instead of failing with "locked".
        return {"connect_args": {"timeout": config["SQLITE_BUSY_TIMEOUT_MS"] / 1000}}
    if url.startswith("postgresql"):
        size = config["DATABASE_POOL_SIZE"]
        return {
            "pool_size": size, "max_overflow": size, "pool_timeout": 5, "pool_pre_ping": True,
            "connect_args": {
                "connect_timeout": config["DATABASE_CONNECT_TIMEOUT_SECONDS"],
                # A host that vanishes without a word (a dropped network) leaves an open connection
                # waiting for ever: the kernel gives it up when what was sent stays unacknowledged
                # this long, so even the pre-ping of a pooled connection ends in a 503, not a hang.
                "tcp_user_timeout": config["DATABASE_CONNECT_TIMEOUT_SECONDS"] * 1000,
                "options": f"-c statement_timeout={config['DATABASE_STATEMENT_TIMEOUT_MS']}",
                "application_name": "portal-cek-bansos",
            },
        }
    return {}


def _bind_redis(app: Flask) -> None:
    """One Redis client per app (it connects lazily), and the limiter's storage on the same server."""
    url = app.config["REDIS_URL"]
    app.extensions["redis"] = None
    if not url:
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
        return
    timeout = app.config["REDIS_TIMEOUT_SECONDS"]
    app.extensions["redis"] = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    app.config.setdefault("RATELIMIT_STORAGE_URI", url)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": timeout, "socket_connect_timeout": timeout})


def _spent_challenges(app: Flask) -> SpentChallenges:
    """Redis when configured; otherwise a table: a SQLite file of its own next to an embedded
    database (so an import's writer lock never delays an attempt), or PostgreSQL's own."""
    if app.extensions["redis"] is not None:
        return RedisSpentChallenges(app.extensions["redis"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        def side_engine() -> Engine:
            os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
            path = os.path.join(app.instance_path, "spent_challenges.db")
            timeout = app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000
            return create_engine("sqlite:///" + path, connect_args={"timeout": timeout})

        return SqlSpentChallenges(side_engine, create_table=True)
    return SqlSpentChallenges(lambda: db.engine)


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
