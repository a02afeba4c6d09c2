"""Name matching: the corpus figures before and after the tolerant pass, and the lookup's speed.

`python benchmarks/names_bench.py` prints

* precision and recall on the labelled corpus (`tests/data/name_pairs.csv`) for the landed
  matcher (phonetic key of the whole name only) and for the current one (phonetic key, then
  the tolerant pass), with the hard negatives each matched;
* the speed of `lookup.find_people` in a desa of 10,000 people: median and p99 of an exact
  hit (the one index probe), of a close spelling found by the tolerant pass, and of a name
  that nobody has (the tolerant pass finding nothing).

It runs on a temporary SQLite file, or on `--database-url` (e.g. PostgreSQL), which must hold no
registry yet: the benchmark creates the tables it needs and drops them afterwards, so give it a
scratch database. It is a measurement, not a test: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from config import TestConfig  # noqa: E402
from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import RegistryPerson  # noqa: E402
from portal.services.lookup import LookupOutcome, find_people  # noqa: E402
from portal.services.regions import load_regions, official_regions  # noqa: E402
from portal.services.registry_import import import_registry  # noqa: E402
from tests.conftest import make_row, write_csv  # noqa: E402
from tests.data.name_corpus import landed_matcher, load_pairs, score, tolerant_matcher  # noqa: E402

KECAMATAN = "32.04.05"
DESA = "32.04.05.2001"
PEOPLE = 10_000
TODAY = dt.date(2026, 11, 25)


def corpus_figures() -> None:
    pairs = load_pairs()
    negatives = sum(not p.should_match for p in pairs)
    print(f"corpus: {len(pairs)} pairs, {len(pairs) - negatives} should match, {negatives} should not")
    for label, matcher in (("landed (phonetic key only)", landed_matcher),
                           ("now (phonetic key, then tolerant pass)", tolerant_matcher(pairs))):
        result = score(pairs, matcher)
        print(f"  {label:40} recall {result.recall:.4f}  precision {result.precision:.4f}  "
              f"negatives matched {len(result.matched_negatives)}")


def _names(rng: random.Random, count: int) -> list[str]:
    from faker.providers.person.id_ID import Provider

    first = list(Provider.first_names_male) + list(Provider.first_names_female)
    last = list(Provider.last_names)
    return [" ".join([rng.choice(first), *rng.sample(first + last, rng.choice([1, 1, 2]))])
            for _ in range(count)]


def _fill(session: Session, vault, names: list[str], directory: Path) -> None:
    rows = []
    start = dt.date(1940, 1, 1)
    for n, name in enumerate(names):
        # A serial per (kecamatan, birth date, sex) keeps every NIK valid and unique.
        birth = start + dt.timedelta(days=n // 4)
        rows.append(make_row(n % 4 + 1, desa=DESA, name=name, birth=birth, sex="LP"[n % 2]))
    import_registry(session, vault, write_csv(directory / "desa.csv", rows), imported_by="bench",
                    period="2025-Q4", today=TODAY)
    session.commit()  # the import flushes; its command commits


def _timed(session: Session, names: list[str], expect: LookupOutcome) -> tuple[float, float, float, float]:
    """Median and p99 wall time and median CPU time of this process in milliseconds, and the
    share of lookups with the expected outcome. On a shared machine the CPU time is the steadier
    figure (it leaves out waiting for a core, and on PostgreSQL the server's work)."""
    times, cpu, expected = [], [], 0
    for name in names:
        started, started_cpu = time.perf_counter(), time.process_time()
        result = find_people(session, DESA, name, today=TODAY)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        expected += result.outcome is expect
    times.sort()
    return (statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000,
            statistics.median(cpu) * 1000, expected / len(names))


def speed(url: str | None) -> None:
    with tempfile.TemporaryDirectory() as directory:
        class Config(TestConfig):
            SQLALCHEMY_DATABASE_URI = url or f"sqlite:///{directory}/names.db"

        app = create_app(Config)
        with app.app_context():
            db.create_all()
            session = db.session
            if session.scalar(select(func.count()).select_from(RegistryPerson)):
                print("the database already holds a registry: give the benchmark a scratch database")
                return
            try:
                regions = [r for r in official_regions() if r.code in ("32", "32.04") or r.code.startswith(KECAMATAN)]
                load_regions(session, regions)
                session.commit()
                rng = random.Random(12)  # noqa: S311 - reproducible names, not a secret
                names = _names(rng, PEOPLE)
                _fill(session, app.extensions["pii_vault"], names, Path(directory))
                session.expire_all()
                exact = rng.sample(names, 2000)
                # A close spelling: the last two letters swapped (or an H added), as thumbs do.
                close = [n[:-2] + n[-1] + n[-2] if n[-1] != n[-2] else n + "h" for n in rng.sample(names, 300)]
                nobody = [f"Zulkarnaen {rng.choice(names).split()[-1]}qx" for _ in range(300)]
                find_people(session, DESA, names[0], today=TODAY)  # warm caches
                kind = "PostgreSQL" if url and url.startswith("postgresql") else "SQLite"
                print(f"lookup speed, {kind}, one desa of {PEOPLE:,} people, ms "
                      f"(wall median / p99, CPU median; load average {os.getloadavg()[0]:.1f}):")
                for label, typed, expect in (("exact hit (one index probe)", exact, LookupOutcome.FOUND),
                                             ("close spelling (tolerant pass)", close, LookupOutcome.FOUND),
                                             ("nobody (tolerant pass, nothing)", nobody, LookupOutcome.NOT_FOUND)):
                    median, p99, cpu, share = _timed(session, typed, expect)
                    print(f"  {label:34} {median:7.3f} / {p99:7.3f}   {cpu:7.3f}   ({share:.0%} {expect.value})")
            finally:
                session.rollback()
                db.drop_all()
                db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="a scratch database (e.g. PostgreSQL) instead of SQLite")
    args = parser.parse_args()
    corpus_figures()
    speed(args.database_url)


if __name__ == "__main__":
    main()
