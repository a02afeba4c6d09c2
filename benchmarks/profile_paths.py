"""Where the public hot paths spend their time: pyinstrument over the app in-process.

Each path is requested `--requests` times through Flask's test client against a SQLite portal
seeded by the project's own command line (CSRF, the limiter and the captcha store all run; the
captcha answer is fixed through CAPTCHA_FIXED_ANSWER). For each path it prints the cost per
request and the functions with the most time, inclusive (everything below them) and self, and
writes pyinstrument's call tree to `benchmarks/results/profile/<path>.txt`. In-process timings
leave out gunicorn and the socket; `http_bench.py` measures those.

    .venv/bin/python benchmarks/profile_paths.py [--requests 200] [--only cek_found]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (  # noqa: E402 - the path above first
    DESA,
    RESULTS_DIR,
    form_tokens,
    is_found_page,
    log,
    lookup_fields,
    portal_env,
    seed_portal,
)

PROFILE_DIR = RESULTS_DIR / "profile"
#: Rows of each table printed.
TOP = 14


@dataclass(frozen=True)
class PathRun:
    """One hot path: `prepare` makes what each request needs (ids), `call` is the request profiled."""

    name: str
    prepare: Callable[[Any, int], list[Any]]
    call: Callable[[Any, Any], bool]


def _page_ids(client: Any, count: int) -> list[tuple[str, str]]:
    return [form_tokens(client.get("/").get_data(as_text=True)) for _ in range(count)]


def _get_ok(path: str) -> Callable[[Any, Any], bool]:
    return lambda client, _item: client.get(path).status_code == 200


def _lookup(client: Any, tokens: tuple[str, str]) -> bool:
    response = client.post("/cek", data=lookup_fields(*tokens))

    class _Reply:  # the shape is_found_page reads
        status = response.status_code
        text = response.get_data(as_text=True)

    return is_found_page(_Reply)  # type: ignore[arg-type]


PATHS = (
    PathRun("form", lambda _c, n: [None] * n, _get_ok("/")),
    PathRun("cek_found", _page_ids, _lookup),
    PathRun("wilayah_kab", lambda _c, n: [None] * n, _get_ok("/api/wilayah/" + DESA[:5])),
    PathRun("captcha_png", _page_ids, lambda c, t: c.get(f"/captcha/{t[1]}.png").status_code == 200),
    PathRun("captcha_wav", _page_ids, lambda c, t: c.get(f"/captcha/{t[1]}.wav").status_code == 200),
)


def _key(frame: Any) -> str:
    return f"{frame.function} ({frame.file_path_short}:{frame.line_no})"


def _is_app(frame: Any) -> bool:
    return "portal/" in (frame.file_path or "") and "benchmarks/" not in (frame.file_path or "")


def _aggregate(root: Any) -> tuple[dict[str, float], dict[str, float]]:
    """Inclusive time of the app's own functions and of each library call they make; self time per function.

    Inclusive time counts a function once per stack, so recursion is not doubled; pyinstrument's
    synthetic "[self]" leaves are credited to the function they belong to.
    """
    inclusive: dict[str, float] = defaultdict(float)
    own: dict[str, float] = defaultdict(float)

    def walk(frame: Any, parent: Any, on_stack: frozenset[str]) -> None:
        if frame.is_synthetic_leaf or frame.function == "[self]":
            own[_key(parent) if parent is not None else "?"] += frame.time
            return
        key = _key(frame)
        if key not in on_stack and (_is_app(frame) or (parent is not None and _is_app(parent))):
            inclusive[key] += frame.time
        own[key] += frame.time - sum(child.time for child in frame.children)
        for child in frame.children:
            walk(child, frame, on_stack | {key})

    walk(root, None, frozenset())
    return inclusive, own


def _top(table: dict[str, float], total: float, count: int) -> list[str]:
    ranked = sorted(table.items(), key=lambda item: item[1], reverse=True)[:TOP]
    return [f"  {seconds / total * 100:5.1f} %  {seconds / count * 1000:7.3f} ms/req  {key}" for key, seconds in ranked]


def profile_path(app: Any, run: PathRun, requests: int) -> dict[str, Any]:
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    client = app.test_client()
    client.get("/")  # session cookie and CSRF secret, warm caches
    items = run.prepare(client, requests)
    profiler = Profiler(interval=0.001)
    failures = 0
    started = time.perf_counter()
    profiler.start()
    for item in items:
        failures += not run.call(client, item)
    profiler.stop()
    seconds = time.perf_counter() - started
    session = profiler.last_session
    root = session.root_frame()
    inclusive, own = _aggregate(root)
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    tree = ConsoleRenderer(unicode=False, color=False, show_all=False).render(session)
    (PROFILE_DIR / f"{run.name}.txt").write_text(tree)
    report = io.StringIO()
    report.write(f"== {run.name}: {seconds / requests * 1000:.2f} ms per request in-process "
                 f"(under the profiler), {failures} failed of {requests}\n")
    report.write("-- inclusive (app functions and the library calls they make)\n")
    report.write("\n".join(_top(inclusive, root.time, requests)) + "\n")
    report.write("-- self\n" + "\n".join(_top(own, root.time, requests)) + "\n")
    print(report.getvalue(), flush=True)
    return {"ms_per_request": seconds / requests * 1000, "failures": failures, "requests": requests}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--only", choices=[p.name for p in PATHS], action="append")
    parser.add_argument("--workdir", type=Path, default=None, help="reuse a seeded bench directory")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-profile-"))
    env = portal_env(workdir)
    log(f"seeding {workdir} ...")
    seed_portal(env)
    os.environ.update(env)  # config.py reads the environment when it is imported
    from portal import create_app

    app = create_app()
    for run in PATHS:
        if not args.only or run.name in args.only:
            requests = max(5, args.requests // 10) if run.name == "captcha_wav" else args.requests
            profile_path(app, run, requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
