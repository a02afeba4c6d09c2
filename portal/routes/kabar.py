"""Links in the messages to complainants: to lacak with the code, and to stop the messages.

Both are short (`/l/<code>`, `/s/<token>`) so that an SMS keeps room within 160 characters.
Opening a stop link writes nothing: it shows a page that asks to confirm, and only that
page's POST stops the messages (a link preview or a mail scanner that fetches the link
stops nothing). A reply `STOP` reaches `/kabar/masuk/<token>`, the gateway's incoming-message
webhook, when `SMS_INBOUND_TOKEN` is set.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, jsonify, make_response, redirect, render_template, request, url_for

from portal.extensions import csrf, db, limiter
from portal.forms import StopNewsForm
from portal.routes.common import limit, no_store, pii_vault
from portal.services.complaint_changes import code_of_stop_token, stop_news, stop_news_by_reply
from portal.services.complaints import normalise_code

bp = Blueprint("kabar", __name__)


@bp.get("/l/<code>")
@limiter.limit(limit("PAGE_LIMIT"))
def track_link(code: str):
    """The lacak page with the code filled in (looking it up is the visitor's own POST)."""
    return redirect(url_for("complaints.track", kode=normalise_code(code) or ""), code=303)


@bp.route("/s/<token>", methods=["GET", "POST"])
@limiter.limit(limit("PAGE_LIMIT"), methods=["GET"])
@limiter.limit(limit("TRACK_LIMIT"), methods=["POST"])
def stop(token: str):
    """GET: ask to confirm; POST: no more messages to the contact behind this link."""
    if code_of_stop_token(pii_vault(), token) is None:
        abort(404)
    form = StopNewsForm()
    stopped = form.validate_on_submit() and stop_news(db.session, pii_vault(), token)
    return no_store(make_response(render_template("complaints/stop.html", form=form, stopped=stopped)))


@bp.post("/kabar/masuk/<token>")
@csrf.exempt
@limiter.limit(limit("STEP_LIMIT"))
def inbound(token: str):
    """The gateway's webhook for incoming SMS/WhatsApp: a reply STOP stops the messages to that
    number. Off (404) until SMS_INBOUND_TOKEN is set; the token in the URL is the gateway's proof."""
    expected = current_app.config["SMS_INBOUND_TOKEN"]
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        abort(404)
    fields = request.get_json(silent=True) if request.is_json else request.form
    if not hasattr(fields, "get"):  # JSON that is not an object
        fields = {}
    sender = str(fields.get(current_app.config["SMS_INBOUND_SENDER_FIELD"]) or "")
    text = str(fields.get(current_app.config["SMS_INBOUND_TEXT_FIELD"]) or "")
    stop_news_by_reply(db.session, pii_vault(), sender, text)
    return jsonify(status=True)  # the same answer whatever the text: it reveals nothing
