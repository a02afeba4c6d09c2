"""Complaints by residents: file (aduan baru), see the code once, follow it (lacak)."""

from __future__ import annotations

import secrets
import time

from flask import Blueprint, current_app, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db, limiter
from portal.forms import MAX_PHOTOS, ComplaintForm, LostCodeForm, ReopenForm, TrackForm
from portal.models import ComplaintKind, ContactChannel, CorrectionField
from portal.routes import unit_of_work
from portal.routes.common import (
    captcha_solved,
    kabar,
    limit,
    new_captcha,
    no_store,
    pii_vault,
    upload_dir,
    within_shared_limit,
)
from portal.services.captcha import CaptchaUnavailable, ChallengePurpose
from portal.services.code_resend import contact_of, resend_codes
from portal.services.complaint_changes import normalise_contact
from portal.services.complaints import (
    KIND_LABELS,
    PUBLIC_STATUS_LABELS,
    ComplaintDraft,
    ComplaintError,
    ContactRequest,
    FilingRaced,
    answer_raced_filing,
    file_complaint,
    find_filed,
    reopen_complaint,
    track_complaint,
)
from portal.services.outages import is_database_outage
from portal.services.regions import region_chain_codes
from portal.services.uploads import (
    HEIF_SUPPORTED,
    EvidenceNotStored,
    PendingUploads,
    PhotoProblem,
    UploadsBusy,
    clean_photos,
    keep_chosen_photos,
)

bp = Blueprint("complaints", __name__, url_prefix="/aduan")

SERVICE_DISRUPTED = _l("Layanan sedang gangguan sehingga aduan Anda belum terkirim. Isian dan foto Anda masih "
                       "ada di bawah: ketik angka pada gambar yang baru dan kirim lagi sebentar lagi.")

EVIDENCE_NOT_STORED = _l("Foto bukti tidak dapat disimpan karena gangguan penyimpanan di server, sehingga "
                         "aduan Anda belum terkirim. Isian Anda masih ada di bawah: periksa foto yang sudah "
                         "dipilih, ketik angka pada gambar yang baru dan kirim lagi sebentar lagi.")

REGIONS_UNAVAILABLE = _l("Layanan sedang gangguan sehingga daftar wilayah tidak dapat dimuat. Coba lagi "
                         "sebentar lagi.")

_FILED = "filed_complaint"


def _form_page(form: ComplaintForm, region_errors: dict[str, str], status: int = 200, notice: str | None = None):
    """The complaint form with a fresh captcha; what was typed stays, and so do the chosen photos."""
    new_captcha(form, ChallengePurpose.COMPLAINT)
    form.token.data = form.token.data or secrets.token_urlsafe(24)
    pending, token = _pending(form)
    if not form.fill_region_choices():
        status, notice = 503, notice or REGIONS_UNAVAILABLE
    page = render_template("complaints/new.html", form=form, region_errors=region_errors, notice=notice,
                           pending_photos=pending.photos(token), heif=HEIF_SUPPORTED)
    return no_store(make_response(page, status))


def _pending(form: ComplaintForm) -> tuple[PendingUploads, str]:
    """The server's pending uploads and this form's token in them (a new one for a new form)."""
    config = current_app.config
    pending = PendingUploads(upload_dir(), max_files=MAX_PHOTOS, max_bytes=config["UPLOAD_MAX_BYTES"],
                             max_total_bytes=config["UPLOAD_PENDING_MAX_BYTES"],
                             keep_seconds=config["UPLOAD_PENDING_SECONDS"])
    if not pending.is_token(form.unggahan.data):
        form.unggahan.data = pending.new_token()
    return pending, form.unggahan.data


def _keep_chosen(form: ComplaintForm) -> tuple[PendingUploads, str]:
    """Keep this round's photos with the form's earlier ones; a refused file's reason goes next to
    the field. Nothing is decoded here."""
    pending, token = _pending(form)
    problems = keep_chosen_photos(pending, token, [(f.filename, f.stream) for f in form.chosen_photos()])
    _show_problems(form, problems)
    return pending, token


def _show_problems(form: ComplaintForm, problems: list[PhotoProblem]) -> None:
    form.foto.errors = [*form.foto.errors, *(f"{p.filename}: {_(p.message, **p.params)}" for p in problems)]


