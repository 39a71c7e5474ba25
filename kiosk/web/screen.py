"""The visitor screen: the full-screen page on the kiosk's display, and its live event stream.

``GET /`` is the page (``GET /?lang=en``: in English, until the page goes back to the venue's
language by itself, see :mod:`kiosk.web.i18n`); ``GET /events`` the Server-Sent Events it listens to (see
:mod:`kiosk.web.live` for the events). Both are for the kiosk's own Chromium: other machines get
403 unless ``[web] screen_from_lan`` is true.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ..health.questions import Unanswered
from .context import web_context
from .i18n import SCREEN_ARG, catalogue, current_language, default_language
from .live import StreamUnavailable
from .security import MAX_UPLOAD_BYTES, refuse

log = logging.getLogger(__name__)

bp = Blueprint("screen", __name__)

#: How soon the browser reconnects after the stream broke.
RETRY_MS = 2000


def local_only():
    """The screen's routes answer only loopback clients unless the config says otherwise."""
    if web_context().config.web.screen_from_lan:
        return None
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return refuse(403, "web_screen_local_only")
    return None


bp.before_request(local_only)


@bp.get("/")
def page():
    ctx = web_context()
    capacity = ctx.config.rules.capacity
    # What the page's scripts need, in a JSON block (the policy allows no inline script).
    page_data = {"messages": catalogue(), "capacity": capacity, "max_upload_bytes": MAX_UPLOAD_BYTES,
                 "result_ms": int(current_app.config["SCREEN_RESULT_S"] * 1000),
                 # A visitor's language: back to the venue's this long after the last result.
                 "language": current_language(), "default_language": default_language(),
                 "language_arg": SCREEN_ARG, "language_ms": int(current_app.config["SCREEN_LANGUAGE_S"] * 1000)}
    return render_template("screen.html", venue=ctx.config.kiosk.venue_name, occupancy=ctx.occupancy(),
                           capacity=capacity, simulated=ctx.simulated, page_data=page_data)


@bp.post("/declaration")
def declaration():
    """The screen's answers to the health declaration's questions: ``{"token": …, "answers":
    {"<question id>": true | false, …}}``. 202: the kiosk checks the visitor in (or not) and the
    outcome follows on the stream; 410: the round is over (replaced, expired); 400: not every
    question answered. Answers are never logged."""
    ctx = web_context()
    if ctx.declaring is None:
        return refuse(404, "declare_expired")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("answers"), dict):
        return refuse(400, "declare_expired")
    try:
        state = ctx.declaring.answer(body.get("token"), body["answers"])
    except Unanswered:
        return refuse(400, "declare_expired")
    if state != "ok":
        return refuse(410, "declare_expired")
    return jsonify(ok=True), 202


@bp.get("/events")
def events():
    ctx = web_context()
    try:
        sub = ctx.feed.subscribe()
    except StreamUnavailable as exc:
        return Response(f"{exc}\n", 503, {"Retry-After": "10"}, mimetype="text/plain")
    heartbeat_s = current_app.config["SSE_HEARTBEAT_S"]
    # The snapshot is read after subscribing, so nothing published meanwhile is missed.
    snapshot = [(event, read()) for event, read in ctx.screen_sources().items()]

    def stream():
        try:
            yield f"retry: {RETRY_MS}\n\n"
            for event, data in snapshot:
                body = json.dumps({**data, "published_at": time.time()}, ensure_ascii=False, separators=(",", ":"))
                yield f"event: {event}\ndata: {body}\n\n"
            while True:
                try:
                    message = sub.next(heartbeat_s)
                except EOFError:        # dropped as too slow, or the kiosk is stopping
                    return
                # A comment line keeps the connection (and any proxy) alive and finds dead clients.
                yield message.sse() if message else ": heartbeat\n\n"
        finally:
            sub.close()

    return Response(stream(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
