"""Markdown tables of `results/latest.json`, and splicing them into the README between markers.

    .venv/bin/python benchmarks/report.py                      # latest.json -> latest.md
    .venv/bin/python benchmarks/report.py --readme before      # and into README between
                                                               # <!-- bench:before --> and <!-- /bench:before -->
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

#: Issue 11's targets, shown next to each measured figure.
HTTP_ROWS: tuple[tuple[str, str, str], ...] = (
    ("form", "`GET /` with a fresh challenge", "≥ 0.6×"),
    ("cek_found", "`POST /cek`, found, fresh challenge each", "≥ 0.5×"),
    ("wilayah_kab", "`GET /api/wilayah/32.04`", "≥ 0.9×"),
    ("captcha_png", "captcha image", "≥ 0.4×"),
)


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    return [line(header), "|" + " --- |" * len(header), *(line(row) for row in rows)]


def _failed(f: dict[str, Any]) -> str:
    """Failed and lost responses; ids the generator had to reuse (its own shortfall) said apart."""
    text = _n(f["failed"] + f["lost"])
    return f"{text} ({f['reused_ids']} on reused ids)" if f.get("reused_ids") else text


def _http(data: dict[str, Any]) -> list[str]:
    hot = data.get("http_hot")
    if not hot:
        return []
    floor = hot["floor"]
    tool = floor["before"]["tool"]
    rows = [[f"floor: {floor['endpoint']}", _n(floor["req_per_s"]), "1", _n(floor["before"]["p50_ms"], 1),
             _n(floor["before"]["p99_ms"], 1), _n(floor["before"]["server_cpu_ms_per_request"], 2), "0", ""]]
    for key, label, target in HTTP_ROWS:
        f = hot[key]
        rows.append([label, _n(f["req_per_s"]), _n(f["x_floor"], 3), _n(f["p50_ms"], 1), _n(f["p99_ms"], 1),
                     _n(f["server_cpu_ms_per_request"], 2), _failed(f), target])
    flow = hot["flow"]
    rows.append(["complete flow (form + image + lookup), flows/s", _n(flow["flows_per_s"], 1),
                 _n(flow["x_floor"], 3), _n(flow["p50_ms"], 1), _n(flow["p99_ms"], 1),
                 _n(flow.get("server_cpu_ms_per_flow"), 1) + " per flow", _n(flow["failed"] + flow["lost"]),
                 "≥ 0.15×"])
    audio = hot["captcha_wav"]
    rows.append(["captcha audio, one at a time", "", "", _n(audio["wall_ms_per_request"]), "",
                 _n(audio["server_cpu_ms_per_request"]), _n(audio["requests"] - audio["ok"]), "≤ 20 ms CPU"])
    return [f"**HTTP hot paths** ({hot['workers']} gunicorn workers, {tool}, {hot['connections']} connections, "
            f"{hot['seconds_per_run']:.0f} s each; floor = mean of a run before and after)", "",
            *_table(["path", "req/s", "× floor", "p50 ms", "p99 ms", "server CPU ms/req", "failed", "target"], rows),
            ""]


def _load(data: dict[str, Any]) -> list[str]:
    f = data.get("http_load")
    if not f:
        return []
    return [f"**Under load**: {f['clients']} clients doing the whole flow for {f['seconds_per_run']:.0f} s against "
            f"{f['workers']} workers ({f['tool']})", "",
            *_table(["flows/s", "requests", "5xx", "lost (of which > 10 s)", "failed", "p50 ms", "p99 ms", "target"],
                    [[_n(f["flows_per_s"], 1), _n(f["requests"]), _n(f["status_5xx"]),
                      f"{_n(f['lost'])} ({_n(f.get('timeouts'))})",
                      _n(f["failed"]), _n(f["p50_ms"]), _n(f["p99_ms"]), "0 5xx, 0 lost, p99 < 1 s"]]), ""]


def _lookup(data: dict[str, Any]) -> list[str]:
    scale = data.get("lookup_scale")
    if not scale:
        return []
    rows = []
    for database, sizes in scale.items():
        for size, f in sizes.items():
            if size == "database":
                continue
            rows.append([database, _n(int(size)), _n(f["found"]["p50_ms"], 3), _n(f["found"]["p99_ms"], 3),
                         _n(f["not_found"]["p50_ms"], 3), _n(f["not_found"]["p99_ms"], 3),
                         _n(f["raw_probe"]["p50_ms"], 3), _n(f["write_s"])])
    return ["**Lookup at scale** (`find_people` in-process; target: median ≤ 0.3 ms, 10 M within 2× of 10 k)", "",
            *_table(["database", "people", "found p50 ms", "found p99 ms", "not found p50 ms", "not found p99 ms",
                     "raw index probe p50 ms", "written in s"], rows), ""]


def _complaints(data: dict[str, Any]) -> list[str]:
    burst = data.get("complaints")
    if not burst:
        return []
    rows = [[db, _n(f["filings"]), _n(f["acknowledged"]), _n(f["acknowledged_with_photo_on_disk"]),
             _n(f["p50_ms"]), _n(f["p99_ms"]), _n(f["wall_s"], 1)] for db, f in burst.items()]
    first = next(iter(burst.values()))
    return [f"**Complaint burst** (all at once, a {first['photo_bytes'] / 1e6:.1f} MB photo each, "
            f"{first['workers']} workers)", "",
            *_table(["database", "filings", "acknowledged", "stored with photo", "p50 ms", "p99 ms", "all done in s"],
                    rows), ""]


def _imports(data: dict[str, Any]) -> list[str]:
    rows = [[f["shape"], _n(f["rows"]), _n(f["rows_per_s"]), _n(f.get("rows_per_cpu_s")), _n(f["peak_rss_mb"], 1),
             _n(f["rejected"])] for key in ("import_household", "import_varied") if (f := data.get(key))]
    if not rows:
        return []
    return ["**Registry import** (SQLite; target ≥ 25,000 rows/s, < 300 MB)", "",
            *_table(["extract", "rows", "rows/s", "rows per CPU second", "peak RSS MB", "rejected"], rows), ""]


def _weight(data: dict[str, Any]) -> list[str]:
    pages = data.get("page_weight")
    if not pages:
        return []
    rows = [[page, _n(f["bytes"]), _n(f["gzip_bytes"]), _n(f["parts"].get("captcha image", {}).get("bytes"))]
            for page, f in pages.items()]
    return ["**Page weight** on load (HTML + CSS + JS + captcha image; target ≤ 30 KB each)", "",
            *_table(["page", "bytes", "gzip (level 6, text only)", "of which captcha image"], rows), ""]


SECTIONS: tuple[Callable[[dict[str, Any]], list[str]], ...] = (_http, _load, _lookup, _complaints, _imports, _weight)


def render(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [f"Measured {m['date']} on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB memory, Python "
             f"{m['python']}, commit `{m['commit']}`{' (quick mode)' if m['quick'] else ''}; "
             f"`make bench` took {data['total_seconds'] / 60:.1f} min. Load average (1 min) "
             f"{m.get('load_average_1min_at_start', '?')} at the start, {m.get('load_average_1min', '?')} at the end "
             f"(on {m['cores']} cores: other work shared the machine).", ""]
    if data.get("failed_steps"):
        lines += [f"Failed steps: {', '.join(data['failed_steps'])}.", ""]
    for section in SECTIONS:
        lines += section(data)
    return "\n".join(lines).rstrip() + "\n"


def write_report(data: dict[str, Any], path: Path) -> None:
    path.write_text(render(data))


def splice(readme: Path, marker: str, table: str) -> None:
    """Replace what stands between `<!-- bench:MARKER -->` and `<!-- /bench:MARKER -->` in the README."""
    text = readme.read_text()
    begin, end = f"<!-- bench:{marker} -->", f"<!-- /bench:{marker} -->"
    if begin not in text or end not in text:
        raise SystemExit(f"README has no {begin} … {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{table}{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--readme", metavar="MARKER", help="also splice the table into README.md at this marker")
    args = parser.parse_args(argv)
    data = json.loads(args.json.read_text())
    table = render(data)
    (args.json.with_suffix(".md")).write_text(table)
    if args.readme:
        splice(ROOT / "README.md", args.readme, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
