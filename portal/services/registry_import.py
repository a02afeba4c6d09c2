"""Import of a DTSEN registry extract from CSV.

The file is streamed row by row and validated; every rejected row gets a reason and its line
number. The registry of every desa that receives accepted rows is replaced inside one
transaction, so readers keep seeing the old data until the commit and a failure changes
nothing. Memory stays flat however long the file is: duplicate NIKs are found with the
database index instead of an in-memory set of every NIK seen.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any, NamedTuple

from lokal import parse_nik
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, aliased

from portal.i18n import N_, UserFacingError
from portal.models import ImportBatch, Programme, RegistryPerson, Sex
from portal.services.names import is_plausible_name, normalise_name, phonetic_key_of_normalised
from portal.services.pii import PiiVault
from portal.services.regions import desa_codes, kecamatan_codes, normalise_region_code

REQUIRED_COLUMNS = (
    "nik", "no_kk", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "rt", "rw", "desil",
)
PROGRAMME_COLUMNS = tuple(p.value for p in Programme)
PERIOD_COLUMN = "periode"
CHUNK_ROWS = 2000
SQLITE_IMPORT_CACHE_KIB = 64 * 1024

#: Why a row was rejected, by reason code; Indonesian first, translated where shown.
REASONS: dict[str, str] = {
    "field_count": N_("Jumlah kolom tidak sesuai dengan baris judul"),
    "nik_format": N_("NIK harus 16 digit angka"),
    "nik_region": N_("Kode wilayah pada NIK tidak ada dalam data Kemendagri"),
    "nik_birth_date": N_("Tanggal lahir yang tersandi pada NIK tidak mungkin"),
    "nik_birth_date_mismatch": N_("Tanggal lahir tidak sesuai dengan NIK"),
    "nik_sex_mismatch": N_("Jenis kelamin tidak sesuai dengan NIK"),
    "nik_duplicate": N_("NIK sudah ada di baris sebelumnya dalam berkas ini"),
    "kk_format": N_("Nomor KK harus 16 digit angka"),
    "name_invalid": N_("Nama kosong atau bukan nama orang"),
    "birth_date_invalid": N_("Tanggal lahir tidak terbaca atau tidak mungkin"),
    "sex_invalid": N_("Jenis kelamin harus L atau P"),
    "desa_unknown": N_("Kode desa/kelurahan tidak dikenal"),
    "rt_rw_invalid": N_("RT/RW harus berupa angka 1–3 digit"),
    "desil_invalid": N_("Desil harus angka 1 sampai 10"),
    "programme_invalid": N_("Nilai kolom program harus YA/TIDAK, Y/N atau 1/0"),
    "period_missing": N_("Periode kosong"),
}
#: Accepted rows worth a second look; they do not block the import.
WARNINGS: dict[str, str] = {
    "nik_elsewhere": N_("NIK juga terdaftar di desa lain (NIK ganda)"),
}

#: Programme cells, as written (the common case) or upper-cased.
_FLAGS = {"YA": True, "Y": True, "1": True, "TRUE": True,
          "TIDAK": False, "T": False, "N": False, "0": False, "FALSE": False}
_SEX = {"L": Sex.LAKI_LAKI.value, "LAKI-LAKI": Sex.LAKI_LAKI.value, "LAKI LAKI": Sex.LAKI_LAKI.value,
        "P": Sex.PEREMPUAN.value, "PEREMPUAN": Sex.PEREMPUAN.value, "W": Sex.PEREMPUAN.value}
_DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")
_OLDEST_BIRTH = dt.date(1900, 1, 1)


class ImportStopped(UserFacingError):
    """The file as a whole cannot be imported; nothing was changed."""


class RowIssue(NamedTuple):
    """A rejected row, or an accepted row with a warning."""

    line: int
    reason: str
    detail: str = ""
    fields: tuple[str, ...] = ()


@dataclass(slots=True)
class ImportResult:
    batch_id: int | None
    rows_read: int = 0
    rows_accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    desa_replaced: int = 0
    people_removed: int = 0
    nik_elsewhere: int = 0
    sha256: str = ""

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())


#: The columns of a registry person that a validated row carries, in this order.
PERSON_COLUMNS = ("nik_encrypted", "nik_hash", "kk_encrypted", "kk_hash", "desa_code", "name", "name_key",
                  "phonetic_key", "birth_date", "sex", "rt", "rw", "desil", "source_line", "period",
                  *PROGRAMME_COLUMNS)
_DESA = PERSON_COLUMNS.index("desa_code")
_PERIOD = PERSON_COLUMNS.index("period")


class _Row(NamedTuple):
    """A valid row, ready to insert: NIK and KK already encrypted and hashed."""

    line: int
    fields: tuple[str, ...]
    values: tuple[Any, ...]  # PERSON_COLUMNS
    nik_hash: bytes


class _CountingReader(io.RawIOBase):
    """Binary reader that hashes what passes through it and counts the bytes, for progress."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            view = memoryview(buffer)[:n]
            self.sha256.update(view)
            self.bytes_read += n
        return n or 0


