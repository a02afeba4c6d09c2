"""Error pages per status, in Bahasa Indonesia, without stack traces."""

from __future__ import annotations

from flask import Flask, current_app, render_template
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

PAGES = (400, 403, 404, 405, 413, 429, 500, 503)


# Served when even the error template fails (a broken template, a failing context processor).
_LAST_RESORT = (
    '<!doctype html><html lang="id"><meta charset="utf-8"><title>Gangguan</title>'
    "<p>Maaf, terjadi kesalahan. Silakan coba lagi nanti.</p></html>"
)


def _render(status: int):
    template = f"errors/{status}.html" if status in PAGES else "errors/generic.html"
    try:
        return render_template(template, status=status), status
    except Exception:
        current_app.logger.exception("error page failed to render")
        return _LAST_RESORT, status


def register(app: Flask) -> None:
    """Attach the error pages to the app."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _render(error.code or 500)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_unavailable(error: Exception):
        # The database is down or overloaded: say so plainly, log the cause for operators.
        app.logger.error("database unavailable: %s", type(error).__name__)
        return _render(ServiceUnavailable.code)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error")
        return _render(InternalServerError.code)
