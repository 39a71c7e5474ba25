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
import secrets
from pathlib import Path

from flask import Flask, jsonify, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge

from hardware.atomic import write_atomically

from .i18n import t

log = logging.getLogger(__name__)

SECRET_FILE = "web-secret"
SECRET_HEX_CHARS = 64
#: No request needs more (the simulator's image upload is the largest).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024      # the upload and its multipart framing

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
        SECRET_KEY=secret_key(data_dir / SECRET_FILE),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        # The kiosk's screen stays open for weeks: a token lives as long as the browser's session.
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(RequestEntityTooLarge, _too_large)


def secret_key(path: Path) -> bytes:
    """The key in ``path``; made on first use (0600, written whole or not at all). A damaged file
    (a power cut at the first start) is replaced: that ends open sessions, never the kiosk."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        key = None
    if key is not None and len(key) >= SECRET_HEX_CHARS:
        return key
    if key is not None:
        log.warning("web: %s is damaged: making a new one (open sessions end)", path)
    key = secrets.token_hex(SECRET_HEX_CHARS // 2).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, key)                                                 # 0600
    return key


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def refuse(status: int, code: str, **values):
    """An error the page's script or a person can read: JSON for fetch, else a short text page."""
    message = t(code, **values)
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
    return refuse(413, "web_too_large", mb=MAX_UPLOAD_BYTES // 2**20)