def _parse_date(text: str) -> dt.date | None:
    if len(text) == 10 and text[4] == "-":
        try:
            return dt.date.fromisoformat(text)  # the common case, parsed in C
        except ValueError:
            return None
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²" and "١", which int() refuses or misreads."""
    return text.isascii() and text.isdigit()


def _header(text: IO[str]) -> tuple[list[str], str]:
    first = text.readline()
    if not first.strip():
        raise ImportStopped(N_("Berkas kosong: tidak ada baris judul."))
    delimiter = ";" if first.count(";") > first.count(",") else ","
    columns = [c.strip().lower() for c in next(csv.reader([first], delimiter=delimiter))]
    return columns, delimiter


class _RowValidator:
    """Checks one CSV row against the rules of the extract; knows the region tree.

    This runs for every one of millions of rows, so it reads cells by position and keeps
    the common case on C-level string methods; `tests/services/test_registry_import.py`
    holds one test per rule.
    """

    def __init__(self, columns: list[str], desa: frozenset[str], kecamatan: frozenset[str],
                 period: str | None, today: dt.date, vault: PiiVault, *, dates_as_text: bool) -> None:
        self.vault = vault
        # SQLite keeps dates as ISO text (as SQLAlchemy's Date does); PostgreSQL takes date objects.
        self.dates_as_text = dates_as_text
        self.width = len(columns)
        at = {name: i for i, name in enumerate(columns)}
        (self.nik, self.kk, self.name, self.birth, self.sex, self.desa_column, self.rt, self.rw,
         self.desil) = (at[name] for name in REQUIRED_COLUMNS)
        self.period_column = at.get(PERIOD_COLUMN)
        #: (column index or None, code) for every programme, in PERSON_COLUMNS order.
        self.programmes = [(at.get(p.value), p.value) for p in Programme]
        self.desa = desa
        self.kecamatan = kecamatan
        self.period = period
        self.today = today
        # A file names a few hundred desa codes, millions of times.
        self._desa_codes: dict[str, str] = {}
        # Members of one household follow each other and share their KK; its ciphertext and
        # hash are reused (the hash already links them, equal ciphertexts tell nothing more).
        self._last_kk: tuple[str, bytes, bytes] = ("", b"", b"")

    def desa_code_of(self, text: str) -> str:
        code = self._desa_codes.get(text)
        if code is None:
            code = normalise_region_code(text) if text else ""
            if len(self._desa_codes) < 100_000:
                self._desa_codes[text] = code
        return code

    def _protected_kk(self, kk: str) -> tuple[bytes, bytes]:
        last, encrypted, digest = self._last_kk
        if kk != last:
            encrypted, digest = self.vault.encrypt(kk, "kk"), self.vault.digest(kk)
            self._last_kk = (kk, encrypted, digest)
        return encrypted, digest

    def validate(self, line: int, fields: list[str]) -> _Row | RowIssue:  # noqa: C901, PLR0911, PLR0912
        if len(fields) != self.width:
            return RowIssue(line, "field_count", f"{len(fields)} / {self.width}", tuple(fields))

        info = parse_nik(fields[self.nik].strip(), reference_date=self.today)
        if info.nik is None:
            return RowIssue(line, "nik_format", fields=tuple(fields))
        if info.district_code not in self.kecamatan:
            return RowIssue(line, "nik_region", info.district_code or "", tuple(fields))
        if info.birth_date is None:
            return RowIssue(line, "nik_birth_date", fields=tuple(fields))
        kk = fields[self.kk].strip().replace(".", "").replace(" ", "")
        if len(kk) != 16 or not _is_number(kk):
            return RowIssue(line, "kk_format", fields=tuple(fields))

        name = " ".join(fields[self.name].split())
        if not is_plausible_name(name):
            return RowIssue(line, "name_invalid", fields=tuple(fields))
        birth_text = fields[self.birth].strip()
        birth_date = _parse_date(birth_text)
        if birth_date is None or not _OLDEST_BIRTH <= birth_date <= self.today:
            return RowIssue(line, "birth_date_invalid", birth_text, tuple(fields))
        birth_iso = birth_date.isoformat()
        # The NIK holds DDMMYY only: compare YY-MM-DD, whatever century lokal-id inferred.
        if info.birth_date[2:] != birth_iso[2:]:
            return RowIssue(line, "nik_birth_date_mismatch", fields=tuple(fields))
        sex_text = fields[self.sex].strip()
        sex = _SEX.get(sex_text) or _SEX.get(sex_text.upper())
        if sex is None:
            return RowIssue(line, "sex_invalid", sex_text, tuple(fields))
        if sex != info.gender:
            return RowIssue(line, "nik_sex_mismatch", fields=tuple(fields))

        desa_text = fields[self.desa_column].strip()
        desa_code = self.desa_code_of(desa_text)
        if desa_code not in self.desa:
            return RowIssue(line, "desa_unknown", desa_text, tuple(fields))
        rt, rw = fields[self.rt].strip(), fields[self.rw].strip()
        if not (_is_number(rt) and _is_number(rw) and len(rt) <= 3 and len(rw) <= 3):
            return RowIssue(line, "rt_rw_invalid", f"{rt}/{rw}", tuple(fields))
        desil_text = fields[self.desil].strip()
        desil: int | None = None
        if desil_text:
            if not _is_number(desil_text) or not 1 <= int(desil_text) <= 10:
                return RowIssue(line, "desil_invalid", desil_text, tuple(fields))
            desil = int(desil_text)

        period = (fields[self.period_column].strip() if self.period_column is not None else "") or self.period
        if not period:
            return RowIssue(line, "period_missing", fields=tuple(fields))
        flags: list[bool | None] = []
        for column, code in self.programmes:
            text = fields[column].strip() if column is not None else ""
            receives = _FLAGS.get(text) if text else None
            if text and receives is None:
                receives = _FLAGS.get(text.upper())
                if receives is None:
                    return RowIssue(line, "programme_invalid", f"{code}={text}", tuple(fields))
            flags.append(receives)

        name_key = normalise_name(name)
        nik_hash = self.vault.digest(info.nik)
        return _Row(line, tuple(fields), (
            self.vault.encrypt(info.nik, "nik"),
            nik_hash,
            *self._protected_kk(kk),
            desa_code,
            name[:100],
            name_key,
            phonetic_key_of_normalised(name_key),
            birth_iso if self.dates_as_text else birth_date,
            sex,
            rt.zfill(3),
            rw.zfill(3),
            desil,
            line,
            period[:40],
            *flags,
        ), nik_hash)


