"""Configuration, read from the environment.

`Config` holds the embedded defaults (SQLite under `instance/`, secrets generated once into
`instance/`); `TestConfig` is for the test suite; `ProductionConfig` refuses to start without
explicit secrets and an explicit database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The project checkout: a production secret written anywhere in it is public.
PROJECT_ROOT = Path(__file__).resolve().parent


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if not value:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on", "ya")


def _gateway_settings(prefix: str) -> dict[str, Any]:
    """An HTTP SMS/WhatsApp gateway (Fonnte-, Wablas-style): off while its URL is unset."""
    return {
        f"{prefix}_GATEWAY_URL": os.environ.get(f"{prefix}_GATEWAY_URL") or None,
        f"{prefix}_GATEWAY_TOKEN": os.environ.get(f"{prefix}_GATEWAY_TOKEN") or None,
        # Where the token goes: empty = the Authorization header, else the name of a form/JSON field.
        f"{prefix}_GATEWAY_TOKEN_FIELD": os.environ.get(f"{prefix}_GATEWAY_TOKEN_FIELD") or "",
        f"{prefix}_GATEWAY_NUMBER_FIELD": os.environ.get(f"{prefix}_GATEWAY_NUMBER_FIELD") or "target",
        f"{prefix}_GATEWAY_TEXT_FIELD": os.environ.get(f"{prefix}_GATEWAY_TEXT_FIELD") or "message",
        f"{prefix}_GATEWAY_FORMAT": os.environ.get(f"{prefix}_GATEWAY_FORMAT") or "form",
        f"{prefix}_GATEWAY_TIMEOUT_SECONDS": _env_float(f"{prefix}_GATEWAY_TIMEOUT_SECONDS", 10),
    }


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the app refuses to start."""


