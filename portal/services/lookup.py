"""Cek status: find people in one desa by their whole name.

Matching is on the phonetic key of the whole name (which includes every exact match) within
the chosen desa: one index probe on (desa_code, phonetic_key). Never a prefix, never a list
of the village: more than `MAX_RESULTS` matches asks for a more complete name instead.
What leaves this module is already masked; the NIK, KK, birth date and desil stay inside.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.i18n import N_
from portal.models import Programme, RegistryPerson
from portal.services.names import mask_name, normalise_name, phonetic_key_of_normalised
from portal.services.pii import PiiVault

MAX_RESULTS = 5

PROGRAMME_LABELS: dict[Programme, str] = {
    Programme.PKH: N_("Program Keluarga Harapan (PKH)"),
    Programme.BPNT: N_("Bantuan Pangan Non Tunai / Sembako (BPNT)"),
    Programme.PBI_JK: N_("Penerima Bantuan Iuran Jaminan Kesehatan (PBI-JK)"),
    Programme.BLT: N_("Bantuan Langsung Tunai (BLT)"),
}


class LookupOutcome(enum.StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    TOO_MANY = "too_many"


@dataclass(frozen=True, slots=True)
class ProgrammeStatus:
    programme: Programme
    label: str
    #: None: the extract says nothing about this programme for this person.
    receives: bool | None
    period: str | None


@dataclass(frozen=True, slots=True)
class PersonMatch:
    masked_name: str
    age: int
    rt: str
    rw: str
    programmes: tuple[ProgrammeStatus, ...]
    data_period: str
    data_date: dt.date


@dataclass(frozen=True, slots=True)
class LookupResult:
    outcome: LookupOutcome
    people: tuple[PersonMatch, ...] = ()


def age_on(birth: dt.date, today: dt.date) -> int:
    """Whole years of someone born on `birth`, on `today`."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _matches(session: Session, desa_code: str, name: str, limit: int) -> list[RegistryPerson]:
    name_key = normalise_name(name)
    key = phonetic_key_of_normalised(name_key)
    if not key:
        return []
    exact_first = RegistryPerson.name_key != name_key  # False sorts first
    return list(session.scalars(
        select(RegistryPerson)
        .where(RegistryPerson.desa_code == desa_code, RegistryPerson.phonetic_key == key)
        .order_by(exact_first, RegistryPerson.id)
        .limit(limit)
        .options(joinedload(RegistryPerson.batch))
    ))


def _status(person: RegistryPerson, programme: Programme, label: str) -> ProgrammeStatus:
    receives = person.receives(programme)
    return ProgrammeStatus(programme, label, receives, None if receives is None else person.period)


def _view(person: RegistryPerson, today: dt.date) -> PersonMatch:
    programmes = tuple(_status(person, programme, label) for programme, label in PROGRAMME_LABELS.items())
    return PersonMatch(
        masked_name=mask_name(person.name),
        age=age_on(person.birth_date, today),
        rt=person.rt,
        rw=person.rw,
        programmes=programmes,
        data_period=person.batch.period,
        data_date=person.batch.imported_at.date(),
    )


def find_people(session: Session, desa_code: str, name: str, *, today: dt.date | None = None) -> LookupResult:
    """Whole-name lookup in one desa: up to `MAX_RESULTS` masked matches, or why there are none."""
    today = today or dt.date.today()
    people = _matches(session, desa_code, name, MAX_RESULTS + 1)
    if not people:
        return LookupResult(LookupOutcome.NOT_FOUND)
    if len(people) > MAX_RESULTS:
        return LookupResult(LookupOutcome.TOO_MANY)
    return LookupResult(LookupOutcome.FOUND, tuple(_view(p, today) for p in people))


@dataclass(frozen=True, slots=True)
class DesilReveal:
    masked_name: str
    desil: int | None


def reveal_desil(session: Session, vault: PiiVault, desa_code: str, name: str,
                 nik: str) -> DesilReveal | None:
    """The desil of the person found by this name in this desa whose NIK is `nik`, or None."""
    nik_hash = vault.digest(nik)
    for person in _matches(session, desa_code, name, MAX_RESULTS):
        if person.nik_hash == nik_hash:
            return DesilReveal(mask_name(person.name), person.desil)
    return None
