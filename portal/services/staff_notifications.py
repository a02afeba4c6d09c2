"""What staff hear from the portal: new complaints in scope (at once or as a daily digest), the
daily overdue list, and escalations to their level.

A staff member's contact (a channel and an address) is stored encrypted; every notice is a row
of the transactional outbox, queued in the caller's transaction (this module only flushes).
A notice carries codes, statuses, counts and a link to the staff pages — never a complainant's
or subject's name, NIK, KK or address: staff read those behind the login.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal.i18n import N_, UserFacingError
from portal.models import (
    OPEN_STATUSES,
    Complaint,
    ComplaintStatus,
    MessageChannel,
    MessageKind,
    NewComplaintNotice,
    StaffRole,
    StaffUser,
    utcnow,
)
from portal.services.audit import record
from portal.services.complaints import STATUS_LABELS
from portal.services.contacts import normalise_contact
from portal.services.outbox import queue_message
from portal.services.pii import PiiVault
from portal.services.staff import scope_condition

CONTACT_FIELD = "staff_contact"
#: Channels a staff member may choose (the development channel is not an address).
CONTACT_CHANNELS = (MessageChannel.EMAIL, MessageChannel.SMS, MessageChannel.WHATSAPP)
NOTICE_LABELS: dict[NewComplaintNotice, str] = {
    NewComplaintNotice.SEGERA: N_("Segera, satu pesan per aduan"),
    NewComplaintNotice.HARIAN: N_("Ringkasan harian"),
    NewComplaintNotice.TIDAK: N_("Tidak usah"),
}
CHANNEL_LABELS: dict[MessageChannel, str] = {
    MessageChannel.EMAIL: N_("E-mail"),
    MessageChannel.SMS: N_("SMS"),
    MessageChannel.WHATSAPP: N_("WhatsApp"),
    MessageChannel.DEV: N_("Pengembangan (tidak terkirim)"),
}
#: Codes listed in one e-mail digest; an SMS carries the count and the link only.
DIGEST_CODES = 20
LOCAL_ZONE = ZoneInfo("Asia/Jakarta")


class ContactRefused(UserFacingError):
    """A notice setting that cannot be kept (no channel chosen); a bad address is ContactInvalid."""


@dataclasses.dataclass(frozen=True)
class Messenger:
    """What writing a message needs besides the database: the vault for addresses, the portal's
    public address for links, and the overdue window the messages name."""

    vault: PiiVault
    base_url: str
    overdue_days: int = 14

    @classmethod
    def from_app(cls, app: Flask) -> Messenger:
        return cls(app.extensions["pii_vault"], app.config["PUBLIC_BASE_URL"].rstrip("/"),
                   app.config["ESCALATE_KECAMATAN_DAYS"])

    def link(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def staff_link(self, code: str) -> str:
        return self.link(f"/staf/aduan/{code}")

    def send(self, session: Session, user: StaffUser, kind: MessageKind, subject: str, body: str,
             complaint_id: int | None = None) -> bool:
        """Queue one notice to a staff member with a contact (False: they have none)."""
        contact = staff_contact(self.vault, user)
        if contact is None:
            return False
        channel, address = contact
        queue_message(session, self.vault, kind=kind, channel=channel, recipient=address, subject=subject,
                      body=body, complaint_id=complaint_id)
        return True


def _messenger(messenger: Messenger | None) -> Messenger:
    return messenger or Messenger.from_app(current_app)


# -- contact and preferences --------------------------------------------------------------------


def staff_contact(vault: PiiVault, user: StaffUser) -> tuple[MessageChannel, str] | None:
    """The account's channel and address in clear, or None."""
    if user.contact_channel is None or user.contact_encrypted is None:
        return None
    return user.contact_channel, vault.decrypt(user.contact_encrypted, CONTACT_FIELD)


