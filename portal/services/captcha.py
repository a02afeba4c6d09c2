"""Single-use captcha challenges that cost nothing to issue.

A challenge id describes itself: the form it was drawn for, its expiry and a random nonce,
authenticated with a key derived from SECRET_KEY (``lookup.1764582300.q3….Zk…``). Issuing one
writes nothing, so showing a form writes nothing, and any worker on any host can check an id,
draw its image or speak its digits. The answer is a keyed function of the id (HMAC under a
second derived key): it is never stored and never sent to the client.

Only the one attempt a challenge allows writes: it *spends* the id in a store shared by every
worker (Redis ``SET NX`` that lives as long as the challenge; without Redis, an insert into a
table whose primary key refuses a second spend), whatever the outcome of the attempt. Two
requests racing with the same solved challenge cannot both pass.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis
from sqlalchemy import Engine, bindparam, delete, insert, inspect, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.schema import CreateIndex, CreateTable

from portal.models import SpentChallenge, utcnow
from portal.services.pii import derive_key

ANSWER_DIGITS = 5
#: Longest id accepted from a client; a real one is about 60 characters.
MAX_ID_LENGTH = 80
_NONCE_BYTES = 12
_MAC_BYTES = 16
# One in this many spends also sweeps expired rows from the SQL store.
_SWEEP_EVERY = 100


class ChallengePurpose(enum.StrEnum):
    """The form a challenge was drawn for; a challenge answers only its own form."""

    LOOKUP = "cek"
    DESIL = "desil"  # a pass from a found lookup, bound to its desa and name
    NEXT_LOOKUP = "lanjut"  # a pass from a solved lookup: one more name in the same desa
    COMPLAINT = "aduan"
    LOGIN = "masuk"
    LOST_CODE = "kode"  # a lost tracking code sent again to the complainant's contact


#: How long a challenge can be answered: filling a complaint takes longer than a lookup.
CHALLENGE_TTL = {
    ChallengePurpose.LOOKUP: dt.timedelta(minutes=5),
    ChallengePurpose.DESIL: dt.timedelta(minutes=5),
    ChallengePurpose.NEXT_LOOKUP: dt.timedelta(minutes=10),
    ChallengePurpose.COMPLAINT: dt.timedelta(minutes=30),
    ChallengePurpose.LOGIN: dt.timedelta(minutes=5),
    ChallengePurpose.LOST_CODE: dt.timedelta(minutes=10),
}


#: Names one solved lookup captcha looks up in one desa after the first, each through a pass
#: handed on by the lookup before it (a resident checking the rest of the family).
NEXT_LOOKUPS_PER_CAPTCHA = 3


@dataclass(frozen=True, slots=True)
class NextLookupPass:
    """A pass for one more lookup in a desa without a captcha; `left` passes may follow it."""

    id: str
    left: int


class CaptchaUnavailable(RuntimeError):
    """The spent-challenge store does not answer: no attempt can be judged safely."""


@dataclass(frozen=True, slots=True)
class Challenge:
    id: str
    purpose: ChallengePurpose
    expires_at: dt.datetime


class SpentChallenges(Protocol):
    """Where spent challenge ids are remembered until they expire, shared by every worker."""

    def spend(self, challenge: Challenge, now: dt.datetime) -> bool:
        """Mark the challenge spent; True only the first time. Raises CaptchaUnavailable."""
        ...

    def is_spent(self, challenge: Challenge) -> bool:
        """Whether the challenge was spent already. Raises CaptchaUnavailable."""
        ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_ALLOWANCES = frozenset(str(n) for n in range(NEXT_LOOKUPS_PER_CAPTCHA))


class CaptchaKeys:
    """Issues and checks challenge ids and computes their answers, from keys derived from SECRET_KEY."""

    def __init__(self, secret_key: str, fixed_answer: str | None = None) -> None:
        self._id_key = derive_key(secret_key.encode(), b"portal-bansos captcha id v2")
        self._answer_key = derive_key(secret_key.encode(), b"portal-bansos captcha answer v2")
        self._media_key = derive_key(secret_key.encode(), b"portal-bansos captcha media v2")
        self._fixed_answer = fixed_answer

    def _mac(self, body: str, bound_to: str) -> str:
        message = f"{body}\x00{bound_to}".encode()
        return _b64(hmac.new(self._id_key, message, hashlib.sha256).digest()[:_MAC_BYTES])

    def issue(self, purpose: ChallengePurpose, *, bound_to: str = "", now: dt.datetime | None = None) -> str:
        """A new challenge id for `purpose`, valid for its lifetime. Writes nothing.

        `bound_to` ties the id to a context that is not in the id itself (the desa and name a
        desil pass was given for): the id is authentic only when read with the same context."""
        expires = int(((now or utcnow()) + CHALLENGE_TTL[purpose]).timestamp())
        body = f"{purpose.value}.{expires}.{_b64(secrets.token_bytes(_NONCE_BYTES))}"
        return f"{body}.{self._mac(body, bound_to)}"

    def read(self, challenge_id: str | None, *, bound_to: str = "", now: dt.datetime | None = None) -> Challenge | None:
        """The challenge an id describes, if it is authentic (for `bound_to`) and not yet expired; else None."""
        if not challenge_id or len(challenge_id) > MAX_ID_LENGTH or not challenge_id.isascii():
            return None
        body, _, mac = challenge_id.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(body, bound_to)):
            return None
        try:
            purpose, expires, _nonce = body.split(".")
            challenge = Challenge(challenge_id, ChallengePurpose(purpose),
                                  dt.datetime.fromtimestamp(int(expires), dt.UTC))
        except ValueError:  # authentic, but from a version that had other purposes
            return None
        if challenge.expires_at <= (now or utcnow()):
            return None
        return challenge

    def answer(self, challenge_id: str) -> str:
        """The digits of a challenge; only the server can compute them."""
        if self._fixed_answer is not None:
            return self._fixed_answer
        number = int.from_bytes(hmac.new(self._answer_key, challenge_id.encode(), hashlib.sha256).digest())
        return f"{number % 10**ANSWER_DIGITS:0{ANSWER_DIGITS}d}"

    def media_seed(self, challenge_id: str) -> bytes:
        """The seed of a challenge's image and audio: a re-fetch draws the same rendering."""
        return hmac.new(self._media_key, challenge_id.encode(), hashlib.sha256).digest()


