"""Throughput and peak memory of the registry CSV importer on a synthetic DTSEN extract.

`make bench` runs this script. It measures `portal.services.registry_import.import_registry`
end to end, as `flask registry import` runs it: streaming and validating every row (NIK
structure, region, birth date, name), hashing and encrypting each NIK and KK, inserting the
people with their programme flags, and the final commit. It reports rows per second and the
importer's peak resident memory against the targets (>= 25,000 rows/s, < 300 MB), and exits 0
either way: it is a measurement, not a test.

The work is split over three processes so that only the importer is measured:

* this process only orchestrates (stdlib only, a few MB);
* a *prepare* process creates the schema with the migrations, loads the 91k official regions
  and writes the CSV. Generating a million rows takes seconds of CPU and builds large
  in-memory tables of serial counters; none of that belongs to the importer, so it is kept out
  of both the timing and the memory figure;
* an *import* process opens the same database and runs the importer once. Its peak RSS is
  read inside it after the import. On Linux `ru_maxrss` of a child started with
  fork/vfork+exec also counts the parent's address space before the exec, which is why the
  orchestrating parent stays small and why `VmHWM` (the peak of the importer's own address
  space, from /proc) is reported as well.

`--database-url` (or $BENCH_DATABASE_URL) measures another database, e.g. PostgreSQL, which
must start with an empty registry; the figures in the README are for SQLite.

The generated file is valid throughout: NIKs carry the kecamatan code of the desa, the birth
date (day + 40 for women) and a serial unique per (kecamatan, encoded date), so every row
should be accepted; a rejected row means the generator and the importer disagree.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_ROWS_PER_S = 25_000
TARGET_PEAK_RSS_MB = 300
PERIOD = "2025-Q4"
KEY_ENV = "BENCH_NIK_ENCRYPTION_KEY"
URL_ENV = "BENCH_DATABASE_URL"
CSV_NAME = "registry.csv"
DB_NAME = "bench.db"
COLUMNS = ("nik", "no_kk", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "rt", "rw", "desil",
           "pkh", "bpnt", "pbi_jk", "blt")

# Small name lists: generation must cost far less than the import it feeds.
MALE_FIRST = (
    "Agus", "Ahmad", "Ade", "Asep", "Bambang", "Budi", "Cecep", "Dadang", "Deden", "Dedi", "Dodi",
    "Eko", "Endang", "Firman", "Hendra", "Hidayat", "Iwan", "Joko", "Moch.", "Muhammad", "Rahmat",
    "Ridwan", "Rudi", "Slamet", "Tatang", "Ujang", "Usep", "Wawan", "Yayan", "Yusuf",
)
FEMALE_FIRST = (
    "Ai", "Aisyah", "Ani", "Cucu", "Dewi", "Dian", "Enok", "Eti", "Euis", "Fitri", "Iis", "Imas",
    "Lilis", "Lina", "Neneng", "Nining", "Nur", "Popon", "Ratna", "Rina", "Rini", "Rosita", "Siti",
    "Sri", "Titin", "Tuti", "Wati", "Yanti", "Yuni", "Nurhayati",
)
MALE_LAST = (
    "Firmansyah", "Gunawan", "Hakim", "Hermawan", "Hidayat", "Kurniawan", "Ma'ruf", "Maulana",
    "Nugraha", "Permana", "Prasetyo", "Ruhiyat", "Santoso", "Saputra", "Setiawan", "Sudrajat",
    "Supriatna", "Suryana", "Sutisna", "Wijaya",
)
FEMALE_LAST = (
    "Anggraeni", "Fitriani", "Handayani", "Herawati", "Komalasari", "Kurniasih", "Lestari",
    "Marlina", "Nurhasanah", "Rahmawati", "Rohayati", "Sumiati", "Suryani", "Susanti", "Wulandari",
    "Yulianti", "Aminah", "Djuwariah", "Halimah", "Maryam",
)
HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6, 7)
HOUSEHOLD_CUM_WEIGHTS = (8, 23, 43, 67, 85, 95, 100)
DESIL_CUM_WEIGHTS = (16, 32, 47, 60, 71, 80, 87, 93, 97, 100)
_SYLLABLES = ("ba", "bu", "da", "di", "ga", "gu", "ha", "hi", "ja", "ju", "ka", "ki", "ku", "la", "li", "ma", "mi",
              "mu", "na", "ni", "nu", "pa", "pri", "ra", "ri", "ru", "sa", "si", "su", "ta", "ti", "tu", "wa", "wi",
              "ya", "yu", "an", "in", "ar", "ah", "dj", "tj")


def _invented_names(count: int, seed: int) -> tuple[str, ...]:
    """`count` distinct two- or three-syllable names: a vocabulary far beyond any short list."""
    rng = random.Random(seed)
    names: set[str] = set()
    while len(names) < count:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3, 3))))
        names.add(name.capitalize())
    return tuple(sorted(names))


@dataclass(frozen=True)
class Shape:
    """How an extract looks: household sizes (each household shares a KK) and where names come from."""

    sizes: tuple[int, ...]
    cum_weights: tuple[int, ...]
    male_head: float
    male_first: tuple[str, ...]
    female_first: tuple[str, ...]
    male_last: tuple[str, ...]
    female_last: tuple[str, ...]


def shape(name: str) -> Shape:
    """`household`: families of 1-7 with names from short lists; `varied`: about three in four people
    with a KK of their own and names from some 20,000 invented words per list."""
    if name == "household":
        return Shape(HOUSEHOLD_SIZES, HOUSEHOLD_CUM_WEIGHTS, 0.82, MALE_FIRST, FEMALE_FIRST, MALE_LAST, FEMALE_LAST)
    words = [_invented_names(20_000, seed) for seed in range(4)]
    return Shape((1, 2, 3), (88, 96, 100), 0.5, *words)


SHAPES = ("household", "varied")


# --------------------------------------------------------------------------- prepare process

def _database_url(workdir: Path) -> str:
    return os.environ.get(URL_ENV) or f"sqlite:///{workdir / DB_NAME}"


def _make_app(workdir: Path) -> Any:
    from portal import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": _database_url(workdir),
        "SECRET_KEY": "bench",
        "NIK_ENCRYPTION_KEY": os.environ[KEY_ENV],
        "PORTAL_ENV": "bench",
    })


def _desa_of(kabupaten: str) -> list[tuple[str, str]]:
    """(desa code, its kecamatan's 6 NIK digits) for every desa/kelurahan of the kabupaten."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Region, RegionLevel

    codes = db.session.scalars(
        select(Region.code)
        .where(Region.level == RegionLevel.DESA, Region.code.startswith(kabupaten + "."))
        .order_by(Region.code)
    ).all()
    return [(code, code[:8].replace(".", "")) for code in codes]


def _programme_flags(rng: random.Random, desil: int, has_children: bool) -> str:
    """pkh,bpnt,pbi_jk,blt as YA/TIDAK, likelier in the lower deciles (as in services.demo)."""
    chances = (
        0.7 if desil <= 3 and has_children else 0.05,
        0.75 if desil <= 4 else 0.05,
        0.85 if desil <= 5 else 0.1,
        0.35 if desil <= 2 else 0.02,
    )
    return ",".join("YA" if rng.random() < p else "TIDAK" for p in chances)


class _Serials:
    """Next 4-digit serial per 12-digit NIK/KK prefix, so that every number is unique."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def take(self, prefix: str) -> str:
        serial = self._next.get(prefix, 0) + 1
        if serial > 9999:
            raise RuntimeError(f"more than 9999 numbers for prefix {prefix}; use more desa")
        self._next[prefix] = serial
        return f"{prefix}{serial:04d}"


def write_csv(path: Path, desa: list[tuple[str, str]], rows: int, seed: int, today: dt.date,
              form: Shape) -> None:
    """Write `rows` people in households of `form` spread over `desa`; fast enough for millions of rows."""
    rng = random.Random(seed)  # reproducible fake data, not secrets
    today_ordinal = today.toordinal()
    dates: dict[int, tuple[str, int, str]] = {}  # ordinal -> (ISO date, day, "MMYY")

    def date_parts(ordinal: int) -> tuple[str, int, str]:
        parts = dates.get(ordinal)
        if parts is None:
            d = dt.date.fromordinal(ordinal)
            parts = dates[ordinal] = (d.isoformat(), d.day, f"{d.month:02d}{d.year % 100:02d}")
        return parts

    def birth(age: int) -> int:
        return today_ordinal - 365 * age - rng.randrange(365)

    niks, kks = _Serials(), _Serials()
    written = 0
    buffer: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(COLUMNS) + "\n")
        while written < rows:
            code, kecamatan = rng.choice(desa)
            size = min(rng.choices(form.sizes, cum_weights=form.cum_weights)[0], rows - written)
            desil = rng.choices(range(1, 11), cum_weights=DESIL_CUM_WEIGHTS)[0]
            rt, rw = f"{rng.randint(1, 12):03d}", f"{rng.randint(1, 6):03d}"
            head_age = rng.randint(22, 78)
            head_sex = "L" if rng.random() < form.male_head else "P"
            members = [(head_sex, head_age)]
            if size >= 2:
                members.append(("P" if head_sex == "L" else "L", max(18, head_age + rng.randint(-8, 4))))
            members += [(rng.choice("LP"), rng.randint(0, head_age - 18)) for _ in range(size - len(members))]
            _, kk_day, kk_mmyy = date_parts(today_ordinal - rng.randint(200, 6000))
            kk = kks.take(f"{kecamatan}{kk_day:02d}{kk_mmyy}")
            tail = f"{code},{rt},{rw},{desil},{_programme_flags(rng, desil, any(a < 18 for _, a in members))}"
            for sex, age in members:
                iso, day, mmyy = date_parts(birth(age))
                firsts, lasts, nik_day = (form.male_first, form.male_last, day) if sex == "L" else \
                    (form.female_first, form.female_last, day + 40)
                first, last = rng.choice(firsts), rng.choice(lasts)
                name = f"{first} {last}" if rng.random() < 0.8 else f"{first} {rng.choice(firsts)} {last}"
                nik = niks.take(f"{kecamatan}{nik_day:02d}{mmyy}")
                buffer.append(f"{nik},{kk},{name},{iso},{sex},{tail}\n")
            written += size
            if len(buffer) >= 10_000:
                f.write("".join(buffer))
                buffer.clear()
        f.write("".join(buffer))


def prepare(workdir: Path, rows: int, seed: int, kabupaten: str, form: str) -> dict[str, Any]:
    import flask_migrate
    from sqlalchemy import text

    from portal.extensions import db
    from portal.services.regions import load_regions

    app = _make_app(workdir)
    with app.app_context():
        started = time.perf_counter()
        flask_migrate.upgrade()
        if db.session.scalar(text("SELECT count(*) FROM registry_person")):
            raise SystemExit("the benchmark needs a database whose registry is empty")
        load_regions(db.session)
        db.session.commit()
        schema_s = time.perf_counter() - started
        desa = _desa_of(kabupaten)
        db.session.remove()
        db.engine.dispose()
    if not desa:
        raise SystemExit(f"no desa found under kabupaten {kabupaten!r}")
    csv_path = workdir / CSV_NAME
    started = time.perf_counter()
    write_csv(csv_path, desa, rows, seed, dt.date.today(), shape(form))
    return {
        "schema_s": schema_s,
        "generate_s": time.perf_counter() - started,
        "desa": len(desa),
        "kecamatan": len({k for _, k in desa}),
        "csv_bytes": csv_path.stat().st_size,
    }


# ---------------------------------------------------------------------------- import process

def _proc_status_kib(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status (Linux), in KiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_import(workdir: Path, rows: int, profile: Path | None) -> dict[str, Any]:
    import resource
    import sqlite3

    import sqlalchemy

    from portal.extensions import db
    from portal.services.registry_import import import_registry

    app = _make_app(workdir)
    step = max(rows // 10, 1)
    last = {"rows": 0, "at": time.perf_counter(), "next": step}

    def progress(rows_read: int, _bytes_read: int) -> None:
        # Throughput per slice shows whether the importer slows down as the tables grow.
        if rows_read >= last["next"]:
            now = time.perf_counter()
            rate = (rows_read - last["rows"]) / (now - last["at"])
            print(f"  ... {rows_read:>10,} rows, {rate:>8,.0f} rows/s in the last slice", file=sys.stderr,
                  flush=True)
            last.update(rows=rows_read, at=now, next=last["next"] + step)

    with app.app_context():
        vault = app.extensions["pii_vault"]
        baseline_kib = _proc_status_kib("VmRSS")

        def call() -> Any:
            result = import_registry(db.session, vault, workdir / CSV_NAME, imported_by="bench",
                                     period=PERIOD, on_progress=progress)
            db.session.commit()  # the import flushes; its command commits (part of the measured time)
            return result

        cpu_before = time.process_time()
        started = time.perf_counter()
        result = _profiled(call, profile) if profile else call()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_before
        maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        hwm_kib = _proc_status_kib("VmHWM")
        dialect = db.engine.dialect
        if dialect.name == "sqlite":
            database = f"sqlite {sqlite3.sqlite_version}"
            db_bytes = sum(p.stat().st_size for p in workdir.glob(DB_NAME + "*"))
        else:
            database = f"{dialect.name} {'.'.join(map(str, dialect.server_version_info or ()))}"
            db_bytes = db.session.scalar(sqlalchemy.text("SELECT pg_database_size(current_database())"))
        db.session.remove()
        db.engine.dispose()
    return {
        "rows_read": result.rows_read,
        "accepted": result.rows_accepted,
        "rejected": result.rows_rejected,
        "rejections": dict(result.rejected),
        "desa_replaced": result.desa_replaced,
        "nik_elsewhere": result.nik_elsewhere,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "baseline_rss_kib": baseline_kib,
        "ru_maxrss_kib": maxrss_kib,
        "vm_hwm_kib": hwm_kib,
        "db_bytes": db_bytes,
        "python": platform.python_version(),
        "database": database,
        "sqlalchemy": sqlalchemy.__version__,
    }


def _profiled(call: Callable[[], Any], out: Path) -> Any:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    result = profiler.runcall(call)
    profiler.dump_stats(out)
    for order in ("cumulative", "tottime"):
        print(f"\n--- top 15 by {order} ---", file=sys.stderr)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(order).print_stats(15)
    return result


# ------------------------------------------------------------------------------ orchestration

def _child(phase: str, args: argparse.Namespace, workdir: Path, env: dict[str, str],
           capture_stderr: bool) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--workdir", str(workdir),
               "--rows", str(args.rows), "--seed", str(args.seed), "--kabupaten", args.kabupaten,
               "--shape", args.shape]
    if args.profile:
        command += ["--profile", str(args.profile)]
    done = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE if capture_stderr else None, text=True, check=False)
    if done.returncode != 0:
        if capture_stderr:
            sys.stderr.write(done.stderr)
        raise SystemExit(f"{phase} process failed with exit code {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mb(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def orchestrate(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="import-bench-"))
    env = {**os.environ, KEY_ENV: base64.b64encode(os.urandom(32)).decode()}
    if args.database_url:
        env[URL_ENV] = args.database_url
    try:
        print(f"Preparing {args.rows:,} rows in {workdir} ...", flush=True)
        prep = _child("prepare", args, workdir, env, capture_stderr=True)
        print(f"  schema + regions {prep['schema_s']:.1f} s; CSV of {prep['desa']} desa in "
              f"{prep['kecamatan']} kecamatan of {args.kabupaten}, {prep['csv_bytes'] / 1e6:.1f} MB, "
              f"generated in {prep['generate_s']:.1f} s (not measured)", flush=True)
        print("Importing (separate process) ...", flush=True)
        res = _child("import", args, workdir, env, capture_stderr=False)
    finally:
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    rows_per_s = res["rows_read"] / res["seconds"]
    # VmHWM is the importer's own peak; ru_maxrss can include the parent's pages (see docstring).
    peak_kib = res["vm_hwm_kib"] or res["ru_maxrss_kib"]
    peak_mb = peak_kib / 1024
    print()
    print(f"date          {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"python        {res['python']}   {res['database']}   sqlalchemy {res['sqlalchemy']}")
    print(f"machine       {platform.machine()}, {os.cpu_count()} CPU, "
          f"{platform.system()} {platform.release()}")
    print(f"rows          {res['rows_read']:,}")
    print(f"accepted      {res['accepted']:,}")
    print(f"rejected      {res['rejected']:,}" + (f"  {res['rejections']}" if res["rejected"] else ""))
    print(f"desa          {res['desa_replaced']:,} replaced; NIK ganda warnings {res['nik_elsewhere']:,}")
    print(f"seconds       {res['seconds']:.2f} wall, {res['cpu_seconds']:.2f} CPU (import + commit)")
    print(f"rows/s        {rows_per_s:,.0f}   target >= {TARGET_ROWS_PER_S:,}: "
          f"{_verdict(rows_per_s >= TARGET_ROWS_PER_S)}")
    print(f"peak RSS MB   {peak_mb:.1f}   target < {TARGET_PEAK_RSS_MB}: "
          f"{_verdict(peak_mb < TARGET_PEAK_RSS_MB)}")
    print(f"              (before import {_mb(res['baseline_rss_kib'])}, VmHWM {_mb(res['vm_hwm_kib'])}, "
          f"ru_maxrss {_mb(res['ru_maxrss_kib'])})")
    print(f"database      {res['db_bytes'] / 1e6:.1f} MB (SQLite: with WAL)")
    if args.profile:
        print(f"profile       {args.profile} (cProfile overhead: figures above are not comparable)")
    print(f"RESULT rows_per_s={rows_per_s:.0f} peak_rss_mb={peak_mb:.1f}")
    if args.part:
        from benchmarks._common import write_part

        write_part(args.part, {
            "shape": args.shape, "rows": res["rows_read"], "accepted": res["accepted"], "rejected": res["rejected"],
            "rows_per_s": round(rows_per_s), "peak_rss_mb": round(peak_mb, 1), "seconds": round(res["seconds"], 1),
            # Less sensitive than rows/s to other work on a shared machine.
            "rows_per_cpu_s": round(res["rows_read"] / res["cpu_seconds"]),
            "database": res["database"], "targets_met": rows_per_s >= TARGET_ROWS_PER_S
            and peak_mb < TARGET_PEAK_RSS_MB,
        })


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the CSV (default 1,000,000)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (CSV, database)")
    parser.add_argument("--seed", type=int, default=2025, help="random seed of the generated extract")
    parser.add_argument("--database-url", default=os.environ.get(URL_ENV),
                        help=f"import into this (empty) database instead of a new SQLite file; also ${URL_ENV}")
    parser.add_argument("--shape", choices=SHAPES, default="household",
                        help="household: families with names from short lists (default); varied: most people "
                             "with their own KK, names from a large invented vocabulary")
    parser.add_argument("--part", default=None, help="also store the figures as this part of latest.json")
    parser.add_argument("--kabupaten", default="32.04",
                        help="kabupaten whose desa receive the rows (default 32.04, Kab. Bandung)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run the import under cProfile, write the stats here, print the top 15")
    parser.add_argument("--phase", choices=("prepare", "import"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.profile:
        args.profile = args.profile.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))  # the portal package (children), benchmarks._common (orchestrator)
    if args.phase == "prepare":
        print(json.dumps(prepare(args.workdir, args.rows, args.seed, args.kabupaten, args.shape)))
    elif args.phase == "import":
        print(json.dumps(run_import(args.workdir, args.rows, args.profile)))
    else:
        orchestrate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
