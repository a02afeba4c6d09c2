"""Complaints by residents: filing (usul, sanggah, perbaikan), tracking by code, reopening.

Filing is one unit of work: the complaint, its first timeline event and its evidence rows are
committed together by the caller. Evidence files are written first, under random names, and
removed again if the unit rolls back, so there are neither orphan files nor rows pointing at missing files.
The same form sent twice (refresh, double tap, retry) carries the same idempotency key and
gets the same code; the same complainant filing the same kind about the same subject while an
earlier one is open is shown the earlier code.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.i18n import N_
from portal.models import (
    DECIDED_STATUSES,
    OPEN_STATUSES,
    ActorKind,
    Complaint,
    ComplaintKind,
    ComplaintStatus,
    ContactChannel,
    CorrectionField,
    Evidence,
    Region,
    utcnow,
)
from portal.services.complaint_changes import CONTACT_FIELD, Kabar, contact_hash, record_change
from portal.services.names import phonetic_key
from portal.services.outages import is_database_outage
from portal.services.pii import PiiVault
from portal.services.unit_of_work import RollbackCause, on_rollback
from portal.services.uploads import CleanImage, remove_stored, store_image

logger = logging.getLogger(__name__)

#: Crockford's base32 without I, L, O and U: nothing to misread on a phone or a receipt.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_PREFIX = "ADU"
_CODE_CHARS = 8  # 40 bits
_CODE_INPUT = re.compile(r"[^0-9A-Z]")
_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})

REOPEN_WINDOW = dt.timedelta(days=30)

STATUS_LABELS: dict[ComplaintStatus, str] = {
    ComplaintStatus.DITERIMA: N_("Diterima"),
    ComplaintStatus.DITINJAU: N_("Sedang ditinjau"),
    ComplaintStatus.DITERUSKAN: N_("Diteruskan ke Dinas Sosial"),
    ComplaintStatus.DITOLAK: N_("Ditolak"),
    ComplaintStatus.SELESAI: N_("Selesai"),
    ComplaintStatus.DISEMBUNYIKAN: N_("Disembunyikan (spam)"),
}
#: What the public tracking page says: a complainant is not told that staff judged it spam.
PUBLIC_STATUS_LABELS: dict[ComplaintStatus, str] = {**STATUS_LABELS, ComplaintStatus.DISEMBUNYIKAN: N_("Ditutup")}
KIND_LABELS: dict[ComplaintKind, str] = {
    ComplaintKind.USUL: N_("Usul (mengusulkan penerima)"),
    ComplaintKind.SANGGAH: N_("Sanggah (penerima tidak layak)"),
    ComplaintKind.PERBAIKAN: N_("Perbaikan data"),
}
CORRECTION_LABELS: dict[CorrectionField, str] = {
    CorrectionField.NAMA: N_("Ejaan nama"),
    CorrectionField.NIK: N_("NIK"),
    CorrectionField.MENINGGAL: N_("Sudah meninggal"),
    CorrectionField.PINDAH: N_("Sudah pindah"),
    CorrectionField.SUSUNAN_KELUARGA: N_("Susunan keluarga"),
    CorrectionField.DESIL: N_("Desil tidak sesuai"),
    CorrectionField.LAINNYA: N_("Lainnya"),
}
ACTOR_LABELS: dict[ActorKind, str] = {
    ActorKind.PELAPOR: N_("Pelapor"),
    ActorKind.STAF: N_("Petugas"),
    ActorKind.SISTEM: N_("Sistem"),
}


class ComplaintError(Exception):
    """A complaint that cannot be filed or changed; `message` is for the user."""

    message = ""


class SanggahQuotaExceeded(ComplaintError):
    message = N_("Anda sudah mengajukan sanggah sebanyak batas dalam 30 hari terakhir. "
                 "Silakan hubungi kantor desa/kelurahan.")


class ReopenRefused(ComplaintError):
    message = N_("Aduan ini tidak dapat dibuka kembali: hanya aduan yang selesai atau ditolak, "
                 "sekali, dan paling lambat 30 hari setelah keputusan.")


class ReopenClash(ComplaintError):
    message = N_("Aduan ini tidak dapat dibuka kembali karena ada aduan baru yang sama yang masih diproses. "
                 "Pantau aduan yang baru itu.")


@dataclass(frozen=True, slots=True)
class ComplaintDraft:
    """What a complainant submitted, already validated by the form."""

    kind: ComplaintKind
    desa_code: str
    complainant_name: str
    complainant_nik: str
    complainant_phone: str | None
    subject_name: str
    subject_nik: str | None
    subject_rt: str | None
    subject_rw: str | None
    correction_field: CorrectionField | None
    correction_value: str | None
    description: str
    latitude: float | None = None
    longitude: float | None = None
    #: "Kabari saya": where to send news of the complaint, consent given on the form.
    contact: ContactRequest | None = None


@dataclass(frozen=True, slots=True)
class ContactRequest:
    channel: ContactChannel
    #: Normalised (`complaint_changes.normalise_contact`): `+628…` or a lower-case e-mail address.
    address: str


def hint_of(code: str) -> str:
    """The first half of a code (`ADU-7K2M-…`): enough for its owner to recognise, not to use."""
    return code[:8] + "-…"


@dataclass(frozen=True, slots=True)
class FilingResult:
    #: The full code only to the form that filed it; for an open duplicate, just `hint_of` it,
    #: since anyone who knows a complainant's NIK could otherwise fetch their code.
    code: str
    #: False when an earlier complaint answered instead (a retry, or an open duplicate).
    created: bool
    #: True when the answer is an earlier open complaint about the same subject.
    duplicate_open: bool = False


def new_code() -> str:
    """A random tracking code such as `ADU-7K2M-9QXP` (40 bits)."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(_CODE_CHARS))
    return f"{CODE_PREFIX}-{chars[:4]}-{chars[4:]}"


