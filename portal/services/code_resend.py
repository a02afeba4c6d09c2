"""A lost tracking code, sent again to the phone number or e-mail address given for news.

Only a complainant who asked for news ("Kabari saya") left a contact: the codes of the complaints
filed with it (newest first, at most `MAX_CODES`, none whose news was stopped) go to that same
contact, on the channel chosen when filing. Whoever asks learns nothing: the page answers the same
whether or not anything matched, and the codes travel only to the contact itself. The caller
limits how often one contact is sent anything (CODE_RESEND_LIMIT).

A message holds the codes and links to lacak and to stop, never a name, NIK, KK or address.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Complaint, ContactChannel, MessageChannel, MessageKind
from portal.services.complaint_changes import ContactInvalid, Kabar, contact_hash, normalise_contact
from portal.services.outbox import SMS_LENGTH, queue_message

MAX_CODES = 3


def contact_of(typed: str) -> str:
    """The normalised contact a visitor typed: an e-mail address if it has an @, else a mobile
    number. Raises `ContactInvalid` (a message marked for translation) when it is neither."""
    channel = ContactChannel.EMAIL if "@" in (typed or "") else ContactChannel.SMS
    return normalise_contact(channel, typed)


def resend_codes(session: Session, kabar: Kabar, contact: str, *, now: dt.datetime | None = None) -> int:
    """Queue one message with the codes filed with `contact` (normalised); how many it holds.

    0 when no complaint asked for news at that contact (or all of them were stopped): nothing is
    queued, and the caller must answer exactly as when something was. Flushes, never commits."""
    rows = session.execute(
        select(Complaint.id, Complaint.code, Complaint.contact_channel)
        .where(Complaint.contact_hash == contact_hash(kabar.vault, contact), Complaint.contact_stopped_at.is_(None))
        .order_by(Complaint.created_at.desc(), Complaint.id.desc())
        .limit(MAX_CODES)
    ).all()
    if not rows:
        return 0
    newest_id, newest_code, channel_chosen = rows[0]
    channel = MessageChannel(channel_chosen)
    codes = [code for _, code, _ in rows]
    subject, body = compose_codes(kabar, codes, channel)
    queue_message(session, kabar.vault, kind=MessageKind.CODE_RESEND, channel=channel, recipient=contact,
                  subject=subject, body=body, complaint_id=newest_id, now=now)
    session.flush()
    return len(codes)


def compose_codes(kabar: Kabar, codes: list[str], channel: MessageChannel) -> tuple[str, str]:
    """Subject and body listing `codes` (newest first), in Bahasa Indonesia."""
    newest = codes[0]
    if channel is MessageChannel.SMS:
        # Within one SMS: fewer codes rather than a cut-off link. A reply STOP stops the messages.
        for count in range(len(codes), 0, -1):
            text = (f"Kode aduan Anda: {', '.join(codes[:count])}. Lacak {kabar.track_link(newest)} "
                    f"Balas STOP untuk berhenti.")
            if len(text) <= SMS_LENGTH:
                return "", text
        return "", f"Kode aduan Anda: {newest}. Lacak {kabar.track_link(newest)}"
    lines = ["Anda meminta kode aduan dikirim ulang. Kode aduan yang diajukan dengan kontak ini:",
             *(f"- {code}: {kabar.track_link(code)}" for code in codes),
             f"Berhenti menerima kabar: {kabar.stop_link(newest)}",
             "Jika Anda tidak memintanya, abaikan pesan ini. Pesan otomatis Portal Cek Bansos; "
             "jangan membalas dengan data pribadi."]
    return "Kode aduan Anda", "\n".join(lines)


__all__ = ["MAX_CODES", "ContactInvalid", "compose_codes", "contact_of", "resend_codes"]
