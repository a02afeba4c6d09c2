"""Service levels per desa: how many complaints are open, how many are overdue, how fast staff
first respond, how many the sweep had to raise above the desa (services.escalation).

Two grouped queries whatever the number of complaints: the counts per desa, and the median wait
for the first staff action per desa (on SQLite, which has no median aggregate, the waits are read
and the median is taken in Python).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections import defaultdict

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from portal.models import (
    OPEN_STATUSES,
    ActorKind,
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    Region,
    StaffUser,
    utcnow,
)
from portal.services.staff import scope_condition


@dataclasses.dataclass(frozen=True, slots=True)
class DesaService:
    desa_code: str
    desa_name: str
    kecamatan_name: str
    total: int
    open: int
    overdue: int
    escalated: int
    #: Median days from filing to the first staff action, over the complaints that had one.
    median_days_to_first_response: float | None
    #: Open complaints nobody on the staff has acted on yet.
    waiting_first_response: int


def service_levels(session: Session, user: StaffUser, *, overdue_days: int = 14,
                   now: dt.datetime | None = None) -> list[DesaService]:
    """One row per desa in the user's scope that has complaints (hidden ones left out), by
    kecamatan and desa name."""
    now = now or utcnow()
    visible = [scope_condition(user, Complaint.desa_code), Complaint.status != ComplaintStatus.DISEMBUNYIKAN]
    is_open = Complaint.status.in_(OPEN_STATUSES)
    first_staff = (
        select(ComplaintEvent.complaint_id, func.min(ComplaintEvent.created_at).label("first_at"))
        .where(ComplaintEvent.actor == ActorKind.STAF)
        .group_by(ComplaintEvent.complaint_id)
        .subquery()
    )
    desa, kecamatan = aliased(Region), aliased(Region)
    counts = session.execute(
        select(
            Complaint.desa_code, desa.name, kecamatan.name, func.count(),
            func.count(case((is_open, 1))),
            func.count(case((is_open & (Complaint.created_at <= now - dt.timedelta(days=overdue_days)), 1))),
            func.count(Complaint.escalation_level),
            func.count(case((is_open & first_staff.c.first_at.is_(None), 1))),
        )
        .outerjoin(first_staff, first_staff.c.complaint_id == Complaint.id)
        .join(desa, desa.code == Complaint.desa_code)
        .outerjoin(kecamatan, kecamatan.code == desa.parent_code)
        .where(*visible)
        .group_by(Complaint.desa_code, desa.name, kecamatan.name)
    ).all()
    medians = _median_waits(session, first_staff, visible)
    rows = [
        DesaService(code, name, kecamatan_name or "", total, open_, overdue, escalated,
                    round(medians[code], 1) if code in medians else None, waiting)
        for code, name, kecamatan_name, total, open_, overdue, escalated, waiting in counts
    ]
    return sorted(rows, key=lambda r: (r.kecamatan_name, r.desa_name, r.desa_code))


def _median_waits(session: Session, first_staff, visible: list) -> dict[str, float]:  # noqa: ANN001 - a subquery
    """Median days from filing to the first staff action, per desa. PostgreSQL computes it
    (`percentile_cont`, grouped); SQLite has no median, so there one row per answered complaint
    comes back and the median is taken here."""
    if session.get_bind().dialect.name == "postgresql":
        days = func.extract("epoch", first_staff.c.first_at - Complaint.created_at) / 86400
        return {code: float(median) for code, median in session.execute(
            select(Complaint.desa_code, func.percentile_cont(0.5).within_group(days))
            .join(first_staff, first_staff.c.complaint_id == Complaint.id)
            .where(*visible).group_by(Complaint.desa_code))}
    waits: dict[str, list[float]] = defaultdict(list)
    for desa_code, created_at, first_at in session.execute(
        select(Complaint.desa_code, Complaint.created_at, first_staff.c.first_at)
        .join(first_staff, first_staff.c.complaint_id == Complaint.id)
        .where(*visible)
    ):
        waits[desa_code].append((first_at - created_at).total_seconds() / 86400)
    return {code: statistics.median(values) for code, values in waits.items()}