def _show_code(code: str, *, duplicate_open: bool = False):
    # The code goes into the signed session cookie of the browser that filed, with the time: the
    # receipt survives a reload for that browser only, no other client can be shown it, the code
    # is in no URL (history, logs, a shared link), and showing it again writes nothing anywhere.
    session[_FILED] = {"code": code, "duplicate_open": duplicate_open, "at": int(time.time())}
    return redirect(url_for(".filed"), code=303)


def _filed_here() -> dict | None:
    """The complaint this browser filed within `FILED_CODE_SECONDS`, or None."""
    shown = session.get(_FILED)
    if not isinstance(shown, dict) or not isinstance(shown.get("at"), int):
        return None
    if time.time() - shown["at"] > current_app.config["FILED_CODE_SECONDS"]:
        return None
    return shown


@bp.route("/baru", methods=["GET", "POST"])
@limiter.limit(limit("STEP_LIMIT"), methods=["POST"])
@limiter.limit(limit("PAGE_LIMIT"), methods=["GET"])
def new():
    """The form; a POST here is a step of the no-JavaScript cascade, a new captcha, or a prefill."""
    if request.method == "POST":
        form = ComplaintForm()
        try:
            pending, token = _keep_chosen(form)
        except EvidenceNotStored as error:
            current_app.logger.error("evidence not stored: %s", error)
            return _form_page(form, form.check_regions(), 503, notice=EVIDENCE_NOT_STORED)
        if removed := request.form.get("hapus_foto"):
            pending.remove(token, removed[:20])
    else:
        jenis = request.args.get("jenis", "")
        form = ComplaintForm(formdata=None, data={"jenis": jenis if jenis in set(ComplaintKind) else None,
                                                  **region_chain_codes(request.args.get("desa", "")[:20])})
    return _form_page(form, form.check_regions())


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
        contact=_contact(form),
    )


def _contact(form: ComplaintForm) -> ContactRequest | None:
    """Where the complainant asked to hear of the complaint (the form validated it), normalised."""
    if not form.kabar_saluran.data:
        return None
    channel = ContactChannel(form.kabar_saluran.data)
    return ContactRequest(channel, normalise_contact(channel, form.kabar_alamat.data))


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
        unit_of_work.rollback(error)
        current_app.logger.error("database unavailable while filing: %s", type(error).__name__)
        return _form_page(form, {}, 503, notice=SERVICE_DISRUPTED)
    except EvidenceNotStored as error:
        unit_of_work.rollback(error)  # the photos written before this one go too
        current_app.logger.error("evidence not stored: %s", error)
        return _form_page(form, {}, 503, notice=EVIDENCE_NOT_STORED)
    except (CaptchaUnavailable, UploadsBusy):
        # The spent-challenge store does not answer, or every decoding slot stayed busy.
        return _form_page(form, {}, 503, notice=SERVICE_DISRUPTED)


def _submit(form: ComplaintForm):
    region_errors = form.check_regions()
    # A refresh, double tap or retry of a form that was already filed: the same code, no new captcha.
    if form.token.data and (code := find_filed(db.session, form.token.data[:64])):
        _pending(form)[0].discard(form.unggahan.data)  # filed: what it kept is no longer needed
        return _show_code(code)
    fields_ok = form.validate()
    if "desa" not in form.regions and not region_errors:
        region_errors["desa"] = _("Pilih desa/kelurahan tempat orang tersebut terdaftar.")
    pending, token = _keep_chosen(form)
    # Every error in one round: the captcha is judged (and spent) even when a field needs
    # correcting, since the page comes back with a new one anyway. Photos are decoded only after
    # a solved captcha, as decoding is the expensive part: with a wrong answer they stay pending as
    # they came (checked by their first bytes only) and are decoded, with their messages, on the
    # round whose answer is right.
    solved = captcha_solved(form, ChallengePurpose.COMPLAINT)
    images = []
    if solved:
        config = current_app.config
        images, problems = clean_photos(pending, token, max_bytes=config["UPLOAD_MAX_BYTES"],
                                        pixel_budget=config["UPLOAD_MAX_PIXELS_PER_REQUEST"],
                                        wait_seconds=config["UPLOAD_DECODE_WAIT_SECONDS"])
        _show_problems(form, problems)
    if not (fields_ok and solved) or region_errors or form.foto.errors:
        return _form_page(form, region_errors)
    try:
        result = file_complaint(
            db.session, pii_vault(), _draft(form), images,
            idempotency_key=form.token.data[:64], upload_dir=upload_dir(),
            sanggah_limit=current_app.config["SANGGAH_PER_30_DAYS"], kabar=kabar(),
        )
    except FilingRaced as raced:
        unit_of_work.rollback(raced)
        result = answer_raced_filing(db.session, raced)
    except ComplaintError as refused:
        form.jenis.errors = [_(refused.message)]
        return _form_page(form, region_errors)
    # Committed here, not at the end of the view: a COMMIT that fails must show the form again
    # (with its photos still pending, so they are forgotten only once the complaint is stored).
    unit_of_work.commit()
    pending.discard(token)
    return _show_code(result.code, duplicate_open=result.duplicate_open)


