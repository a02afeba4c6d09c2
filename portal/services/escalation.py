"""Escalation of overdue complaints: the 14-day window means something only if someone above
the desa sees it pass.

A complaint still `diterima` or `ditinjau` after `kecamatan_days` (14) since filing is raised to
its kecamatan, after `kabupaten_days` (21) to its kabupaten. Each raise is one public timeline
event ("Diteruskan otomatis ke kecamatan karena melewati 14 hari"), one audit entry and a notice
to the staff of that level, in the caller's transaction (this module only flushes).

The sweep is idempotent: the level is raised by a conditional UPDATE that names the level it
expects to find, so a second sweep — even one running at the same moment on another worker —
finds nothing to raise and writes nothing. On PostgreSQL the second UPDATE waits for the first
transaction's row lock and then re-reads the row; on SQLite writers take turns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.i18n import N_
from portal.models import (
    ActorKind,
    Complaint,
    ComplaintStatus,
    EscalationLevel,
    StaffRole,
    utcnow,
)
from portal.services.complaint_changes import Kabar, record_change
from portal.services.staff_notifications import Messenger, notify_escalation

#: The states in which a complaint waits for the desa's first decision.
WAITING = (ComplaintStatus.DITERIMA, ComplaintStatus.DITINJAU)
#: The code segments of a desa code that name each level, and the staff role of that level.
_LEVELS = {EscalationLevel.KECAMATAN: (3, StaffRole.KECAMATAN), EscalationLevel.KABUPATEN: (2, StaffRole.KABUPATEN)}
#: The levels a complaint may have before being raised to each one.
_RAISED_FROM = {EscalationLevel.KECAMATAN: (None,), EscalationLevel.KABUPATEN: (None, EscalationLevel.KECAMATAN)}

#: The badge of an escalated complaint in the staff queues.
ESCALATION_LABELS: dict[EscalationLevel, str] = {
    EscalationLevel.KECAMATAN: N_("Naik ke kecamatan"),
    EscalationLevel.KABUPATEN: N_("Naik ke kabupaten/kota"),
}


@dataclasses.dataclass(frozen=True)
class EscalationRules:
    kecamatan_days: int = 14
    kabupaten_days: int = 21

    @classmethod
    def from_config(cls, config) -> EscalationRules:  # noqa: ANN001 - a Flask config mapping
        return cls(config["ESCALATE_KECAMATAN_DAYS"], config["ESCALATE_KABUPATEN_DAYS"])

    def days(self, level: EscalationLevel) -> int:
        return self.kecamatan_days if level is EscalationLevel.KECAMATAN else self.kabupaten_days


@dataclasses.dataclass
class EscalationReport:
    kecamatan: int = 0
    kabupaten: int = 0
    notices: int = 0


def level_region(desa_code: str, level: EscalationLevel) -> str:
    """The kecamatan or kabupaten code of a desa code ("32.04.05.2001" → "32.04.05" / "32.04")."""
    return ".".join(desa_code.split(".")[: _LEVELS[level][0]])


def escalation_note(level: EscalationLevel, days: int) -> str:
    """The public timeline text of a raise, in Bahasa Indonesia (the timeline's language)."""
    with force_locale("id"):
        if level is EscalationLevel.KECAMATAN:
            return _("Diteruskan otomatis ke kecamatan karena melewati %(days)s hari", days=days)
        return _("Diteruskan otomatis ke kabupaten/kota karena melewati %(days)s hari", days=days)


def _raise(session: Session, complaint_id: int, level: EscalationLevel, now: dt.datetime) -> bool:
    """Raise one complaint to `level` if it is still waiting at a lower level; False if another
    sweep (or a staff decision) got there first. The version is not bumped: a staff member's
    move in flight is not made stale by the sweep."""
    result = session.execute(
        update(Complaint)
        .where(Complaint.id == complaint_id, Complaint.status.in_(WAITING),
               _level_in(_RAISED_FROM[level]))
        .values(escalation_level=level, escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def _level_in(levels: tuple[EscalationLevel | None, ...]):  # noqa: ANN202 - an SQL condition
    named = [lv for lv in levels if lv is not None]
    condition = Complaint.escalation_level.is_(None)
    return condition | Complaint.escalation_level.in_(named) if named else condition


def escalate_overdue(session: Session, messenger: Messenger, rules: EscalationRules | None = None, *,
                     now: dt.datetime | None = None) -> EscalationReport:
    """Raise every waiting complaint past its window: to the kabupaten after `kabupaten_days`
    (straight there if the kecamatan step was never taken), else to the kecamatan after
    `kecamatan_days`. Writes the timeline event, audit entry and notices of each raise; flushes,
    the caller commits. Running it again raises nothing twice."""
    rules = rules or EscalationRules()
    now = now or utcnow()
    report = EscalationReport()
    for level in (EscalationLevel.KABUPATEN, EscalationLevel.KECAMATAN):
        days = rules.days(level)
        due = session.execute(
            select(Complaint.id, Complaint.code).where(
                Complaint.status.in_(WAITING), _level_in(_RAISED_FROM[level]),
                Complaint.created_at <= now - dt.timedelta(days=days))
            .order_by(Complaint.created_at, Complaint.id)
        ).all()
        for complaint_id, _code in due:
            if not _raise(session, complaint_id, level, now):
                continue
            complaint = session.get(Complaint, complaint_id, populate_existing=True)
            # Public on lacak, and told to a complainant who asked for news.
            record_change(session, complaint, actor=ActorKind.SISTEM, kabar=Kabar(messenger.vault, messenger.base_url),
                          note=escalation_note(level, days), public=True, audit="aduan_dieskalasi",
                          audit_detail={"ke": level.value, "hari": str(days)}, notify=True, now=now)
            report.notices += notify_escalation(session, complaint, _LEVELS[level][1],
                                                level_region(complaint.desa_code, level), days, messenger)
            setattr(report, level.value, getattr(report, level.value) + 1)
    return report
