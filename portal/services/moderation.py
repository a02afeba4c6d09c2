"""The moderation queue and the complaint lifecycle, as staff see and change them.

Every read is scoped to the staff member's region; a complaint outside it does not exist for
them. Every move is recorded by `complaint_changes.record_change` in the request's unit of work:
a timeline event (who, when, from, to, note, public or internal), an audit entry and the
messages to an opted-in complainant; the complaint's version column refuses a move based
on a stale read, so two staff acting at once cannot overwrite each other. What the
complainant wrote is never edited.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from portal.i18n import N_
from portal.models import (
    OPEN_STATUSES,
    ActorKind,
    Complaint,
    ComplaintEvent,
    ComplaintKind,
    ComplaintStatus,
    MusdesDecision,
    MusdesOutcome,
    Region,
    RegistryPerson,
    StaffUser,
    utcnow,
)
from portal.services.audit import record
from portal.services.complaint_changes import Kabar, record_change
from portal.services.complaints import KIND_LABELS, STATUS_LABELS
from portal.services.lookup import age_on
from portal.services.pii import PiiVault, mask_number
from portal.services.staff import in_scope, scope_condition

S = ComplaintStatus
#: The lifecycle: which states each state may move to (by staff).
TRANSITIONS: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    S.DITERIMA: frozenset({S.DITINJAU, S.DISEMBUNYIKAN}),
    S.DITINJAU: frozenset({S.DITERUSKAN, S.DITOLAK, S.SELESAI, S.DISEMBUNYIKAN}),
    S.DITERUSKAN: frozenset({S.SELESAI, S.DITOLAK, S.DISEMBUNYIKAN}),
    S.DITOLAK: frozenset(),
    S.SELESAI: frozenset(),
    S.DISEMBUNYIKAN: frozenset({S.DITINJAU}),
}
#: Moves that need a note, and whether that note is public (shown on /aduan/lacak).
NOTE_REQUIRED: dict[ComplaintStatus, bool] = {S.DITOLAK: True, S.SELESAI: True, S.DISEMBUNYIKAN: False}
OVERDUE_AFTER_DAYS = 14  # the official verification window
DECISION_LABELS: dict[MusdesDecision, str] = {
    MusdesDecision.DISETUJUI: N_("Disetujui"),
    MusdesDecision.DITOLAK: N_("Ditolak"),
    MusdesDecision.DITUNDA: N_("Ditunda"),
}


class ModerationError(Exception):
    """A refused staff action; `message` is for the user (Bahasa Indonesia)."""

    message = N_("Tindakan ini tidak dapat dilakukan.")


class IllegalMove(ModerationError):
    message = N_("Perubahan status ini tidak diizinkan dari status sekarang.")


class StaleComplaint(ModerationError):
    message = N_("Aduan ini baru saja diubah oleh petugas lain. Periksa keadaan terbarunya lalu ulangi.")


class NoteRequired(ModerationError):
    message = N_("Perubahan ini memerlukan alasan atau catatan.")


class OpenDuplicate(ModerationError):
    message = N_("Pelapor yang sama sudah punya aduan terbuka lain tentang orang yang sama; tangani aduan itu.")


class ConflictOfInterest(ModerationError):
    message = N_("Anda tidak boleh menangani aduan yang menyangkut diri Anda sendiri.")




def age_days(complaint: Complaint, now: dt.datetime) -> int:
    return (now - complaint.created_at).days


# -- the queue ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueFilter:
    #: None: every state except hidden ones.
    status: ComplaintStatus | None = None
    kind: ComplaintKind | None = None
    desa_code: str | None = None
    min_age_days: int | None = None
    #: Only complaints the escalation sweep raised above the desa (services.escalation).
    escalated: bool = False


@dataclass(frozen=True, slots=True)
class QueueRow:
    complaint: Complaint
    age_days: int
    #: Still open after the official verification window.
    overdue: bool


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    counts: dict[ComplaintStatus, int] = field(default_factory=dict)
    page: int = 1
    per_page: int = 25

    @property
    def complaints(self) -> list[Complaint]:
        return [row.complaint for row in self.rows]

    @property
    def has_next(self) -> bool:
        return self.total > self.page * self.per_page


def _queue_query(user: StaffUser, filters: QueueFilter, now: dt.datetime):
    query = select(Complaint).where(scope_condition(user, Complaint.desa_code))
    if filters.status is not None:
        query = query.where(Complaint.status == filters.status)
    else:
        query = query.where(Complaint.status != ComplaintStatus.DISEMBUNYIKAN)
    if filters.kind is not None:
        query = query.where(Complaint.kind == filters.kind)
    if filters.desa_code:
        query = query.where(Complaint.desa_code == filters.desa_code)
    if filters.min_age_days:
        query = query.where(Complaint.created_at <= now - dt.timedelta(days=filters.min_age_days))
    if filters.escalated:
        query = query.where(Complaint.escalation_level.is_not(None))
    return query


def queue(session: Session, user: StaffUser, filters: QueueFilter, *, page: int = 1, per_page: int = 25,
          now: dt.datetime | None = None) -> QueuePage:
    """Complaints in the user's scope matching the filters, oldest first, with counts per status."""
    now = now or utcnow()
    page = max(page, 1)
    query = _queue_query(user, filters, now)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    complaints = session.scalars(
        query.order_by(Complaint.created_at, Complaint.id).limit(per_page).offset((page - 1) * per_page)
    )
    rows = [_queue_row(c, now) for c in complaints]
    return QueuePage(rows, total, _status_counts(session, user), page, per_page)


