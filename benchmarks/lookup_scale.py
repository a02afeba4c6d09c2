"""The lookup service at registry scale: `find_people` on 10 thousand, 1 million and 10 million people.

Not HTTP: the service function as the route calls it, with the app's own session. The registry
is synthetic and written straight into the table (SQLite `executemany` of ready tuples,
PostgreSQL `COPY`), with the indexes dropped while it grows and rebuilt from their own
definitions afterwards, so the schema measured is the migrations' own. People are spread over
every desa of the country; their names come from a few thousand combinations, and the name keys
are computed by the portal's own `normalise_name` / `phonetic_key_of_normalised` once per name.

Each size reports median and p99 of found and not-found lookups, and of the raw index probe
(the SQL of the lookup's WHERE clause, through the same DB-API connection) as the floor.
10 million rows are measured on SQLite only (`--sizes` changes that): on PostgreSQL sharing two
cores, writing them alone would take most of the 15-minute budget.

    .venv/bin/python benchmarks/lookup_scale.py [--quick] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (  # noqa: E402 - the path above first
    NOT_FOUND_NAME,
    add_options,
    latency_ms,
    log,
    seeded_databases,
    write_part,
)

FIRST = ("Agus", "Ahmad", "Asep", "Bambang", "Budi", "Dadang", "Dedi", "Eko", "Endang", "Hendra", "Iwan", "Joko",
         "Rahmat", "Ridwan", "Slamet", "Ujang", "Wawan", "Yusuf", "Siti", "Sri", "Dewi", "Euis", "Fitri", "Imas",
         "Lilis", "Neneng", "Nur", "Ratna", "Rina", "Tuti", "Wati", "Yanti", "Muhammad", "Moch.", "Djoko", "Tjahjo")
MIDDLE = ("", "", "", "Nur", "Dwi", "Tri", "Eka", "Sri", "Adi", "Putra", "Putri", "Budi")
LAST = ("Firmansyah", "Gunawan", "Hakim", "Hermawan", "Hidayat", "Kurniawan", "Maulana", "Nugraha", "Permana",
        "Prasetyo", "Santoso", "Saputra", "Setiawan", "Sudrajat", "Suryana", "Wijaya", "Handayani", "Lestari",
        "Marlina", "Rahmawati", "Susanti", "Wulandari", "Yulianti", "Aminah", "Djuwariah", "Halimah", "Maryam")
COLUMNS = ("batch_id", "desa_code", "nik_encrypted", "nik_hash", "kk_encrypted", "kk_hash", "name", "name_key",
           "phonetic_key", "birth_date", "sex", "rt", "rw", "desil", "source_line", "period", "pkh", "bpnt",
           "pbi_jk", "blt")
PROBE_SQL = "SELECT id FROM registry_person WHERE desa_code = {p} AND phonetic_key = {p} LIMIT 6"
CHUNK = 50_000


def _names() -> list[tuple[str, str, str]]:
    """(name, name_key, phonetic key) for every combination, keyed by the portal's own functions."""
    from portal.services.names import normalise_name, phonetic_key_of_normalised

    names = [" ".join(part for part in (first, middle, last) if part)
             for first in FIRST for middle in MIDDLE for last in LAST]
    return [(name, key := normalise_name(name), phonetic_key_of_normalised(key)) for name in names]


