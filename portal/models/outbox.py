"""The transactional outbox: messages to complainants and staff, written with the change that causes them."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, str_enum, utcnow


class MessageKind(enum.StrEnum):
    RECEIPT = "receipt"  # filing receipt with the tracking code
    STATUS = "status"  # a public status change with its public note
    DECISION = "decision"
    FOLLOWUP = "followup"  # a week after selesai: is the matter settled?
    CODE_RESEND = "code_resend"  # a lost tracking code sent again
    STAFF_NEW = "staff_new"  # a new complaint in a staff member's scope
    STAFF_OVERDUE = "staff_overdue"  # the daily overdue list


class MessageChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    #: Kept in the outbox only (development): what would have been sent.
    DEV = "dev"


class MessageStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next_attempt_at
    SENDING = "sending"  # claimed by a worker until lease_until
    SENT = "sent"
    DEAD = "dead"  # given up after OUTBOX_MAX_ATTEMPTS, or undeliverable: shown to admins


_PENDING_SQL = "status = 'pending'"
_SENDING_SQL = "status = 'sending'"


class OutboxMessage(db.Model):
    """One message to one recipient. Its body holds the code, status, public note and a link only."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        # The two "due" probes of a worker, on partial indexes that sent rows (nearly all) never enter.
        Index("ix_outbox_message_due", "next_attempt_at",
              sqlite_where=db.text(_PENDING_SQL), postgresql_where=db.text(_PENDING_SQL)),
        Index("ix_outbox_message_leased", "lease_until",
              sqlite_where=db.text(_SENDING_SQL), postgresql_where=db.text(_SENDING_SQL)),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("status <> 'sending' OR lease_until IS NOT NULL", name="sending_has_lease"),
        CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[MessageKind] = mapped_column(str_enum(MessageKind, "outbox_kind", length=16))
    channel: Mapped[MessageChannel] = mapped_column(str_enum(MessageChannel, "outbox_channel"))
    #: Phone number or e-mail address, encrypted with the PII vault (field "outbox_recipient").
    recipient_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(
        str_enum(MessageStatus, "outbox_status"), default=MessageStatus.PENDING
    )
    #: Claims so far, counted when a worker claims the message (a killed worker's try counts too).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: While `sending`: the claim's end; a worker killed mid-delivery leaves it to expire.
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Why the last attempt failed, short and scrubbed of numbers and addresses.
    last_error: Mapped[str | None] = mapped_column(String(200))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.channel} {self.status}>"