def normalise_code(typed: str) -> str | None:
    """The canonical code for what was typed (any case, spaces or dashes, O/I/L read as 0/1)."""
    text = _CODE_INPUT.sub("", (typed or "").upper())
    if text.startswith(CODE_PREFIX):
        text = text[len(CODE_PREFIX):]
    text = text.translate(_MISREAD)
    if len(text) != _CODE_CHARS or any(ch not in CODE_ALPHABET for ch in text):
        return None
    return f"{CODE_PREFIX}-{text[:4]}-{text[4:]}"


def _subject_key(vault: PiiVault, draft: ComplaintDraft) -> bytes:
    if draft.subject_nik:
        return vault.digest("subject-nik:" + draft.subject_nik)
    return vault.digest(f"subject-name:{draft.desa_code}:{phonetic_key(draft.subject_name)}")


def _existing(session: Session, idempotency_key: str) -> Complaint | None:
    return session.scalar(select(Complaint).where(Complaint.idempotency_key == idempotency_key))


def _open_duplicate(session: Session, nik_hash: bytes, kind: ComplaintKind, subject_key: bytes) -> Complaint | None:
    return session.scalar(select(Complaint).where(
        Complaint.complainant_nik_hash == nik_hash,
        Complaint.kind == kind,
        Complaint.subject_key == subject_key,
        Complaint.status.in_(OPEN_STATUSES),
    ))


def _sanggah_count(session: Session, nik_hash: bytes, since: dt.datetime) -> int:
    return session.scalar(select(func.count()).select_from(Complaint).where(
        Complaint.complainant_nik_hash == nik_hash,
        Complaint.kind == ComplaintKind.SANGGAH,
        Complaint.created_at >= since,
    )) or 0


def find_filed(session: Session, idempotency_key: str) -> str | None:
    """The code of the complaint this form already filed, if any (a retry needs no new captcha)."""
    complaint = _existing(session, idempotency_key)
    return complaint.code if complaint else None


