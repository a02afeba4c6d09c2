"""Protection of NIK and KK numbers at rest (UU PDP).

Each number is stored twice, and never in clear: encrypted with AES-256-GCM for the rare
moment a staff member in scope must see it, and as an HMAC-SHA256 keyed hash so that a
typed NIK can be matched with an index probe without decrypting anything. Both keys are
derived from the one `NIK_ENCRYPTION_KEY` with HKDF, each for its own purpose.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_FORMAT_V1 = b"\x01"
_NONCE_BYTES = 12


class PiiKeyError(ValueError):
    """The configured NIK_ENCRYPTION_KEY is not 32 bytes of base64."""


def derive_key(master: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for one `purpose`, derived from a master secret (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class PiiVault:
    """Encrypts, decrypts and hashes personal identity numbers with keys derived from one secret."""

    def __init__(self, master_key_b64: str) -> None:
        try:
            master = base64.b64decode(master_key_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PiiKeyError("NIK_ENCRYPTION_KEY must be base64") from exc
        if len(master) != 32:
            raise PiiKeyError("NIK_ENCRYPTION_KEY must decode to 32 bytes")
        self._aead = AESGCM(derive_key(master, b"portal-bansos pii encryption v1"))
        self._hash_key = derive_key(master, b"portal-bansos pii matching v1")

    def encrypt(self, value: str, field: str) -> bytes:
        """Ciphertext of `value`, bound to `field` ("nik", "kk", …) so it cannot be swapped."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), field.encode())
        return _FORMAT_V1 + nonce + sealed

    def decrypt(self, blob: bytes, field: str) -> str:
        """The clear value of a ciphertext made by `encrypt` for the same field."""
        if blob[:1] != _FORMAT_V1:
            raise ValueError("unknown ciphertext format")
        nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        return self._aead.decrypt(nonce, sealed, field.encode()).decode()

    def digest(self, value: str) -> bytes:
        """Keyed hash for equality matching; the same value always gives the same 32 bytes."""
        # hmac.digest is OpenSSL's one-shot HMAC: the same bytes as hmac.new(...).digest(), without
        # building an HMAC object per value (an import hashes two values per row, millions of rows).
        return hmac.digest(self._hash_key, value.encode(), "sha256")


def mask_number(value: str, visible: int = 4) -> str:
    """`3201********0001`-style mask: the region prefix and the last digits only."""
    if len(value) <= visible * 2:
        return "*" * len(value)
    return value[:visible] + "*" * (len(value) - 2 * visible) + value[-visible:]
