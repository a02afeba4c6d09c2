"""The web request's (and CLI command's) unit of work: every view commits once, at its end, or rolls back.

`install(app)` wraps every view function: when the view returns, the request's session is
committed (`portal.services.unit_of_work.commit`) before the response leaves, and what
must follow a commit runs (a delivery job for the messages queued); when it raises, including
`abort(…)`, everything is rolled back and the error page is shown. A view that must answer
the outcome of the commit itself (filing a complaint: a 503 form when the database goes away
during COMMIT) calls `commit()` inside its own error handling; the end of the view then has
nothing left to commit. A view that shows a refusal and reads again afterwards (a stale move)
calls `rollback()` first. The CLI runs each command the same way (`portal.cli`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

from portal.extensions import db
from portal.services import unit_of_work

# Endpoints that never touch the database: no commit to run.
_OUTSIDE = {"static"}


def _followers(app: Flask) -> dict[str, Callable[[], None]]:
    from portal.jobs import enqueue_delivery

    return {unit_of_work.OUTBOX_QUEUED: lambda: enqueue_delivery(app)}


def commit() -> None:
    """Commit the request's unit of work now and run what follows it; raises if COMMIT fails."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    unit_of_work.commit(db.session, followers=_followers(app))


def rollback(error: BaseException | None = None) -> None:
    """Roll back what the request (or command) did so far: on an exception, or for a refused
    change after which the view goes on reading."""
    unit_of_work.rollback(db.session, unit_of_work.RollbackCause(error) if error else None)


def _in_unit(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            response = view(*args, **kwargs)
            commit()
        except BaseException as error:
            rollback(error)
            raise
        return response

    return run


def install(app: Flask) -> None:
    """Wrap every registered view in the unit of work (call after the blueprints are registered)."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint not in _OUTSIDE:
            app.view_functions[endpoint] = _in_unit(view)
