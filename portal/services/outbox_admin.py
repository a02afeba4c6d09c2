"""The outbox as admins see it: recent messages, their state, attempts and last error, dead
letters, and a retry of a dead letter. Recipients are shown masked; bodies hold no personal data
(services.outbox refuses a NIK-like number, and every template writes codes, statuses and links)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.i18n import N_
from portal.models import MessageKind, MessageStatus, OutboxMessage, StaffUser, utcnow
from portal.services.audit import record
from portal.services.outbox import RECIPIENT_FIELD, MessageSummary, recent_messages
from portal.services.pii import PiiVault
from portal.services.staff_notifications import mask_address

STATUS_LABELS: dict[MessageStatus, str] = {
    MessageStatus.PENDING: N_("Menunggu"),
    MessageStatus.SENDING: N_("Sedang dikirim"),
    MessageStatus.SENT: N_("Terkirim"),
    MessageStatus.DEAD: N_("Gagal permanen"),
}
KIND_LABELS: dict[MessageKind, str] = {
    MessageKind.RECEIPT: N_("Tanda terima"),
    MessageKind.STATUS: N_("Perubahan status"),
    MessageKind.DECISION: N_("Keputusan"),
    MessageKind.FOLLOWUP: N_("Tindak lanjut"),
    MessageKind.CODE_RESEND: N_("Kirim ulang kode"),
    MessageKind.STAFF_NEW: N_("Petugas: aduan baru"),
    MessageKind.STAFF_OVERDUE: N_("Petugas: lewat waktu"),
}


@dataclasses.dataclass(frozen=True, slots=True)
class AdminMessage:
    message: MessageSummary
    recipient_masked: str


def admin_messages(session: Session, vault: PiiVault, *, status: MessageStatus | None = None,
                   limit: int = 100) -> list[AdminMessage]:
    """The newest messages (optionally of one status), each with its recipient masked."""
    summaries = recent_messages(session, limit, status=status)
    recipients = dict(session.execute(select(OutboxMessage.id, OutboxMessage.recipient_encrypted).where(
        OutboxMessage.id.in_([m.id for m in summaries]))).all())
    return [AdminMessage(m, mask_address(vault.decrypt(recipients[m.id], RECIPIENT_FIELD))) for m in summaries]


def status_counts(session: Session) -> dict[MessageStatus, int]:
    """How many messages are in each state."""
    return dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def retry_dead(session: Session, message_id: int, by: StaffUser, *, now: dt.datetime | None = None) -> bool:
    """Give a dead letter a fresh set of attempts, due now; False if it is not dead (any more).
    Its last error stays until the next attempt. Audited; flushes."""
    now = now or utcnow()
    revived = session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.status == MessageStatus.DEAD)
        .values(status=MessageStatus.PENDING, attempts=0, next_attempt_at=now, lease_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if revived:
        record(session, "pesan_diulang", by, target=f"pesan #{message_id}")
        session.flush()
    return bool(revived)