def _csv_rows(text: IO[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for every non-blank row after the header."""
    reader = csv.reader(text, delimiter=delimiter)
    for fields in reader:
        if not any(f.strip() for f in fields):
            continue
        # reader.line_num counts the header as line 1 of the file; +1 for the header read before.
        yield reader.line_num + 1, fields


class _Importer:
    def __init__(self, session: Session, batch: ImportBatch,
                 result: ImportResult, on_issue: Callable[[RowIssue], None] | None) -> None:
        self.session = session
        self.batch = batch
        self.result = result
        self.on_issue = on_issue
        self.replaced: set[str] = set()
        self.next_id: int | None = None
        self.first_id = 0
        #: The period of the first accepted row, for a file that carries it in a column.
        self.first_period = ""

    def reject(self, issue: RowIssue) -> None:
        self.result.rejected[issue.reason] += 1
        if self.on_issue:
            self.on_issue(issue)

    def _replace_desa(self, codes: set[str]) -> None:
        new = codes - self.replaced
        if not new:
            return
        removed = self.session.execute(
            delete(RegistryPerson).where(
                RegistryPerson.desa_code.in_(new), RegistryPerson.batch_id != self.batch.id
            )
        )
        self.result.people_removed += removed.rowcount or 0
        self.replaced |= new

    def write_chunk(self, rows: list[_Row]) -> None:
        """Insert a chunk of valid rows, rejecting NIKs already seen in this file."""
        hashes = {r.nik_hash for r in rows}
        # Probe the nik_hash index only (a batch_id condition would make SQLite scan the batch),
        # then keep the rows of this batch: other batches are other desas.
        earlier = {
            nik_hash: line
            for nik_hash, line, batch_id in self.session.execute(
                select(RegistryPerson.nik_hash, RegistryPerson.source_line, RegistryPerson.batch_id)
                .where(RegistryPerson.nik_hash.in_(hashes))
            )
            if batch_id == self.batch.id
        }
        people: list[_Row] = []
        for row in rows:
            first_line = earlier.get(row.nik_hash)
            if first_line is not None:
                self.reject(RowIssue(row.line, "nik_duplicate", str(first_line), row.fields))
                continue
            earlier[row.nik_hash] = row.line
            people.append(row)
        if not people:
            return
        self._replace_desa({row.values[_DESA] for row in people})
        ids = self._reserve_ids(len(people))
        batch_id = self.batch.id
        self._insert_people([(person_id, batch_id, *row.values) for person_id, row in zip(ids, people, strict=True)])
        self.first_period = self.first_period or people[0].values[_PERIOD]
        self.result.rows_accepted += len(people)

    def _insert_people(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert validated people (id, batch_id, *PERSON_COLUMNS) at the driver level.

        COPY on PostgreSQL, executemany elsewhere.

        This skips SQLAlchemy's per-value type processing, which costs more than the insert
        itself at a million rows; the values are exactly what the column types would store.
        """
        connection = self.session.connection()
        table, columns = RegistryPerson.__table__, ("id", "batch_id", *PERSON_COLUMNS)
        assert set(columns) <= set(table.columns.keys())  # identifiers from the model, never from input
        names = ", ".join(columns)
        if connection.dialect.driver == "psycopg":
            # Same transaction as the session; psycopg adapts and escapes each value.
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            with cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([marker] * len(columns))})"  # noqa: S608 - bound
        connection.exec_driver_sql(sql, rows)

    def serialise(self) -> None:
        """Hold off other imports until this one commits, before it changes any registry row.

        SQLite's writer lock is already held (the batch row is written). On PostgreSQL a SHARE
        ROW EXCLUSIVE lock blocks other imports but not readers. The web's statement timeout
        (DATABASE_STATEMENT_TIMEOUT_MS) is lifted for this one long transaction.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SET LOCAL statement_timeout = 0"))
            self.session.execute(text("LOCK TABLE registry_person IN SHARE ROW EXCLUSIVE MODE"))

    def _reserve_ids(self, count: int) -> range:
        """Ids for the next `count` people: one range per import, from `first_id` on.

        The range is how the end of the import finds this batch's people without an index on
        batch_id, and explicit ids let the driver insert a chunk without returning them. No
        other import can take ids meanwhile (see `serialise`).
        """
        if self.next_id is None:
            self.next_id = self.first_id = (self.session.scalar(select(func.max(RegistryPerson.id))) or 0) + 1
        ids = range(self.next_id, self.next_id + count)
        self.next_id += count
        return ids

    def sync_id_sequence(self) -> None:
        """After explicit ids, move PostgreSQL's sequence past them."""
        if self.next_id is not None and self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text(
                "SELECT setval(pg_get_serial_sequence('registry_person', 'id'), :last)"
            ), {"last": self.next_id - 1})

    def report_nik_elsewhere(self) -> None:
        """Warn about accepted people whose NIK is also registered in another desa."""
        if self.next_id is None:
            return  # nothing accepted
        other = aliased(RegistryPerson)
        query = (
            select(RegistryPerson.source_line, func.min(other.desa_code))
            .join(other, (other.nik_hash == RegistryPerson.nik_hash)
                  & (other.desa_code != RegistryPerson.desa_code))
            # This batch's people hold the ids it reserved: a range of the primary key.
            .where(RegistryPerson.id >= self.first_id, RegistryPerson.batch_id == self.batch.id)
            .group_by(RegistryPerson.id, RegistryPerson.source_line)
            .order_by(RegistryPerson.source_line)
        )
        for line, other_desa in self.session.execute(query):
            self.result.nik_elsewhere += 1
            if self.on_issue:
                self.on_issue(RowIssue(line, "nik_elsewhere", other_desa))


