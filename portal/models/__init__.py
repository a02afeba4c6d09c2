"""Typed SQLAlchemy models. No Flask request objects in here."""

from portal.models.captcha import CaptchaChallenge
from portal.models.region import Region, RegionLevel
from portal.models.registry import ImportBatch, Programme, ProgrammeEntry, RegistryPerson, Sex

__all__ = [
    "CaptchaChallenge",
    "ImportBatch",
    "Programme",
    "ProgrammeEntry",
    "Region",
    "RegionLevel",
    "RegistryPerson",
    "Sex",
]
