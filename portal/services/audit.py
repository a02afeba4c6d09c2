"""The append-only audit log of staff actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.i18n import N_
from portal.models import AuditEntry, StaffUser

#: Actions and their labels (translated on the audit page).
ACTIONS = {
    "masuk": N_("Masuk"),
    "masuk_gagal": N_("Gagal masuk"),
    "nik_dibuka": N_("NIK ditampilkan"),
    "bukti_dilihat": N_("Bukti dilihat"),
    "ekspor": N_("Ekspor CSV"),
    "akun_dibuat": N_("Akun dibuat"),
    "akun_nonaktif": N_("Akun dinonaktifkan"),
    "akun_aktif": N_("Akun diaktifkan"),
    "sandi_direset": N_("Kata sandi direset"),
    "2fa_didaftarkan": N_("Verifikasi dua langkah diaktifkan"),
    "2fa_kode_pemulihan": N_("Masuk dengan kode pemulihan"),
    "2fa_gagal": N_("Kode verifikasi salah"),
    "2fa_direset": N_("Verifikasi dua langkah direset"),
    "aduan_dipindah": N_("Status aduan diubah"),
    "catatan": N_("Catatan internal"),
    "musdes": N_("Hasil musyawarah desa"),
    "desil_dilihat": N_("Desil dilihat warga (NIK cocok)"),
    "aduan_dieskalasi": N_("Aduan diteruskan otomatis (lewat waktu)"),
    "kabar_diatur": N_("Pengaturan kabar diubah"),
    "pesan_diulang": N_("Pesan gagal dikirim ulang"),
}


def record(session: Session, action: str, staff: StaffUser | None, *, username: str | None = None,
           region_code: str | None = None, target: str = "", detail: dict[str, Any] | None = None) -> None:
    """Append an entry (in the caller's transaction). Never put a NIK or a name in `detail`."""
    assert action in ACTIONS, action
    session.add(AuditEntry(
        staff_id=staff.id if staff else None,
        username=(username or (staff.username if staff else ""))[:40],
        action=action,
        region_code=region_code,
        target=target[:100],
        detail=detail or {},
    ))


def audit_entries(session: Session, scope_condition: Any, *, limit: int = 200, offset: int = 0) -> list[AuditEntry]:
    """The newest entries whose region lies inside a scope (see services.staff.scope_condition)."""
    return list(session.scalars(
        select(AuditEntry).where(scope_condition).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    ))