def _queue_row(complaint: Complaint, now: dt.datetime) -> QueueRow:
    days = age_days(complaint, now)
    return QueueRow(complaint, days, days >= OVERDUE_AFTER_DAYS and complaint.status in OPEN_STATUSES)


def _status_counts(session: Session, user: StaffUser) -> dict[ComplaintStatus, int]:
    return dict(session.execute(
        select(Complaint.status, func.count()).where(scope_condition(user, Complaint.desa_code))
        .group_by(Complaint.status)
    ).all())


def complaints_for_export(session: Session, user: StaffUser, filters: QueueFilter,
                          now: dt.datetime | None = None) -> Iterator[Complaint]:
    """Every complaint of the filtered queue, oldest first, streamed. The query is built at the
    call, from the user as loaded now: the rows are read later, after the request's commit."""
    query = _queue_query(user, filters, now or utcnow()).order_by(Complaint.created_at, Complaint.id)
    return _stream(session, query.execution_options(yield_per=500))


def _stream(session: Session, query: Any) -> Iterator[Complaint]:
    yield from session.scalars(query)


# A formula character at the start of a cell, or after anything a spreadsheet may split a
# line on (`;` `,` tab, a line break; spaces may come between), can start a live formula when
# the file is opened with another separator than ours: `x;=cmd|' /C calc'!A0`.
_FORMULA_AFTER_SEPARATOR = re.compile(r"(^|[;,\t\r\n])( *)(?=[=+\-@\t\r])")


def _cell(text: str) -> str:
    """Text that a spreadsheet shows as text: every formula start gets a leading apostrophe."""
    return _FORMULA_AFTER_SEPARATOR.sub(r"\1\2'", text)


#: Column names of the export (the first row), translated by the route into the staff member's language.
EXPORT_HEADER = [N_("kode"), N_("jenis"), N_("status"), N_("kode_desa"), N_("desa"), N_("diajukan"),
                 N_("umur_hari"), N_("pelapor"), N_("nik_pelapor"), N_("nama_subjek"), N_("nik_subjek"),
                 N_("rt"), N_("rw"), N_("uraian")]


def export_rows(session: Session, vault: PiiVault, user: StaffUser, filters: QueueFilter,
                now: dt.datetime | None = None, *, translate: Callable[[str], str] = str) -> Iterator[list[str]]:
    """CSV rows for the musyawarah desa: the filtered queue with NIKs masked. Logs the export.

    Kinds and states are written in words, through `translate` (the reader's language)."""
    now = now or utcnow()
    record(session, "ekspor", user, region_code=filters.desa_code or user.region_code,
           detail={"status": filters.status or "", "jenis": filters.kind or "", "desa": filters.desa_code or ""})
    session.flush()
    names = dict(session.execute(select(Region.code, Region.name).where(
        scope_condition(user, Region.code), Region.level == 4)).all())
    complaints = complaints_for_export(session, user, filters, now)  # before the request commits
    yield EXPORT_HEADER
    for c in complaints:
        niks = masked_niks(vault, c)
        yield [_cell(value) for value in [
            c.code, translate(KIND_LABELS[c.kind]), translate(STATUS_LABELS[c.status]), c.desa_code,
            names.get(c.desa_code, ""),
            c.created_at.date().isoformat(), str(age_days(c, now)), c.complainant_name,
            niks["pelapor"], c.subject_name, niks["subjek"] or "",
            c.subject_rt or "", c.subject_rw or "", c.description,
        ]]


