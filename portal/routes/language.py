"""The language switch: a plain link on every page that sets a cookie and goes back (no JavaScript)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_babel import get_locale

from portal.extensions import limiter
from portal.i18n import LANGUAGES, remember_language, safe_next, vary_by_language
from portal.routes.common import limit, no_store

bp = Blueprint("language", __name__)
bp.after_app_request(vary_by_language)

#: Pages that answer a form (POST only): switching there returns to the form's own page.
_FORM_PAGES = {
    "public.check": "public.index",
    "public.desil": "public.index",
    "complaints.submit": "complaints.new",
    "complaints.reopen": "complaints.track",
}


def _return_path() -> str:
    """Where the switch leads back to: this page, or the page of the form this page answers."""
    rule = request.url_rule
    if request.method == "GET" or rule is None:
        return request.full_path.rstrip("?")
    if "GET" in (rule.methods or ()):
        return request.path
    if request.endpoint in _FORM_PAGES:
        return url_for(_FORM_PAGES[request.endpoint])
    if request.blueprint == "staff":
        code = (request.view_args or {}).get("code")
        return url_for("staff.complaint", code=code) if code else url_for("staff.dashboard")
    return url_for("public.index")


@bp.app_context_processor
def _language_switch() -> dict:
    return {"languages": LANGUAGES, "current_language": str(get_locale()), "language_return": _return_path}


@bp.get("/bahasa/<code>")
@limiter.limit(limit("PAGE_LIMIT"))
def choose(code: str):
    """Remember the language `code` and go back to `?next=` (a path on this site only)."""
    if code not in LANGUAGES:
        abort(404)
    response = redirect(safe_next(request.args.get("next"), url_for("public.index")), code=303)
    remember_language(response, code, secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return no_store(response)
