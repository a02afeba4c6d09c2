"""The Alembic migrations produce exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from portal.extensions import db


def _reset(connection_owner):
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_upgrade_gives_the_models_schema_and_downgrade_removes_it(app):
    with app.app_context():
        _reset(app)
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        assert differences == []

        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        _reset(app)


PERSON = ("INSERT INTO registry_person (id, batch_id, desa_code, nik_encrypted, nik_hash, kk_encrypted, kk_hash, "
          "name, name_key, phonetic_key, birth_date, sex, rt, rw, desil, source_line) "
          "VALUES (:id, 1, '32.04.01.2001', :blob, :blob, :blob, :blob, 'Siti', 'SITI', 'SITI', "
          "'1985-03-14', 'P', '001', '001', 2, :id)")


def test_0005_moves_programme_entries_onto_the_person_and_back(app):
    with app.app_context():
        _reset(app)
        try:
            upgrade(revision="0004")
            with db.engine.begin() as connection:
                connection.execute(text("INSERT INTO region (code, name, level, kind) "
                                        "VALUES ('32.04.01.2001', 'Desa', 4, 'desa')"))
                connection.execute(text(
                    "INSERT INTO import_batch (id, file_name, sha256, period, rows_read, rows_accepted, "
                    "rows_rejected, rejections, desa_count, nik_elsewhere, imported_by, imported_at) "
                    "VALUES (1, 'a.csv', '', '', 2, 2, 0, '{}', 1, 0, 't', CURRENT_TIMESTAMP)"))
                for person_id in (1, 2):
                    connection.execute(text(PERSON), {"id": person_id, "blob": b"\x00"})
                connection.execute(text("INSERT INTO programme_entry (person_id, programme, receives, period) "
                                        "VALUES (1, 'pkh', true, '2025-Q4'), (1, 'bpnt', false, '2025-Q4')"))

            upgrade()
            with db.engine.connect() as connection:
                people = connection.execute(text(
                    "SELECT id, period, pkh, bpnt, pbi_jk, blt FROM registry_person ORDER BY id")).all()
            assert [tuple(p) for p in people] == [(1, "2025-Q4", True, False, None, None),
                                                  (2, "", None, None, None, None)]

            downgrade(revision="0004")
            with db.engine.connect() as connection:
                entries = connection.execute(text(
                    "SELECT person_id, programme, receives, period FROM programme_entry "
                    "ORDER BY person_id, programme")).all()
            assert [tuple(e) for e in entries] == [(1, "bpnt", False, "2025-Q4"), (1, "pkh", True, "2025-Q4")]
        finally:
            downgrade(revision="base")
            _reset(app)