# -- one complaint --------------------------------------------------------------------------


def complaint_for_staff(session: Session, user: StaffUser, code: str) -> Complaint | None:
    """The complaint if it lies in the user's scope; None otherwise (the route answers 404)."""
    complaint = session.scalar(
        select(Complaint).where(Complaint.code == code)
        .options(selectinload(Complaint.events), selectinload(Complaint.evidence))
    )
    if complaint is None or not in_scope(user, complaint.desa_code):
        return None
    return complaint


@dataclass(frozen=True, slots=True)
class RegistryMatch:
    name: str
    rt: str
    rw: str
    age: int
    desil: int | None
    nik_masked: str
    by_nik: bool


def registry_matches(session: Session, vault: PiiVault, user: StaffUser, complaint: Complaint,
                     today: dt.date | None = None) -> list[RegistryMatch]:
    """Registry records in the user's scope that may be the subject: same name key in the desa, or same NIK.

    A NIK match outside the scope is not shown: a complaint could otherwise be filed to look
    up anyone's registry record.
    """
    today = today or dt.date.today()
    conditions = [(RegistryPerson.desa_code == complaint.desa_code)
                  & (RegistryPerson.phonetic_key == complaint.subject_phonetic_key)]
    if complaint.subject_nik_hash:
        conditions.append(RegistryPerson.nik_hash == complaint.subject_nik_hash)
    people = session.scalars(select(RegistryPerson).where(
        or_(*conditions), scope_condition(user, RegistryPerson.desa_code)).limit(20))
    return [
        RegistryMatch(
            name=p.name, rt=p.rt, rw=p.rw, desil=p.desil,
            age=age_on(p.birth_date, today),
            nik_masked=mask_number(vault.decrypt(p.nik_encrypted, "nik")),
            by_nik=p.nik_hash == complaint.subject_nik_hash,
        )
        for p in people
    ]


def related_open(session: Session, user: StaffUser, complaint: Complaint) -> list[Complaint]:
    """Other open complaints about the same subject, inside the user's scope."""
    return list(session.scalars(select(Complaint).where(
        Complaint.subject_key == complaint.subject_key, Complaint.id != complaint.id,
        Complaint.status.in_(OPEN_STATUSES), scope_condition(user, Complaint.desa_code),
    ).order_by(Complaint.created_at)))


def _clear_niks(vault: PiiVault, complaint: Complaint) -> dict[str, str]:
    """The complainant's NIK, and the subject's where the complaint gives one, in clear."""
    niks = {"pelapor": vault.decrypt(complaint.complainant_nik_encrypted, "nik")}
    if complaint.subject_nik_encrypted:
        niks["subjek"] = vault.decrypt(complaint.subject_nik_encrypted, "nik")
    return niks


def masked_niks(vault: PiiVault, complaint: Complaint) -> dict[str, str | None]:
    """The complaint's NIKs as staff see them before pressing "Tampilkan NIK"."""
    niks = _clear_niks(vault, complaint)
    return {"pelapor": mask_number(niks["pelapor"]),
            "subjek": mask_number(niks["subjek"]) if "subjek" in niks else None}


def complainant_phone(vault: PiiVault, complaint: Complaint) -> str | None:
    """The complainant's phone number, for staff in scope to call back."""
    if complaint.complainant_phone_encrypted is None:
        return None
    return vault.decrypt(complaint.complainant_phone_encrypted, "phone")


