"""Everything behind the staff login: queue, complaint detail and moves, exports, audit, accounts.

Every view that names a complaint, a desa or an account checks it against the user's region on
the server; outside the scope the answer is 404, so that existence is not revealed either.
"""

from __future__ import annotations

import csv
import io
import itertools
import time
from collections.abc import Callable, Iterable, Iterator

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from portal.extensions import client_address_key, db, limiter, login_manager
from portal.forms import (
    AccountForm,
    CaptchaForm,
    LoginForm,
    MoveForm,
    MusdesForm,
    NoteForm,
    StaffNoticeForm,
    TwoFactorForm,
)
from portal.i18n import N_
from portal.jobs import enqueue_delivery
from portal.models import (
    AuditEntry,
    ComplaintKind,
    ComplaintStatus,
    MessageChannel,
    MessageStatus,
    MusdesDecision,
    NewComplaintNotice,
    StaffRole,
    StaffUser,
)
from portal.routes import unit_of_work
from portal.routes.common import (
    captcha_solved,
    kabar,
    limit,
    new_captcha,
    no_store,
    pii_vault,
    public_base_url,
    upload_dir,
)
from portal.services import moderation, outbox_admin, sla, staff, staff_notifications, two_factor
from portal.services import posters as posters_service
from portal.services.audit import ACTIONS, audit_entries
from portal.services.captcha import ChallengePurpose
from portal.services.complaints import ACTOR_LABELS, CORRECTION_LABELS, KIND_LABELS, STATUS_LABELS
from portal.services.escalation import ESCALATION_LABELS
from portal.services.login_throttle import LoginThrottle
from portal.services.regions import desa_within, region_names, search_desa
from portal.services.uploads import UploadRejected, clean_image, remove_stored, store_image, stored_file

bp = Blueprint("staff", __name__, url_prefix="/staf")

_TOKEN_KEY = "_user_id"  # noqa: S105 - where Flask-Login keeps get_id(): here, the session token


class StaffIdentity(UserMixin):
    """The logged-in staff member as Flask-Login sees them: the id is the session token."""

    def __init__(self, user: StaffUser, token: str) -> None:
        self.user = user
        self.token = token

    def get_id(self) -> str:
        return self.token


@login_manager.user_loader
def load_identity(token: str) -> StaffIdentity | None:
    user = staff.user_for_session(db.session, token)
    return StaffIdentity(user, token) if user else None


def me() -> StaffUser:
    return current_user.user


@bp.after_request
def _private(response: Response) -> Response:
    # Staff pages carry personal data: never cached, never framed.
    return no_store(response)


def _region_name(code: str) -> str:
    """A region's name for the page, from those the view looked up (`_know_regions`), else one query."""
    known = g.setdefault("region_names", {})
    if code not in known:
        known.update(region_names(db.session, [code]))
        known.setdefault(code, code)  # not a region (any more): the code, asked for once
    return known[code]


def _know_regions(codes: Iterable[str | None]) -> None:
    """Look up the names of a whole list's regions at once (the queue, the audit log)."""
    g.setdefault("region_names", {}).update(region_names(db.session, codes))


@bp.context_processor
def _labels() -> dict:
    return {"status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS, "role_labels": staff.ROLE_LABELS,
            "decision_labels": moderation.DECISION_LABELS, "actor_labels": ACTOR_LABELS,
            "correction_labels": CORRECTION_LABELS, "is_manager": staff.is_manager,
            "escalation_labels": ESCALATION_LABELS, "region_name": _region_name}


# -- login ----------------------------------------------------------------------------------


_DEVICE_COOKIE = "staf_perangkat"
_DEVICE_DAYS = 180
_DEVICE_ACCOUNTS = 5  # accounts one shared office browser remembers
_PENDING_KEY = "staf_2fa"  # in Flask's signed cookie: who passed the password step, and when
_PENDING_SECONDS = 300
# Reachable by a user who must enrol a second factor and has none yet.
_OPEN_BEFORE_ENROLMENT = {"staff.login", "staff.second_factor", "staff.enrol", "staff.enrolment_qr", "staff.logout"}


def _throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="portal-bansos staff known device")


