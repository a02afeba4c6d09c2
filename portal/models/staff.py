"""Staff accounts scoped to a region, their server-side sessions, and the append-only audit log."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    event,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.outbox import MessageChannel
from portal.models.types import UTCDateTime, str_enum, utcnow


class StaffRole(enum.StrEnum):
    DESA = "desa"
    KECAMATAN = "kecamatan"
    KABUPATEN = "kabupaten"  # Dinas Sosial
    ADMIN = "admin"


#: How many code segments the scope of each role has ("32.04" is a kabupaten).
ROLE_REGION_LEVEL = {StaffRole.DESA: 4, StaffRole.KECAMATAN: 3, StaffRole.KABUPATEN: 2}


class NewComplaintNotice(enum.StrEnum):
    """How a staff member hears of new complaints in scope."""

    SEGERA = "segera"  # one message per complaint, when it is filed
    HARIAN = "harian"  # a daily digest
    TIDAK = "tidak"


class StaffUser(db.Model):
    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint("role = 'admin' OR region_code IS NOT NULL", name="scope_needs_region"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(str_enum(StaffRole, "staff_role"))
    region_code: Mapped[str | None] = mapped_column(String(13), ForeignKey("region.code"))
    #: Keyed hash of the staff member's own NIK, if given: they may not act on complaints about themselves.
    nik_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The TOTP secret (RFC 6238), AES-GCM encrypted and bound to this account; set when
    #: enrolment starts, in use once `totp_enabled_at` is set.
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The last 30-second time step whose code was accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: Where notices go (services.staff_notifications): a channel and an address, encrypted
    #: with the PII vault (field "staff_contact"); none: the account is told nothing.
    contact_channel: Mapped[MessageChannel | None] = mapped_column(
        str_enum(MessageChannel, "staff_contact_channel")
    )
    contact_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    notify_new: Mapped[NewComplaintNotice] = mapped_column(
        str_enum(NewComplaintNotice, "staff_notify_new"), default=NewComplaintNotice.TIDAK,
        server_default=NewComplaintNotice.TIDAK.value,
    )
    #: The daily list of overdue complaints in scope.
    notify_overdue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: When the last daily digest and overdue list were made for this account (once a day each).
    digest_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    overdue_list_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<StaffUser {self.username} {self.role} {self.region_code}>"


class StaffSession(db.Model):
    """A logged-in staff session; the browser holds only the token, the server its hash."""

    __tablename__ = "staff_session"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    staff: Mapped[StaffUser] = relationship()


class StaffRecoveryCode(db.Model):
    """A one-time code for logging in without the authenticator; only its keyed hash is kept."""

    __tablename__ = "staff_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class StaffKnownAddress(db.Model):
    """A client address (keyed hash of its rate-limit key) that logged in to this account before:
    logins from it are not slowed by strangers' failures."""

    __tablename__ = "staff_known_address"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), primary_key=True)
    address_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    last_login_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(db.Model):
    """Who did what, when: logins, NIK reveals, evidence views, exports, account changes, moves.

    Append-only: database triggers refuse UPDATE and DELETE.
    """

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    #: The username as typed, for failed logins of unknown users.
    username: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40), index=True)
    #: Region the action concerns, for scoping who may read the entry.
    region_code: Mapped[str | None] = mapped_column(String(13), index=True)
    target: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


_APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END",
        "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_entry is append-only'; END $$",
        "CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
    ],
}
for _dialect, _statements in _APPEND_ONLY.items():
    for _statement in _statements:
        event.listen(AuditEntry.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))


class MusdesDecision(enum.StrEnum):
    DISETUJUI = "disetujui"
    DITOLAK = "ditolak"
    DITUNDA = "ditunda"


class MusdesOutcome(db.Model):
    """The village deliberation's decision on a complaint."""

    __tablename__ = "musdes_outcome"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    held_on: Mapped[dt.date] = mapped_column(Date)
    decision: Mapped[MusdesDecision] = mapped_column(str_enum(MusdesDecision, "musdes_decision"))
    note: Mapped[str] = mapped_column(Text, default="")
    #: Stored name of the minutes photo (same folder and rules as evidence), if any.
    minutes_stored_name: Mapped[str | None] = mapped_column(String(64))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