def reveal_niks(session: Session, vault: PiiVault, user: StaffUser, complaint: Complaint) -> dict[str, str]:
    """The complaint's NIKs in clear, for this one page view. Logged (the caller commits)."""
    niks = _clear_niks(vault, complaint)
    record(session, "nik_dibuka", user, region_code=complaint.desa_code, target=complaint.code)
    session.flush()
    return niks


def log_evidence_view(session: Session, user: StaffUser, complaint: Complaint, item_id: int,
                      kind: str = "bukti") -> None:
    """Log that a staff member opened a photo (evidence or musdes minutes); the caller commits."""
    record(session, "bukti_dilihat", user, region_code=complaint.desa_code, target=complaint.code,
           detail={kind: item_id})
    session.flush()


def musdes_outcomes(session: Session, complaint: Complaint) -> list[MusdesOutcome]:
    """The village deliberation's decisions on a complaint, oldest first."""
    return list(session.scalars(select(MusdesOutcome).where(MusdesOutcome.complaint_id == complaint.id)
                                .order_by(MusdesOutcome.id)))


def _conflicted(user: StaffUser, complaint: Complaint) -> bool:
    """Whether the complaint is by or about the staff member themselves."""
    return bool(user.nik_hash) and user.nik_hash in (complaint.complainant_nik_hash, complaint.subject_nik_hash)


def _check_conflict(user: StaffUser, complaint: Complaint) -> None:
    if _conflicted(user, complaint):
        raise ConflictOfInterest()


@dataclass(frozen=True, slots=True)
class MoveChoice:
    """A move as a staff member is offered it: what the button says it does, and what follows."""

    to: ComplaintStatus
    label: str
    explanation: str


#: Per target state: the button's words (what it does, not the state's name) and what follows.
MOVE_LABELS: dict[ComplaintStatus, tuple[str, str]] = {
    S.DITINJAU: (N_("Mulai tinjau"), N_("Status menjadi Sedang ditinjau; pelapor melihatnya di halaman lacak.")),
    S.DITERUSKAN: (N_("Teruskan ke Dinas Sosial"),
                   N_("Untuk ditindaklanjuti Dinas Sosial di SIKS-NG; pelapor melihat statusnya.")),
    S.DITOLAK: (N_("Tolak aduan"), N_("Alasan wajib diisi di Catatan dan ditampilkan ke pelapor.")),
    S.SELESAI: (N_("Tandai selesai"), N_("Catatan wajib diisi dan ditampilkan ke pelapor.")),
    S.DISEMBUNYIKAN: (N_("Sembunyikan (spam)"), N_(
        "Untuk spam atau aduan yang kasar: aduan keluar dari antrian dan tidak dihitung di statistik. "
        "Pelapor melihatnya sebagai Ditutup. Catatan wajib diisi dan hanya dilihat petugas.")),
}
#: Bringing a hidden complaint back is not "starting a review" for whoever reads the button.
_UNHIDE = (N_("Kembalikan ke antrian"),
           N_("Aduan tampil lagi di antrian dan dihitung di statistik, dengan status Sedang ditinjau."))


def move_choices(user: StaffUser, complaint: Complaint) -> list[MoveChoice]:
    """The moves this user may make now, each with the words of its button and what it does."""
    moves = []
    for to in allowed_moves(user, complaint):
        label, explanation = _UNHIDE if complaint.status is S.DISEMBUNYIKAN else MOVE_LABELS[to]
        moves.append(MoveChoice(to, label, explanation))
    return moves


def allowed_moves(user: StaffUser, complaint: Complaint) -> list[ComplaintStatus]:
    """The states this user may move the complaint to now."""
    if _conflicted(user, complaint):
        return []
    return sorted(TRANSITIONS[complaint.status], key=list(ComplaintStatus).index)


@contextmanager
def _refusals() -> Iterator[None]:
    """Translate the database's refusals of a move's flush. After one of them the session's
    transaction is already rolled back: the caller's unit of work must roll back too."""
    try:
        yield
    except StaleDataError:
        raise StaleComplaint() from None
    except IntegrityError:
        # Reopening a hidden complaint while the same complainant has a newer open one.
        raise OpenDuplicate() from None