def import_registry(
    session: Session,
    vault: PiiVault,
    path: str | os.PathLike[str],
    *,
    imported_by: str,
    period: str | None = None,
    dry_run: bool = False,
    on_issue: Callable[[RowIssue], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    today: dt.date | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportResult:
    """Validate and import a registry CSV in the caller's transaction, and flush; never commit.

    The caller (the CLI command) commits the unit of work, or rolls it back for a dry run
    (`dry_run` only leaves `batch_id` empty in the result) and on any exception: until then
    readers see the old registry. Raises `ImportStopped` when the file as a whole is unusable:
    wrong encoding, a missing column, no period, or no data rows. `on_issue` receives each
    rejected row and each warning; `on_progress` receives (rows read, bytes read) after each
    chunk of `chunk_rows` rows, the most that is held in memory at once.
    """
    today = today or dt.date.today()
    file_name = os.path.basename(os.fspath(path))
    with open(path, "rb") as raw:
        counting = _CountingReader(raw)
        text = io.TextIOWrapper(io.BufferedReader(counting), encoding="utf-8-sig", newline="")
        try:
            result = _run(session, vault, text, counting, file_name=file_name,
                          imported_by=imported_by, period=period,
                          on_issue=on_issue, on_progress=on_progress, today=today,
                          chunk_rows=chunk_rows)
        except UnicodeDecodeError:
            raise ImportStopped(N_("Berkas bukan teks UTF-8. Simpan ulang sebagai CSV UTF-8.")) from None
    session.flush()
    if dry_run:
        result.batch_id = None
    return result


def _run(session: Session, vault: PiiVault, text: IO[str], counting: _CountingReader, *,
         file_name: str, imported_by: str, period: str | None,
         on_issue: Callable[[RowIssue], None] | None,
         on_progress: Callable[[int, int], None] | None, today: dt.date,
         chunk_rows: int) -> ImportResult:
    columns, delimiter = _header(text)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ImportStopped(N_("Kolom wajib tidak ada: %(columns)s."), columns=", ".join(missing))
    if not period and PERIOD_COLUMN not in columns:
        raise ImportStopped(N_("Periode data tidak diketahui: isi --period atau kolom 'periode'."))

    sqlite = session.get_bind().dialect.name == "sqlite"
    validator = _RowValidator(columns, desa_codes(session), kecamatan_codes(session), period, today, vault,
                              dates_as_text=sqlite)
    if sqlite:
        # Every row lands at a random place in the hash indexes: keep their pages in memory.
        session.connection().exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
    batch = ImportBatch(file_name=file_name[:255], sha256="", period=(period or "")[:40],
                        rows_read=0, rows_accepted=0, rows_rejected=0, rejections={},
                        desa_count=0, imported_by=imported_by[:100])
    session.add(batch)
    session.flush()
    result = ImportResult(batch_id=batch.id)
    importer = _Importer(session, batch, result, on_issue)
    importer.serialise()

    rows = _csv_rows(text, delimiter)
    while chunk := list(islice(rows, chunk_rows)):
        prepared = [validator.validate(line, fields) for line, fields in chunk]
        valid: list[_Row] = []
        for checked in prepared:
            if isinstance(checked, RowIssue):
                importer.reject(checked)
            else:
                valid.append(checked)
        if valid:
            importer.write_chunk(valid)
        result.rows_read += len(prepared)
        if on_progress:
            on_progress(result.rows_read, counting.bytes_read)

    if result.rows_read == 0:
        raise ImportStopped(N_("Berkas tidak berisi baris data."))
    importer.report_nik_elsewhere()
    importer.sync_id_sequence()

    result.sha256 = counting.sha256.hexdigest()
    result.desa_replaced = len(importer.replaced)
    batch.sha256 = result.sha256
    batch.period = batch.period or importer.first_period
    batch.rows_read = result.rows_read
    batch.rows_accepted = result.rows_accepted
    batch.rows_rejected = result.rows_rejected
    batch.rejections = dict(result.rejected)
    batch.desa_count = result.desa_replaced
    batch.nik_elsewhere = result.nik_elsewhere
    session.flush()
    return result


def registry_is_empty(session: Session) -> bool:
    return session.scalar(select(RegistryPerson.id).limit(1)) is None


def latest_batch(session: Session) -> ImportBatch | None:
    """The most recent committed import, for "data as of" notices."""
    return session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1)).first()