def normalise_answer(typed: str | None) -> str:
    """Ignore case and surrounding or inner spaces: `" 12 345 "` → `"12345"`."""
    return "".join((typed or "").split()).upper()


class Captcha:
    """The captcha as the routes use it: keys to issue and check ids, a store to spend them."""

    def __init__(self, keys: CaptchaKeys, spent: SpentChallenges) -> None:
        self.keys = keys
        self.spent = spent

    def issue(self, purpose: ChallengePurpose, *, bound_to: str = "") -> str:
        return self.keys.issue(purpose, bound_to=bound_to)

    def redeem(self, purpose: ChallengePurpose, pass_id: str | None, *, bound_to: str) -> bool:
        """Spend a pass: an id with no answer, issued to someone who just proved themselves (a
        solved lookup) for one further step in the same context. True only the first time.

        Raises CaptchaUnavailable when the spent-challenge store does not answer."""
        challenge = self.keys.read(pass_id, bound_to=bound_to)
        return challenge is not None and challenge.purpose is purpose and self.spent.spend(challenge, utcnow())

    def next_lookup_pass(self, desa_code: str, allowance: int) -> NextLookupPass | None:
        """The pass a lookup in `desa_code` hands on while its allowance (the passes it may still
        give: NEXT_LOOKUPS_PER_CAPTCHA after a solved captcha) lasts; None once it is used up."""
        if allowance <= 0:
            return None
        left = allowance - 1
        return NextLookupPass(self.issue(ChallengePurpose.NEXT_LOOKUP, bound_to=f"{desa_code}|{left}"), left)

    def redeem_next_lookup(self, pass_id: str | None, left: str | None, desa_code: str) -> int | None:
        """Spend a next-lookup pass for `desa_code`: the allowance it carries on (`left`, as the
        form sent it back; the pass is bound to it), or None when it is forged, spent or expired.

        Raises CaptchaUnavailable when the spent-challenge store does not answer."""
        if left not in _ALLOWANCES:
            return None
        if not self.redeem(ChallengePurpose.NEXT_LOOKUP, pass_id, bound_to=f"{desa_code}|{left}"):
            return None
        return int(left)

    def live(self, challenge_id: str) -> Challenge | None:
        """The challenge while it can still be answered (for serving its image or audio)."""
        challenge = self.keys.read(challenge_id)
        if challenge is None or self.spent.is_spent(challenge):
            return None
        return challenge

    def attempt(self, purpose: ChallengePurpose, challenge_id: str | None, typed: str | None,
                *, now: dt.datetime | None = None) -> bool:
        """Spend the challenge's one attempt; True only for the right answer, on its own form, in time.

        Raises CaptchaUnavailable when the spent-challenge store does not answer."""
        now = now or utcnow()
        challenge = self.keys.read(challenge_id, now=now)
        if challenge is None or challenge.purpose is not purpose:
            return False
        if not self.spent.spend(challenge, now):
            return False
        answer = normalise_answer(typed)
        return bool(answer) and hmac.compare_digest(answer, self.keys.answer(challenge.id))