class Config:
    PORTAL_ENV = os.environ.get("PORTAL_ENV", "development")
    # None means "generate once into instance/" (development only, see portal.secrets).
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    NIK_ENCRYPTION_KEY = os.environ.get("NIK_ENCRYPTION_KEY") or None
    # None means "SQLite file instance/portal.db", resolved against the app's instance path.
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SQLITE_BUSY_TIMEOUT_MS", 5000)
    # PostgreSQL: one pooled connection per gunicorn thread (plus as many in a burst), checked
    # before use, and no statement allowed to hold a worker for long.
    DATABASE_POOL_SIZE = _env_int("DATABASE_POOL_SIZE", _env_int("WEB_THREADS", 2))
    DATABASE_CONNECT_TIMEOUT_SECONDS = _env_int("DATABASE_CONNECT_TIMEOUT_SECONDS", 3)
    DATABASE_STATEMENT_TIMEOUT_MS = _env_int("DATABASE_STATEMENT_TIMEOUT_MS", 10000)
    # Public lookups and region reads may go to a read replica; unset, they use DATABASE_URL.
    DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL") or None

    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "Asia/Jakarta"

    # Number of reverse proxies in front of the app; 0 ignores X-Forwarded-* entirely.
    PROXY_HOPS = _env_int("PROXY_HOPS", 0)
    # Redis: shared rate-limit counters and spent captcha challenges for every worker and host.
    # Unset: counters live in each worker's memory and spent challenges in instance/.
    REDIS_URL = os.environ.get("REDIS_URL") or None
    REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS") or 0.5)
    # While Redis does not answer, limits keep applying from each worker's memory (never "no
    # limits"); Flask-Limiter tries Redis again with a growing backoff and returns to it by itself.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_KEY_PREFIX = "portal"

    # Rate limits (Flask-Limiter syntax), per client address unless said otherwise.
    LOOKUP_LIMIT = os.environ.get("LOOKUP_LIMIT", "10/minute;100/day")
    LOOKUP_DESA_LIMIT = os.environ.get("LOOKUP_DESA_LIMIT", "300/hour")  # one desa, all addresses
    DESIL_LIMIT = os.environ.get("DESIL_LIMIT", "5/minute;20/day")
    # Desil tries for one person (desa + name), and for one NIK, from all addresses together.
    DESIL_TARGET_LIMIT = os.environ.get("DESIL_TARGET_LIMIT", "5/day")
    STEP_LIMIT = os.environ.get("STEP_LIMIT", "60/minute")
    # Showing a form (GET of /, /aduan/baru, /aduan/lacak): cheap, but never unlimited.
    PAGE_LIMIT = os.environ.get("PAGE_LIMIT", "120/minute;3000/day")
    REGION_API_LIMIT = os.environ.get("REGION_API_LIMIT", "120/minute")
    CAPTCHA_MEDIA_LIMIT = os.environ.get("CAPTCHA_MEDIA_LIMIT", "60/minute")
    # Plays of one challenge's audio, from any address: enough to listen again, too few to average.
    AUDIO_PER_CHALLENGE_LIMIT = os.environ.get("AUDIO_PER_CHALLENGE_LIMIT", "3 per 30 minutes")
    COMPLAINT_LIMIT = os.environ.get("COMPLAINT_LIMIT", "5/minute;30/day")
    TRACK_LIMIT = os.environ.get("TRACK_LIMIT", "10/minute;100/day")
    # Lost tracking codes sent again to one phone number or e-mail address, from all addresses
    # together: enough for a complainant, too few to flood someone's phone.
    CODE_RESEND_LIMIT = os.environ.get("CODE_RESEND_LIMIT", "3/day")
    # Staff login: attempts per address; and failures per username (any address) after which
    # a client that never logged in to that account must solve a captcha (never a lock).
    LOGIN_LIMIT = os.environ.get("LOGIN_LIMIT", "10/minute;50/day")
    LOGIN_CAPTCHA_AFTER = os.environ.get("LOGIN_CAPTCHA_AFTER", "5/day")
    # No X-RateLimit-* / Retry-After headers: computing them costs every limited request another
    # storage round trip (a third of a form page's time), browsers ignore them, and they would tell
    # a scraper its exact budget. The 429 page says in words to wait and try again.
    RATELIMIT_HEADERS_ENABLED = False
    REGION_CACHE_SECONDS = _env_int("REGION_CACHE_SECONDS", 86400)
    # How long a worker reuses the rendered blank lookup form (and how long its "data of period"
    # line may lag an import).
    RENDERED_PAGE_SECONDS = _env_int("RENDERED_PAGE_SECONDS", 30)
    # Makes every captcha answer this text: for tests and benchmarks only.
    CAPTCHA_FIXED_ANSWER = os.environ.get("CAPTCHA_FIXED_ANSWER") or None

    # The portal's real address, as residents must type it, e.g. https://cekbansos.bandungkab.go.id:
    # shown in the trust notice on every public page, drawn into the QR posters, and the base of the
    # links in messages (lacak, stop), so at most 33 characters for an SMS (checked at start).
    # Production refuses one that is not https://; the default is `make run`'s own address.
    PUBLIC_BASE_URL = (os.environ.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")

    # Complaints: evidence photos live outside the web root (default instance/uploads).
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER") or None
    UPLOAD_MAX_BYTES = _env_int("UPLOAD_MAX_BYTES", 8 * 1024 * 1024)
    # Pixels all photos of one complaint may declare together (three 20-MP phone photos fit).
    UPLOAD_MAX_PIXELS_PER_REQUEST = _env_int("UPLOAD_MAX_PIXELS_PER_REQUEST", 60_000_000)
    # One photo is decoded at a time per worker; the next waits this long, then gets a 503.
    UPLOAD_DECODE_WAIT_SECONDS = float(os.environ.get("UPLOAD_DECODE_WAIT_SECONDS") or 10)
    # Photos chosen on a complaint form that came back (an error, a new captcha) are kept this
    # long for that form, up to this total for the whole server (pending uploads).
    UPLOAD_PENDING_SECONDS = _env_int("UPLOAD_PENDING_SECONDS", 2 * 3600)
    UPLOAD_PENDING_MAX_BYTES = _env_int("UPLOAD_PENDING_MAX_BYTES", 512 * 1024 * 1024)
    SANGGAH_PER_30_DAYS = _env_int("SANGGAH_PER_30_DAYS", 3)
    # How long the receipt page shows the tracking code again to the browser that filed (a reload).
    FILED_CODE_SECONDS = _env_int("FILED_CODE_SECONDS", 3600)
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 26 * 1024 * 1024)
    # A CSRF token lives as long as the session cookie it is tied to: a resident who takes an
    # hour to fill a form must not lose it to a 400.
    WTF_CSRF_TIME_LIMIT = None
    # Flask-WTF's extra Referer check over HTTPS would refuse every form: our Referrer-Policy is
    # no-referrer, and some phone browsers strip the header anyway. The token (tied to the session)
    # and the SameSite=Lax cookie are the protection.
    WTF_CSRF_SSL_STRICT = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    # Kabar (messages): the outbox and its channels, each off until configured.
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)
    OUTBOX_BACKOFF_BASE_SECONDS = _env_float("OUTBOX_BACKOFF_BASE_SECONDS", 30)
    OUTBOX_BACKOFF_CAP_SECONDS = _env_float("OUTBOX_BACKOFF_CAP_SECONDS", 3600)
    # A claim covers 10 sends: longer than 10 x the slowest channel timeout, so a live worker keeps it.
    OUTBOX_LEASE_SECONDS = _env_int("OUTBOX_LEASE_SECONDS", 300)
    OUTBOX_BATCH_SIZE = _env_int("OUTBOX_BATCH_SIZE", 200)  # messages one run (job or command) delivers at most
    # A channel that is not configured delivers into the outbox only (status sent, channel dev).
    OUTBOX_DEV_CHANNEL = _env_bool("OUTBOX_DEV_CHANNEL", True)
    # The gateway's webhook for incoming messages (a reply STOP): /kabar/masuk/<SMS_INBOUND_TOKEN>.
    SMS_INBOUND_TOKEN = os.environ.get("SMS_INBOUND_TOKEN") or None
    SMS_INBOUND_SENDER_FIELD = os.environ.get("SMS_INBOUND_SENDER_FIELD") or "sender"
    SMS_INBOUND_TEXT_FIELD = os.environ.get("SMS_INBOUND_TEXT_FIELD") or "message"
    SMTP_HOST = os.environ.get("SMTP_HOST") or None
    SMTP_PORT = _env_int("SMTP_PORT", 587)
    SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", True)
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME") or None
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD") or None
    SMTP_FROM = os.environ.get("SMTP_FROM") or "Portal Cek Bansos <noreply@localhost>"
    SMTP_TIMEOUT_SECONDS = _env_float("SMTP_TIMEOUT_SECONDS", 10)
    # Escalation and the scheduled sweeps (services.escalation, services.followup, staff notices).
    ESCALATE_KECAMATAN_DAYS = _env_int("ESCALATE_KECAMATAN_DAYS", 14)
    ESCALATE_KABUPATEN_DAYS = _env_int("ESCALATE_KABUPATEN_DAYS", 21)
    FOLLOWUP_AFTER_DAYS = _env_int("FOLLOWUP_AFTER_DAYS", 7)
    # Local (WIB) hour from which the day's digest and overdue list go out.
    DIGEST_HOUR = _env_int("DIGEST_HOUR", 7)
    # How often the self-rescheduling RQ sweep job runs again.
    SWEEP_INTERVAL_SECONDS = _env_int("SWEEP_INTERVAL_SECONDS", 900)
    # The class body is a plain namespace: SMS_GATEWAY_URL, SMS_GATEWAY_TOKEN, … and WHATSAPP_….
    locals().update(_gateway_settings("SMS"))
    locals().update(_gateway_settings("WHATSAPP"))


