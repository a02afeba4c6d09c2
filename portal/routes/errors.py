"""Error pages per status, in the visitor's language, without stack traces."""

from __future__ import annotations

import redis
from flask import Flask, current_app, render_template
from flask_babel import get_locale, gettext
from markupsafe import escape
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from portal.i18n import DEFAULT_LANGUAGE, N_
from portal.services.captcha import CaptchaUnavailable
from portal.services.outages import is_database_outage

PAGES = (400, 403, 404, 405, 413, 429, 500, 503)


# Served when even the error template fails (a broken template, a failing context processor).
_LAST_RESORT = '<!doctype html><html lang="{lang}"><meta charset="utf-8"><title>{title}</title><p>{text}</p></html>'
_LAST_RESORT_TITLE = N_("Gangguan")
_LAST_RESORT_TEXT = N_("Maaf, terjadi kesalahan. Silakan coba lagi nanti.")


def _last_resort() -> str:
    try:
        return _LAST_RESORT.format(lang=escape(str(get_locale())), title=escape(gettext(_LAST_RESORT_TITLE)),
                                   text=escape(gettext(_LAST_RESORT_TEXT)))
    except Exception:  # the translations themselves failed: the source language, untouched
        return _LAST_RESORT.format(lang=DEFAULT_LANGUAGE, title=_LAST_RESORT_TITLE, text=_LAST_RESORT_TEXT)


def _render(status: int):
    template = f"errors/{status}.html" if status in PAGES else "errors/generic.html"
    try:
        return render_template(template, status=status), status
    except Exception:
        current_app.logger.exception("error page failed to render")
        return _last_resort(), status


def register(app: Flask) -> None:
    """Attach the error pages to the app."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _render(error.code or 500)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(error: Exception):
        # The database is down, locked or overloaded: say so plainly. Only the type is logged,
        # since the message carries the statement's parameters (names, hashes).
        app.logger.error("database unavailable: %s", type(error).__name__)
        return _render(ServiceUnavailable.code)

    @app.errorhandler(CaptchaUnavailable)
    @app.errorhandler(redis.RedisError)
    def store_unavailable(error: Exception):
        app.logger.error("shared store unavailable: %s", type(error).__name__)
        return _render(ServiceUnavailable.code)

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        if is_database_outage(error):
            return database_unavailable(error)
        # A bug, not an outage (an integrity error, say): a 500, logged without the parameters.
        app.logger.error("database error: %s in %s", type(error).__name__, (error.statement or "")[:200])
        return _render(InternalServerError.code)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error")
        return _render(InternalServerError.code)
