"""Telling an outage of the database (try again later) from a bug (a 500)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


def is_database_outage(error: BaseException) -> bool:
    """Whether `error` means the database cannot answer right now: unreachable, a connection cut
    mid-statement, a statement or lock timeout, an exhausted pool. A retry later can succeed,
    so a resident is told "layanan sedang gangguan", not that something broke."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return True
    # Some drivers report a dropped connection as a plain DatabaseError; SQLAlchemy marks it.
    return isinstance(error, DBAPIError) and error.connection_invalidated
