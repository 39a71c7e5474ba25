"""What every response and every POST of the kiosk's web app goes through.

- Headers: a Content-Security-Policy that allows only this site's own files (no inline script or
  style: pages hand data to their scripts in ``<script type="application/json">`` blocks), no
  framing, no sniffing, no referrer, no powerful browser features; HTML, JSON and event streams
  are never cached (they can show masked names, and staff pages more).
- CSRF: Flask-WTF's token on every POST, in a form field or an ``X-CSRFToken`` header.
- The session key: generated once into ``<data_dir>/web-secret`` (0600), so sessions and
  tokens outlive a restart.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, jsonify, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge

from ..keys import key_file
from ..messages import text
from .i18n import current_language

log = logging.getLogger(__name__)

SECRET_FILE = "web-secret"
#: The simulator's image upload, the one large body (loopback only, simulation only).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024      # the upload and its multipart framing
#: A form: a login, a PIN, a declaration, a phone number with its household (a few hundred bytes;
#: the largest, a declaration with a long address, stays under 4 KB).
FORM_BYTES = 16 * 1024
#: A form that lists chosen rows: "who is inside" checks out any number of visits at once
#: (~45 bytes a visit: thousands of visits).
LIST_FORM_BYTES = 256 * 1024
#: Each route's bound on a request body, by endpoint; every other route takes FORM_BYTES.
BODY_LIMITS = {"sim.present": MAX_REQUEST_BYTES, "staff.inside_check_out": LIST_FORM_BYTES}

CSP = ("default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
NO_STORE_TYPES = ("text/html", "application/json", "text/event-stream")

csrf = CSRFProtect()


def secure(app: Flask, data_dir: Path) -> None:
    app.config.update(
        SECRET_KEY=key_file(data_dir / SECRET_FILE),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # Secure: the LAN is served over HTTPS only, and browsers count http://127.0.0.1 (the kiosk's
        # own screen) as a secure origin, so the cookie works there too.
        SESSION_COOKIE_SECURE=True,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=LIST_FORM_BYTES,
        # The kiosk's screen stays open for weeks: a token lives as long as the browser's session.
        WTF_CSRF_TIME_LIMIT=None,
        # Pages send no referrer (the policy above), so Flask-WTF's HTTPS-only referrer comparison
        # would refuse every POST over HTTPS; the token (bound to the SameSite=Strict session) stays.
        WTF_CSRF_SSL_STRICT=False,
    )
    # Before the CSRF check, which reads the form: a body over its route's bound is never parsed.
    app.before_request(_bound_body)
    csrf.init_app(app)
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(RequestEntityTooLarge, _too_large)


def body_limit(endpoint: str | None) -> int:
    """The largest request body the route ``endpoint`` takes (None: no route, a 404 to come)."""
    return BODY_LIMITS.get(endpoint or "", FORM_BYTES)


def largest_body(app: Flask) -> int:
    """The largest body any route of ``app`` takes: the server reads nothing larger."""
    return max(body_limit(endpoint) for endpoint in app.view_functions)


def _bound_body():
    """Refuse a body over its route's bound by its Content-Length, before anything reads it; a
    body without one (chunked) is cut at the bound as it is read."""
    limit = body_limit(request.endpoint)
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        return too_large(limit)
    return None


def too_large(limit: int):
    if limit >= 2**20:
        return refuse(413, "web_too_large", mb=limit // 2**20)
    return refuse(413, "web_body_too_large", kb=limit // 1024)


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def refuse(status: int, code: str, **values):
    """An error the page's script or a person can read: JSON for fetch, else a short text page."""
    message = text(code, current_language(), **values)
    if wants_json():
        return jsonify(ok=False, error=code, message=message), status
    return message, status, {"Content-Type": "text/plain; charset=utf-8"}


def _headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype in NO_STORE_TYPES:
        response.headers["Cache-Control"] = "no-store"
    return response


def _csrf_failed(error: CSRFError):
    return refuse(400, "web_csrf_failed")


def _too_large(error: RequestEntityTooLarge):
    return too_large(body_limit(request.endpoint))