def _known_device_ids() -> list[int]:
    """Accounts that logged in from this browser (a signed cookie; it skips only the captcha)."""
    try:
        ids = _device_signer().loads(request.cookies.get(_DEVICE_COOKIE, ""), max_age=_DEVICE_DAYS * 86400)
    except BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def _address_hash() -> bytes:
    return _throttle().address_digest(client_address_key())


def _known_client(user: StaffUser | None) -> bool:
    """This browser or this address logged in to the account before: strangers' failures do not
    slow it down."""
    return user is not None and (user.id in _known_device_ids()
                                 or staff.address_is_known(db.session, user, _address_hash()))


def _captcha_answered(captcha: CaptchaForm) -> bool:
    """A challenge was shown to this form and is solved now (a new picture is not an answer)."""
    if request.form.get("gambar_baru") or not captcha.captcha_id.data:
        return False
    return captcha_solved(captcha, ChallengePurpose.LOGIN)


def _logged_in(user: StaffUser, message: str | None = None) -> Response:
    """Every factor checked: a new server-side session; this address and browser become known."""
    token = staff.open_session(db.session, user, address_hash=_address_hash())
    staff.end_session(db.session, session.get(_TOKEN_KEY))
    session.clear()
    login_user(StaffIdentity(user, token))
    if message:
        flash(message)
    response = redirect(url_for(".enrol" if two_factor.must_enrol(user) else ".dashboard"))
    ids = [user.id, *(i for i in _known_device_ids() if i != user.id)][:_DEVICE_ACCOUNTS]
    response.set_cookie(_DEVICE_COOKIE, _device_signer().dumps(ids), max_age=_DEVICE_DAYS * 86400,
                        path=bp.url_prefix, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


@bp.route("/masuk", methods=["GET", "POST"])
@limiter.limit(limit("LOGIN_LIMIT"), methods=["POST"])
def login():
    form = LoginForm()
    captcha = CaptchaForm()
    show_captcha = False
    if form.validate_on_submit():
        username = staff.normalise_username(form.username.data)
        known = _known_client(staff.get_staff(db.session, username))
        # Known or not, an unknown username behaves as a real one: the captcha reveals nothing.
        show_captcha = not known and _throttle().needs_captcha(username)
        if show_captcha and not _captcha_answered(captcha):
            pass  # the password is not even checked; the form comes back with a new picture
        elif (user := staff.check_password(db.session, username, form.password.data)) is not None:
            if not two_factor.is_enabled(user):
                return _logged_in(user)
            staff.end_session(db.session, session.get(_TOKEN_KEY))
            session.clear()
            session[_PENDING_KEY] = {"id": user.id, "at": int(time.time())}
            return redirect(url_for(".second_factor"))
        else:
            _throttle().record_failure(username)
            show_captcha = not known and _throttle().needs_captcha(username)
            form.password.errors = [_("Nama pengguna atau kata sandi salah.")]
    if show_captcha:
        new_captcha(captcha, ChallengePurpose.LOGIN)
    return render_template("staff/login.html", form=form, captcha=captcha if show_captcha else None)


def _pending_user() -> StaffUser | None:
    """The user who passed the password step in the last 5 minutes, if they have a second factor."""
    pending = session.get(_PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > _PENDING_SECONDS:
        return None
    user = db.session.get(StaffUser, pending["id"]) if isinstance(pending.get("id"), int) else None
    return user if user is not None and user.active and two_factor.is_enabled(user) else None


@bp.route("/masuk/kode", methods=["GET", "POST"])
@limiter.limit(limit("LOGIN_LIMIT"), methods=["POST"])
def second_factor():
    user = _pending_user()
    if user is None:
        session.pop(_PENDING_KEY, None)
        return redirect(url_for(".login"))
    form = TwoFactorForm()
    if form.validate_on_submit():
        if _throttle().codes_exhausted(user.id):
            form.kode.errors = [_("Terlalu banyak kode salah untuk akun ini. Coba lagi satu jam lagi.")]
        elif (factor := two_factor.verify(db.session, pii_vault(), user, form.kode.data)) is not None:
            message = None
            if factor.by_recovery_code:
                message = _("Anda masuk dengan kode pemulihan; kode itu tidak berlaku lagi. Sisa kode: %(n)s.",
                            n=factor.recovery_codes_left)
            return _logged_in(user, message)
        else:
            _throttle().record_code_failure(user.id)
            form.kode.errors = [_("Kode salah atau sudah pernah dipakai. Ketik kode yang sedang tampil, "
                                  "atau satu kode pemulihan.")]
    return render_template("staff/second_factor.html", form=form)


@bp.before_request
def _second_factor_first():
    # Kabupaten and admin accounts reach no staff page before they have a second factor.
    if request.endpoint in _OPEN_BEFORE_ENROLMENT or not current_user.is_authenticated:
        return None
    if two_factor.must_enrol(me()):
        return redirect(url_for(".enrol"))
    return None


@bp.route("/2fa", methods=["GET", "POST"])
@login_required
def enrol():
    user = me()
    if two_factor.is_enabled(user):
        return render_template("staff/two_factor.html", enabled=True,
                               codes_left=two_factor.recovery_codes_left(db.session, user))
    form = TwoFactorForm()
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm_enrolment(db.session, pii_vault(), user, form.kode.data)
        except two_factor.TwoFactorError as refused:
            form.kode.errors = [_(refused.message)]
        else:
            return render_template("staff/two_factor.html", enabled=True, recovery_codes=codes)
    secret = two_factor.enrolment_secret(db.session, pii_vault(), user)
    return render_template("staff/two_factor.html", enabled=False, form=form, secret=secret,
                           required=two_factor.is_required(user))


@bp.get("/2fa/qr.svg")
@login_required
def enrolment_qr():
    """The QR code of the secret being enrolled, drawn here (no image service sees the secret)."""
    user = me()
    if two_factor.is_enabled(user):
        abort(404)
    secret = two_factor.enrolment_secret(db.session, pii_vault(), user)
    response = Response(two_factor.qr_svg(two_factor.provisioning_uri(user, secret)), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response  # no-store, like every staff response


@bp.post("/keluar")
@login_required
def logout():
    staff.end_session(db.session, current_user.token)
    logout_user()
    session.clear()
    return redirect(url_for(".login"))


# -- QR posters -----------------------------------------------------------------------------


@bp.get("/poster")
@login_required
def posters():
    """Choose a desa in scope to print its poster; a name search (`?q=`) for a whole kabupaten."""
    text = request.args.get("q", "")
    found = posters_service.desa_for_posters(db.session, None if me().role is StaffRole.ADMIN else me().region_code,
                                            text)
    return render_template("staff/posters.html", found=found, text=" ".join(text.split())[:60])


@bp.get("/poster/<code>")
@login_required
def poster(code: str):
    """An A4 page to print: the QR code of the lookup with this desa chosen, the real address in
    text and the trust notice. A desa outside the user's scope is a 404, like everything else."""
    desa = posters_service.poster_desa(db.session, code) if staff.in_scope(me(), code) else None
    if desa is None:
        abort(404)
    target = posters_service.lookup_url(public_base_url(), desa.code)
    return render_template("staff/poster.html", desa=desa, target=target,
                           qr=Markup(posters_service.qr_svg(target)))  # noqa: S704 - segno's own SVG


# -- dashboard and queue --------------------------------------------------------------------


@bp.get("/")
@login_required
def dashboard():
    return render_template("staff/dashboard.html", board=moderation.dashboard(db.session, me()))


def _filters(args: MultiDict[str, str] | None = None) -> moderation.QueueFilter:
    """Queue filters from the query string; a desa outside the user's scope is a 404."""
    args = request.args if args is None else args
    status = args.get("status") or None
    kind = args.get("jenis") or None
    desa = args.get("desa") or None
    age = args.get("umur") or ""
    if status not in (None, *ComplaintStatus) or kind not in (None, *ComplaintKind):
        abort(400)
    if desa and not staff.in_scope(me(), desa):
        abort(404)
    return moderation.QueueFilter(
        status=ComplaintStatus(status) if status else None, kind=ComplaintKind(kind) if kind else None,
        desa_code=desa, min_age_days=min(int(age), 3650) if age.isdecimal() and age.isascii() else None,
        escalated=args.get("naik") == "1",
    )


@bp.get("/antrian")
@login_required
def queue():
    typed = request.args.get("desa", "")
    desa_choices = None
    if any(ch.isalpha() for ch in typed):
        # A desa name, typed where the scope has too many desa for a list (the whole country).
        desa_choices = [c for c in search_desa(db.session, typed).found if staff.in_scope(me(), c.code)]
        if len(desa_choices) == 1:
            return redirect(url_for(".queue", **{**request.args, "desa": desa_choices[0].code}))
        args = request.args.copy()
        args.pop("desa")
    else:
        args = request.args
    filters = _filters(args)
    page = request.args.get("hal", "1")
    page_number = int(page) if page.isdecimal() and page.isascii() and 0 < int(page) < 100000 else 1
    result = moderation.queue(db.session, me(), filters, page=page_number)
    pager_args = {k: v for k, v in args.items() if k != "hal"}
    _know_regions([filters.desa_code, *(c.desa_code for c in result.complaints)])
    picker = desa_within(db.session, None if me().role is StaffRole.ADMIN else me().region_code)
    return render_template("staff/queue.html", page=result, filters=filters, pager_args=pager_args,
                           overdue_days=moderation.OVERDUE_AFTER_DAYS, desa_groups=picker,
                           typed_desa=typed, desa_choices=desa_choices)


@bp.get("/antrian.csv")
@login_required
def export():
    filters = _filters()
    rows = moderation.export_rows(db.session, pii_vault(), me(), filters, translate=_)
    header = [_(name) for name in next(rows)]  # the column names, in the staff member's language

    def generate() -> Iterator[str]:
        yield "\ufeff"  # UTF-8 BOM: Excel then opens the file with the right characters
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)  # every field quoted, numbers too
        for row in itertools.chain([header], rows):
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="antrian-aduan.csv"'
    return response


# -- one complaint --------------------------------------------------------------------------


def _complaint_or_404(code: str):
    complaint = moderation.complaint_for_staff(db.session, me(), code)
    if complaint is None:
        abort(404)
    return complaint


def _detail(complaint, *, niks: dict[str, str] | None = None, move_form: MoveForm | None = None,
            note_form: NoteForm | None = None, musdes_form: MusdesForm | None = None, status: int = 200):
    vault = pii_vault()
    page = render_template(
        "staff/complaint.html", complaint=complaint, niks=niks,
        masked_niks=moderation.masked_niks(vault, complaint),
        phone=moderation.complainant_phone(vault, complaint),
        matches=moderation.registry_matches(db.session, vault, me(), complaint),
        related=moderation.related_open(db.session, me(), complaint),
        outcomes=moderation.musdes_outcomes(db.session, complaint),
        moves=moderation.move_choices(me(), complaint),
        move_form=move_form or MoveForm(formdata=None),
        note_form=note_form or NoteForm(formdata=None),
        musdes_form=musdes_form or MusdesForm(formdata=None),
    )
    return make_response(page, status)


def _back_to(code: str, message: str) -> Response:
    """After an action: say it was done, and show the complaint again (a reload repeats nothing)."""
    flash(message)
    return redirect(url_for(".complaint", code=code), code=303)


@bp.get("/aduan/<code>")
@login_required
def complaint(code: str):
    return _detail(_complaint_or_404(code))


@bp.post("/aduan/<code>/nik")
@login_required
def reveal_nik(code: str):
    complaint = _complaint_or_404(code)
    niks = moderation.reveal_niks(db.session, pii_vault(), me(), complaint)
    return _detail(complaint, niks=niks)


def _private_image(stored_name: str | None, download_name: str) -> Response:
    """A stored photo for staff only: inline, never cached, never sniffed, sandboxed."""
    stored = stored_file(upload_dir(), stored_name)
    if stored is None:
        abort(404)
    path, content_type = stored
    response = send_file(path, mimetype=content_type, max_age=0, download_name=download_name + path.suffix)
    response.headers["Content-Disposition"] = response.headers["Content-Disposition"].replace(
        "attachment", "inline")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/aduan/<code>/bukti/<int:evidence_id>")
@login_required
def evidence(code: str, evidence_id: int):
    complaint = _complaint_or_404(code)
    item = next((e for e in complaint.evidence if e.id == evidence_id), None)
    response = _private_image(item.stored_name if item else None, f"{complaint.code}-{evidence_id}")
    moderation.log_evidence_view(db.session, me(), complaint, evidence_id)
    return response


@bp.get("/aduan/<code>/berita-acara/<int:outcome_id>")
@login_required
def minutes(code: str, outcome_id: int):
    complaint = _complaint_or_404(code)
    outcome = next((o for o in moderation.musdes_outcomes(db.session, complaint) if o.id == outcome_id), None)
    response = _private_image(outcome.minutes_stored_name if outcome else None, f"{complaint.code}-musdes-{outcome_id}")
    moderation.log_evidence_view(db.session, me(), complaint, outcome_id, kind="berita_acara")
    return response


@bp.post("/aduan/<code>/pindah")
@login_required
def move(code: str):
    complaint = _complaint_or_404(code)
    form = MoveForm()
    if not form.validate() or form.to.data not in set(ComplaintStatus):
        abort(400)
    try:
        moderation.move_complaint(db.session, me(), complaint, ComplaintStatus(form.to.data), form.note.data or "",
                                  expected_version=int(form.version.data), kabar=kabar())
    except moderation.ModerationError as refused:
        unit_of_work.rollback()  # a refused move may have left a failed flush behind
        form.note.errors = [_(refused.message)]
        fresh = _complaint_or_404(code)
        return _detail(fresh, move_form=form, status=409 if isinstance(refused, moderation.StaleComplaint) else 400)
    return _back_to(code, _("Status aduan diubah."))


@bp.post("/aduan/<code>/catatan")
@login_required
def note(code: str):
    complaint = _complaint_or_404(code)
    form = NoteForm()
    if not form.validate():
        return _detail(complaint, note_form=form, status=400)
    try:
        moderation.add_note(db.session, me(), complaint, form.note.data)
    except moderation.ModerationError as refused:
        form.note.errors = [_(refused.message)]
        return _detail(complaint, note_form=form, status=400)
    return _back_to(code, _("Catatan disimpan."))


@bp.post("/aduan/<code>/musdes")
@login_required
def musdes(code: str):
    complaint = _complaint_or_404(code)
    form = MusdesForm()
    if not form.validate():
        return _detail(complaint, musdes_form=form, status=400)
    stored = None
    if form.minutes.data and form.minutes.data.filename:
        try:
            image = clean_image(form.minutes.data.stream, max_bytes=current_app.config["UPLOAD_MAX_BYTES"])
            stored = store_image(upload_dir(), image)
        except UploadRejected as rejected:
            form.minutes.errors = [_(rejected.message, **rejected.params)]
            return _detail(complaint, musdes_form=form, status=400)
    try:
        moderation.record_musdes(db.session, me(), complaint, form.held_on.data,
                                 MusdesDecision(form.decision.data), form.note.data or "", stored)
    except moderation.ModerationError as refused:
        remove_stored(upload_dir(), [stored] if stored else [])
        form.note.errors = [_(refused.message)]
        return _detail(complaint, musdes_form=form, status=400)
    return _back_to(code, _("Hasil musyawarah desa dicatat."))


# -- audit and accounts ---------------------------------------------------------------------


def _managers_only() -> None:
    if not staff.is_manager(me()):
        abort(404)


@bp.get("/audit")
@login_required
def audit():
    _managers_only()
    entries = audit_entries(db.session, staff.scope_condition(me(), AuditEntry.region_code))
    _know_regions(e.region_code for e in entries)
    return render_template("staff/audit.html", entries=entries, actions=ACTIONS)


@bp.route("/akun", methods=["GET", "POST"])
@login_required
def accounts():
    _managers_only()
    form = AccountForm()
    created = None
    if form.validate_on_submit():
        password = staff.generate_password()
        try:
            user = staff.create_staff(db.session, form.username.data, StaffRole(form.role.data),
                                      form.region.data, password, by=me())
            created = (user.username, password)  # shown once, on this response only
        except staff.StaffError as refused:
            form.username.errors = [_(refused.message, **refused.params)]
    users = staff.accounts_in_scope(db.session, me())
    _know_regions(u.region_code for u in users)
    return render_template("staff/accounts.html", form=form, users=users, created=created)


def _change_account(username: str, change: Callable[[StaffUser], None], done: str) -> Response:
    """A manager's change to an account they manage; beyond their reach looks like unknown (404)."""
    _managers_only()
    user = staff.get_staff(db.session, username)
    if user is None:
        abort(404)
    try:
        change(user)
    except (staff.StaffError, two_factor.TwoFactorError):
        abort(404)
    flash(_(done, username=user.username))
    return redirect(url_for(".accounts"), code=303)


@bp.post("/akun/<username>/nonaktif")
@login_required
def disable_account(username: str):
    return _change_account(username, lambda user: staff.set_active(db.session, user, False, by=me()),
                           N_("Akun %(username)s dinonaktifkan."))


@bp.post("/akun/<username>/reset-2fa")
@login_required
def reset_two_factor(username: str):
    return _change_account(username, lambda user: two_factor.reset(db.session, user, by=me()),
                           N_("Verifikasi dua langkah %(username)s direset; ia mendaftar lagi saat masuk berikutnya."))


# -- notices: where and what a staff member hears (services.staff_notifications) ----------------


def _notice_settings(user: StaffUser) -> Response | str:
    """The notice settings of `user` (the caller themselves, or an account they manage)."""
    vault = pii_vault()
    form = StaffNoticeForm(data={"saluran": user.contact_channel or "", "baru": user.notify_new.value,
                                 "lewat_waktu": user.notify_overdue})
    form.stored_channel = user.contact_channel.value if user.contact_encrypted is not None else None
    if form.validate_on_submit():
        staff_notifications.set_preferences(
            db.session, vault, user, channel=MessageChannel(form.saluran.data) if form.saluran.data else None,
            address=form.alamat.data, notify_new=NewComplaintNotice(form.baru.data),
            notify_overdue=form.lewat_waktu.data, by=me(),
        )
        db.session.commit()
        flash(_("Pengaturan kabar untuk %(username)s disimpan.", username=user.username))
        return redirect(request.path, code=303)
    return render_template("staff/notices.html", form=form, account=user,
                           contact=staff_notifications.masked_contact(vault, user),
                           channel_labels=staff_notifications.CHANNEL_LABELS)


@bp.route("/kabar", methods=["GET", "POST"])
@login_required
def my_notices():
    return _notice_settings(me())


@bp.route("/akun/<username>/kabar", methods=["GET", "POST"])
@login_required
def account_notices(username: str):
    _managers_only()
    user = staff.get_staff(db.session, username)
    if user is None or (user.id != me().id and not staff.can_manage(me(), user.role, user.region_code)):
        abort(404)
    return _notice_settings(user)


# -- service levels per desa (services.sla) --------------------------------------------------------


@bp.get("/sla")
@login_required
def service_levels():
    days = current_app.config["ESCALATE_KECAMATAN_DAYS"]
    return render_template("staff/sla.html", rows=sla.service_levels(db.session, me(), overdue_days=days),
                           overdue_days=days)


# -- the outbox, for admins (services.outbox_admin) -------------------------------------------------


def _admins_only() -> None:
    if me().role is not StaffRole.ADMIN:
        abort(404)


@bp.get("/pesan")
@login_required
def outbox_messages():
    _admins_only()
    status = request.args.get("status") or None
    if status not in (None, *MessageStatus):
        abort(400)
    chosen = MessageStatus(status) if status else None
    return render_template("staff/outbox.html", status=chosen, statuses=list(MessageStatus),
                           message_status_labels=outbox_admin.STATUS_LABELS,
                           message_kind_labels=outbox_admin.KIND_LABELS,
                           counts=outbox_admin.status_counts(db.session),
                           messages=outbox_admin.admin_messages(db.session, pii_vault(), status=chosen))


@bp.post("/pesan/<int:message_id>/ulang")
@login_required
def retry_message(message_id: int):
    _admins_only()
    if not outbox_admin.retry_dead(db.session, message_id, me()):
        abort(404)
    db.session.commit()
    enqueue_delivery(current_app)
    flash(_("Pesan #%(id)s dijadwalkan untuk dikirim lagi.", id=message_id))
    return redirect(url_for(".outbox_messages", status="dead"), code=303)