def move_complaint(session: Session, user: StaffUser, complaint: Complaint, to: ComplaintStatus, note: str,
                   *, expected_version: int, kabar: Kabar | None = None, now: dt.datetime | None = None) -> None:
    """Move a complaint to another state (`record_change`: event, audit entry, messages); flushes,
    the caller commits.

    Raises IllegalMove, NoteRequired, StaleComplaint (someone moved it since `expected_version`
    was read), OpenDuplicate or ConflictOfInterest.
    """
    _check_conflict(user, complaint)
    if complaint.version != expected_version:
        raise StaleComplaint()
    if to not in TRANSITIONS[complaint.status]:
        raise IllegalMove()
    note = note.strip()
    if to in NOTE_REQUIRED and not note:
        raise NoteRequired()
    previous = complaint.status
    # Nothing is flushed before record_change's flush, where the version check decides.
    with _refusals(), session.no_autoflush:
        if to is ComplaintStatus.DITINJAU and complaint.assigned_staff_id is None:
            complaint.assigned_staff_id = user.id
        record_change(session, complaint, actor=ActorKind.STAF, kabar=kabar, to_status=to, note=note,
                      public=NOTE_REQUIRED.get(to, True), staff=user, audit="aduan_dipindah",
                      audit_detail={"dari": previous.value, "ke": to.value}, now=now)


def add_note(session: Session, user: StaffUser, complaint: Complaint, note: str,
             *, now: dt.datetime | None = None) -> None:
    """An internal note (or a staff correction): only staff read it. Flushes; the caller commits."""
    note = note.strip()
    if not note:
        raise NoteRequired()
    _check_conflict(user, complaint)
    record_change(session, complaint, actor=ActorKind.STAF, kabar=None, note=note, public=False, staff=user,
                  audit="catatan", now=now)


def record_musdes(session: Session, user: StaffUser, complaint: Complaint, held_on: dt.date,
                  decision: MusdesDecision, note: str, minutes_stored_name: str | None = None,
                  *, now: dt.datetime | None = None) -> MusdesOutcome:
    """Record the village deliberation's decision; a public timeline entry says it happened.

    Flushes; the caller commits. The state does not move, so nothing is sent."""
    now = now or utcnow()
    _check_conflict(user, complaint)
    outcome = MusdesOutcome(complaint_id=complaint.id, held_on=held_on, decision=decision, note=note.strip(),
                            minutes_stored_name=minutes_stored_name, staff_id=user.id, created_at=now)
    session.add(outcome)
    record_change(session, complaint, actor=ActorKind.STAF, kabar=None,
                  note=f"Musyawarah desa {held_on.isoformat()}: {decision.value}", public=True, staff=user,
                  audit="musdes", audit_detail={"keputusan": decision.value}, notify=False, now=now)
    return outcome


# -- dashboard --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dashboard:
    by_status: dict[ComplaintStatus, int]
    by_kind: dict[ComplaintKind, int]
    overdue: int
    median_days_to_first_response: float | None
    overdue_after_days: int = OVERDUE_AFTER_DAYS


def dashboard(session: Session, user: StaffUser, now: dt.datetime | None = None) -> Dashboard:
    """Counts in the user's scope, overdue open complaints, and how fast staff first respond."""
    now = now or utcnow()
    in_scope_ = scope_condition(user, Complaint.desa_code)
    by_status = _status_counts(session, user)
    by_kind = dict(session.execute(
        select(Complaint.kind, func.count()).where(in_scope_).group_by(Complaint.kind)).all())
    overdue = session.scalar(select(func.count()).select_from(Complaint).where(
        in_scope_, Complaint.status.in_(OPEN_STATUSES),
        Complaint.created_at <= now - dt.timedelta(days=OVERDUE_AFTER_DAYS))) or 0
    # Each complaint in scope with the moment staff first acted on it (only complaints they have).
    pairs = session.execute(
        select(Complaint.created_at, func.min(ComplaintEvent.created_at))
        .join(ComplaintEvent, ComplaintEvent.complaint_id == Complaint.id)
        .where(in_scope_, ComplaintEvent.actor == ActorKind.STAF)
        .group_by(Complaint.id, Complaint.created_at)
    ).all()
    waits = [(first - created).total_seconds() / 86400 for created, first in pairs]
    return Dashboard(Counter(by_status), Counter(by_kind), overdue,
                     round(statistics.median(waits), 1) if waits else None)