def set_preferences(session: Session, vault: PiiVault, user: StaffUser, *, channel: MessageChannel | None,
                    address: str, notify_new: NewComplaintNotice, notify_overdue: bool,
                    by: StaffUser | None = None) -> None:
    """Set where and what the account hears; no channel clears the contact, an empty address
    with the stored channel keeps the stored address. Audited; flushes.

    Raises ContactRefused for an address the channel cannot reach."""
    if channel is None:
        user.contact_channel, user.contact_encrypted = None, None
    elif not address.strip() and user.contact_encrypted is not None and MessageChannel(channel) == user.contact_channel:
        pass  # the stored address stays
    else:
        channel = MessageChannel(channel)
        if channel not in CONTACT_CHANNELS:
            raise ContactRefused(N_("Pilih SMS, WhatsApp atau e-mail."))
        user.contact_channel = channel
        user.contact_encrypted = vault.encrypt(normalise_contact(channel, address), CONTACT_FIELD)
    user.notify_new = notify_new
    user.notify_overdue = notify_overdue
    record(session, "kabar_diatur", by or user, region_code=user.region_code, target=user.username,
           detail={"saluran": channel.value if channel else "", "baru": notify_new.value,
                   "lewat_waktu": notify_overdue})
    session.flush()


def masked_contact(vault: PiiVault, user: StaffUser) -> str | None:
    """The account's address as its settings page shows it."""
    contact = staff_contact(vault, user)
    return mask_address(contact[1]) if contact else None


def mask_address(address: str) -> str:
    """`bu***@di***.id` for an e-mail, `6281****7890` for a phone: enough to recognise one's own."""
    if "@" in address:
        local, _at, domain = address.partition("@")
        host, _dot, tld = domain.rpartition(".")
        return f"{local[:2]}***@{host[:2]}***.{tld}"
    return address[:4] + "*" * max(len(address) - 8, 0) + address[-4:]


# -- who is told ---------------------------------------------------------------------------------


def _scopes_of(desa_code: str) -> list[str]:
    """The regions whose staff see a desa: itself, its kecamatan, its kabupaten."""
    parts = desa_code.split(".")
    return [".".join(parts[:n]) for n in (4, 3, 2)]


def staff_seeing(session: Session, desa_code: str) -> list[StaffUser]:
    """Active accounts with a contact whose scope holds the desa (admins included)."""
    return list(session.scalars(select(StaffUser).where(
        StaffUser.active, StaffUser.contact_encrypted.is_not(None),
        or_(StaffUser.role == StaffRole.ADMIN, StaffUser.region_code.in_(_scopes_of(desa_code))),
    ).order_by(StaffUser.id)))


def staff_of_level(session: Session, role: StaffRole, region_code: str) -> list[StaffUser]:
    """Active accounts with a contact of one role for exactly one region (a kecamatan, a kabupaten)."""
    return list(session.scalars(select(StaffUser).where(
        StaffUser.active, StaffUser.contact_encrypted.is_not(None), StaffUser.role == role,
        StaffUser.region_code == region_code,
    ).order_by(StaffUser.id)))


def _status(status: ComplaintStatus) -> str:
    return _(STATUS_LABELS[status])


# -- the notices -----------------------------------------------------------------------------------


def notify_staff_of_new(session: Session, complaint: Complaint, messenger: Messenger | None = None) -> int:
    """Tell the staff in scope who asked for it at once that a complaint was filed; call it in
    the filing's transaction (it flushes). Returns how many notices were queued."""
    messenger = _messenger(messenger)
    queued = 0
    with force_locale("id"):
        subject = _("Aduan baru %(code)s", code=complaint.code)
        body = _("Aduan baru %(code)s (%(status)s) di wilayah Anda: %(link)s", code=complaint.code,
                 status=_status(complaint.status), link=messenger.staff_link(complaint.code))
        for user in staff_seeing(session, complaint.desa_code):
            if user.notify_new is NewComplaintNotice.SEGERA:
                queued += messenger.send(session, user, MessageKind.STAFF_NEW, subject, body, complaint.id)
    return queued


def notify_escalation(session: Session, complaint: Complaint, role: StaffRole, region_code: str, days: int,
                      messenger: Messenger) -> int:
    """Tell the kecamatan's or kabupaten's staff that a complaint was raised to them. An account
    that turned off both new-complaint notices and the overdue list is not told."""
    queued = 0
    with force_locale("id"):
        subject = _("Aduan %(code)s melewati %(days)s hari", code=complaint.code, days=days)
        body = _("Aduan %(code)s (%(status)s) melewati %(days)s hari dan diteruskan ke Anda: %(link)s",
                 code=complaint.code, status=_status(complaint.status), days=days,
                 link=messenger.staff_link(complaint.code))
        for user in staff_of_level(session, role, region_code):
            if user.notify_new is not NewComplaintNotice.TIDAK or user.notify_overdue:
                queued += messenger.send(session, user, MessageKind.STAFF_OVERDUE, subject, body, complaint.id)
    return queued


