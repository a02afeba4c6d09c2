"""Real servers on loopback for the outbox tests: an SMTP server (aiosmtpd) and an HTTP SMS/WhatsApp
gateway stand-in that answers as told (OK, refused in JSON, 500, too slow, connection dropped)."""

from __future__ import annotations

import collections
import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.production.servers import free_port

#: Gateway behaviours: what the stand-in does with the next request.
OK, REFUSED, ERROR_500, SLOW, DROP, BLOCK = "ok", "refused", "500", "slow", "drop", "block"


@dataclass
class GatewayRequest:
    authorization: str | None
    content_type: str
    fields: dict[str, str]
    behaviour: str


@dataclass
class Gateway:
    """A Fonnte/Wablas-style gateway on a free loopback port.

    `script` holds the behaviours of the next requests in order; once it is empty, `default`
    applies. `SLOW` answers only after `release` is set (the client times out first); `BLOCK`
    also sets `blocked`, so a test knows a request is being held."""

    default: str = OK
    script: collections.deque[str] = field(default_factory=collections.deque)
    requests: list[GatewayRequest] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    blocked: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/send"

    def delivered(self) -> list[GatewayRequest]:
        """The requests the gateway accepted (answered 200 with status true)."""
        return [r for r in self.requests if r.behaviour == OK]

    def start(self) -> Gateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                content_type = self.headers.get("Content-Type", "")
                fields = json.loads(raw) if "json" in content_type else dict(urllib.parse.parse_qsl(raw))
                with gateway.lock:
                    behaviour = gateway.script.popleft() if gateway.script else gateway.default
                    gateway.requests.append(
                        GatewayRequest(self.headers.get("Authorization"), content_type, fields, behaviour))
                if behaviour == DROP:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if behaviour in (SLOW, BLOCK):
                    if behaviour == BLOCK:
                        gateway.blocked.set()
                    gateway.release.wait(60)
                if behaviour == ERROR_500:
                    self._reply(500, {"status": False, "reason": "internal error"})
                elif behaviour == REFUSED:
                    # Gateways quote the number they refuse: the portal must not store it.
                    self._reply(200, {"status": False, "reason": f"target {fields.get('target')} invalid"})
                else:
                    self._reply(200, {"status": True, "detail": "success! message in queue", "id": ["80367170"]})

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timed out) or was killed

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class SmtpInbox:
    """What an aiosmtpd server received: one envelope per accepted message."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


USERNAME, PASSWORD = "portal", "rahasia-smtp"


def _authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USERNAME.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # the server answers 535 itself


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A certificate for 127.0.0.1: the server's TLS context and a client context trusting only it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


class SmtpServer:
    """An aiosmtpd server on a free loopback port: plain, with login, or with STARTTLS + login."""

    def __init__(self, *, auth: bool = False, tls_context: ssl.SSLContext | None = None) -> None:
        self.inbox = SmtpInbox()
        self.port = free_port()
        options: dict = {}
        if auth:
            options.update(authenticator=_authenticator, auth_required=True,
                           auth_require_tls=tls_context is not None)
        if tls_context is not None:
            options.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
