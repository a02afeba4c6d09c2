"""Load generation for the HTTP benchmarks: wrk with `wrk_scenario.lua`, or a Python fallback.

A `Scenario` says what to send: one GET again and again, POSTs of ready bodies (each lookup with
its own fresh captcha), or the citizen flow (form, captcha image, lookup). Both generators count
the same things: responses that passed the check, failures (a non-2xx/3xx status or a page that
is not what was asked for, e.g. the lookup form shown again), 5xx, and lost responses (connection
errors and timeouts). Latency percentiles are per request.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from benchmarks._common import (
    CAPTCHA_ID_RE,
    FOUND_MARKER,
    LOOKUP_FORM_MARKER,
    Client,
    Reply,
    Server,
    first_group,
    latency_ms,
    log,
)

LUA = Path(__file__).resolve().parent / "wrk_scenario.lua"
Mode = Literal["get", "bodies", "flow"]


@dataclass
class Scenario:
    mode: Mode
    path: str = "/"
    cookie: str = ""
    #: `bodies`: one urlencoded body per request.
    bodies: list[str] = field(default_factory=list)
    #: `flow`: the lookup fields without the captcha id.
    flow_fields: dict[str, str] = field(default_factory=dict)
    check: str = ""
    reject: str = ""
    #: Keep the captcha ids of the responses (the form benchmark feeds the lookup benchmark).
    harvest: bool = False


@dataclass
class Outcome:
    tool: str
    requests: int
    seconds: float
    ok: int
    failed: int
    status_5xx: int
    lost: int
    flows: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    harvested: list[str] = field(default_factory=list)
    #: `bodies`: requests sent after their generator thread had used up its ids (each fails).
    reused: int = 0
    #: Of the lost responses, those not answered within the generator's timeout (10 s).
    timeouts: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "tool": self.tool, "requests": self.requests, "seconds": round(self.seconds, 3),
            "req_per_s": round(self.rps, 1), "ok": self.ok, "failed": self.failed,
            "status_5xx": self.status_5xx, "lost": self.lost, "flows": self.flows, "reused_ids": self.reused,
            "timeouts": self.timeouts,
            "flows_per_s": round(self.flows / self.seconds, 2) if self.seconds else 0.0,
            "p50_ms": round(self.p50_ms, 2), "p99_ms": round(self.p99_ms, 2), "mean_ms": round(self.mean_ms, 2),
        }


def flow_body_template(fields: dict[str, str]) -> str:
    """The urlencoded lookup with `%s` where the captcha id goes (wrk's Lua fills it in)."""
    return urlencode({**fields, "captcha_id": "__ID__"}).replace("%", "%%").replace("__ID__", "%s")


# ------------------------------------------------------------------------------------------- wrk

def wrk_available() -> bool:
    """wrk on the PATH; installed from Debian when missing and running as root."""
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get") and os.environ.get("BENCH_NO_INSTALL") is None:
        log("wrk is missing: apt-get install -y wrk")
        install = ["apt-get", "install", "-y", "wrk"]
        for command in (install, ["apt-get", "update"], install):
            if subprocess.run(command, capture_output=True, check=False).returncode == 0 and shutil.which("wrk"):
                return True
    return shutil.which("wrk") is not None


def run_wrk(server: Server, scenario: Scenario, connections: int, seconds: float) -> Outcome:
    threads = connections if scenario.mode == "flow" else min(connections, os.cpu_count() or 2)
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        env = {
            **os.environ, "BENCH_MODE": scenario.mode, "BENCH_PATH": scenario.path,
            "BENCH_COOKIE": scenario.cookie, "BENCH_CHECK": scenario.check, "BENCH_REJECT": scenario.reject,
            "BENCH_THREADS": str(threads), "BENCH_HARVEST": f"{tmp}/ids" if scenario.harvest else "",
            "BENCH_FLOW_BODY": flow_body_template(scenario.flow_fields) if scenario.flow_fields else "",
        }
        if scenario.mode == "bodies":
            (Path(tmp) / "bodies").write_text("\n".join(scenario.bodies) + "\n")
            env["BENCH_BODIES"] = f"{tmp}/bodies"
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:.0f}s", "--timeout", "10s",
                   "-s", str(LUA), server.base + scenario.path]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk failed:\n{done.stdout}\n{done.stderr}")
        data = json.loads(line.removeprefix("BENCHJSON "))
        harvested = [ln for p in Path(tmp).glob("ids.*") for ln in p.read_text().split()]
    return Outcome(tool="wrk", requests=data["requests"], seconds=data["duration_s"], ok=data["ok"],
                   failed=data["failed"], status_5xx=data["status_5xx"], lost=data["lost"], flows=data["flows"],
                   p50_ms=data["p50_ms"], p99_ms=data["p99_ms"], mean_ms=data["mean_ms"], harvested=harvested,
                   reused=data["reused"], timeouts=data["timeouts"])


