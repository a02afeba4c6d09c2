"""`make bench`: every benchmark of `benchmarks/`, then `results/latest.json` and `results/latest.md`.

Each benchmark runs in its own process, starts what it needs on loopback (gunicorn on free ports,
SQLite databases seeded by the project's command line) and stops it again; each stores its
figures as a part, gathered here. `--quick` (or BENCH_QUICK=1) shrinks every run to a smoke test;
`--database-url` (or BENCH_DATABASE_URL) adds PostgreSQL to the lookup and complaint benchmarks
(the database is wiped: its name must contain "bench"); `--with-10m` adds the 10-million-person
registry to the SQLite lookups (several minutes more).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import PARTS_DIR, QUICK_ENV, RESULTS_DIR, URL_ENV, log, machine  # noqa: E402
from benchmarks.report import write_report  # noqa: E402

HERE = Path(__file__).resolve().parent


def steps(quick: bool, database_url: str | None, with_10m: bool) -> list[tuple[str, list[str]]]:
    """(name, script and arguments) of every benchmark, in the order they run."""
    pg = ["--database-url", database_url] if database_url else []
    sizes = ["--sizes", "10000,1000000,10000000"] if with_10m else ["--sizes", "10000,1000000"]
    return [
        ("http_hot", ["http_bench.py", "hot"]),
        ("http_load", ["http_bench.py", "load"]),
        ("lookup_scale", ["lookup_scale.py", *pg, *([] if quick else sizes)]),
        ("complaints", ["complaint_bench.py", *pg]),
        ("page_weight", ["page_weight.py"]),
        ("import_household", ["import_bench.py", "--rows", "100000" if quick else "1000000", "--shape", "household",
                              "--part", "import_household"]),
        ("import_varied", ["import_bench.py", "--rows", "50000" if quick else "200000", "--shape", "varied",
                           "--part", "import_varied"]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get(QUICK_ENV, "") not in ("", "0"))
    parser.add_argument("--database-url", default=os.environ.get(URL_ENV))
    parser.add_argument("--with-10m", action="store_true", default=os.environ.get("BENCH_10M") == "1")
    parser.add_argument("--only", action="append", help="run only these steps (names as in latest.json)")
    args = parser.parse_args(argv)
    latest = RESULTS_DIR / "latest.json"
    timings: dict[str, float] = {}
    if args.only and latest.exists():  # re-running some steps: keep the others' parts and timings
        timings = json.loads(latest.read_text()).get("step_seconds", {})
        for name in args.only:
            (PARTS_DIR / f"{name}.json").unlink(missing_ok=True)
    else:
        shutil.rmtree(PARTS_DIR, ignore_errors=True)
    # The import benchmark would import into the PostgreSQL database too: it stays on SQLite here.
    env = {key: value for key, value in os.environ.items() if key != URL_ENV}
    env[QUICK_ENV] = "1" if args.quick else "0"
    load_at_start = round(os.getloadavg()[0], 1)
    failed: list[str] = []
    for name, command in steps(args.quick, args.database_url, args.with_10m):
        if args.only and name not in args.only:
            continue
        log(f"== {name}: {' '.join(command)}")
        step_started = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]], env=env, check=False)
        timings[name] = round(time.perf_counter() - step_started, 1)
        if done.returncode != 0:
            failed.append(name)
            log(f"   {name} failed with exit code {done.returncode}")
    data: dict[str, Any] = {"machine": {**machine(), "load_average_1min_at_start": load_at_start},
                            "step_seconds": timings, "failed_steps": failed,
                            "total_seconds": round(sum(timings.values()), 1),
                            "postgresql": bool(args.database_url), "with_10m": args.with_10m}
    for part in sorted(PARTS_DIR.glob("*.json")):
        data[part.stem] = json.loads(part.read_text())
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    latest.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    write_report(data, RESULTS_DIR / "latest.md")
    log(f"wrote {RESULTS_DIR / 'latest.json'} and latest.md in {data['total_seconds']:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
