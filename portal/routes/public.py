"""Public pages for residents: cek status, the region cascade, captcha media."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf

from portal.extensions import db, limiter, read_session, regions
from portal.forms import DesilForm, LookupForm
from portal.routes.common import (
    captcha,
    captcha_solved,
    limit,
    new_captcha,
    no_store,
    official_address,
    pii_vault,
    public_base_url,
    within_shared_limit,
)
from portal.routes.page_cache import CAPTCHA_MARK, CSRF_MARK, RenderedPages
from portal.services import captcha_media
from portal.services.captcha import NEXT_LOOKUPS_PER_CAPTCHA, CaptchaUnavailable, ChallengePurpose
from portal.services.lookup import MAX_RESULTS, LookupOutcome, find_people, reveal_desil
from portal.services.names import normalise_name
from portal.services.regions import region_chain_codes, search_desa
from portal.services.registry_import import latest_batch

bp = Blueprint("public", __name__)

SERVICE_DISRUPTED = _l("Layanan sedang gangguan, coba lagi sebentar lagi. Isian Anda masih ada di bawah.")


def _lookup_page(form: LookupForm, region_errors: dict[str, str], status: int = 200, notice: str | None = None):
    """The lookup form with a fresh captcha; what was typed stays, the captcha answer does not."""
    new_captcha(form, ChallengePurpose.LOOKUP)
    form.fill_region_choices()
    page = render_template("public/index.html", form=form, region_errors=region_errors,
                           batch=latest_batch(read_session()), notice=notice)
    return no_store(make_response(page, status))


def _blank_lookup_page():
    """The lookup form as every first visit sees it: rendered once per language, filled per visit."""

    def render() -> str:
        form = LookupForm(formdata=None)
        form.captcha_id.data = CAPTCHA_MARK
        if "csrf_token" in form:
            form.csrf_token.current_token = CSRF_MARK
        form.check_regions()
        form.fill_region_choices()
        return render_template("public/index.html", form=form, region_errors={},
                               batch=latest_batch(read_session()), notice=None)

    # The trust notice names the address: without PUBLIC_BASE_URL it is the host asked for.
    key = ("lookup", str(get_locale()), official_address())
    html = current_app.extensions["rendered_pages"].get(key, render)
    csrf_token = generate_csrf() if current_app.config["WTF_CSRF_ENABLED"] else None
    page = RenderedPages.fill(html, captcha_id=captcha().issue(ChallengePurpose.LOOKUP), csrf_token=csrf_token)
    return no_store(make_response(page))


@bp.app_context_processor
def _trust_notice() -> dict:
    """What the trust notice of every public page names: the real address (and the QR posters)."""
    return {"official_address": official_address, "public_base_url": public_base_url}


@bp.get("/waspada")
@limiter.limit(limit("PAGE_LIMIT"))
def beware():
    """How to tell this portal from a fake one; the same for everyone, so it may be cached."""
    response = make_response(render_template("public/beware.html"))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(limit("STEP_LIMIT"), methods=["POST"])
@limiter.limit(limit("PAGE_LIMIT"), methods=["GET"])
def index():
    """The lookup form; a POST here is a step of the no-JavaScript cascade or a new captcha."""
    if request.method == "POST":
        form = LookupForm()
        # A pass is bound to the desa it was given for: changing the region asks for the captcha.
        form.lanjutan.data = form.sisa.data = ""
    elif request.args.get("desa"):
        # Preselected down to a desa chosen from the search or a poster's QR code (`/?desa=32.04.05.2001`).
        form = LookupForm(formdata=None, data=region_chain_codes(request.args["desa"][:20]))
    else:
        return _blank_lookup_page()
    return _lookup_page(form, form.check_regions())


def _desa_key() -> str:
    return "desa:" + (request.form.get("desa") or "-")[:20]


def _lookup_was_solved(_response) -> bool:
    # Only a lookup whose captcha was solved counts against its desa: unsolved posts from many
    # addresses must not use up a village's allowance for its residents.
    return g.get("lookup_solved", False)


@bp.post("/cek")
@limiter.limit(limit("LOOKUP_LIMIT"))
@limiter.limit(limit("LOOKUP_DESA_LIMIT"), key_func=_desa_key, deduct_when=_lookup_was_solved)
def check():
    form = LookupForm()
    region_errors = form.check_regions()
    fields_ok = form.validate()
    if "desa" not in form.regions and not region_errors:
        region_errors["desa"] = _("Pilih desa/kelurahan tempat tinggal sesuai KTP.")
    if not fields_ok or region_errors:
        malformed = any(name not in request.form for name in ("nama", "desa")) or not (
            "captcha_id" in request.form or form.lanjutan.data
        ) or any(request.form.get(name) for name in region_errors)
        return _lookup_page(form, region_errors, 400 if malformed else 200)
    desa = form.regions["desa"]
    try:
        solved = _proved(form, desa.code)
    except CaptchaUnavailable:
        return _lookup_page(form, region_errors, 503, notice=SERVICE_DISRUPTED)
    if solved is None:
        return _lookup_page(form, region_errors)

    g.lookup_solved = True
    result = find_people(read_session(), desa.code, form.nama.data)
    next_lookup = _next_lookup_form(form.regions, solved)
    if result.outcome is LookupOutcome.FULL_NAME_NEEDED:
        # The answer the captcha bought is "a fuller name": the next try needs no new captcha.
        form.nama.errors = [*form.nama.errors, _(
            "Tulis nama lengkap sesuai KTP, termasuk nama belakang: tidak ada yang terdaftar "
            "hanya dengan satu kata ini di desa yang dipilih."
        )]
        passes = (next_lookup.lanjutan.data, next_lookup.sisa.data) if next_lookup else ("", "")
        form.lanjutan.data, form.sisa.data = passes
        return _lookup_page(form, region_errors)
    template = {
        LookupOutcome.FOUND: "public/result.html",
        LookupOutcome.NOT_FOUND: "public/not_found.html",
        LookupOutcome.TOO_MANY: "public/too_many.html",
    }[result.outcome]
    # One NIK try for the desil per solved lookup: the pass is bound to this desa and name.
    desil_pass = captcha().issue(ChallengePurpose.DESIL, bound_to=_desil_context(desa.code, form.nama.data))
    desil_form = DesilForm(formdata=None, data={"desa": desa.code, "nama": form.nama.data, "bukti": desil_pass})
    page = render_template(template, result=result, form=form, desa=desa, regions=form.regions,
                           desil_form=desil_form, max_results=MAX_RESULTS, next_lookup=next_lookup)
    return no_store(make_response(page))


def _desil_context(desa_code: str, name: str) -> str:
    return f"{desa_code}|{normalise_name(name)}"


def _proved(form: LookupForm, desa_code: str) -> int | None:
    """How many next-lookup passes this lookup may hand on, or None when it proved nothing: a
    solved captcha, the full allowance; a pass from the lookup before, what it carries on."""
    if not form.lanjutan.data:
        return NEXT_LOOKUPS_PER_CAPTCHA if captcha_solved(form, ChallengePurpose.LOOKUP) else None
    allowance = captcha().redeem_next_lookup(form.lanjutan.data, form.sisa.data, desa_code)
    if allowance is None:
        form.lanjutan.data = form.sisa.data = ""
        form.captcha_jawaban.errors = [_("Pencarian tanpa angka ini sudah dipakai atau kedaluwarsa. "
                                         "Ketik angka pada gambar.")]
    return allowance


def _next_lookup_form(regions: dict, allowance: int) -> LookupForm | None:
    """The form for another name in the same desa with a pass instead of a captcha; None when the
    solved captcha's allowance is used up."""
    next_pass = captcha().next_lookup_pass(regions["desa"].code, allowance)
    if next_pass is None:
        return None
    data = {name: region.code for name, region in regions.items()}
    form = LookupForm(formdata=None, data={**data, "lanjutan": next_pass.id, "sisa": str(next_pass.left)})
    form.nama.id = form.nama.label.field_id = "nama-lain"  # the desil form on the same page has a "nama"
    return form


