"""Complaints by residents: file (aduan baru), see the code once, follow it (lacak)."""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db, limiter
from portal.forms import ComplaintForm, ReopenForm, TrackForm
from portal.models import ComplaintKind, CorrectionField
from portal.routes.common import captcha_solved, limit, new_captcha, no_store, pii_vault, upload_dir
from portal.services.captcha import CaptchaUnavailable, ChallengePurpose
from portal.services.complaints import (
    KIND_LABELS,
    PUBLIC_STATUS_LABELS,
    ComplaintDraft,
    ComplaintError,
    file_complaint,
    find_filed,
    reopen_complaint,
    track_complaint,
)
from portal.services.outages import is_database_outage
from portal.services.regions import region_chain_codes
from portal.services.uploads import (
    DEFAULT_MAX_PIXELS,
    CleanImage,
    EvidenceNotStored,
    UploadRejected,
    UploadsBusy,
    clean_image,
)

bp = Blueprint("complaints", __name__, url_prefix="/aduan")

SERVICE_DISRUPTED = _l("Layanan sedang gangguan sehingga aduan Anda belum terkirim. Isian Anda masih ada di "
                       "bawah: pilih lagi fotonya, ketik angka pada gambar yang baru dan kirim lagi sebentar lagi.")

EVIDENCE_NOT_STORED = _l("Foto bukti tidak dapat disimpan karena gangguan penyimpanan di server, sehingga "
                         "aduan Anda belum terkirim. Isian Anda masih ada di bawah: pilih lagi fotonya, ketik "
                         "angka pada gambar yang baru dan kirim lagi sebentar lagi.")

REGIONS_UNAVAILABLE = _l("Layanan sedang gangguan sehingga daftar wilayah tidak dapat dimuat. Coba lagi "
                         "sebentar lagi.")

_FILED = "filed_complaint"


def _form_page(form: ComplaintForm, region_errors: dict[str, str], status: int = 200, notice: str | None = None):
    """The complaint form with a fresh captcha; what was typed stays (files cannot)."""
    new_captcha(form, ChallengePurpose.COMPLAINT)
    form.token.data = form.token.data or secrets.token_urlsafe(24)
    if not form.fill_region_choices():
        status, notice = 503, notice or REGIONS_UNAVAILABLE
    return no_store(make_response(
        render_template("complaints/new.html", form=form, region_errors=region_errors, notice=notice), status
    ))


def _show_code(code: str, *, duplicate_open: bool = False):
    session[_FILED] = {"code": code, "duplicate_open": duplicate_open}
    return redirect(url_for(".filed"), code=303)


@bp.route("/baru", methods=["GET", "POST"])
@limiter.limit(limit("STEP_LIMIT"), methods=["POST"])
@limiter.limit(limit("PAGE_LIMIT"), methods=["GET"])
def new():
    """The form; a POST here is a step of the no-JavaScript cascade, a new captcha, or a prefill."""
    if request.method == "POST":
        form = ComplaintForm()
    else:
        jenis = request.args.get("jenis", "")
        form = ComplaintForm(formdata=None, data={"jenis": jenis if jenis in set(ComplaintKind) else None,
                                                  **region_chain_codes(request.args.get("desa", "")[:20])})
    return _form_page(form, form.check_regions())


def _clean_photos(form: ComplaintForm) -> list[CleanImage] | None:
    """The form's photos, decoded and re-encoded within one request's pixel budget; None when
    one is refused (its message goes next to the field). Raises UploadsBusy."""
    images: list[CleanImage] = []
    budget = current_app.config["UPLOAD_MAX_PIXELS_PER_REQUEST"]
    for upload in form.foto.data or []:
        try:
            image = clean_image(upload.stream, max_bytes=current_app.config["UPLOAD_MAX_BYTES"],
                                max_pixels=min(DEFAULT_MAX_PIXELS, budget),
                                wait_seconds=current_app.config["UPLOAD_DECODE_WAIT_SECONDS"])
        except UploadRejected as rejected:
            form.foto.errors = [*form.foto.errors, f"{upload.filename[:60]}: {_(rejected.message, **rejected.params)}"]
            continue
        budget -= image.source_pixels
        images.append(image)
    return None if form.foto.errors else images


