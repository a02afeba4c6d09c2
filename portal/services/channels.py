"""Delivery channels of the outbox: SMTP e-mail, an HTTP SMS/WhatsApp gateway, and a development channel.

Each channel has one method, `send(recipient, subject, body)`, that returns when the message was
handed over and raises `DeliveryFailed` otherwise. A channel never logs or raises the recipient
or the body: a failure's reason is short and scrubbed, because it is stored in `last_error`.
Channels are off until configured (`channels_from_config`).
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

from portal.models.outbox import MessageChannel

_REASON_LENGTH = 200
# Runs of digits long enough to be a phone number, NIK or KK, and e-mail addresses.
_NUMBER_RUN = re.compile(r"\+?\d(?:[\s.\-]?\d){5,}")
_EMAIL = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+")


def scrub(text: str) -> str:
    """`text` made safe for `last_error` and logs: numbers and addresses hidden, at most 200 characters."""
    text = _EMAIL.sub("[alamat]", _NUMBER_RUN.sub("[nomor]", " ".join(str(text).split())))
    return text[:_REASON_LENGTH]


class DeliveryFailed(Exception):
    """The message was not handed over. `permanent` failures (a refused address) are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        self.reason = scrub(reason)
        self.permanent = permanent
        super().__init__(self.reason)


class Channel(Protocol):
    #: The channel recorded on a message it delivered ("dev" for the development channel).
    name: MessageChannel

    def send(self, recipient: str, subject: str, body: str) -> None: ...


class DevChannel:
    """Delivers nowhere: the message stays in the outbox, marked sent through `dev`, to be read there."""

    name = MessageChannel.DEV

    def send(self, recipient: str, subject: str, body: str) -> None:
        return None


class SmtpChannel:
    """E-mail through an SMTP server (`smtplib`), with STARTTLS and login when configured.

    With `starttls` on, a server that does not offer STARTTLS gets nothing: the message is not
    sent in clear. One connection per message keeps a worker free of half-broken sessions.
    """

    name = MessageChannel.EMAIL

    def __init__(self, host: str, port: int, *, from_address: str, starttls: bool = True,
                 username: str | None = None, password: str | None = None, timeout: float = 10,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.from_address = host, port, from_address
        self.starttls, self.username, self.password, self.timeout = starttls, username, password, timeout
        self.ssl_context = ssl_context

    def send(self, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.from_address
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.from_address.rpartition("@")[2].strip("> ") or None)
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailed(f"smtp recipient refused {codes}", permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryFailed("smtp server offers no STARTTLS") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(f"smtp login refused {exc.smtp_code}") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"smtp {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            # The exception's text may quote the address: only its type is kept.
            raise DeliveryFailed(f"smtp {type(exc).__name__}") from None


_TRUE_STATUSES = {"true", "1", "ok", "success", "sent", "berhasil"}


class HttpGatewayChannel:
    """SMS or WhatsApp through an Indonesian HTTP gateway (Fonnte-, Wablas-, Zenziva-style).

    One POST per message: the number and the text as form fields (or JSON), the token in the
    `Authorization` header (or in a field). Delivered means HTTP 2xx *and* a JSON reply whose
    `status` is true ("true", 1, "1", "success" …): these gateways answer 200 with
    `{"status": false, "reason": …}` when they refuse a message.
    """

    def __init__(self, name: MessageChannel, url: str, *, token: str | None, number_field: str = "target",
                 text_field: str = "message", token_field: str = "", body_format: str = "form",
                 timeout: float = 10) -> None:
        if body_format not in ("form", "json"):
            raise ValueError("body_format must be 'form' or 'json'")
        self.name, self.url, self.token = name, url, token
        self.number_field, self.text_field, self.token_field = number_field, text_field, token_field
        self.body_format, self.timeout = body_format, timeout

    def _request(self, recipient: str, body: str) -> urllib.request.Request:
        fields = {self.number_field: recipient, self.text_field: body}
        headers = {"Accept": "application/json", "User-Agent": "portal-cek-bansos"}
        if self.token and self.token_field:
            fields[self.token_field] = self.token
        elif self.token:
            headers["Authorization"] = self.token
        if self.body_format == "json":
            data = json.dumps(fields).encode()
            headers["Content-Type"] = "application/json"
        else:
            data = urllib.parse.urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return urllib.request.Request(self.url, data=data, headers=headers, method="POST")  # noqa: S310 - configured URL

    def send(self, recipient: str, subject: str, body: str) -> None:
        request = self._request(recipient, body)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                raw = response.read(64 * 1024)
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"{self.name} gateway HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # URLError wraps what happened while connecting; only the kind of failure is kept.
            reason = getattr(exc, "reason", exc)
            what = "timeout" if isinstance(reason, TimeoutError) else type(reason).__name__
            raise DeliveryFailed(f"{self.name} gateway {what}") from None
        try:
            reply = json.loads(raw)
        except ValueError:
            raise DeliveryFailed(f"{self.name} gateway reply is not JSON") from None
        if not isinstance(reply, dict):
            raise DeliveryFailed(f"{self.name} gateway reply has no status")
        if str(reply.get("status")).strip().lower() not in _TRUE_STATUSES:
            detail = reply.get("reason") or reply.get("message") or reply.get("text") or ""
            raise DeliveryFailed(f"{self.name} gateway refused: {detail}")


def _gateway(name: MessageChannel, config: Mapping[str, Any]) -> HttpGatewayChannel | None:
    prefix = name.value.upper()
    url = config.get(f"{prefix}_GATEWAY_URL")
    if not url:
        return None
    return HttpGatewayChannel(
        name, url, token=config.get(f"{prefix}_GATEWAY_TOKEN"),
        number_field=config[f"{prefix}_GATEWAY_NUMBER_FIELD"], text_field=config[f"{prefix}_GATEWAY_TEXT_FIELD"],
        token_field=config[f"{prefix}_GATEWAY_TOKEN_FIELD"], body_format=config[f"{prefix}_GATEWAY_FORMAT"],
        timeout=config[f"{prefix}_GATEWAY_TIMEOUT_SECONDS"],
    )


def channels_from_config(config: Mapping[str, Any]) -> dict[MessageChannel, Channel]:
    """The configured channel for each message channel; with OUTBOX_DEV_CHANNEL the development
    channel stands in for the ones not configured. A channel missing here has its messages dead."""
    channels: dict[MessageChannel, Channel] = {}
    if config.get("SMTP_HOST"):
        channels[MessageChannel.EMAIL] = SmtpChannel(
            config["SMTP_HOST"], config["SMTP_PORT"], from_address=config["SMTP_FROM"],
            starttls=config["SMTP_STARTTLS"], username=config.get("SMTP_USERNAME"),
            password=config.get("SMTP_PASSWORD"), timeout=config["SMTP_TIMEOUT_SECONDS"],
        )
    for name in (MessageChannel.SMS, MessageChannel.WHATSAPP):
        gateway = _gateway(name, config)
        if gateway is not None:
            channels[name] = gateway
    if config.get("OUTBOX_DEV_CHANNEL"):
        for name in MessageChannel:
            channels.setdefault(name, DevChannel())
    return channels
