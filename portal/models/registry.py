"""The DTSEN registry extract: people, their programmes, and the import batches they came in."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Sex(enum.StrEnum):
    LAKI_LAKI = "L"
    PEREMPUAN = "P"


class Programme(enum.StrEnum):
    """Assistance programmes carried in the extract, by their CSV column name."""

    PKH = "pkh"
    BPNT = "bpnt"
    PBI_JK = "pbi_jk"
    BLT = "blt"


def str_enum(enum_cls: type[enum.StrEnum], name: str, length: int = 10) -> Enum:
    """Column type storing an enum's value ("L", "pkh"), checked by a constraint, not a native type."""
    return Enum(
        enum_cls, name=name, native_enum=False, create_constraint=True,
        values_callable=lambda members: [m.value for m in members], length=length,
    )


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
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RegistryPerson(db.Model):
    """A person in the extract. NIK and KK are never stored in clear (see services.pii)."""

    __tablename__ = "registry_person"
    __table_args__ = (
        CheckConstraint("desil IS NULL OR desil BETWEEN 1 AND 10", name="desil_range"),
        # A lookup is one probe: whole normalised name, or its phonetic key, within one desa.
        Index("ix_registry_person_desa_name", "desa_code", "name_key"),
        Index("ix_registry_person_desa_phonetic", "desa_code", "phonetic_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), index=True)
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

    programmes: Mapped[list[ProgrammeEntry]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ProgrammeEntry.programme",
    )
    batch: Mapped[ImportBatch] = relationship()


class ProgrammeEntry(db.Model):
    """Whether a person receives one programme, and for which period."""

    __tablename__ = "programme_entry"
    # Clustered on its primary key in SQLite: one B-tree per row instead of two.
    __table_args__ = {"sqlite_with_rowid": False}

    person_id: Mapped[int] = mapped_column(
        ForeignKey("registry_person.id", ondelete="CASCADE"), primary_key=True
    )
    programme: Mapped[Programme] = mapped_column(str_enum(Programme, "programme"), primary_key=True)
    receives: Mapped[bool] = mapped_column(Boolean)
    period: Mapped[str] = mapped_column(String(40))

    person: Mapped[RegistryPerson] = relationship(back_populates="programmes")
