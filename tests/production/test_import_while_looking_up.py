"""A registry import never stops the public pages (embedded SQLite default).

An import holds SQLite's one writer lock until it commits. Lookups only read (WAL lets them see the
old registry meanwhile) and the one write of a lookup, spending its captcha, goes to a file of its
own, so residents neither wait for the lock nor get a 503."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest
from sqlalchemy import make_url
from sqlalchemy.orm import Session

from config import TestConfig
from portal import create_app
from portal.extensions import db
from portal.services.registry_import import import_registry
from tests.conftest import TODAY, make_row, write_csv
from tests.routes.test_public import CHAIN, registry, solve  # noqa: F401 - fixture


@pytest.fixture
def impatient_app(app):
    """The test database, with writers giving up after 0.2 s instead of 5 s."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the writer lock is the embedded SQLite default's")

    class Impatient(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        SQLITE_BUSY_TIMEOUT_MS = 200

    impatient = create_app(Impatient)
    impatient.instance_path = app.instance_path
    yield impatient
    with impatient.app_context():
        db.engine.dispose()


def _lookup(app, client, name: str = "Siti Aminah"):
    page = client.get("/").text
    return client.post("/cek", data={**CHAIN, "nama": name, **solve(app, page)})


def test_lookups_pass_while_an_import_holds_the_writer_lock(impatient_app, registry):  # noqa: F811
    database = make_url(impatient_app.config["SQLALCHEMY_DATABASE_URI"]).database
    importer = sqlite3.connect(database, isolation_level=None)
    importer.execute("BEGIN IMMEDIATE")  # what an import holds from its first write to its commit
    importer.execute("DELETE FROM registry_person")
    try:
        client = impatient_app.test_client()
        pages = [_lookup(impatient_app, client) for _ in range(10)]
    finally:
        importer.execute("ROLLBACK")
        importer.close()
    assert [page.status_code for page in pages] == [200] * 10
    # Readers keep seeing the registry as it was before the import.
    assert all("Data ditemukan" in page.text for page in pages)


def _letters(number: int) -> str:
    """A distinct word of letters for each number (a name may not hold digits)."""
    return "".join(chr(65 + number // 26**k % 26) for k in range(3))


def test_a_real_import_running_beside_a_lookup_loop_gives_no_5xx(impatient_app, registry, tmp_path):  # noqa: F811
    births = [dt.date(1960 + n, 1 + n % 12, 1 + n % 28) for n in range(2)]
    rows = [make_row(serial, name=f"Warga Baru {_letters(serial)}", birth=birth)
            for birth in births for serial in range(1, 4000)]
    extract = write_csv(tmp_path / "new.csv", rows)
    with impatient_app.app_context():
        engine = db.engine

    def run_import() -> None:
        with Session(engine) as session:
            import_registry(session, impatient_app.extensions["pii_vault"], extract, imported_by="t",
                            period="2026-Q1", today=TODAY)
            session.commit()  # the import flushes; its command commits

    worker = threading.Thread(target=run_import)
    client = impatient_app.test_client()
    statuses: list[int] = []
    found_old_during_import = 0
    worker.start()
    while worker.is_alive():
        response = _lookup(impatient_app, client)
        statuses.append(response.status_code)
        found_old_during_import += "Data ditemukan" in response.text and worker.is_alive()
    worker.join()
    assert statuses and all(status == 200 for status in statuses), statuses
    assert found_old_during_import > 0
    # Once committed, the new registry replaced the old one for that desa.
    assert "Data ditemukan" not in _lookup(impatient_app, client).text
    assert "Data ditemukan" in _lookup(impatient_app, client, f"Warga Baru {_letters(1234)}").text
