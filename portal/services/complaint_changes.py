"""Every change to a complaint, recorded by one function: `record_change`.

A change is a timeline event (`ComplaintEvent`: who, when, from, to, note, public or not), for a
staff action an audit entry (`services.audit.record`), and for a complainant who asked to hear
of it ("Kabari saya") the messages in the outbox — all added to the caller's unit of work and
flushed, never committed, so a change that rolls back takes its messages with it.

What is sent, always in Bahasa Indonesia (the complainant's language is not known; the staff
member's must not decide): a receipt with the code when the complaint is filed, each public
status change with its public note, and the decision (`selesai`, `ditolak`). A body holds the
code, the status label, the public note and two links — to lacak with the code, and to stop
these messages — never a name, NIK, KK, address or the other party. An SMS stays within 160
characters: its note is shortened (the whole note is on lacak).

Other kinds of change (escalation, say) call `record_change` with `actor=ActorKind.SISTEM`, the
public note and `notify=True` to tell the complainant even though the status did not move.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.models import (
    DECIDED_STATUSES,
    ActorKind,
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    ContactChannel,
    MessageChannel,
    MessageKind,
    MessageStatus,
    OutboxMessage,
    StaffUser,
    utcnow,
)
from portal.services.audit import record
from portal.services.contacts import ContactInvalid, normalise_contact
from portal.services.outbox import NIK_LIKE, SMS_LENGTH, queue_message
from portal.services.pii import PiiVault

CONTACT_FIELD = "contact"
_STOP_SIGNATURE_CHARS = 12  # 60 bits: enough that nobody stops another's messages by guessing
_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


@dataclass(frozen=True, slots=True)
class Kabar:
    """What composing a message needs: the PII vault (recipients are stored encrypted, stop
    links are signed with a key derived from it) and the portal's public address (links)."""

    vault: PiiVault
    #: e.g. `https://cekbansos.example.go.id`, without a trailing slash (PUBLIC_BASE_URL).
    base_url: str

    def track_link(self, code: str) -> str:
        return f"{self.base_url}/l/{code}"

    def stop_link(self, code: str) -> str:
        return f"{self.base_url}/s/{stop_token(self.vault, code)}"


def _compact(code: str) -> str:
    return code.replace("-", "")[3:]  # ADU-7K2M-9QXP -> 7K2M9QXP


def stop_token(vault: PiiVault, code: str) -> str:
    """The signed part of a stop link: the code's 8 characters and a keyed signature of them."""
    compact = _compact(code)
    signature = base64.b32encode(vault.digest("kabar-stop:" + compact)).decode().translate(_CROCKFORD)
    return compact + signature[:_STOP_SIGNATURE_CHARS]


def code_of_stop_token(vault: PiiVault, token: str) -> str | None:
    """The complaint code a stop token was made for, or None when it is not one of ours."""
    token = (token or "").upper()
    if len(token) != 8 + _STOP_SIGNATURE_CHARS or not token.isalnum():
        return None
    code = f"ADU-{token[:4]}-{token[4:8]}"
    if not hmac.compare_digest(stop_token(vault, code), token):
        return None
    return code


# -- the change ------------------------------------------------------------------------------


