"""Server-side, single-use captcha challenges.

The form carries only a random challenge id. The answer is a keyed function of that id
(HMAC with a key derived from SECRET_KEY), so any worker can draw the image or speak the
digits without the answer being stored anywhere or ever sent to the client; the database
keeps the id, the expiry, a keyed hash of the answer and whether it was used. A challenge
allows exactly one attempt: the attempt marks it used in one conditional UPDATE, so two
requests racing with the same solved challenge cannot both pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from portal.models import CaptchaChallenge, utcnow
from portal.services.pii import derive_key

ANSWER_DIGITS = 5
CHALLENGE_TTL = dt.timedelta(minutes=5)
# One in this many new challenges also sweeps away expired ones.
_SWEEP_EVERY = 50



class CaptchaKeys:
    """The two keys a captcha needs, derived from the app's SECRET_KEY."""

    def __init__(self, secret_key: str, fixed_answer: str | None = None) -> None:
        self._answer_key = derive_key(secret_key.encode(), b"portal-bansos captcha answer v1")
        self._hash_key = derive_key(secret_key.encode(), b"portal-bansos captcha hash v1")
        self._fixed_answer = fixed_answer

    def answer(self, challenge_id: str) -> str:
        """The digits of a challenge; only the server can compute them."""
        if self._fixed_answer is not None:
            return self._fixed_answer
        number = int.from_bytes(hmac.new(self._answer_key, challenge_id.encode(), hashlib.sha256).digest())
        return f"{number % 10**ANSWER_DIGITS:0{ANSWER_DIGITS}d}"

    def answer_hash(self, challenge_id: str, answer: str) -> bytes:
        return hmac.new(self._hash_key, f"{challenge_id}:{answer}".encode(), hashlib.sha256).digest()


def normalise_answer(typed: str | None) -> str:
    """Ignore case and surrounding or inner spaces: `" 12 345 "` → `"12345"`."""
    return "".join((typed or "").split()).upper()


def issue_challenge(session: Session, keys: CaptchaKeys, *, now: dt.datetime | None = None,
                    ttl: dt.timedelta = CHALLENGE_TTL) -> str:
    """Create a challenge that lives `ttl` and return its id. Commits."""
    now = now or utcnow()
    challenge_id = secrets.token_urlsafe(24)
    session.add(CaptchaChallenge(
        id=challenge_id,
        answer_hash=keys.answer_hash(challenge_id, keys.answer(challenge_id)),
        expires_at=now + ttl,
    ))
    if secrets.randbelow(_SWEEP_EVERY) == 0:
        session.execute(delete(CaptchaChallenge).where(CaptchaChallenge.expires_at < now))
    session.commit()
    return challenge_id


def challenge_is_live(session: Session, challenge_id: str, *, now: dt.datetime | None = None) -> bool:
    """True while the challenge can still be answered (for serving its image or audio)."""
    now = now or utcnow()
    return session.scalar(
        select(CaptchaChallenge.id).where(
            CaptchaChallenge.id == challenge_id,
            CaptchaChallenge.used_at.is_(None),
            CaptchaChallenge.expires_at > now,
        )
    ) is not None


def attempt_challenge(session: Session, keys: CaptchaKeys, challenge_id: str | None, typed: str | None,
                      *, now: dt.datetime | None = None) -> bool:
    """Spend the challenge's one attempt; True only for the right answer before expiry. Commits."""
    now = now or utcnow()
    if not challenge_id or len(challenge_id) > 64:
        return False
    claimed = session.execute(
        update(CaptchaChallenge)
        .where(
            CaptchaChallenge.id == challenge_id,
            CaptchaChallenge.used_at.is_(None),
            CaptchaChallenge.expires_at > now,
        )
        .values(used_at=now)
        .returning(CaptchaChallenge.answer_hash)
    ).scalar_one_or_none()
    session.commit()
    answer = normalise_answer(typed)
    if claimed is None or not answer:
        return False
    return hmac.compare_digest(claimed, keys.answer_hash(challenge_id, answer))
