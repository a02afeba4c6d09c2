"""Real servers the production tests start and stop themselves: a Redis of their own, gunicorn, a TCP proxy."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 15.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answered on port {port}")


def wait_for_health(port: int, *, timeout: float = 60.0) -> None:
    """Until the app answers /healthz: the port opens before gunicorn's workers have imported the app."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def require(binary: str) -> str:
    """The path of a server binary; skips where absent, but fails in CI, which has them all."""
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is not installed")
        pytest.skip(f"{binary} is not installed on this machine")
    return path


class RedisServer:
    """A redis-server on a free loopback port that a test may kill and start again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, process=self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class TcpProxy:
    """A small TCP proxy a test puts between the app and PostgreSQL, to cut the database off for real.

    `cut()` drops every proxied connection and refuses new ones, as a database host that went away;
    `restore()` listens again on the same port. `cut_when(pattern)` cuts the moment the client sends
    bytes containing `pattern` (before they reach the server), so a test can stop a request at one
    chosen statement; `cut_when(pattern, after_reply=True)` lets those bytes through and cuts when the
    server answers them, before the answer reaches the client (a COMMIT that happened but was never
    confirmed). `hold()` accepts connections and never answers, as a host that drops packets.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self.cut_happened = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._pattern: bytes | None = None
        self._after_reply = False
        self._holding = False
        self.restore()

    # -- what a test does ----------------------------------------------------------------------

    def cut(self) -> None:
        """Close every proxied connection and stop listening: new connections are refused."""
        with self._lock:
            listener, self._listener = self._listener, None
            doomed, self._sockets = self._sockets, set()
            self._pattern = None
        for sock in ([listener] if listener else []) + list(doomed):
            _close(sock)
        self.cut_happened.set()

    def restore(self) -> None:
        """Listen again (on the same port once one was chosen) and forward normally."""
        if self._listener is not None:
            self.cut()  # held connections go; the port is free to listen on again
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self._lock:
            self.port = listener.getsockname()[1]
            self._listener = listener
            self._holding = False
        self.cut_happened.clear()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut_when(self, pattern: bytes, *, after_reply: bool = False) -> None:
        with self._lock:
            self._pattern, self._after_reply = pattern, after_reply

    def hold(self) -> None:
        """Accept new connections but never forward them (existing ones are cut)."""
        self.cut()
        self.restore()
        with self._lock:
            self._holding = True

    def close(self) -> None:
        self.cut()

    # -- the forwarding ------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # the listener was closed by cut()
            with self._lock:
                self._sockets.add(client)
                holding = self._holding
            if holding:
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets.add(server)
            awaiting_reply = threading.Event()  # this connection sent the pattern, after_reply
            threading.Thread(target=self._pump, args=(client, server, awaiting_reply, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, awaiting_reply, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, awaiting_reply: threading.Event,
              from_client: bool) -> None:
        tail = b""
        while True:
            try:
                chunk = source.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                _close(target)
                return
            if not from_client and awaiting_reply.is_set():
                self.cut()  # the server answered: that answer never reaches the client
                return
            with self._lock:
                pattern, after_reply = self._pattern, self._after_reply
                seen = from_client and pattern is not None and pattern in tail + chunk
                if seen:
                    self._pattern = None
            if seen and not after_reply:
                self.cut()
                return
            if seen:
                awaiting_reply.set()
            tail = chunk[-len(pattern):] if pattern else b""
            try:
                target.sendall(chunk)
            except OSError:
                _close(source)
                return


def _close(sock: socket.socket) -> None:
    # shutdown() first: it wakes a thread blocked in recv() on this socket, close() alone does not.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