def record_change(session: Session, complaint: Complaint, *, actor: ActorKind, kabar: Kabar | None,
                  to_status: ComplaintStatus | None = None, note: str = "", public: bool = True,
                  staff: StaffUser | None = None, audit: str | None = None,
                  audit_detail: dict[str, Any] | None = None, notify: bool | None = None,
                  now: dt.datetime | None = None) -> ComplaintEvent:
    """Record one change to a complaint in the caller's unit of work; flushes, never commits.

    - `to_status`: the state it moves to (the complaint's status is set here); None for a note.
    - `note`, `public`: the event's note, shown on lacak when public.
    - `staff`: who acted (staff actions); `audit`: the audit action (`services.audit.ACTIONS`)
      to log with `audit_detail` (no NIK, no name) — the audit entry is written only when given.
    - `notify`: tell an opted-in complainant. Default: for a public change of status. A private
      change never notifies.
    - `kabar`: how to compose messages; None only where nothing may be sent (a caller that has
      no messaging). A change that would notify a complainant then raises `ValueError`, so a
      forgotten `kabar` never silently drops a message.

    Returns the event. A complaint being filed must be in the session already (`session.add`).
    """
    now = now or utcnow()
    # A complaint being filed (not in the database yet) comes from no state.
    previous = complaint.status if complaint.id is not None else None
    if to_status is not None:
        complaint.status = to_status
    event = ComplaintEvent(created_at=now, actor=actor, staff_id=staff.id if staff else None,
                           from_status=previous if to_status is not None else None, to_status=to_status,
                           note=note, public=public)
    complaint.events.append(event)
    if audit is not None:
        record(session, audit, staff, username=None if staff else actor.value, region_code=complaint.desa_code,
               target=complaint.code, detail=audit_detail)
    if notify is None:
        notify = public and to_status is not None
    if public and notify and _wants_news(complaint):
        if kabar is None:
            raise ValueError("a change that notifies the complainant needs Kabar")
        session.flush()  # the complaint's id, for the message rows
        _queue_news(session, kabar, complaint, _kind_of(previous, to_status), note, now)
    session.flush()
    return event


def _wants_news(complaint: Complaint) -> bool:
    return complaint.contact_encrypted is not None and complaint.contact_stopped_at is None


def complainant_contact(vault: PiiVault, complaint: Complaint) -> tuple[MessageChannel, str] | None:
    """The channel and address the complainant asked news at, in clear; None without one or
    after a stop."""
    if not _wants_news(complaint):
        return None
    return MessageChannel(complaint.contact_channel), vault.decrypt(complaint.contact_encrypted, CONTACT_FIELD)


def _kind_of(previous: ComplaintStatus | None, to: ComplaintStatus | None) -> MessageKind:
    if previous is None and to is ComplaintStatus.DITERIMA:
        return MessageKind.RECEIPT
    if to in DECIDED_STATUSES:
        return MessageKind.DECISION
    return MessageKind.STATUS


def _queue_news(session: Session, kabar: Kabar, complaint: Complaint, kind: MessageKind, note: str,
                now: dt.datetime) -> None:
    contact = complainant_contact(kabar.vault, complaint)
    assert contact is not None  # _wants_news
    channel, recipient = contact
    subject, body = compose(kabar, complaint.code, complaint.status, kind, note, channel)
    queue_message(session, kabar.vault, kind=kind, channel=channel, recipient=recipient,
                  subject=subject, body=body, complaint_id=complaint.id, now=now)


# -- what a message says ---------------------------------------------------------------------

_HEADLINES = {
    MessageKind.RECEIPT: "Aduan Anda tercatat dengan kode {code}, status {status}. Simpan kode ini untuk melacaknya.",
    MessageKind.STATUS: "Aduan {code}: status kini {status}.",
    MessageKind.DECISION: "Aduan {code} sudah diputuskan: {status}.",
}
_SMS_HEADLINES = {  # short: with two links of a 31-character address, the longest label still fits
    MessageKind.RECEIPT: "Aduan {code} tercatat: {status}.",
    MessageKind.STATUS: "{code}: {status}.",
    MessageKind.DECISION: "{code} diputuskan: {status}.",
}
_SUBJECTS = {
    MessageKind.RECEIPT: "Aduan {code} diterima",
    MessageKind.STATUS: "Aduan {code}: {status}",
    MessageKind.DECISION: "Aduan {code}: {status}",
}


def _public_note(note: str) -> str:
    """The note as it may travel: one line, any NIK- or KK-like number replaced."""
    return NIK_LIKE.sub("[angka disembunyikan]", re.sub(r"\s+", " ", note).strip())


