"""Cek status: find people in one desa by their whole name.

Matching is on the phonetic key of the whole name (which includes every exact match) within
the chosen desa: one index probe on (desa_code, phonetic_key). Only when that finds nobody, and
the typed name has at least two words, a tolerant pass reads the desa's distinct phonetic keys
from the same index (no table rows) and keeps those `names.close_keys` accepts: every word
within a small distance, the whole name as long as the typed one. Those people are marked as
spelt differently. Never a prefix, never a list of the village: more than `MAX_RESULTS`
matches asks for a more complete name instead; a single word that matches nobody exactly asks
for the full name. What leaves this module is already masked; the NIK, KK, birth date and
desil stay inside.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from portal.i18n import N_
from portal.models import ImportBatch, Programme, RegistryPerson
from portal.services import audit
from portal.services.names import DesaNames, mask_name, normalise_name, phonetic_key_of_normalised
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
    #: One typed word that matches nobody exactly: the full name is needed, nothing is guessed.
    FULL_NAME_NEEDED = "full_name_needed"


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
    #: Found by the tolerant pass: the registered name is spelt differently from the typed one.
    spelling_differs: bool = False


@dataclass(frozen=True, slots=True)
class LookupResult:
    outcome: LookupOutcome
    people: tuple[PersonMatch, ...] = ()


def age_on(birth: dt.date, today: dt.date) -> int:
    """Whole years of someone born on `birth`, on `today`."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


# The statements are built once, and run through Core for plain rows of the columns a result
# shows: building a statement, or loading ORM objects (with their NIK and KK blobs), costs several
# times the index probe itself.
_PERSON = (
    select(RegistryPerson.name, RegistryPerson.birth_date, RegistryPerson.rt, RegistryPerson.rw,
           RegistryPerson.nik_hash, RegistryPerson.desil, RegistryPerson.period,
           *(getattr(RegistryPerson, programme.value) for programme in Programme),
           ImportBatch.period.label("data_period"), ImportBatch.imported_at.label("imported_at"))
    .join(ImportBatch, ImportBatch.id == RegistryPerson.batch_id)
    .where(RegistryPerson.desa_code == bindparam("desa"))
    .limit(bindparam("limit"))
)
_BY_KEY = _PERSON.where(RegistryPerson.phonetic_key == bindparam("key")).order_by(
    RegistryPerson.name_key != bindparam("name"), RegistryPerson.id)  # exact spelling first
_BY_KEYS = _PERSON.where(RegistryPerson.phonetic_key.in_(bindparam("keys", expanding=True))).order_by(
    RegistryPerson.id)
_LATEST_IMPORT = select(ImportBatch.id, ImportBatch.imported_at).order_by(ImportBatch.id.desc()).limit(1)
_DESA_KEYS = select(RegistryPerson.phonetic_key).where(RegistryPerson.desa_code == bindparam("desa")).distinct()


class _DesaNamesCache:
    """The distinct phonetic keys of recently searched desas, per registry version, bounded.

    Reading a desa's keys costs tens of milliseconds for 10,000 people; residents of one desa
    tend to search in bursts (after an announcement), so a miss usually finds them here. The
    version is the latest import (only an import changes the registry), so a new import is
    never answered from old keys; and the keys only choose whom to read: the people shown are
    always read from the database.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[object, ...], DesaNames] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, desa_code: str) -> DesaNames:
        latest = session.execute(_LATEST_IMPORT).first()
        entry = (str(session.get_bind().url), desa_code, *(latest or ()))
        with self._lock:
            if entry in self._entries:
                self._entries.move_to_end(entry)
                return self._entries[entry]
        # An index-only read of the (desa_code, phonetic_key) index, through Core: one short
        # string per distinct name of the desa, never the person rows.
        names = DesaNames(session.connection().execute(_DESA_KEYS, {"desa": desa_code}).scalars())
        with self._lock:
            self._entries[entry] = names
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return names


#: About 1 MB per 10,000 people: 32 desas of that size hold about 30 MB per worker at most.
_desa_names = _DesaNamesCache(32).get


@dataclass(frozen=True, slots=True)
class _Matches:
    #: Rows of `_PERSON`: the columns of RegistryPerson a result needs, and the batch's period and date.
    people: list[Row[Any]]
    spelling_differs: bool = False
    single_word: bool = False


def _matches(session: Session, desa_code: str, name: str, limit: int) -> _Matches:
    """Exact and phonetic matches; only when there are none, the tolerant pass (two words or more)."""
    name_key = normalise_name(name)
    key = phonetic_key_of_normalised(name_key)
    if not key:
        return _Matches([])
    connection = session.connection()
    people = list(connection.execute(_BY_KEY, {"desa": desa_code, "key": key, "name": name_key, "limit": limit}))
    if people:
        return _Matches(people)
    if " " not in key:
        return _Matches([], single_word=True)
    close = _desa_names(session, desa_code).close_keys(key)
    if not close:
        return _Matches([])
    people = list(connection.execute(_BY_KEYS, {"desa": desa_code, "keys": close, "limit": limit}))
    return _Matches(people, spelling_differs=True)


def _status(person: Row[Any], programme: Programme, label: str) -> ProgrammeStatus:
    receives: bool | None = getattr(person, programme.value)
    return ProgrammeStatus(programme, label, receives, None if receives is None else person.period)


def _view(person: Row[Any], today: dt.date, spelling_differs: bool) -> PersonMatch:
    programmes = tuple(_status(person, programme, label) for programme, label in PROGRAMME_LABELS.items())
    return PersonMatch(
        masked_name=mask_name(person.name),
        age=age_on(person.birth_date, today),
        rt=person.rt,
        rw=person.rw,
        programmes=programmes,
        data_period=person.data_period,
        data_date=person.imported_at.date(),
        spelling_differs=spelling_differs,
    )


def find_people(session: Session, desa_code: str, name: str, *, today: dt.date | None = None) -> LookupResult:
    """Whole-name lookup in one desa: up to `MAX_RESULTS` masked matches, or why there are none.

    People whose registered name is spelt differently from the typed one are found only when
    nobody has the typed name, and come marked `spelling_differs`.
    """
    today = today or dt.date.today()
    found = _matches(session, desa_code, name, MAX_RESULTS + 1)
    if found.single_word:
        return LookupResult(LookupOutcome.FULL_NAME_NEEDED)
    if not found.people:
        return LookupResult(LookupOutcome.NOT_FOUND)
    if len(found.people) > MAX_RESULTS:
        return LookupResult(LookupOutcome.TOO_MANY)
    return LookupResult(LookupOutcome.FOUND,
                        tuple(_view(p, today, found.spelling_differs) for p in found.people))


@dataclass(frozen=True, slots=True)
class DesilReveal:
    masked_name: str
    desil: int | None


def reveal_desil(session: Session, vault: PiiVault, desa_code: str, name: str,
                 nik: str) -> DesilReveal | None:
    """The desil of the person found by this name in this desa whose NIK is `nik`, or None.

    Each reveal is appended to the audit log (who: the public; where: the desa; never the NIK)
    in the caller's transaction."""
    nik_hash = vault.digest(nik)
    # The people the lookup showed for this name, spelt differently or not.
    for person in _matches(session, desa_code, name, MAX_RESULTS).people:
        if person.nik_hash == nik_hash:
            audit.record(session, "desil_dilihat", None, username="publik", region_code=desa_code)
            return DesilReveal(mask_name(person.name), person.desil)
    return None
