"""The public hot paths over HTTP, side by side with the stack's floor, and the citizen flow under load.

`hot` (the default): one gunicorn with the project's settings and 2 workers on a loopback port,
a SQLite portal seeded by the project's command line. The floor is `GET /healthz` of the portal
when it has one, otherwise the same route of a constant Flask app (`floor_app.py`) served by the
same gunicorn settings; it is measured before and after the paths and averaged. Each lookup
carries a fresh captcha id, collected from the form pages beforehand (the answer is fixed through
CAPTCHA_FIXED_ANSWER), and counts only when a result page with a person comes back.

`load`: 200 clients doing the whole flow (form, image, lookup) for 60 s against 4 workers:
5xx, lost responses, p99 and complete flows per second.

    .venv/bin/python benchmarks/http_bench.py [hot|load] [--quick] [--python]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (  # noqa: E402 - the path above first
    DESA,
    FOUND_MARKER,
    LOOKUP_FORM_MARKER,
    Client,
    Server,
    add_options,
    form_tokens,
    gunicorn,
    has_healthz,
    log,
    lookup_fields,
    portal_env,
    seed_portal,
    write_part,
)
from benchmarks._loadgen import Outcome, Scenario, load_generator, server_cpu_seconds  # noqa: E402

FLOOR_APP = "benchmarks.floor_app:app"
CALIBRATE_S = 2.0
AUDIO_REQUESTS = 10


class Bench:
    """One portal (and floor) under measurement; every run also reads the workers' CPU time."""

    def __init__(self, portal: Server, floor: Server, connections: int, seconds: float, python: bool) -> None:
        self.portal, self.floor = portal, floor
        self.connections, self.seconds = connections, seconds
        self.generate = load_generator(prefer_wrk=not python)
        client = Client(portal)
        self.csrf, self.spare_id = form_tokens(client.get("/").text)
        self.cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        client.close()

    def run(self, server: Server, scenario: Scenario, seconds: float | None = None,
            connections: int | None = None) -> tuple[Outcome, dict[str, Any]]:
        cpu_before = server_cpu_seconds(server.pid)
        outcome = self.generate(server, scenario, connections or self.connections, seconds or self.seconds)
        cpu = server_cpu_seconds(server.pid) - cpu_before
        figures = outcome.figures()
        figures["server_cpu_ms_per_request"] = round(cpu / outcome.requests * 1000, 3) if outcome.requests else None
        if outcome.flows:
            figures["server_cpu_ms_per_flow"] = round(cpu / outcome.flows * 1000, 3)
        return outcome, figures

    def lookup_bodies(self, ids: list[str]) -> list[str]:
        from urllib.parse import urlencode

        return [urlencode(lookup_fields(self.csrf, captcha_id)) for captcha_id in ids]

    def lookup_scenario(self, ids: list[str]) -> Scenario:
        return Scenario("bodies", "/cek", self.cookie, bodies=self.lookup_bodies(ids),
                        check=FOUND_MARKER, reject=LOOKUP_FORM_MARKER)

    def flow_scenario(self) -> Scenario:
        """Form, captcha image, lookup: the lookup's fields wait for the id the form page carries."""
        fields = lookup_fields(self.csrf, "")
        fields.pop("captcha_id")
        return Scenario("flow", cookie=self.cookie, flow_fields=fields, check=FOUND_MARKER, reject=LOOKUP_FORM_MARKER)

    def harvest(self, seconds: float) -> list[str]:
        outcome, _ = self.run(self.portal, Scenario("get", "/", self.cookie, harvest=True), seconds=seconds)
        return outcome.harvested

    def lookups(self, ids: list[str], form_rps: float) -> dict[str, Any]:
        """`POST /cek`, each with a fresh id: calibrate, top up the ids for the full run, run."""
        probe_ids, ids = ids[: len(ids) // 3], ids[len(ids) // 3:]
        probe, _ = self.run(self.portal, self.lookup_scenario(probe_ids), seconds=CALIBRATE_S)
        # Each wrk thread takes its own share of the ids, and threads do not run evenly: a wide margin.
        needed = int(probe.rps * self.seconds * 1.6) + 200
        if needed > len(ids) and form_rps > 0:
            top_up_s = min(120.0, (needed - len(ids)) / form_rps + 1)
            log(f"  collecting {needed - len(ids)} more captcha ids ({top_up_s:.0f} s)")
            ids += self.harvest(top_up_s)
        outcome, figures = self.run(self.portal, self.lookup_scenario(ids))
        figures["fresh_ids"] = len(ids)
        return figures

    def audio(self, requests: int) -> dict[str, Any]:
        """Sequential audio captchas: the workers' CPU and the wall time per request."""
        client = Client(self.portal, timeout=60)
        cpu_before, started, ok = server_cpu_seconds(self.portal.pid), time.perf_counter(), 0
        for _ in range(requests):
            ok += client.get(f"/captcha/{self.spare_id}.wav").status == 200
        wall = time.perf_counter() - started
        cpu = server_cpu_seconds(self.portal.pid) - cpu_before
        client.close()
        return {"requests": requests, "ok": ok, "server_cpu_ms_per_request": round(cpu / requests * 1000, 1),
                "wall_ms_per_request": round(wall / requests * 1000, 1)}


def _ratio(figures: dict[str, Any], floor_rps: float, key: str = "req_per_s") -> dict[str, Any]:
    figures["x_floor"] = round(figures[key] / floor_rps, 3) if floor_rps else None
    return figures


def hot_paths(bench: Bench, audio_requests: int) -> dict[str, Any]:
    floor = Scenario("get", "/healthz")
    _, floor_before = bench.run(bench.floor, floor)
    log(f"  floor {floor_before['req_per_s']} req/s")
    form_outcome, form = bench.run(bench.portal, Scenario("get", "/", bench.cookie, check='name="captcha_id"',
                                                          harvest=True))
    log(f"  GET / {form['req_per_s']} req/s")
    cek = bench.lookups(form_outcome.harvested, form_outcome.rps)
    log(f"  POST /cek {cek['req_per_s']} req/s, {cek['failed']} failed")
    _, region = bench.run(bench.portal, Scenario("get", f"/api/wilayah/{DESA[:5]}", check='"wilayah"'))
    _, image = bench.run(bench.portal, Scenario("get", f"/captcha/{bench.spare_id}.png", check="PNG"))
    _, flow = bench.run(bench.portal, bench.flow_scenario())
    log(f"  flow {flow['flows_per_s']} flows/s")
    audio = bench.audio(audio_requests)
    _, floor_after = bench.run(bench.floor, floor)
    floor_rps = (floor_before["req_per_s"] + floor_after["req_per_s"]) / 2
    return {
        "floor": {"endpoint": "portal /healthz" if bench.floor is bench.portal else "constant Flask app /healthz",
                  "req_per_s": round(floor_rps, 1), "before": floor_before, "after": floor_after},
        "form": _ratio(form, floor_rps),
        "cek_found": _ratio(cek, floor_rps),
        "wilayah_kab": _ratio(region, floor_rps),
        "captcha_png": _ratio(image, floor_rps),
        "captcha_wav": audio,
        "flow": _ratio(flow, floor_rps, key="flows_per_s"),
    }


def under_load(bench: Bench, clients: int, seconds: float) -> dict[str, Any]:
    _, flow = bench.run(bench.portal, bench.flow_scenario(), seconds=seconds, connections=clients)
    flow["clients"] = clients
    return flow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("hot", "load"), default="hot")
    add_options(parser)
    parser.add_argument("--python", action="store_true", help="use the Python load generator even with wrk")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--floor", choices=("auto", "app", "portal"), default=os.environ.get("BENCH_FLOOR", "auto"),
                        help="auto: the portal's /healthz once it has one, else the constant app; app: always the "
                             "constant app (to compare with figures taken before /healthz); also $BENCH_FLOOR")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    env = portal_env(workdir)
    log(f"seeding {workdir} ...")
    seed_portal(env)
    workers = 2 if args.what == "hot" else 4
    with contextlib.ExitStack() as stack:
        portal = stack.enter_context(gunicorn(env, workers=workers, log=workdir / "gunicorn.log"))
        use_portal = args.floor == "portal" or (args.floor == "auto" and has_healthz(portal))
        floor = portal if use_portal else stack.enter_context(
            gunicorn(env, FLOOR_APP, workers=workers, log=workdir / "floor.log"))
        if args.what == "hot":
            seconds = args.seconds or (3 if args.quick else 8)
            bench = Bench(portal, floor, connections=32, seconds=seconds, python=args.python)
            figures = hot_paths(bench, 3 if args.quick else AUDIO_REQUESTS)
        else:
            seconds = args.seconds or (15 if args.quick else 60)
            clients = 50 if args.quick else 200
            bench = Bench(portal, floor, connections=clients, seconds=seconds, python=args.python)
            figures = under_load(bench, clients, seconds)
    figures.update({"workers": workers, "connections": bench.connections, "seconds_per_run": seconds})
    path = write_part(f"http_{args.what}", figures)
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
