"""The follow-up question: a week after a complaint was resolved (`selesai`), its complainant —
if they asked to be told — is asked whether the matter is settled, with the link to lacak where
the existing reopen is offered.

The sweep is idempotent: `followup_sent_at` is set by a conditional UPDATE in the transaction
that queues the message, so a second sweep asks nobody twice. Only complaints whose decision is
still inside the reopen window are asked (after it, the answer could change nothing).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.models import Complaint, ComplaintEvent, ComplaintStatus, MessageKind, utcnow
from portal.services.complaint_changes import complainant_contact
from portal.services.complaints import REOPEN_WINDOW
from portal.services.outbox import queue_message
from portal.services.staff_notifications import Messenger


@dataclasses.dataclass
class FollowupReport:
    asked: int = 0
    #: Resolved complaints in the window whose complainant gave no contact.
    without_contact: int = 0


def followup_body(messenger: Messenger, code: str) -> str:
    """The question, in Bahasa Indonesia, within one SMS: the code and the lacak link."""
    with force_locale("id"):
        return _("Aduan %(code)s sudah selesai. Apakah masalahnya sudah beres? Jika belum, minta ditinjau "
                 "ulang di %(link)s", code=code, link=messenger.link("/aduan/lacak"))


def send_followups(session: Session, messenger: Messenger, *, after_days: int = 7,
                   now: dt.datetime | None = None) -> FollowupReport:
    """Ask each complainant with a contact whose complaint became `selesai` at least `after_days`
    ago (and within the reopen window) whether it is settled; once per complaint. Flushes."""
    now = now or utcnow()
    report = FollowupReport()
    # When each resolved complaint reached selesai: the last move there.
    resolved_at = (
        select(ComplaintEvent.complaint_id, func.max(ComplaintEvent.created_at).label("at"))
        .where(ComplaintEvent.to_status == ComplaintStatus.SELESAI)
        .group_by(ComplaintEvent.complaint_id)
        .subquery()
    )
    due = session.scalars(
        select(Complaint).join(resolved_at, resolved_at.c.complaint_id == Complaint.id)
        .where(Complaint.status == ComplaintStatus.SELESAI, Complaint.followup_sent_at.is_(None),
               resolved_at.c.at <= now - dt.timedelta(days=after_days), resolved_at.c.at > now - REOPEN_WINDOW)
        .order_by(Complaint.id)
    ).all()
    for complaint in due:
        contact = complainant_contact(messenger.vault, complaint)
        if contact is None:
            report.without_contact += 1
            continue
        claimed = session.execute(
            update(Complaint).where(Complaint.id == complaint.id, Complaint.followup_sent_at.is_(None))
            .values(followup_sent_at=now).execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            continue  # another sweep asked meanwhile
        channel, address = contact
        with force_locale("id"):
            subject = _("Aduan %(code)s: sudah beres?", code=complaint.code)
        queue_message(session, messenger.vault, kind=MessageKind.FOLLOWUP, channel=channel, recipient=address,
                      subject=subject, body=followup_body(messenger, complaint.code), complaint_id=complaint.id,
                      now=now)
        report.asked += 1
    return report
