"""Public pages for residents: cek status, the region cascade, captcha media."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask_babel import gettext as _

from portal.extensions import db, limiter
from portal.forms import DesilForm, LookupForm
from portal.routes.common import captcha_keys, captcha_solved, limit, new_captcha, no_store, pii_vault
from portal.services import captcha_media
from portal.services.captcha import challenge_is_live
from portal.services.lookup import MAX_RESULTS, LookupOutcome, find_people, reveal_desil
from portal.services.regions import REGION_FIELDS, children_of, get_region, search_desa
from portal.services.registry_import import latest_batch

bp = Blueprint("public", __name__)


def _desa_key() -> str:
    return "desa:" + (request.form.get("desa") or "-")[:20]


def _lookup_page(form: LookupForm, region_errors: dict[str, str], status: int = 200):
    """The lookup form with a fresh captcha; what was typed stays, the captcha answer does not."""
    new_captcha(form)
    form.fill_region_choices()
    page = render_template("public/index.html", form=form, region_errors=region_errors,
                           batch=latest_batch(db.session))
    return no_store(make_response(page, status))


def _form_from_desa_code(code: str) -> LookupForm:
    """A form preselected down to a desa chosen from the search (`/?desa=32.04.05.2001`)."""
    parts = code.split(".")
    data = {name: ".".join(parts[: i + 1]) for i, name in enumerate(REGION_FIELDS) if i < len(parts)}
    return LookupForm(formdata=None, data=data)


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(limit("STEP_LIMIT"), methods=["POST"])
def index():
    """The lookup form; a POST here is a step of the no-JavaScript cascade or a new captcha."""
    if request.method == "POST":
        form = LookupForm()
    elif request.args.get("desa"):
        form = _form_from_desa_code(request.args["desa"][:20])
    else:
        form = LookupForm(formdata=None)
    return _lookup_page(form, form.check_regions())


@bp.post("/cek")
@limiter.limit(limit("LOOKUP_LIMIT"))
@limiter.limit(limit("LOOKUP_DESA_LIMIT"), key_func=_desa_key)
def check():
    form = LookupForm()
    region_errors = form.check_regions()
    fields_ok = form.validate()
    if "desa" not in form.regions and not region_errors:
        region_errors["desa"] = _("Pilih desa/kelurahan tempat tinggal sesuai KTP.")
    if not fields_ok or region_errors:
        malformed = any(name not in request.form for name in ("nama", "desa", "captcha_id")) or any(
            request.form.get(name) for name in region_errors
        )
        return _lookup_page(form, region_errors, 400 if malformed else 200)
    if not captcha_solved(form):
        return _lookup_page(form, region_errors)

    desa = form.regions["desa"]
    result = find_people(db.session, desa.code, form.nama.data)
    template = {
        LookupOutcome.FOUND: "public/result.html",
        LookupOutcome.NOT_FOUND: "public/not_found.html",
        LookupOutcome.TOO_MANY: "public/too_many.html",
    }[result.outcome]
    desil_form = DesilForm(formdata=None, data={"desa": desa.code, "nama": form.nama.data})
    page = render_template(template, result=result, form=form, desa=desa, regions=form.regions,
                           desil_form=desil_form, max_results=MAX_RESULTS)
    return no_store(make_response(page))


@bp.post("/cek/desil")
@limiter.limit(limit("DESIL_LIMIT"))
def desil():
    form = DesilForm()
    desa = get_region(db.session, form.desa.data or "")
    if desa is None or not form.validate():
        return no_store(make_response(render_template("public/desil.html", form=form, reveal=None,
                                                       desa=desa), 400 if desa is None else 200))
    reveal = reveal_desil(db.session, pii_vault(), desa.code, form.nama.data,
                          form.nik.data)
    form.nik.data = ""
    return no_store(make_response(render_template("public/desil.html", form=form, reveal=reveal,
                                                   desa=desa, checked=True)))


def _captcha_media(challenge_id: str, render: Callable[[str, bytes], bytes], mimetype: str):
    """The image or sound of a live challenge, drawn from its id; never cached."""
    if not challenge_is_live(db.session, challenge_id):
        abort(404)
    # Stand-in seed: the same challenge renders the same way. To become a keyed seed (the id
    # alone lets anyone who knows it recompute the variation).
    seed = hashlib.sha256(challenge_id.encode()).digest()
    response = make_response(render(captcha_keys().answer(challenge_id), seed))
    response.mimetype = mimetype
    return no_store(response)


@bp.get("/captcha/<challenge_id>.png")
@limiter.limit(limit("CAPTCHA_MEDIA_LIMIT"))
def captcha_image(challenge_id: str):
    return _captcha_media(challenge_id, captcha_media.render_image, "image/png")


@bp.get("/captcha/<challenge_id>.wav")
@limiter.limit(limit("CAPTCHA_MEDIA_LIMIT"))
def captcha_audio(challenge_id: str):
    return _captcha_media(challenge_id, captcha_media.render_audio, "audio/wav")


@bp.get("/cari-desa")
@limiter.limit(limit("REGION_API_LIMIT"))
def find_desa():
    """Desa search without JavaScript: a list of links that preselect the cascade."""
    text = (request.args.get("q") or "")[:60]
    return render_template("public/find_desa.html", text=text, found=search_desa(db.session, text))


def _cacheable_json(payload: dict):
    response = jsonify(payload)
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['REGION_CACHE_SECONDS']}"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/api/wilayah")
@limiter.limit(limit("REGION_API_LIMIT"))
def provinces_json():
    provinces = children_of(db.session, None)
    return _cacheable_json({"wilayah": [{"kode": c.code, "nama": c.name} for c in provinces]})


@bp.get("/api/wilayah/cari")
@limiter.limit(limit("REGION_API_LIMIT"))
def search_desa_json():
    found = search_desa(db.session, (request.args.get("q") or "")[:60])
    return _cacheable_json({"wilayah": [{"kode": c.code, "nama": c.name, "induk": c.parents} for c in found]})


@bp.get("/api/wilayah/<code>")
@limiter.limit(limit("REGION_API_LIMIT"))
def region_json(code: str):
    region = get_region(db.session, code[:20])
    if region is None:
        return jsonify({"error": _("Kode wilayah tidak dikenal.")}), 404
    children = children_of(db.session, region.code)
    return _cacheable_json({"kode": region.code, "nama": region.name,
                            "wilayah": [{"kode": c.code, "nama": c.name} for c in children]})
