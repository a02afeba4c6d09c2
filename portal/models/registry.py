"""The DTSEN registry extract: people, their programmes, and the import batches they came in."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, str_enum, utcnow


class Sex(enum.StrEnum):
    LAKI_LAKI = "L"
    PEREMPUAN = "P"


class Programme(enum.StrEnum):
    """Assistance programmes carried in the extract, by their CSV column name."""

    PKH = "pkh"
    BPNT = "bpnt"
    PBI_JK = "pbi_jk"
    BLT = "blt"


class ImportBatch(db.Model):
    """One registry extract imported from CSV, with its data-quality counts."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(40))
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_accepted: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)
    #: Rejected rows per reason code, e.g. {"nik_format": 3}.
    rejections: Mapped[dict[str, int]] = mapped_column(JSON)
    desa_count: Mapped[int] = mapped_column(Integer)
    #: Accepted people whose NIK is also registered in another desa ("NIK ganda").
    nik_elsewhere: Mapped[int] = mapped_column(Integer, default=0)
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RegistryPerson(db.Model):
    """A person in the extract. NIK and KK are never stored in clear (see services.pii)."""

    __tablename__ = "registry_person"
    __table_args__ = (
        CheckConstraint("desil IS NULL OR desil BETWEEN 1 AND 10", name="desil_range"),
        # A lookup is one probe on the phonetic key, which every exact match shares, within one desa.
        # It also serves everything an import does per desa. Each further index costs every
        # imported row a random B-tree insert, so there is none on name_key or batch_id.
        Index("ix_registry_person_desa_phonetic", "desa_code", "phonetic_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"))
    desa_code: Mapped[str] = mapped_column(String(13), ForeignKey("region.code"))
    nik_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    nik_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    kk_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    #: Not indexed yet: no query matches on it, and every index slows a million-row import.
    kk_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    phonetic_key: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[dt.date]
    sex: Mapped[Sex] = mapped_column(str_enum(Sex, "sex"))
    rt: Mapped[str] = mapped_column(String(3))
    rw: Mapped[str] = mapped_column(String(3))
    desil: Mapped[int | None] = mapped_column(SmallInteger)
    #: Line of the source CSV, for data-quality reports.
    source_line: Mapped[int] = mapped_column(Integer)

    # What the extract says of each programme, one column each as in the CSV: True (YA),
    # False (TIDAK), or None where the cell was empty. A row of its own per programme cost an
    # import more than the person row itself. Named by `Programme` values (see `receives`).
    #: The period the programme columns describe, e.g. "2025-Q4".
    period: Mapped[str] = mapped_column(String(40))
    pkh: Mapped[bool | None] = mapped_column(Boolean)
    bpnt: Mapped[bool | None] = mapped_column(Boolean)
    pbi_jk: Mapped[bool | None] = mapped_column(Boolean)
    blt: Mapped[bool | None] = mapped_column(Boolean)

    batch: Mapped[ImportBatch] = relationship()

    def receives(self, programme: Programme) -> bool | None:
        """Whether the extract lists this person for `programme`; None when it says nothing."""
        value: bool | None = getattr(self, programme.value)
        return value
