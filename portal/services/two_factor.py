"""Second factor for staff logins: TOTP (RFC 6238) with one-time recovery codes.

Required for kabupaten and admin accounts (they see a whole kabupaten or everything), offered
to desa and kecamatan accounts. The secret is stored AES-GCM encrypted under the NIK key's
vault, bound to the account, so a copy of the database alone does not give the codes. A code
is accepted for the current 30-second step or one step either side (clock drift), and never
twice: the last accepted step is kept and raised in one conditional UPDATE. Recovery codes are
shown once and kept only as keyed hashes; each works once. Enrolment, recovery-code use,
failures and resets are written to the audit log.
"""

from __future__ import annotations

import datetime as dt
import hmac
import io
import re
import secrets
from dataclasses import dataclass

import pyotp
import segno
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from portal.i18n import N_, UserFacingError
from portal.models import StaffRecoveryCode, StaffRole, StaffSession, StaffUser, utcnow
from portal.services.audit import record
from portal.services.pii import PiiVault
from portal.services.staff import can_manage

ISSUER = "Portal Cek Bansos"
REQUIRED_ROLES = frozenset({StaffRole.KABUPATEN, StaffRole.ADMIN})
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_RECOVERY_TYPOS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_TOTP_CODE = re.compile(r"^\d{6}$")


class TwoFactorError(UserFacingError):
    """A refused enrolment step."""


def is_required(user: StaffUser) -> bool:
    """Kabupaten and admin accounts must use a second factor."""
    return user.role in REQUIRED_ROLES


def is_enabled(user: StaffUser) -> bool:
    return user.totp_enabled_at is not None


def must_enrol(user: StaffUser) -> bool:
    """True while a user who needs a second factor has none: only enrolment is open to them."""
    return is_required(user) and not is_enabled(user)


def _secret_field(user: StaffUser) -> str:
    # The ciphertext is bound to the account: a secret copied onto another row does not decrypt.
    return f"totp-secret:{user.id}"


def secret_of(vault: PiiVault, user: StaffUser) -> str:
    """The user's TOTP secret in clear (for drawing the QR code and checking codes)."""
    return vault.decrypt(user.totp_secret_encrypted, _secret_field(user))


def enrolment_secret(session: Session, vault: PiiVault, user: StaffUser) -> str:
    """The secret being enrolled: made on the first visit and kept, so that a reload shows the
    same QR code. Commits when it is new."""
    if is_enabled(user):
        raise TwoFactorError(N_("Verifikasi dua langkah sudah aktif untuk akun ini."))
    if user.totp_secret_encrypted is None:
        user.totp_secret_encrypted = vault.encrypt(pyotp.random_base32(), _secret_field(user))
        session.flush()
    return secret_of(vault, user)


def provisioning_uri(user: StaffUser, secret: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an SVG document: drawn here, no image service is involved."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=4, dark="#000", light="#fff")
    return buffer.getvalue().decode()


def _matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step (of now-1, now, now+1) whose code this is, or None."""
    if not _TOTP_CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def normalise_code(typed: str | None) -> str:
    """Spaces and dashes dropped, upper case, and the letters people mistake for digits mapped."""
    return re.sub(r"[\s-]", "", typed or "").upper().translate(_RECOVERY_TYPOS)


def _recovery_hash(vault: PiiVault, user: StaffUser, code: str) -> bytes:
    return vault.digest(f"staff-recovery-code:{user.id}:{code}")


def confirm_enrolment(session: Session, vault: PiiVault, user: StaffUser, typed: str,
                      *, now: dt.datetime | None = None) -> list[str]:
    """Turn the second factor on once the authenticator shows a right code; return the new
    recovery codes (shown once, kept only hashed). Audited. Flushes; the caller commits."""
    now = now or utcnow()
    secret = enrolment_secret(session, vault, user)
    step = _matching_step(secret, normalise_code(typed), now)
    if step is None:
        raise TwoFactorError(N_("Kode tidak cocok. Ketik 6 angka yang sedang tampil di aplikasi autentikator."))
    user.totp_enabled_at = now
    user.totp_last_step = step
    codes = _replace_recovery_codes(session, vault, user)
    record(session, "2fa_didaftarkan", user, region_code=user.region_code)
    session.flush()
    return codes


def _replace_recovery_codes(session: Session, vault: PiiVault, user: StaffUser) -> list[str]:
    session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == user.id))
    codes = ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODES)]
    session.add_all(StaffRecoveryCode(staff_id=user.id, code_hash=_recovery_hash(vault, user, code))
                    for code in codes)
    return [f"{code[:5]}-{code[5:]}" for code in codes]


@dataclass(frozen=True, slots=True)
class SecondFactor:
    """How a login's second factor was given."""

    by_recovery_code: bool
    #: Recovery codes still unused (meaningful after one was used).
    recovery_codes_left: int


def recovery_codes_left(session: Session, user: StaffUser) -> int:
    return session.scalar(select(func.count()).select_from(StaffRecoveryCode).where(
        StaffRecoveryCode.staff_id == user.id, StaffRecoveryCode.used_at.is_(None)))


def verify(session: Session, vault: PiiVault, user: StaffUser, typed: str,
           *, now: dt.datetime | None = None) -> SecondFactor | None:
    """Check a login's second factor: a TOTP code not used before, or an unused recovery code.

    None when it is wrong (audited). Each code is spent in one conditional UPDATE, so two
    requests with the same code cannot both pass. Flushes; the caller commits.
    """
    now = now or utcnow()
    code = normalise_code(typed)
    if not is_enabled(user) or not code:
        return None
    step = _matching_step(secret_of(vault, user), code, now)
    if step is not None:
        spent = session.execute(
            update(StaffUser)
            .where(StaffUser.id == user.id,
                   or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step))
            .values(totp_last_step=step)
        ).rowcount
        if spent == 1:
            session.flush()
            return SecondFactor(by_recovery_code=False, recovery_codes_left=recovery_codes_left(session, user))
    elif len(code) == 10:
        spent = session.execute(
            update(StaffRecoveryCode)
            .where(StaffRecoveryCode.staff_id == user.id, StaffRecoveryCode.used_at.is_(None),
                   StaffRecoveryCode.code_hash == _recovery_hash(vault, user, code))
            .values(used_at=now)
        ).rowcount
        if spent == 1:
            left = recovery_codes_left(session, user)
            record(session, "2fa_kode_pemulihan", user, region_code=user.region_code, detail={"sisa": left})
            session.flush()
            return SecondFactor(by_recovery_code=True, recovery_codes_left=left)
    record(session, "2fa_gagal", user, region_code=user.region_code)
    session.flush()
    return None


def reset(session: Session, user: StaffUser, *, by: StaffUser | None = None) -> None:
    """Remove the user's second factor and recovery codes and end their sessions; a user who
    needs one enrols again at the next login. Audited. Flushes; the caller commits.

    A manager may reset accounts they manage, never their own.
    """
    if by is not None and (by.id == user.id or not can_manage(by, user.role, user.region_code)):
        raise TwoFactorError(N_("Anda tidak berwenang mengubah akun ini."))
    user.totp_secret_encrypted = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == user.id))
    session.execute(delete(StaffSession).where(StaffSession.staff_id == user.id))
    record(session, "2fa_direset", by, target=user.username, region_code=user.region_code)
    session.flush()
