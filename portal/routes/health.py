"""Health checks for the load balancer: is the process up, can it serve (database, Redis)?"""

from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db, limiter

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def alive():
    """The process answers; touches nothing, so it is also the floor the benchmarks compare against."""
    return "ok\n", 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}


def _database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False
    finally:
        db.session.rollback()


def _redis_answers() -> bool:
    client = current_app.extensions["redis"]
    try:
        return client is None or bool(client.ping())
    except redis.RedisError:
        return False


@bp.get("/readyz")
@limiter.exempt
def ready():
    """200 when the database and Redis (if configured) answer within their short timeouts; 503 naming the part."""
    checks = {"database": _database_answers(), "redis": _redis_answers()}
    failed = [name for name, ok in checks.items() if not ok]
    body = {"status": "ok" if not failed else "unavailable", "failed": failed}
    return jsonify(body), 503 if failed else 200, {"Cache-Control": "no-store"}
