"""Public pages for residents."""

from flask import Blueprint, render_template

from portal.extensions import db
from portal.services.registry_import import latest_batch

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    return render_template("public/index.html", batch=latest_batch(db.session))