def file_complaint(
    session: Session,
    vault: PiiVault,
    draft: ComplaintDraft,
    images: Sequence[CleanImage],
    *,
    idempotency_key: str,
    upload_dir: Path,
    sanggah_limit: int,
    kabar: Kabar | None = None,
    now: dt.datetime | None = None,
) -> FilingResult:
    """File a complaint with its evidence in the caller's unit of work; its tracking code.

    Flushes; the caller commits. Raises `SanggahQuotaExceeded` when the complainant has used up
    their sanggah for 30 days, `EvidenceNotStored` when a photo cannot be written, `FilingRaced`
    when a concurrent twin committed first, and the database's error when it fails. Photos are
    written first; if the unit of work then rolls back, they are removed again (except when the
    connection dies during COMMIT itself, see `_forget_photos`). A complainant who asked for
    news (`draft.contact`) gets a receipt through `kabar` once the unit commits.
    """
    now = now or utcnow()
    nik_hash = vault.digest(draft.complainant_nik)
    subject_key = _subject_key(vault, draft)
    if (earlier := _earlier_filing(session, idempotency_key, nik_hash, draft.kind, subject_key)) is not None:
        return earlier
    if draft.kind is ComplaintKind.SANGGAH and _sanggah_count(
        session, nik_hash, now - dt.timedelta(days=30)
    ) >= sanggah_limit:
        raise SanggahQuotaExceeded()

    stored: list[str] = []
    on_rollback(session, partial(_forget_photos, upload_dir, stored))
    for image in images:
        stored.append(store_image(upload_dir, image))
    complaint = Complaint(
        code=new_code(),
        idempotency_key=idempotency_key,
        kind=draft.kind,
        status=ComplaintStatus.DITERIMA,
        desa_code=draft.desa_code,
        complainant_name=draft.complainant_name,
        complainant_nik_encrypted=vault.encrypt(draft.complainant_nik, "nik"),
        complainant_nik_hash=nik_hash,
        complainant_phone_encrypted=(
            vault.encrypt(draft.complainant_phone, "phone") if draft.complainant_phone else None
        ),
        subject_name=draft.subject_name,
        subject_phonetic_key=phonetic_key(draft.subject_name),
        subject_nik_encrypted=vault.encrypt(draft.subject_nik, "nik") if draft.subject_nik else None,
        subject_nik_hash=vault.digest(draft.subject_nik) if draft.subject_nik else None,
        subject_key=subject_key,
        subject_rt=draft.subject_rt,
        subject_rw=draft.subject_rw,
        correction_field=draft.correction_field,
        correction_value=draft.correction_value,
        description=draft.description,
        latitude=draft.latitude,
        longitude=draft.longitude,
        consent_at=now,
        created_at=now,
    )
    if draft.contact is not None:
        complaint.contact_channel = draft.contact.channel
        complaint.contact_encrypted = vault.encrypt(draft.contact.address, CONTACT_FIELD)
        complaint.contact_hash = contact_hash(vault, draft.contact.address)
        complaint.contact_consent_at = now
    for name, image in zip(stored, images, strict=True):
        complaint.evidence.append(Evidence(
            stored_name=name, content_type=image.content_type, width=image.width,
            height=image.height, size_bytes=len(image.data), sha256=image.sha256, created_at=now,
        ))
    session.add(complaint)
    try:
        record_change(session, complaint, actor=ActorKind.PELAPOR, kabar=kabar,
                      to_status=ComplaintStatus.DITERIMA, now=now)
    except IntegrityError as error:
        # A concurrent twin won the race (same form, or same open subject): the caller rolls
        # back and answers with the twin's code (`answer_raced_filing`).
        raise FilingRaced(idempotency_key, nik_hash, draft.kind, subject_key) from error
    if kabar is not None:
        from portal.services.staff_notifications import Messenger, notify_staff_of_new  # it reads our labels

        notify_staff_of_new(session, complaint, Messenger(kabar.vault, kabar.base_url))
    return FilingResult(complaint.code, created=True)


class FilingRaced(Exception):
    """A concurrent filing of the same form or subject committed first; this unit must roll back."""

    def __init__(self, idempotency_key: str, nik_hash: bytes, kind: ComplaintKind, subject_key: bytes) -> None:
        super().__init__("a concurrent filing won")
        self.idempotency_key = idempotency_key
        self.nik_hash = nik_hash
        self.kind = kind
        self.subject_key = subject_key


def answer_raced_filing(session: Session, raced: FilingRaced) -> FilingResult:
    """After rolling back a raced filing: the twin's answer. Re-raises the database's error
    when there is no twin (another constraint refused the row)."""
    twin = _earlier_filing(session, raced.idempotency_key, raced.nik_hash, raced.kind, raced.subject_key)
    if twin is None:
        raise raced.__cause__ or raced
    return twin


