"""Public lookups read from a read replica when DATABASE_REPLICA_URL is set, and write nothing there.

The replica is played by a PostgreSQL role whose transactions are read-only by default, on the
test database itself: any write on the lookup path would fail the request."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError

from config import TestConfig
from portal import create_app
from portal.extensions import db
from tests.routes.test_public import CHAIN, lookup, registry  # noqa: F401 - fixture

READER = "portal_replica_reader"


@pytest.fixture
def replica_url(app) -> str:
    main = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if main.get_backend_name() != "postgresql":
        pytest.skip("the read replica is a PostgreSQL feature")
    engine = create_engine(main)
    with engine.begin() as connection:
        if not connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READER}):
            connection.execute(text(f"CREATE ROLE {READER} LOGIN"))
        connection.execute(text(f"ALTER ROLE {READER} SET default_transaction_read_only = on"))
        connection.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}"))
    engine.dispose()
    return main.set(username=READER).render_as_string(hide_password=False)


def test_a_lookup_reads_from_the_replica_and_writes_nothing_there(app, registry, replica_url):  # noqa: F811
    class WithReplica(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        DATABASE_REPLICA_URL = replica_url

    replicated = create_app(WithReplica)
    replica = replicated.extensions["replica_engine"]
    statements: list[str] = []
    event.listen(replica, "before_cursor_execute", lambda _c, _k, statement, *_: statements.append(statement))
    client = replicated.test_client()
    response = lookup(replicated, client, "Siti Aminah")
    assert response.status_code == 200
    assert "Data ditemukan" in response.text and "Si** Am****" in response.text
    assert any("registry_person" in s for s in statements), "the lookup did not read the replica"
    assert client.get("/api/wilayah/32.04").status_code == 200
    # The stand-in really is read-only: had the lookup path written, the request would have failed.
    with replica.connect() as connection, pytest.raises(DBAPIError, match="read-only"):
        connection.execute(text("DELETE FROM spent_challenge"))
    with replicated.app_context():
        db.engine.dispose()
        replica.dispose()