def compose(kabar: Kabar, code: str, status: ComplaintStatus, kind: MessageKind, note: str,
            channel: MessageChannel) -> tuple[str, str]:
    """Subject and body of a message about a complaint, in Bahasa Indonesia."""
    from portal.services.complaints import PUBLIC_STATUS_LABELS  # complaints records its changes here

    label = str(PUBLIC_STATUS_LABELS[status])  # what lacak says too
    note = _public_note(note)
    track, stop = kabar.track_link(code), kabar.stop_link(code)
    subject = _SUBJECTS[kind].format(code=code, status=label)
    if channel is MessageChannel.SMS:
        return "", _sms(_SMS_HEADLINES[kind].format(code=code, status=label), note, track, stop)
    lines = [_HEADLINES[kind].format(code=code, status=label)]
    if note:
        lines.append(f"Catatan petugas: {note}")
    lines += [f"Lacak aduan: {track}",
              f"Berhenti menerima kabar tentang aduan ini: {stop}",
              "Pesan otomatis Portal Cek Bansos; jangan membalas dengan data pribadi."]
    return subject, "\n".join(lines)


def _sms(headline: str, note: str, track: str, stop: str) -> str:
    """An SMS within 160 characters: the note is shortened first, then left out."""
    tail = f" Lacak {track} Stop {stop}"
    room = SMS_LENGTH - len(headline) - len(tail) - 1
    if note and room >= 12:
        note = note if len(note) <= room else note[: room - 1].rstrip() + "…"
        return f"{headline} {note}{tail}"
    return headline + tail


# -- the complainant's contact ---------------------------------------------------------------

def contact_hash(vault: PiiVault, normalised: str) -> bytes:
    """Keyed hash of a normalised contact, to find the complaints it asked news of."""
    return vault.digest("kabar-contact:" + normalised)


def stop_news(session: Session, vault: PiiVault, token: str, *, now: dt.datetime | None = None) -> bool:
    """The contact behind a stop link gets nothing more about any complaint it asked news of.

    Flushes; the caller commits. False for a token that is not ours (nothing changes)."""
    code = code_of_stop_token(vault, token)
    complaint = session.scalar(select(Complaint).where(Complaint.code == code)) if code else None
    if complaint is None:
        return False
    if complaint.contact_hash is not None:
        _stop_contact(session, complaint.contact_hash, now or utcnow())
    return True


#: Replies to an SMS or WhatsApp message that stop the messages (case and spaces do not matter).
STOP_KEYWORDS = frozenset({"STOP", "BERHENTI"})


def stop_news_by_reply(session: Session, vault: PiiVault, sender: str, text: str, *,
                       now: dt.datetime | None = None) -> bool:
    """A reply `STOP` (or `BERHENTI`) from a number: nothing more is sent to it. Flushes; the
    caller commits. False when the text is not a stop keyword or the sender not a mobile number."""
    if " ".join((text or "").split()).upper() not in STOP_KEYWORDS:
        return False
    try:
        number = normalise_contact(ContactChannel.SMS, sender)
    except ContactInvalid:
        return False
    _stop_contact(session, contact_hash(vault, number), now or utcnow())
    return True


def _stop_contact(session: Session, hashed: bytes, now: dt.datetime) -> None:
    """Stop the contact's complaints, and give up its messages still waiting (one a worker has
    already claimed may still go out)."""
    complaints = select(Complaint.id).where(Complaint.contact_hash == hashed).scalar_subquery()
    session.execute(update(Complaint).where(Complaint.contact_hash == hashed, Complaint.contact_stopped_at.is_(None))
                    .values(contact_stopped_at=now).execution_options(synchronize_session="fetch"))
    session.execute(update(OutboxMessage).where(OutboxMessage.complaint_id.in_(complaints),
                                                OutboxMessage.status == MessageStatus.PENDING)
                    .values(status=MessageStatus.DEAD, last_error="stopped by the recipient")
                    .execution_options(synchronize_session=False))
    session.flush()
