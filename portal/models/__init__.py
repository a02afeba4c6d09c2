"""Typed SQLAlchemy models. No Flask request objects in here."""

from portal.models.captcha import SpentChallenge
from portal.models.complaint import (
    DECIDED_STATUSES,
    OPEN_STATUSES,
    ActorKind,
    Complaint,
    ComplaintEvent,
    ComplaintKind,
    ComplaintStatus,
    ContactChannel,
    CorrectionField,
    EscalationLevel,
    Evidence,
)
from portal.models.outbox import MessageChannel, MessageKind, MessageStatus, OutboxMessage
from portal.models.region import Region, RegionLevel
from portal.models.registry import ImportBatch, Programme, RegistryPerson, Sex
from portal.models.staff import (
    ROLE_REGION_LEVEL,
    AuditEntry,
    MusdesDecision,
    MusdesOutcome,
    NewComplaintNotice,
    StaffKnownAddress,
    StaffRecoveryCode,
    StaffRole,
    StaffSession,
    StaffUser,
)
from portal.models.types import utcnow

__all__ = [
    "ROLE_REGION_LEVEL",
    "AuditEntry",
    "MusdesDecision",
    "MusdesOutcome",
    "NewComplaintNotice",
    "StaffKnownAddress",
    "StaffRecoveryCode",
    "StaffRole",
    "StaffSession",
    "StaffUser",
    "DECIDED_STATUSES",
    "OPEN_STATUSES",
    "ActorKind",
    "ContactChannel",
    "Complaint",
    "ComplaintEvent",
    "ComplaintKind",
    "ComplaintStatus",
    "CorrectionField",
    "EscalationLevel",
    "Evidence",
    "SpentChallenge",
    "ImportBatch",
    "MessageChannel",
    "MessageKind",
    "MessageStatus",
    "OutboxMessage",
    "Programme",
    "Region",
    "RegionLevel",
    "RegistryPerson",
    "Sex",
    "utcnow",
]
