"""Files under instance/ are private: the folder 0700, the database, secrets and extracts 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from portal import create_app
from portal.extensions import db
from portal.services import demo
from tests.conftest import DESA_A


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The most careless umask a service manager could hand the process: nothing masked."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_the_default_instance_folder_database_and_secrets_are_private(tmp_path, monkeypatch, open_umask):
    instance = tmp_path / "instance"
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(instance))
    app = create_app({"SQLALCHEMY_DATABASE_URI": None, "SECRET_KEY": None, "NIK_ENCRYPTION_KEY": None})
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
        files = sorted(p.name for p in instance.iterdir())
        assert {"portal.db", "secret_key", "nik_encryption_key"} <= set(files)
        assert mode(instance) == 0o700
        assert {name: mode(instance / name) for name in files} == {name: 0o600 for name in files}  # WAL too
        db.engine.dispose()


def test_an_existing_world_readable_database_is_tightened(tmp_path, open_umask):
    database = tmp_path / "lama.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "k" * 40,
                      "NIK_ENCRYPTION_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
    with app.app_context():
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert mode(database) == 0o600
        db.engine.dispose()


def test_the_demo_extract_is_private_and_removed_after_import(app, runner, session, tmp_path, open_umask):
    extract = tmp_path / "extract.csv"
    demo.write_extract(session, extract, [DESA_A], people_per_desa=5, seed=1)
    assert mode(extract) == 0o600

    result = runner.invoke(args=["demo", "seed", "--desa", DESA_A, "--people", "20"])
    assert result.exit_code == 0, result.output
    folder = Path(app.instance_path) / "demo"
    assert mode(Path(app.instance_path)) == mode(folder) == 0o700
    assert list(folder.iterdir()) == []  # the NIKs now live only in the database, encrypted