class TestConfig(Config):
    TESTING = True
    PORTAL_ENV = "test"
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105 - tests only
    # 32 zero bytes, base64: deterministic test data, never used outside tests.
    NIK_ENCRYPTION_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or None
    REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False


class ProductionConfig(Config):
    PORTAL_ENV = "production"
    SESSION_COOKIE_SECURE = True
    # Production never pretends to deliver: an unconfigured channel's messages go dead, seen by admins.
    OUTBOX_DEV_CHANNEL = _env_bool("OUTBOX_DEV_CHANNEL", False)


#: The longest PUBLIC_BASE_URL with which every SMS still fits: "ADU-…: Diteruskan ke Dinas Sosial."
#: (42) + " Lacak " + URL + "/l/" + code (13) + " Stop " + URL + "/s/" + token (20) = 94 + 2 × URL ≤ 160.
SMS_BASE_URL_MAX = 33


def check_config(config: Mapping[str, Any]) -> None:
    """Refuse to start with an unsafe configuration: in production, missing or weak secrets.

    Weak means fewer than 32 random bytes, a value written in the project's files, or the same
    key for SECRET_KEY and NIK_ENCRYPTION_KEY (see `portal.secrets.secret_problem`). In every
    environment: a PUBLIC_BASE_URL too long for an SMS to carry its two links.
    """
    base_url = str(config.get("PUBLIC_BASE_URL") or "")
    if len(base_url) > SMS_BASE_URL_MAX:
        raise ConfigError(f"PUBLIC_BASE_URL has {len(base_url)} characters; an SMS (160) carries two links to it "
                          f"and the longest status, so at most {SMS_BASE_URL_MAX}.")
    if config.get("PORTAL_ENV") != "production":
        return
    required = {
        "SECRET_KEY": "SECRET_KEY",
        "NIK_ENCRYPTION_KEY": "NIK_ENCRYPTION_KEY",
        "SQLALCHEMY_DATABASE_URI": "DATABASE_URL",
    }
    missing = [env for key, env in required.items() if not config.get(key)]
    if config.get("CAPTCHA_FIXED_ANSWER"):
        raise ConfigError("PORTAL_ENV=production refuses CAPTCHA_FIXED_ANSWER: it disables the captcha.")
    for prefix in ("SMS", "WHATSAPP"):
        url = config.get(f"{prefix}_GATEWAY_URL")
        if url and not url.startswith("https://"):
            raise ConfigError(f"PORTAL_ENV=production needs an https:// {prefix}_GATEWAY_URL (the token travels).")
    base_url = config.get("PUBLIC_BASE_URL")
    if base_url and not base_url.startswith("https://"):
        raise ConfigError("PORTAL_ENV=production needs an https:// PUBLIC_BASE_URL (residents are told to check it).")
    if config.get("SMTP_PASSWORD") and not config.get("SMTP_STARTTLS"):
        raise ConfigError("PORTAL_ENV=production refuses SMTP_PASSWORD without SMTP_STARTTLS (sent in clear).")
    if missing:
        raise ConfigError(
            "PORTAL_ENV=production needs explicit " + ", ".join(missing)
            + " (see README, Configuration)."
        )
    # Imported here: portal imports this module while it is being loaded.
    from portal.secrets import key_material, secret_problem

    secret_key, nik_key = str(config["SECRET_KEY"]), str(config["NIK_ENCRYPTION_KEY"])
    for problem in (secret_problem("SECRET_KEY", secret_key, root=PROJECT_ROOT),
                    secret_problem("NIK_ENCRYPTION_KEY", nik_key, root=PROJECT_ROOT, exact_bytes=True)):
        if problem:
            raise ConfigError(problem)
    # One key for two jobs: whoever learns the one (a signed cookie forged offline, say) has both.
    if secret_key.strip() == nik_key.strip() or key_material(secret_key) == key_material(nik_key):
        raise ConfigError("SECRET_KEY and NIK_ENCRYPTION_KEY must be two different random keys.")


def config_for_environment() -> type[Config]:
    """The config class selected by PORTAL_ENV."""
    env = os.environ.get("PORTAL_ENV", "development")
    if env == "production":
        return ProductionConfig
    if env in ("development", ""):
        return Config
    raise ConfigError(f"PORTAL_ENV must be 'development' or 'production', not {env!r}.")