def _desil_page(form: DesilForm, desa, *, reveal=None, outcome: str = "form", status: int = 200):
    form.nik.data = ""
    page = render_template("public/desil.html", form=form, desa=desa, reveal=reveal, outcome=outcome)
    return no_store(make_response(page, status))


@bp.post("/cek/desil")
@limiter.limit(limit("DESIL_LIMIT"))
def desil():
    """The desil of a person just found, for someone who also types that person's NIK: one try
    per solved lookup, a few a day per person and per NIK from all addresses, each reveal audited."""
    form = DesilForm()
    desa = regions().region(read_session(), form.desa.data or "")
    if desa is None or not form.validate():
        return _desil_page(form, desa, status=400 if desa is None else 200)
    context = _desil_context(desa.code, form.nama.data)
    if not captcha().redeem(ChallengePurpose.DESIL, form.bukti.data, bound_to=context):
        return _desil_page(form, desa, outcome="expired")
    vault = pii_vault()
    if not (within_shared_limit("DESIL_TARGET_LIMIT", "person", vault.digest(context).hex()[:32])
            and within_shared_limit("DESIL_TARGET_LIMIT", "nik", vault.digest(form.nik.data).hex()[:32])):
        abort(429)
    reveal = reveal_desil(db.session, vault, desa.code, form.nama.data, form.nik.data)  # audited in this unit
    return _desil_page(form, desa, reveal=reveal, outcome="revealed" if reveal else "mismatch")


