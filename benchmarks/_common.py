"""What every benchmark script shares: the portal's environment, seeding, gunicorn, statistics, results.

Only the standard library is imported at module level, so that orchestrating processes stay small;
the portal itself is imported inside the functions that need it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
PARTS_DIR = RESULTS_DIR / "parts"
URL_ENV = "BENCH_DATABASE_URL"
QUICK_ENV = "BENCH_QUICK"

#: Every captcha answer becomes this (CAPTCHA_FIXED_ANSWER): the real challenge code path still runs.
CAPTCHA_ANSWER = "24680"
#: Limits high enough never to refuse a benchmark client, while the limiter still does its work.
_NO_LIMIT = "100000000/minute"

#: A desa of the demo seed and a name its seed always contains (services.demo.SHOWCASE_NAMES).
DESA = "32.04.05.2001"
FOUND_NAME = "Moch. Djoenaedi"
NOT_FOUND_NAME = "Zulkarnaen Tidakada Sama Sekali"
STAFF_USER = "bench.desa"
STAFF_PASSWORD = "kuda-laut-berenang-7319"  # noqa: S105 - a throwaway account of a throwaway database

CAPTCHA_ID_RE = re.compile(r'name="captcha_id"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="captcha_id"')
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
#: A page that shows the lookup form again (wrong captcha, bad input) is a failed lookup.
LOOKUP_FORM_MARKER = 'id="cek-form"'
#: Every found person is one of these sections of the result page.
FOUND_MARKER = 'class="person"'


def quick() -> bool:
    """BENCH_QUICK=1: every benchmark shrinks to a smoke run of a minute or two."""
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


def first_group(match: re.Match[str] | None) -> str | None:
    return None if match is None else next(g for g in match.groups() if g)


# ---------------------------------------------------------------------------------- portal setup

def portal_env(workdir: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment a bench portal runs in: its own database, secrets, uploads and no effective limits."""
    key_file = workdir / "nik_key"
    if not key_file.exists():
        workdir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    env = {
        **os.environ,
        "PORTAL_ENV": "development",
        "DATABASE_URL": database_url or f"sqlite:///{workdir / 'portal.db'}",
        "SECRET_KEY": "bench-" + key_file.read_text()[:16],
        "NIK_ENCRYPTION_KEY": key_file.read_text(),
        "CAPTCHA_FIXED_ANSWER": CAPTCHA_ANSWER,
        "UPLOAD_FOLDER": str(workdir / "uploads"),
        "PYTHONPATH": str(ROOT),
    }
    env.update(dict.fromkeys(limit_settings(), _NO_LIMIT))
    return env


def limit_settings() -> list[str]:
    """Every setting of config.Config that is a rate limit, read from config.py so that none is missed.

    config.py is loaded as a private copy: the real module reads the environment once, when first
    imported, and a benchmark that runs the portal in-process imports it after setting that environment.
    """
    import importlib.util

    from limits import parse_many

    spec = importlib.util.spec_from_file_location("_bench_config_copy", ROOT / "config.py")
    assert spec is not None and spec.loader is not None
    config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(config)
    names = []
    for name in dir(config.Config):
        value = getattr(config.Config, name)
        if not (name.isupper() and isinstance(value, str)):
            continue
        try:
            parse_many(value)
        except ValueError:
            continue
        names.append(name)
    return names


def flask(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run `flask --app wsgi ARGS` in the bench environment; its output."""
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], env=env, cwd=ROOT, input=stdin,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def seed_portal(env: dict[str, str]) -> None:
    """Schema, regions and the demo registry through the project's own command line, plus a desa operator."""
    flask(env, "db", "upgrade")
    flask(env, "regions", "load")
    flask(env, "demo", "seed", "--if-empty")
    with contextlib.suppress(RuntimeError):  # already there on a reused database
        flask(env, "staff", "create", STAFF_USER, "--role", "desa", "--region", DESA, "--prompt",
              stdin=f"{STAFF_PASSWORD}\n{STAFF_PASSWORD}\n")


def reset_database(url: str) -> None:
    """Empty a PostgreSQL database given to the benchmarks (its public schema), so seeding starts clean.

    Only a database whose name contains "bench", or any with BENCH_ALLOW_WIPE=1.
    """
    import sqlalchemy

    name = sqlalchemy.engine.make_url(url).database or ""
    if "bench" not in name and os.environ.get("BENCH_ALLOW_WIPE") != "1":
        raise SystemExit(f"refusing to wipe database {name!r}: its name lacks 'bench' (or set BENCH_ALLOW_WIPE=1)")
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def add_options(parser: argparse.ArgumentParser, database: bool = False) -> None:
    """`--quick` (also BENCH_QUICK=1) and, for benchmarks that also measure PostgreSQL, `--database-url`."""
    parser.add_argument("--quick", action="store_true", default=quick(), help=f"short runs (also {QUICK_ENV}=1)")
    if database:
        parser.add_argument("--database-url", default=os.environ.get(URL_ENV),
                            help=f"also measure this PostgreSQL database (it is wiped); also ${URL_ENV}")


def seeded_databases(label: str, database_url: str | None) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """(name, work directory, environment) of a seeded SQLite portal, then of PostgreSQL when a URL is given."""
    for name, url in (("sqlite", None), ("postgresql", database_url)):
        if name == "postgresql" and not url:
            continue
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{label}-{name}-"))
        env = portal_env(workdir, url)
        if url:
            reset_database(url)
        log(f"{label} on {name}: seeding {workdir} ...")
        seed_portal(env)
        yield name, workdir, env


# -------------------------------------------------------------------------------------- gunicorn

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    pid: int

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before answering")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on port {port} within {timeout} s")


