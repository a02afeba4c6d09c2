"""Public complaint statistics: numbers per kabupaten/kota and per desa, small cells hidden."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template, request

from portal.extensions import db, limiter
from portal.routes.common import limit
from portal.services.statistics import UnknownKabupaten, complaint_statistics, desa_page

bp = Blueprint("statistics", __name__)

#: The same numbers for everyone, so browsers and proxies may keep them a few minutes.
CACHE_CONTROL = "public, max-age=300"


@bp.get("/statistik")
@limiter.limit(limit("REGION_API_LIMIT"))
def overview():
    """Complaints per kabupaten/kota; `?kabupaten=32.04` adds the desa of one of them, searched
    by name with `q` and shown a page (`hal`) at a time."""
    code = (request.args.get("kabupaten") or "").strip()[:20] or None
    try:
        table = complaint_statistics(db.session, kabupaten_code=code)
    except UnknownKabupaten:
        abort(404)
    shown = None
    if table.desa is not None:
        shown = desa_page(table.desa, request.args.get("q", ""), request.args.get("hal", 1, type=int))
    response = make_response(render_template("public/statistics.html", table=table, shown=shown))
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