def _captcha_media(challenge_id: str, render: Callable[[str, bytes], bytes], mimetype: str):
    """The image or sound of a live challenge, drawn from its id; never cached."""
    if captcha().live(challenge_id) is None:
        abort(404)
    keys = captcha().keys
    response = make_response(render(keys.answer(challenge_id), keys.media_seed(challenge_id)))
    response.mimetype = mimetype
    return no_store(response)


@bp.get("/captcha/<challenge_id>.png")
@limiter.limit(limit("CAPTCHA_MEDIA_LIMIT"))
def captcha_image(challenge_id: str):
    return _captcha_media(challenge_id, captcha_media.render_image, "image/png")


def _challenge_key() -> str:
    return "challenge:" + (request.view_args or {}).get("challenge_id", "")[:80]


@bp.get("/captcha/<challenge_id>.wav")
@limiter.limit(limit("CAPTCHA_MEDIA_LIMIT"))
@limiter.limit(limit("AUDIO_PER_CHALLENGE_LIMIT"), key_func=_challenge_key)
def captcha_audio(challenge_id: str):
    return _captcha_media(challenge_id, captcha_media.render_audio, "audio/wav")


@bp.get("/cari-desa")
@limiter.limit(limit("REGION_API_LIMIT"))
def find_desa():
    """Desa search without JavaScript: a list of links that preselect the cascade."""
    text = (request.args.get("q") or "")[:60]
    return render_template("public/find_desa.html", text=text, search=search_desa(read_session(), text),
                           for_complaint=request.args.get("untuk") == "aduan")


def _cacheable_json(payload: dict):
    response = jsonify(payload)
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['REGION_CACHE_SECONDS']}"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/api/wilayah")
@limiter.limit(limit("REGION_API_LIMIT"))
def provinces_json():
    provinces = regions().children(read_session(), None)
    return _cacheable_json({"wilayah": [{"kode": c.code, "nama": c.name} for c in provinces]})


@bp.get("/api/wilayah/cari")
@limiter.limit(limit("REGION_API_LIMIT"))
def search_desa_json():
    search = search_desa(read_session(), (request.args.get("q") or "")[:60])
    return _cacheable_json({"wilayah": [{"kode": c.code, "nama": c.name, "induk": c.parents} for c in search.found],
                            "lainnya": search.more, "terlalu_pendek": search.too_short})


@bp.get("/api/wilayah/<code>")
@limiter.limit(limit("REGION_API_LIMIT"))
def region_json(code: str):
    region = regions().region(read_session(), code[:20])
    if region is None:
        return jsonify({"error": _("Kode wilayah tidak dikenal.")}), 404
    children = regions().children(read_session(), region.code)
    return _cacheable_json({"kode": region.code, "nama": region.name,
                            "wilayah": [{"kode": c.code, "nama": c.name} for c in children]})
