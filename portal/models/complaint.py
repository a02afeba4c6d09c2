"""Complaints (aduan) about the registry, their public timeline and their evidence photos."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, str_enum, utcnow


class ComplaintKind(enum.StrEnum):
    USUL = "usul"  # someone eligible is not registered
    SANGGAH = "sanggah"  # a registered recipient is not eligible
    PERBAIKAN = "perbaikan"  # a record is wrong


class ComplaintStatus(enum.StrEnum):
    DITERIMA = "diterima"
    DITINJAU = "ditinjau"
    DITERUSKAN = "diteruskan"
    DITOLAK = "ditolak"
    SELESAI = "selesai"
    DISEMBUNYIKAN = "disembunyikan"


#: States in which a complaint still waits for someone to act.
OPEN_STATUSES = (ComplaintStatus.DITERIMA, ComplaintStatus.DITINJAU, ComplaintStatus.DITERUSKAN)
#: States of a decided complaint: the complainant may reopen it once, and statistics count it as handled.
DECIDED_STATUSES = (ComplaintStatus.SELESAI, ComplaintStatus.DITOLAK)
_OPEN_SQL = f"status IN ({', '.join(repr(s.value) for s in OPEN_STATUSES)})"


class EscalationLevel(enum.StrEnum):
    """Who above the desa was told that a complaint waited too long (services.escalation)."""

    KECAMATAN = "kecamatan"
    KABUPATEN = "kabupaten"


class CorrectionField(enum.StrEnum):
    """What is wrong in a record, for a perbaikan."""

    NAMA = "nama"
    NIK = "nik"
    MENINGGAL = "meninggal"
    PINDAH = "pindah"
    SUSUNAN_KELUARGA = "susunan_keluarga"
    DESIL = "desil"
    LAINNYA = "lainnya"


class ContactChannel(enum.StrEnum):
    """How a complainant who opted in ("Kabari saya") wants to hear of their complaint."""

    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"


class ActorKind(enum.StrEnum):
    PELAPOR = "pelapor"  # the complainant
    STAF = "staf"
    SISTEM = "sistem"


class Complaint(db.Model):
    __tablename__ = "complaint"
    __table_args__ = (
        # One open complaint per complainant, kind and subject: a second is shown the first's code.
        Index(
            "uq_complaint_open_subject", "complainant_nik_hash", "kind", "subject_key", unique=True,
            sqlite_where=db.text(_OPEN_SQL), postgresql_where=db.text(_OPEN_SQL),
        ),
        CheckConstraint(
            "(kind = 'perbaikan') = (correction_field IS NOT NULL)", name="correction_only_for_perbaikan"
        ),
        # A contact is kept only with its channel, its keyed hash and the moment consent was given.
        CheckConstraint(
            "(contact_encrypted IS NULL) = (contact_channel IS NULL) "
            "AND (contact_encrypted IS NULL) = (contact_hash IS NULL) "
            "AND (contact_encrypted IS NULL) = (contact_consent_at IS NULL)",
            name="contact_complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Public tracking code, e.g. ADU-7K2M-9QXP.
    code: Mapped[str] = mapped_column(String(13), unique=True)
    #: Random token of the form that filed it: a retry of the same form finds this row.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[ComplaintKind] = mapped_column(str_enum(ComplaintKind, "complaint_kind"))
    status: Mapped[ComplaintStatus] = mapped_column(
        str_enum(ComplaintStatus, "complaint_status", length=16), default=ComplaintStatus.DITERIMA, index=True
    )
    desa_code: Mapped[str] = mapped_column(String(13), ForeignKey("region.code"), index=True)

    complainant_name: Mapped[str] = mapped_column(String(100))
    complainant_nik_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    complainant_nik_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    complainant_phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: "Kabari saya": where the complainant asked to hear of this complaint (opt-in, consent kept).
    contact_channel: Mapped[ContactChannel | None] = mapped_column(str_enum(ContactChannel, "contact_channel"))
    #: The phone number (+62…) or e-mail address, encrypted with the PII key.
    contact_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Keyed hash of the normalised contact: finds a complainant's complaints without decrypting.
    contact_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    contact_consent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The contact said stop (link or keyword): nothing more is sent to it about this complaint.
    contact_stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    subject_name: Mapped[str] = mapped_column(String(100))
    subject_phonetic_key: Mapped[str] = mapped_column(String(100))
    subject_nik_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    subject_nik_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    #: Keyed hash of who the complaint is about (NIK if known, else desa + name key).
    subject_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    subject_rt: Mapped[str | None] = mapped_column(String(3))
    subject_rw: Mapped[str | None] = mapped_column(String(3))

    correction_field: Mapped[CorrectionField | None] = mapped_column(
        str_enum(CorrectionField, "correction_field", length=20)
    )
    correction_value: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)

    consent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    #: When the complainant last said a decision did not resolve it (allowed once).
    reopened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The staff member who took it for review.
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    #: Raised by the escalation sweep when it waited too long (only ever rises); None: not escalated.
    escalation_level: Mapped[EscalationLevel | None] = mapped_column(
        str_enum(EscalationLevel, "escalation_level"), index=True
    )
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: When the complainant was asked, a week after `selesai`, whether the matter is settled.
    followup_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Optimistic lock: a staff move that read an older version is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)

    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint", order_by="ComplaintEvent.id", cascade="all, delete-orphan"
    )
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="complaint", order_by="Evidence.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}


class ComplaintEvent(db.Model):
    """One entry of a complaint's timeline: a move between states, or a note."""

    __tablename__ = "complaint_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[ActorKind] = mapped_column(str_enum(ActorKind, "actor_kind"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    from_status: Mapped[ComplaintStatus | None] = mapped_column(str_enum(ComplaintStatus, "event_from", length=16))
    to_status: Mapped[ComplaintStatus | None] = mapped_column(str_enum(ComplaintStatus, "event_to", length=16))
    note: Mapped[str] = mapped_column(Text, default="")
    #: Public events and their notes are shown on /aduan/lacak; the rest only to staff.
    public: Mapped[bool] = mapped_column(Boolean, default=True)

    complaint: Mapped[Complaint] = relationship(back_populates="events")


class Evidence(db.Model):
    """A photo attached to a complaint, re-encoded and stored outside the web root."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    complaint: Mapped[Complaint] = relationship(back_populates="evidence")
