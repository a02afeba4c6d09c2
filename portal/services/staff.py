"""Staff accounts, passwords, login throttling, server-side sessions and region scope.

Passwords are hashed with Argon2id (memory-hard). A login that fails for an unknown user
costs the same hash as a wrong password, and says the same thing. Repeated failures lead to
a captcha, never to a lock (services.login_throttle); a second factor is services.two_factor.
Sessions live in the database: the browser's cookie holds
a random token, the table its hash; logging in makes a new one, logging out or 30 idle
minutes ends it on the server, so an old cookie replayed later is worthless.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, select, true
from sqlalchemy.orm import Session, joinedload
from zxcvbn import zxcvbn

from portal.i18n import N_, UserFacingError
from portal.models import (
    ROLE_REGION_LEVEL,
    Region,
    StaffKnownAddress,
    StaffRole,
    StaffSession,
    StaffUser,
    utcnow,
)
from portal.services.audit import record
from portal.services.regions import normalise_region_code

ROLE_LABELS: dict[StaffRole, str] = {
    StaffRole.DESA: N_("Operator desa/kelurahan"),
    StaffRole.KECAMATAN: N_("Kecamatan"),
    StaffRole.KABUPATEN: N_("Dinas Sosial kabupaten/kota"),
    StaffRole.ADMIN: N_("Admin"),
}

MIN_PASSWORD_LENGTH = 12
SESSION_IDLE = dt.timedelta(minutes=30)
#: A client address that logged in to an account is known to it for this long.
KNOWN_ADDRESS_FOR = dt.timedelta(days=90)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so that both cases take the same time.

    Made on the first login, not at import: every worker, command and test imports this module.
    """
    return _hasher.hash(secrets.token_urlsafe(16))

ROLE_RANK = {StaffRole.DESA: 1, StaffRole.KECAMATAN: 2, StaffRole.KABUPATEN: 3, StaffRole.ADMIN: 4}


class StaffError(UserFacingError):
    """A refused account operation."""




def password_problem(password: str, username: str = "") -> str | None:
    """Why a password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return N_("Kata sandi paling sedikit 12 karakter.")
    if zxcvbn(password[:100], user_inputs=[username, "bansos", "desa", "kelurahan", "dinsos"])["score"] < 3:
        return N_("Kata sandi terlalu mudah ditebak. Gunakan beberapa kata yang tidak berhubungan.")
    return None


def generate_password() -> str:
    """A random password that passes the policy: four groups of letters and digits."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(4))


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()[:40]


# -- scope ----------------------------------------------------------------------------------


def in_scope(user: StaffUser, region_code: str) -> bool:
    """True when `region_code` (any level) lies inside the user's region."""
    if user.role is StaffRole.ADMIN:
        return True
    scope = user.region_code or ""
    return region_code == scope or region_code.startswith(scope + ".")


def scope_condition(user: StaffUser, column: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL condition: `column` (a desa or region code) is inside the user's region."""
    if user.role is StaffRole.ADMIN:
        return true()
    scope = user.region_code or ""
    return (column == scope) | column.startswith(scope + ".", autoescape=True)


def is_manager(user: StaffUser) -> bool:
    """Kabupaten and admin users manage accounts and read the audit log."""
    return user.role in (StaffRole.KABUPATEN, StaffRole.ADMIN)


def can_manage(manager: StaffUser, role: StaffRole, region_code: str | None) -> bool:
    """Kabupaten and admin users manage accounts of lower roles inside their own scope."""
    if manager.role is StaffRole.ADMIN:
        return True
    if not is_manager(manager):
        return False
    return ROLE_RANK[role] < ROLE_RANK[manager.role] and region_code is not None and in_scope(manager, region_code)


# -- accounts -------------------------------------------------------------------------------


def accounts_in_scope(session: Session, user: StaffUser) -> list[StaffUser]:
    """The accounts whose region lies in the user's scope, by username."""
    return list(session.scalars(
        select(StaffUser).where(scope_condition(user, StaffUser.region_code)).order_by(StaffUser.username)
    ))


def create_staff(session: Session, username: str, role: StaffRole, region_code: str | None, password: str,
                 *, nik_hash: bytes | None = None, by: StaffUser | None = None) -> StaffUser:
    """Create an account; the region (dotted or not) must exist at the level the role needs.

    Flushes; the caller commits."""
    username = normalise_username(username)
    region_code = normalise_region_code(region_code) if region_code else None
    if not _USERNAME.match(username):
        raise StaffError(N_("Nama pengguna 3–40 karakter: huruf kecil, angka, titik, garis bawah atau tanda hubung."))
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise StaffError(N_("Nama pengguna %(username)s sudah dipakai."), username=username)
    if role is StaffRole.ADMIN:
        region_code = None
    else:
        region = session.get(Region, region_code or "")
        if region is None or region.level != ROLE_REGION_LEVEL[role]:
            raise StaffError(N_("Kode wilayah %(code)s tidak cocok untuk peran %(role)s."),
                             code=region_code or "-", role=role.value)
    if by is not None and not can_manage(by, role, region_code):
        raise StaffError(N_("Anda tidak berwenang membuat akun ini."))
    if problem := password_problem(password, username):
        raise StaffError(problem)
    user = StaffUser(username=username, role=role, region_code=region_code, nik_hash=nik_hash,
                     password_hash=_hasher.hash(password), active=True)
    session.add(user)
    session.flush()
    record(session, "akun_dibuat", by, target=username, region_code=region_code,
           detail={"role": role.value})
    session.flush()
    return user


def get_staff(session: Session, username: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.username == normalise_username(username)))