# ---------------------------------------------------------------------------------------- Python

@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    failed: int = 0
    status_5xx: int = 0
    lost: int = 0
    flows: int = 0
    reused: int = 0
    timeouts: int = 0
    harvested: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _good(scenario: Scenario, reply: Reply) -> bool:
    if reply.status >= 400:
        return False
    text = reply.text if (scenario.check or scenario.reject) else ""
    return (not scenario.check or scenario.check in text) and not (scenario.reject and scenario.reject in text)


class _Worker:
    """One client connection running the scenario until the deadline (the fallback generator)."""

    def __init__(self, server: Server, scenario: Scenario, bodies: list[str], tally: _Tally) -> None:
        self.client = Client(server, timeout=10)
        if scenario.cookie:
            name, _, value = scenario.cookie.partition("=")
            self.client.cookies[name] = value
        self.scenario, self.bodies, self.tally = scenario, bodies, tally

    def _send(self, method: str, path: str, body: str | None = None) -> Reply | None:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else None
        started = time.perf_counter()
        try:
            reply = self.client.request(method, path, body.encode() if body is not None else None, headers)
        except OSError as lost:
            with self.tally.lock:
                self.tally.lost += 1
                self.tally.timeouts += isinstance(lost, TimeoutError)
            self.client.close()
            return None
        with self.tally.lock:
            self.tally.latencies.append(time.perf_counter() - started)
            self.tally.status_5xx += reply.status >= 500
        return reply

    def _count(self, ok: bool, flow: bool = False) -> None:
        with self.tally.lock:
            self.tally.ok += ok
            self.tally.failed += not ok
            self.tally.flows += ok and flow

    def _one_flow(self) -> None:
        form = self._send("GET", "/")
        captcha_id = first_group(CAPTCHA_ID_RE.search(form.text)) if form and form.status == 200 else None
        if form is not None:
            self._count(captcha_id is not None)
        if captcha_id is None:
            return
        image = self._send("GET", f"/captcha/{captcha_id}.png")
        if image is None:
            return
        self._count(image.status == 200)
        lookup = self._send("POST", "/cek", urlencode({**self.scenario.flow_fields, "captcha_id": captcha_id}))
        if lookup is not None:
            self._count(_good(self.scenario, lookup), flow=True)

    def run(self, deadline: float) -> None:
        next_body = 0
        while time.perf_counter() < deadline:
            if self.scenario.mode == "flow":
                self._one_flow()
                continue
            body = None
            if self.scenario.mode == "bodies":
                body = self.bodies[min(next_body, len(self.bodies) - 1)]
                if next_body >= len(self.bodies):
                    with self.tally.lock:
                        self.tally.reused += 1
                next_body += 1
            reply = self._send("POST" if body is not None else "GET", self.scenario.path, body)
            if reply is not None:
                self._count(_good(self.scenario, reply))
                if self.scenario.harvest and (found := first_group(CAPTCHA_ID_RE.search(reply.text))):
                    with self.tally.lock:
                        self.tally.harvested.append(found)
        self.client.close()


def run_python(server: Server, scenario: Scenario, connections: int, seconds: float) -> Outcome:
    tally = _Tally()
    workers = [_Worker(server, scenario, scenario.bodies[i::connections], tally) for i in range(connections)]
    started = time.perf_counter()
    deadline = started + seconds
    threads = [threading.Thread(target=w.run, args=(deadline,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    figures = latency_ms(tally.latencies)
    return Outcome(tool="python-threads", requests=len(tally.latencies) + tally.lost, seconds=elapsed, ok=tally.ok,
                   failed=tally.failed, status_5xx=tally.status_5xx, lost=tally.lost, flows=tally.flows,
                   p50_ms=figures["p50_ms"], p99_ms=figures["p99_ms"], mean_ms=figures["mean_ms"],
                   harvested=tally.harvested, reused=tally.reused, timeouts=tally.timeouts)


def load_generator(prefer_wrk: bool = True) -> Callable[[Server, Scenario, int, float], Outcome]:
    """wrk when it is there (or can be installed), otherwise the Python threads."""
    if prefer_wrk and wrk_available():
        return run_wrk
    log("using the Python load generator (threads + http.client): figures are lower than with wrk")
    return run_python


# ------------------------------------------------------------------------------------ server CPU

def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def server_cpu_seconds(master_pid: int) -> float:
    """CPU time (user + system) used so far by the gunicorn workers of `master_pid` (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _children(master_pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


__all__ = ["FOUND_MARKER", "LOOKUP_FORM_MARKER", "Outcome", "Scenario", "load_generator", "server_cpu_seconds"]