def _warm_up(server: Server, workers: int) -> None:
    """Wait until every worker has imported the app (workers load it lazily, seconds after the port opens)."""
    def ask() -> None:
        client = Client(server, timeout=120)
        try:
            client.get("/healthz")
        finally:
            client.close()

    ask()
    threads = [threading.Thread(target=ask) for _ in range(4 * workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@contextlib.contextmanager
def gunicorn(env: dict[str, str], app: str = "wsgi:app", workers: int = 2,
             log: Path | None = None) -> Iterator[Server]:
    """The project's gunicorn settings (gunicorn.conf.py) on a free loopback port; stopped on exit."""
    port = free_port()
    run_env = {**env, "PORTAL_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)}
    out = log.open("ab") if log else subprocess.DEVNULL
    process = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), app],
                               env=run_env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process)
        server = Server("127.0.0.1", port, process.pid)
        _warm_up(server, workers)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            out.close()  # type: ignore[union-attr]


# --------------------------------------------------------------------------------- small client

@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Client:
    """One keep-alive HTTP/1.1 connection with a cookie jar of one-valued cookies."""

    def __init__(self, server: Server, timeout: float = 30) -> None:
        self.server = server
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, body=body, headers=all_headers)
                response = self._conn.getresponse()
                reply = Reply(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed meanwhile: reconnect once.
                self.close()
                if attempt == 2:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post_form(self, path: str, fields: dict[str, str]) -> Reply:
        from urllib.parse import urlencode

        return self.request("POST", path, urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def post_multipart(self, path: str, fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]) -> Reply:
        """A multipart/form-data POST; `files` maps a field to (file name, content type, bytes)."""
        boundary = "bench" + os.urandom(12).hex()
        parts: list[bytes] = []
        for name, value in fields.items():
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            parts.append(f"{head}{value}\r\n".encode())
        for name, (filename, content_type, data) in files.items():
            head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                    f"Content-Type: {content_type}\r\n\r\n")
            parts.append(head.encode() + data + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        content_type = f"multipart/form-data; boundary={boundary}"
        return self.request("POST", path, b"".join(parts), {"Content-Type": content_type})

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def lookup_fields(csrf: str, captcha_id: str, name: str = FOUND_NAME, desa: str = DESA) -> dict[str, str]:
    """The fields of `POST /cek` for a person in `desa`, with the fixed captcha answer."""
    parts = desa.split(".")
    return {
        "csrf_token": csrf, "provinsi": parts[0], "kabupaten": ".".join(parts[:2]),
        "kecamatan": ".".join(parts[:3]), "desa": desa, "nama": name,
        "captcha_id": captcha_id, "captcha_jawaban": CAPTCHA_ANSWER,
    }


def form_tokens(page: str) -> tuple[str, str]:
    """(csrf token, captcha id) of a page with a form; raises if either is missing."""
    csrf, captcha_id = first_group(CSRF_RE.search(page)), first_group(CAPTCHA_ID_RE.search(page))
    if not csrf or not captcha_id:
        raise RuntimeError("the form page carries no csrf_token or captcha_id")
    return csrf, captcha_id


def is_found_page(reply: Reply) -> bool:
    """A lookup that came back as a result page with at least one person (never the form again)."""
    text = reply.text
    return reply.status == 200 and FOUND_MARKER in text and LOOKUP_FORM_MARKER not in text


def has_healthz(server: Server) -> bool:
    client = Client(server, timeout=5)
    try:
        return client.get("/healthz").status == 200
    finally:
        client.close()


# ------------------------------------------------------------------------------ figures, results

def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean of latencies given in seconds, in milliseconds."""
    return {
        "p50_ms": percentile(seconds, 50) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "mean_ms": (statistics.fmean(seconds) * 1000) if seconds else 0.0,
    }


def machine() -> dict[str, Any]:
    """Date, cores, memory and software of this run, for the table's heading."""
    memory_kib = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        memory_kib = int(meminfo.readline().split()[1])
    cpu = platform.processor()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), cpu)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": f"{platform.system()} {platform.release()}",
        "commit": _git_commit(),
        # Other work on a shared machine skews every figure: the 1-minute load average says how much.
        "load_average_1min": round(os.getloadavg()[0], 1),
        "quick": quick(),
    }


def _git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() or "unknown"


def write_part(name: str, data: dict[str, Any]) -> Path:
    """Store one benchmark's figures; `run_all.py` gathers the parts into latest.json."""
    PARTS_DIR.mkdir(parents=True, exist_ok=True)
    path = PARTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