def _forget_photos(upload_dir: Path, stored: list[str], cause: RollbackCause) -> None:
    """The filing did not commit: remove its photos, unless the connection died during COMMIT
    itself. Then the database may have committed before it went, and the photos belong to a
    complaint that a retry of the form will find: an orphan file is the lesser harm than lost
    evidence."""
    if cause.during_commit and cause.error is not None and is_database_outage(cause.error):
        logger.warning("commit outcome unknown (%s); keeping %d stored photos", type(cause.error).__name__,
                       len(stored))
        return
    remove_stored(upload_dir, stored)


def _earlier_filing(session: Session, idempotency_key: str, nik_hash: bytes, kind: ComplaintKind,
                    subject_key: bytes) -> FilingResult | None:
    """The answer for a form already filed (its code), or for an open duplicate (a hint of its code)."""
    earlier = _existing(session, idempotency_key)
    if earlier is not None:
        return FilingResult(earlier.code, created=False)
    duplicate = _open_duplicate(session, nik_hash, kind, subject_key)
    if duplicate is not None:
        return FilingResult(hint_of(duplicate.code), created=False, duplicate_open=True)
    return None


@dataclass(frozen=True, slots=True)
class PublicEvent:
    at: dt.datetime
    status: ComplaintStatus | None
    note: str
    by_complainant: bool


@dataclass(frozen=True, slots=True)
class TrackView:
    """What anyone holding the code may see: nothing personal."""

    code: str
    kind: ComplaintKind
    desa_code: str
    desa_name: str
    filed_at: dt.datetime
    status: ComplaintStatus
    events: tuple[PublicEvent, ...]
    can_reopen: bool


def _decided_at(complaint: Complaint) -> dt.datetime | None:
    moves = [e for e in complaint.events if e.to_status == complaint.status]
    return moves[-1].created_at if moves else None


def _can_reopen(complaint: Complaint, now: dt.datetime) -> bool:
    if complaint.status not in DECIDED_STATUSES or complaint.reopened_at is not None:
        return False
    decided = _decided_at(complaint)
    return decided is not None and decided + REOPEN_WINDOW >= now



def _load(session: Session, code: str) -> Complaint | None:
    return session.scalar(
        select(Complaint).where(Complaint.code == code)
        .options(selectinload(Complaint.events))
    )


def track_complaint(session: Session, typed_code: str, *, now: dt.datetime | None = None) -> TrackView | None:
    """The public view of a complaint by its code, or None for an unknown or mistyped code."""
    now = now or utcnow()
    code = normalise_code(typed_code)
    complaint = _load(session, code) if code else None
    if complaint is None:
        return None
    desa = session.get(Region, complaint.desa_code)
    events = tuple(
        PublicEvent(e.created_at, e.to_status, e.note, e.actor is ActorKind.PELAPOR)
        for e in complaint.events if e.public
    )
    return TrackView(
        code=complaint.code, kind=complaint.kind, desa_code=complaint.desa_code,
        desa_name=desa.name if desa else complaint.desa_code,
        filed_at=complaint.created_at, status=complaint.status, events=events,
        can_reopen=_can_reopen(complaint, now),
    )


def reopen_complaint(session: Session, typed_code: str, comment: str, *, kabar: Kabar | None = None,
                     now: dt.datetime | None = None) -> str:
    """The complainant says a decided complaint is not resolved: back to `ditinjau`. Flushes.

    Allowed once, within 30 days of the decision. Raises `ReopenRefused` otherwise.
    """
    now = now or utcnow()
    code = normalise_code(typed_code)
    complaint = _load(session, code) if code else None
    if complaint is None or not _can_reopen(complaint, now):
        raise ReopenRefused()
    newer = _open_duplicate(session, complaint.complainant_nik_hash, complaint.kind, complaint.subject_key)
    if newer is not None:
        raise ReopenClash()
    complaint.reopened_at = now
    # The move is public; the complainant's words may name people, so only staff read them.
    record_change(session, complaint, actor=ActorKind.PELAPOR, kabar=kabar, to_status=ComplaintStatus.DITINJAU,
                  now=now)
    record_change(session, complaint, actor=ActorKind.PELAPOR, kabar=kabar, note=comment, public=False, now=now)
    return complaint.code
