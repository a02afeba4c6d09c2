"""Shared column types: moments come back timezone-aware whatever the database."""

import datetime as dt

from portal.models import ImportBatch


def test_a_stored_moment_reads_back_in_utc(session):
    moment = dt.datetime(2026, 11, 25, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=7)))  # WIB
    batch = ImportBatch(file_name="a.csv", sha256="", period="2025-Q4", rows_read=0, rows_accepted=0,
                        rows_rejected=0, rejections={}, desa_count=0, imported_by="t", imported_at=moment)
    session.add(batch)
    session.commit()
    session.expire_all()

    stored = session.get(ImportBatch, batch.id).imported_at
    assert stored == moment and stored.utcoffset() == dt.timedelta(0)
