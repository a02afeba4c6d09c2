"""One unit of work: services change and flush; one place commits, then runs what follows.

Services never call `session.commit()` or `session.rollback()`. They add rows and flush, and
register here what must happen only once the change is durable (`after_commit`: wake the
message workers) or only if it is not (`on_rollback`: remove the photos a filing wrote). The
end of a web request (`portal.routes.unit_of_work`) and each CLI command call `commit` or,
on any exception, `rollback`; nothing else does.

What is registered lives in `session.info`, so it belongs to that session's unit and is
cleared by its commit or rollback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_KEY = "portal.unit_of_work"

#: Announced by `outbox.queue_message`: the commit place wakes a delivery worker after the commit.
OUTBOX_QUEUED = "outbox_queued"


@dataclass(frozen=True, slots=True)
class RollbackCause:
    """Why a unit of work ended without a commit."""

    error: BaseException | None
    #: The COMMIT itself failed: with a connection lost during it, the database may have committed.
    during_commit: bool = False


@dataclass(slots=True)
class _Pending:
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    on_rollback: list[Callable[[RollbackCause], None]] = field(default_factory=list)
    announced: set[str] = field(default_factory=set)


def _pending(session: Session) -> _Pending:
    return session.info.setdefault(_KEY, _Pending())


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once this session's unit of work has committed (never if it rolls back)."""
    _pending(session).after_commit.append(callback)


def on_rollback(session: Session, callback: Callable[[RollbackCause], None]) -> None:
    """Run `callback` if this session's unit of work ends without a commit."""
    _pending(session).on_rollback.append(callback)


def announce(session: Session, event: str) -> None:
    """Say that something happened in this unit whose follow-up only the commit place knows how
    to do (e.g. `OUTBOX_QUEUED`: enqueue a delivery job, which needs the app's Redis)."""
    _pending(session).announced.add(event)


def commit(session: Session, *, followers: Mapping[str, Callable[[], None]] | None = None) -> None:
    """Commit the unit of work, then run its after-commit callbacks and, for each announced
    event, its follower. A failing COMMIT rolls back (running the rollback callbacks) and raises.

    A callback that fails after the commit is logged, not raised: the change is durable, and
    the caller must not report it as failed."""
    try:
        session.commit()
    except BaseException as error:
        rollback(session, RollbackCause(error, during_commit=True))
        raise
    pending: _Pending = session.info.pop(_KEY, None) or _Pending()
    callbacks = list(pending.after_commit)
    callbacks += [followers[event] for event in sorted(pending.announced) if followers and event in followers]
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("after-commit step failed")


def rollback(session: Session, cause: RollbackCause | None = None) -> None:
    """Roll the unit of work back and run its rollback callbacks (nothing after-commit runs)."""
    pending: _Pending = session.info.pop(_KEY, None) or _Pending()
    session.rollback()
    for callback in pending.on_rollback:
        try:
            callback(cause or RollbackCause(None))
        except Exception:
            log.exception("rollback step failed")