class RedisSpentChallenges:
    """Spent ids as Redis keys that expire with their challenge (``SET NX PXAT``)."""

    def __init__(self, client, prefix: str = "portal:captcha:spent:") -> None:
        self._client = client
        self._prefix = prefix

    def spend(self, challenge: Challenge, now: dt.datetime) -> bool:
        try:
            return bool(self._client.set(self._prefix + challenge.id, b"1", nx=True,
                                         pxat=int(challenge.expires_at.timestamp() * 1000)))
        except redis.RedisError as error:
            raise CaptchaUnavailable("redis") from error

    def is_spent(self, challenge: Challenge) -> bool:
        try:
            return bool(self._client.exists(self._prefix + challenge.id))
        except redis.RedisError as error:
            raise CaptchaUnavailable("redis") from error


# Built once: building a statement costs more than the primary-key probe it runs.
_IS_SPENT = select(SpentChallenge.id).where(SpentChallenge.id == bindparam("id"))
_SPEND = insert(SpentChallenge)


class SqlSpentChallenges:
    """Spent ids as rows whose primary key refuses a second spend.

    Each spend commits on its own connection at once, outside the request's unit of work: a
    request that fails later has still used its attempt. On the embedded default the engine is
    a small SQLite file of its own, so a registry import holding the main database's writer
    lock never makes a resident wait."""

    def __init__(self, engine: Callable[[], Engine], *, create_table: bool = False) -> None:
        self._make_engine = engine
        self._engine: Engine | None = None
        # The embedded default's side file is a scratch store of ids that expire within the
        # hour, outside the schema of record: its table is made by the first spend, never by a read.
        self._table_missing = create_table
        self._lock = threading.Lock()

    def _connect(self) -> Engine:
        if self._engine is None:
            with self._lock:
                self._engine = self._engine or self._make_engine()
        return self._engine

    def spend(self, challenge: Challenge, now: dt.datetime) -> bool:
        try:
            engine = self._connect()
            if self._table_missing:
                # IF NOT EXISTS: several workers may reach the first spend at once.
                with self._lock, engine.begin() as connection:
                    connection.execute(CreateTable(SpentChallenge.__table__, if_not_exists=True))
                    for index in SpentChallenge.__table__.indexes:
                        connection.execute(CreateIndex(index, if_not_exists=True))
                    self._table_missing = False
            with engine.begin() as connection:
                connection.execute(_SPEND, {"id": challenge.id, "expires_at": challenge.expires_at})
                if secrets.randbelow(_SWEEP_EVERY) == 0:
                    connection.execute(delete(SpentChallenge).where(SpentChallenge.expires_at < now))
            return True
        except IntegrityError:
            return False
        except SQLAlchemyError as error:
            raise CaptchaUnavailable(type(error).__name__) from error

    def is_spent(self, challenge: Challenge) -> bool:
        engine = self._connect()
        try:
            with engine.connect() as connection:
                if self._table_missing:
                    if not inspect(connection).has_table(SpentChallenge.__tablename__):
                        return False  # nothing was ever spent here
                    self._table_missing = False  # another worker made it; it stays
                found = connection.scalar(_IS_SPENT, {"id": challenge.id})
        except SQLAlchemyError as error:
            raise CaptchaUnavailable(type(error).__name__) from error
        return found is not None
