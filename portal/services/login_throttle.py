"""Staff login failures per username, counted so that strangers cannot lock the owner out.

A lock after N failures keeps out the right password too, so anyone who knows a username can
keep its owner out. Instead, failures are counted per username across all addresses (in the
limiter's storage: Redis in production, so every worker sees them), and past the allowance a
client must solve a captcha before its password is even checked — unless it is a client the
account has logged in from before (a known address or a known-device cookie), which the
strangers' failures do not touch. Guessing stays throttled by the captcha and by the limits
per address.
"""

from __future__ import annotations

import hashlib
import hmac

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from portal.services.pii import derive_key

#: Wrong second-factor codes one account accepts in an hour, from everywhere together. Only
#: someone who has the password reaches that step, so this cannot be turned against an owner
#: whose password is safe; without it, replaying the signed "password passed" cookie from many
#: addresses would let an attacker who has the password try codes without end.
CODE_FAILURES = "10/hour"


class LoginThrottle:
    """Counts failed logins per username and says when a captcha is due."""

    def __init__(self, storage_uri: str, captcha_after: str, secret_key: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._allowance = parse(captcha_after)
        self._code_allowance = parse(CODE_FAILURES)
        self._key = derive_key(secret_key.encode(), b"portal-bansos staff login v1")

    def _username_key(self, username: str) -> str:
        # Keyed: people type passwords into the username field, and the storage is shared.
        return hmac.new(self._key, username.encode(), hashlib.sha256).hexdigest()

    def needs_captcha(self, username: str) -> bool:
        """True once `username` (normalised; known or not) has used up its failures without a captcha."""
        return not self._limiter.test(self._allowance, "staff-login-failures", self._username_key(username))

    def record_failure(self, username: str) -> None:
        """Count one failed login for `username`."""
        self._limiter.hit(self._allowance, "staff-login-failures", self._username_key(username))

    def address_digest(self, address_key: str) -> bytes:
        """The keyed hash under which a client address is remembered for an account."""
        return hmac.new(self._key, b"address:" + address_key.encode(), hashlib.sha256).digest()

    def codes_exhausted(self, staff_id: int) -> bool:
        """True while the account has had CODE_FAILURES wrong second-factor codes."""
        return not self._limiter.test(self._code_allowance, "staff-code-failures", str(staff_id))

    def record_code_failure(self, staff_id: int) -> None:
        self._limiter.hit(self._code_allowance, "staff-code-failures", str(staff_id))