def _draft(form: ComplaintForm) -> ComplaintDraft:
    perbaikan = form.jenis.data == ComplaintKind.PERBAIKAN
    return ComplaintDraft(
        kind=ComplaintKind(form.jenis.data),
        desa_code=form.regions["desa"].code,
        complainant_name=form.pelapor_nama.data,
        complainant_nik=form.pelapor_nik.data,
        complainant_phone=form.pelapor_hp.data or None,
        subject_name=form.subjek_nama.data,
        subject_nik=form.subjek_nik.data or None,
        subject_rt=form.subjek_rt.data.zfill(3) if form.subjek_rt.data else None,
        subject_rw=form.subjek_rw.data.zfill(3) if form.subjek_rw.data else None,
        correction_field=CorrectionField(form.perbaikan_bagian.data) if perbaikan else None,
        correction_value=(form.perbaikan_nilai.data or None) if perbaikan else None,
        description=form.uraian.data.strip(),
        latitude=form.lintang.data,
        longitude=form.bujur.data,
    )


@bp.post("/kirim")
@limiter.limit(limit("COMPLAINT_LIMIT"))
def submit():
    form = ComplaintForm()
    try:
        return _submit(form)
    except SQLAlchemyError as error:
        if not is_database_outage(error):
            raise
        # Nothing was committed (or, if the connection died in COMMIT itself, a retry of this
        # form finds what was): no code is shown, the form comes back with what was typed.
        db.session.rollback()
        current_app.logger.error("database unavailable while filing: %s", type(error).__name__)
        return _form_page(form, {}, 503, notice=SERVICE_DISRUPTED)
    except EvidenceNotStored as error:
        current_app.logger.error("evidence not stored: %s", error)
        return _form_page(form, {}, 503, notice=EVIDENCE_NOT_STORED)
    except (CaptchaUnavailable, UploadsBusy):
        # The spent-challenge store does not answer, or every decoding slot stayed busy.
        return _form_page(form, {}, 503, notice=SERVICE_DISRUPTED)


def _submit(form: ComplaintForm):
    region_errors = form.check_regions()
    # A refresh, double tap or retry of a form that was already filed: the same code, no new captcha.
    if form.token.data and (code := find_filed(db.session, form.token.data[:64])):
        return _show_code(code)
    fields_ok = form.validate()
    if "desa" not in form.regions and not region_errors:
        region_errors["desa"] = _("Pilih desa/kelurahan tempat orang tersebut terdaftar.")
    if not fields_ok or region_errors:
        return _form_page(form, region_errors)
    # The captcha is spent before any photo is decoded: decoding is the expensive part.
    solved = captcha_solved(form, ChallengePurpose.COMPLAINT)
    images = _clean_photos(form) if solved else None
    if images is None:
        return _form_page(form, region_errors)
    try:
        result = file_complaint(
            db.session, pii_vault(), _draft(form), images,
            idempotency_key=form.token.data[:64], upload_dir=upload_dir(),
            sanggah_limit=current_app.config["SANGGAH_PER_30_DAYS"],
        )
    except ComplaintError as refused:
        form.jenis.errors = [_(refused.message)]
        return _form_page(form, region_errors)
    return _show_code(result.code, duplicate_open=result.duplicate_open)


@bp.get("/terkirim")
@limiter.limit(limit("PAGE_LIMIT"), methods=["GET"])
def filed():
    """The tracking code, shown once after filing; afterwards the page points to lacak."""
    shown = session.pop(_FILED, None)
    if shown is None:
        return redirect(url_for(".track"))
    return no_store(make_response(render_template("complaints/filed.html", **shown)))


def _track_page(form: TrackForm, view=None, *, looked_up: bool = False, reopen_form: ReopenForm | None = None,
                message: str | None = None):
    page = render_template(
        "complaints/track.html", form=form, view=view, looked_up=looked_up, message=message,
        reopen_form=reopen_form or ReopenForm(formdata=None, data={"kode": view.code if view else ""}),
        status_labels=PUBLIC_STATUS_LABELS, kind_labels=KIND_LABELS,
    )
    return no_store(make_response(page))


@bp.route("/lacak", methods=["GET", "POST"])
@limiter.limit(limit("TRACK_LIMIT"), methods=["POST"])
@limiter.limit(limit("PAGE_LIMIT"), methods=["GET"])
def track():
    form = TrackForm()
    if request.method == "GET" or not form.validate():
        return _track_page(form)
    return _track_page(form, track_complaint(db.session, form.kode.data), looked_up=True)


@bp.post("/lacak/buka-lagi")
@limiter.limit(limit("TRACK_LIMIT"))
def reopen():
    reopen_form = ReopenForm()
    form = TrackForm(formdata=None, data={"kode": reopen_form.kode.data})
    message = None
    if reopen_form.validate():
        try:
            reopen_complaint(db.session, reopen_form.kode.data, reopen_form.komentar.data.strip())
            message = _("Aduan dibuka kembali dan akan ditinjau ulang oleh petugas desa.")
            reopen_form = None
        except ComplaintError as refused:
            message = _(refused.message)
    view = track_complaint(db.session, form.kode.data or "")
    return _track_page(form, view, looked_up=True, reopen_form=reopen_form, message=message)