@bp.get("/terkirim")
@limiter.limit(limit("PAGE_LIMIT"), methods=["GET"])
def filed():
    """The tracking code after filing, again on a reload by the same browser for a while;
    afterwards (or for anyone else) the page points to lacak."""
    shown = _filed_here()
    if shown is None:
        return redirect(url_for(".track"))
    return no_store(make_response(render_template(
        "complaints/filed.html", code=shown["code"], duplicate_open=shown["duplicate_open"],
        minutes=current_app.config["FILED_CODE_SECONDS"] // 60)))


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
    if request.method == "GET":
        # A link from a message (`/l/<code>`) fills the code in, and so does the receipt's "Lacak
        # aduan" for the code this browser just filed; looking it up is the visitor's POST.
        code = request.args.get("kode", "")[:40]
        if not code and (shown := _filed_here()) and not shown["duplicate_open"]:
            code = shown["code"]
        return _track_page(TrackForm(formdata=None, data={"kode": code}))
    form = TrackForm()
    if not form.validate():
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
            reopen_complaint(db.session, reopen_form.kode.data, reopen_form.komentar.data.strip(), kabar=kabar())
            message = _("Aduan dibuka kembali dan akan ditinjau ulang oleh petugas desa.")
            reopen_form = None
        except ComplaintError as refused:
            message = _(refused.message)
    view = track_complaint(db.session, form.kode.data or "")
    return _track_page(form, view, looked_up=True, reopen_form=reopen_form, message=message)


def _lost_code_page(form: LostCodeForm, *, sent: bool = False, status: int = 200, notice: str | None = None):
    if not sent:
        new_captcha(form, ChallengePurpose.LOST_CODE)
    page = render_template("complaints/lost_code.html", form=form, sent=sent, notice=notice)
    return no_store(make_response(page, status))


@bp.route("/lupa-kode", methods=["GET", "POST"])
@limiter.limit(limit("TRACK_LIMIT"), methods=["POST"])
@limiter.limit(limit("PAGE_LIMIT"), methods=["GET"])
def lost_code():
    """Send a lost tracking code again, to the contact given for news; the same answer either way."""
    if request.method == "GET":
        return _lost_code_page(LostCodeForm(formdata=None))
    form = LostCodeForm()
    if request.form.get("gambar_baru"):
        return _lost_code_page(form)
    fields_ok = form.validate()
    try:
        solved = captcha_solved(form, ChallengePurpose.LOST_CODE)
    except CaptchaUnavailable:
        return _lost_code_page(form, status=503, notice=_("Layanan sedang gangguan. Isian Anda masih ada di "
                                                          "bawah; coba kirim lagi beberapa menit lagi."))
    if not (fields_ok and solved):
        return _lost_code_page(form)
    contact = contact_of(form.kontak.data)
    # One contact is sent codes a few times a day at most, whoever asks: the page still says
    # the same, so that it tells nobody whether this contact filed anything.
    if within_shared_limit("CODE_RESEND_LIMIT", "contact", pii_vault().digest(contact).hex()[:32]):
        resend_codes(db.session, kabar(), contact)
    return _lost_code_page(form, sent=True)