def _local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LOCAL_ZONE).date()


def _sent_today(sent_at: dt.datetime | None, now: dt.datetime) -> bool:
    return sent_at is not None and _local_day(sent_at) == _local_day(now)


def _listing(channel: MessageChannel, codes: Sequence[str], total: int) -> str:
    """The codes of a digest, for e-mail only (an SMS has room for the count and the link)."""
    if channel is not MessageChannel.EMAIL or not codes:
        return ""
    more = _("… dan %(n)s lagi", n=total - len(codes)) if total > len(codes) else ""
    return "\n\n" + "\n".join(codes) + (f"\n{more}" if more else "")


@dataclasses.dataclass
class DigestReport:
    digests: int = 0
    overdue_lists: int = 0


def _candidates(session: Session, condition) -> Iterable[StaffUser]:  # noqa: ANN001 - an SQL condition
    return session.scalars(select(StaffUser).where(
        StaffUser.active, StaffUser.contact_encrypted.is_not(None), condition).order_by(StaffUser.id))


def send_daily_notices(session: Session, messenger: Messenger, *, now: dt.datetime | None = None) -> DigestReport:
    """Once a local (WIB) day per account: the digest of complaints filed in scope since the
    last one (to accounts that chose `harian`), and the list of overdue open complaints in scope
    (to accounts that asked for it). Nothing to report sends nothing but still counts as the
    day's run. Run twice in a day, the second run sends nothing. Flushes."""
    now = now or utcnow()
    report = DigestReport()
    with force_locale("id"):
        for user in _candidates(session, StaffUser.notify_new == NewComplaintNotice.HARIAN):
            if _sent_today(user.digest_sent_at, now):
                continue
            since = user.digest_sent_at or now - dt.timedelta(days=1)
            report.digests += _digest(session, messenger, user, since, now)
            user.digest_sent_at = now
        for user in _candidates(session, StaffUser.notify_overdue):
            if _sent_today(user.overdue_list_sent_at, now):
                continue
            report.overdue_lists += _overdue_list(session, messenger, user, now)
            user.overdue_list_sent_at = now
    session.flush()
    return report


def _codes_and_total(session: Session, query) -> tuple[list[str], int]:  # noqa: ANN001 - a select
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    codes = list(session.scalars(query.with_only_columns(Complaint.code)
                                 .order_by(Complaint.created_at, Complaint.id).limit(DIGEST_CODES)))
    return codes, total


def _digest(session: Session, messenger: Messenger, user: StaffUser, since: dt.datetime, now: dt.datetime) -> int:
    codes, total = _codes_and_total(session, select(Complaint.id).where(
        scope_condition(user, Complaint.desa_code), Complaint.created_at > since, Complaint.created_at <= now,
        Complaint.status != ComplaintStatus.DISEMBUNYIKAN))
    if not total:
        return 0
    channel = user.contact_channel
    body = _("%(n)s aduan baru di wilayah Anda sejak kemarin: %(link)s", n=total,
             link=messenger.link("/staf/antrian")) + _listing(channel, codes, total)
    return int(messenger.send(session, user, MessageKind.STAFF_NEW, _("Ringkasan aduan baru"), body))


def _overdue_list(session: Session, messenger: Messenger, user: StaffUser, now: dt.datetime) -> int:
    days = messenger.overdue_days
    codes, total = _codes_and_total(session, select(Complaint.id).where(
        scope_condition(user, Complaint.desa_code), Complaint.status.in_(OPEN_STATUSES),
        Complaint.created_at <= now - dt.timedelta(days=days)))
    if not total:
        return 0
    body = _("%(n)s aduan terbuka melewati %(days)s hari: %(link)s", n=total, days=days,
             link=messenger.link(f"/staf/antrian?umur={days}")) + _listing(user.contact_channel, codes, total)
    return int(messenger.send(session, user, MessageKind.STAFF_OVERDUE, _("Aduan lewat waktu"), body))