def set_active(session: Session, user: StaffUser, active: bool, *, by: StaffUser | None = None) -> None:
    """Disable (or enable) an account; disabling ends its sessions. Flushes; the caller commits.

    A manager may change accounts they manage, never their own.
    """
    if by is not None and (by.id == user.id or not can_manage(by, user.role, user.region_code)):
        raise StaffError(N_("Anda tidak berwenang mengubah akun ini."))
    user.active = active
    if not active:
        session.execute(delete(StaffSession).where(StaffSession.staff_id == user.id))
    record(session, "akun_aktif" if active else "akun_nonaktif", by, target=user.username,
           region_code=user.region_code)
    session.flush()


def reset_password(session: Session, user: StaffUser, password: str, *, by: StaffUser | None = None) -> None:
    """Set a new password and end the account's sessions. Flushes; the caller commits."""
    if problem := password_problem(password, user.username):
        raise StaffError(problem)
    user.password_hash = _hasher.hash(password)
    session.execute(delete(StaffSession).where(StaffSession.staff_id == user.id))
    record(session, "sandi_direset", by, target=user.username, region_code=user.region_code)
    session.flush()


# -- login and sessions ---------------------------------------------------------------------


def check_password(session: Session, username: str, password: str, *, now: dt.datetime | None = None
                   ) -> StaffUser | None:
    """The active user whose password this is, or None (audited). Flushes; the caller commits.

    An unknown user costs the same hash as a wrong password. There is no lock: a lock would
    let anyone who knows a username keep its owner out (see services.login_throttle).
    """
    now = now or utcnow()
    name = normalise_username(username)
    user = get_staff(session, name)
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password or "")
        valid = user is not None
    except (VerificationError, InvalidHashError):
        valid = False
    if not valid or not user.active:
        # What was typed for an unknown user is not kept: people type passwords into that field.
        record(session, "masuk_gagal", user, username=name if user else "(tidak dikenal)",
               region_code=user.region_code if user else None)
        session.flush()
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.flush()
    return user


def open_session(session: Session, user: StaffUser, *, address_hash: bytes | None = None,
                 now: dt.datetime | None = None) -> str:
    """Log a user in whose every factor was checked: a new server-side session; its token.

    Flushes; the caller commits.

    The client's address (a keyed hash) is remembered for the account, so that later logins
    from it are not slowed by strangers' failures.
    """
    now = now or utcnow()
    user.last_login_at = now
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=_token_hash(token), staff_id=user.id, created_at=now, last_seen_at=now))
    if address_hash is not None:
        known = session.get(StaffKnownAddress, (user.id, address_hash))
        if known is None:
            session.add(StaffKnownAddress(staff_id=user.id, address_hash=address_hash, last_login_at=now))
        else:
            known.last_login_at = now
        session.execute(delete(StaffKnownAddress).where(
            StaffKnownAddress.staff_id == user.id, StaffKnownAddress.last_login_at < now - KNOWN_ADDRESS_FOR))
    record(session, "masuk", user, region_code=user.region_code)
    session.flush()
    return token


def address_is_known(session: Session, user: StaffUser, address_hash: bytes, *,
                     now: dt.datetime | None = None) -> bool:
    """True when the user logged in from this address (keyed hash) within KNOWN_ADDRESS_FOR."""
    now = now or utcnow()
    return session.scalar(select(StaffKnownAddress.staff_id).where(
        StaffKnownAddress.staff_id == user.id, StaffKnownAddress.address_hash == address_hash,
        StaffKnownAddress.last_login_at >= now - KNOWN_ADDRESS_FOR)) is not None


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def user_for_session(session: Session, token: str | None, *, now: dt.datetime | None = None) -> StaffUser | None:
    """The active user of a live session, refreshing its idle timer; None when it is dead."""
    if not token:
        return None
    now = now or utcnow()
    # One query for the session and its staff member, on every staff page.
    row = session.get(StaffSession, _token_hash(token), options=[joinedload(StaffSession.staff)])
    if row is None:
        return None
    if row.last_seen_at + SESSION_IDLE < now or not row.staff.active:
        session.delete(row)
        session.flush()
        return None
    # Write at most once a minute: every staff page view need not be a database write.
    if now - row.last_seen_at > dt.timedelta(minutes=1):
        row.last_seen_at = now
        session.flush()
    return row.staff


def end_session(session: Session, token: str | None) -> None:
    """Log out: the session is deleted on the server. Flushes; the caller commits."""
    if token:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))
        session.flush()
