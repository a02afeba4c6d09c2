"""Error pages per status, in Bahasa Indonesia, without stack traces."""

from __future__ import annotations

from flask import Flask, render_template
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

PAGES = (400, 403, 404, 405, 413, 429, 500, 503)


def _render(status: int):
    template = f"errors/{status}.html" if status in PAGES else "errors/generic.html"
    return render_template(template, status=status), status


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