_DATES = [f"{1940 + i % 80}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(997)]
_RT = [f"{1 + i % 12:03d}" for i in range(12)]
_RW = [f"{1 + i % 6:03d}" for i in range(6)]


def _rows(start: int, stop: int, desa: list[str], names: list[tuple[str, str, str]], batch_id: int,
          rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Ready tuples in COLUMNS order; every varying piece is drawn from precomputed lists (cheap per row)."""
    blob = os.urandom(44)  # stands in for AES-GCM ciphertext: the lookup never reads it
    hashes = os.urandom(32 * (stop - start))  # NIK/KK hashes: random, as HMAC outputs are
    picks = [rng.randrange(len(names)) for _ in range(stop - start)]
    places = [rng.randrange(len(desa)) for _ in range(stop - start)]
    for n, i in enumerate(range(start, stop)):
        name, key, phonetic = names[picks[n]]
        digest = hashes[32 * n: 32 * n + 32]
        yield (batch_id, desa[places[n]], blob, digest, blob, digest, name, key, phonetic, _DATES[i % 997],
               "LP"[i & 1], _RT[i % 12], _RW[i % 6], 1 + i % 10, i + 2, "2025-Q4", i % 3 == 0, i % 2 == 0,
               i % 4 != 0, i % 7 == 0)


class Registry:
    """The registry table of one database, grown in steps with its indexes rebuilt after each."""

    def __init__(self, db: Any) -> None:
        from sqlalchemy import text

        self.db, self.text = db, text
        self.dialect = db.engine.dialect.name
        self.rng = random.Random(11)  # reproducible fake data, not secrets
        self.desa = list(db.session.scalars(text("SELECT code FROM region WHERE level = 4 ORDER BY code")))
        self.batch_id = db.session.scalar(text("SELECT max(id) FROM import_batch"))
        self.names = _names()
        self.count = db.session.scalar(text("SELECT count(*) FROM registry_person"))

    def _indexes(self) -> list[tuple[str, str]]:
        query = ("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'registry_person' "
                 "AND sql IS NOT NULL" if self.dialect == "sqlite" else
                 "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'registry_person' "
                 "AND indexname <> 'pk_registry_person'")
        return [(name, sql) for name, sql in self.db.session.execute(self.text(query))]

    def grow_to(self, size: int) -> float:
        """Add people until the registry holds `size`; the seconds it took (indexes included)."""
        if size <= self.count:
            return 0.0
        started = time.perf_counter()
        indexes = self._indexes()
        for name, _ in indexes:
            self.db.session.execute(self.text(f'DROP INDEX "{name}"'))
        self.db.session.commit()
        raw = self.db.engine.raw_connection()
        if self.dialect == "sqlite":
            # The rows are valid by construction and the data is throwaway: no per-row foreign-key
            # probes, no fsync. The schema and the indexes stay the migrations' own.
            for pragma in ("foreign_keys = OFF", "synchronous = OFF", "cache_size = -262144"):
                raw.cursor().execute(f"PRAGMA {pragma}")
        try:
            for chunk_start in range(self.count, size, CHUNK):
                rows = _rows(chunk_start, min(size, chunk_start + CHUNK), self.desa, self.names, self.batch_id,
                             self.rng)
                self._write(raw, rows)
            raw.commit()
        finally:
            if self.dialect == "sqlite":  # the connection goes back to the app's pool
                for pragma in ("foreign_keys = ON", "synchronous = NORMAL"):
                    raw.cursor().execute(f"PRAGMA {pragma}")
            raw.close()
        for _, sql in indexes:
            self.db.session.execute(self.text(sql))
        self.db.session.execute(self.text("ANALYZE"))
        self.db.session.commit()
        self.count = size
        return time.perf_counter() - started

    def _write(self, raw: Any, rows: Iterator[tuple[Any, ...]]) -> None:
        cursor = raw.cursor()
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(COLUMNS))
            cursor.executemany(f"INSERT INTO registry_person ({', '.join(COLUMNS)}) VALUES ({marks})", rows)
        else:
            with cursor.copy(f"COPY registry_person ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cursor.close()

    def samples(self, count: int) -> list[tuple[str, str]]:
        """(desa, name) of people who are in the registry, drawn at random."""
        top = self.db.session.scalar(self.text("SELECT max(id) FROM registry_person"))
        ids = [self.rng.randint(1, top) for _ in range(count)]
        query = self.text("SELECT desa_code, name FROM registry_person WHERE id = :id")
        found = [self.db.session.execute(query, {"id": i}).one_or_none() for i in ids]
        return [(row[0], row[1]) for row in found if row is not None]


def _timed(call: Callable[[str, str], Any], queries: list[tuple[str, str]]) -> list[float]:
    seconds = []
    for desa, name in queries:
        started = time.perf_counter()
        call(desa, name)
        seconds.append(time.perf_counter() - started)
    return seconds


def measure(registry: Registry, lookups: int) -> dict[str, Any]:
    from portal.services.lookup import LookupOutcome, find_people
    from portal.services.names import normalise_name, phonetic_key_of_normalised

    session = registry.db.session
    found = registry.samples(lookups)
    missing = [(desa, NOT_FOUND_NAME) for desa, _ in found]
    outcomes = [find_people(session, d, n).outcome for d, n in found[:200]]  # warm-up, and a check
    if LookupOutcome.NOT_FOUND in outcomes:
        raise RuntimeError("a sampled person was not found: the generator and the lookup disagree")
    raw = registry.db.engine.raw_connection()
    cursor = raw.cursor()
    probe = PROBE_SQL.format(p="?" if registry.dialect == "sqlite" else "%s")

    def probe_once(desa: str, name: str) -> None:
        cursor.execute(probe, (desa, phonetic_key_of_normalised(normalise_name(name))))
        cursor.fetchall()

    figures = {
        "found": latency_ms(_timed(lambda d, n: find_people(session, d, n), found)),
        "not_found": latency_ms(_timed(lambda d, n: find_people(session, d, n), missing)),
        "raw_probe": latency_ms(_timed(probe_once, found)),
        "lookups": len(found),
    }
    cursor.close()
    raw.close()
    session.rollback()
    return figures


def run_database(sizes: list[int], lookups: int) -> dict[str, Any]:
    """Child process: the portal's app on the database of $DATABASE_URL, grown through `sizes`."""
    from portal import create_app
    from portal.extensions import db

    app = create_app()
    results: dict[str, Any] = {}
    with app.app_context():
        registry = Registry(db)
        results["database"] = registry.dialect
        for size in sizes:
            grow_s = registry.grow_to(size)
            log(f"  {registry.dialect}: {size:,} people (written in {grow_s:.0f} s); measuring")
            results[str(size)] = {**measure(registry, lookups), "write_s": round(grow_s, 1)}
        db.session.remove()
    return results


def _child(env: dict[str, str], sizes: list[int], lookups: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", "measure", "--sizes", ",".join(map(str, sizes)),
               "--lookups", str(lookups)]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"lookup_scale child failed with exit code {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _sizes(given: str | None, default: str) -> list[int]:
    return [int(size) for size in (given or default).split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, database=True)
    parser.add_argument("--sizes", default=None, help="comma-separated registry sizes for SQLite")
    parser.add_argument("--pg-sizes", default=None, help="comma-separated registry sizes for PostgreSQL")
    parser.add_argument("--lookups", type=int, default=None)
    parser.add_argument("--phase", choices=("measure",), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    lookups = args.lookups or (300 if args.quick else 2000)
    sqlite_sizes = _sizes(args.sizes, "10000,100000" if args.quick else "10000,1000000,10000000")
    if args.phase == "measure":  # the child gets its database's sizes through --sizes
        print(json.dumps(run_database(sqlite_sizes, lookups)))
        return 0
    pg_sizes = _sizes(args.pg_sizes, "10000,100000" if args.quick else "10000,1000000")
    figures: dict[str, Any] = {}
    for name, _, env in seeded_databases("lookup", args.database_url):
        figures[name] = _child(env, sqlite_sizes if name == "sqlite" else pg_sizes, lookups)
    log(f"wrote {write_part('lookup_scale', figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
