"""The console's Flask app (the app factory) over a :class:`Console`: the store and the parts that
use it.

>>> import tempfile
>>> from mqtt.collector.store import open_store
>>> with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite://{tmp}/central.db") as store:
...     console = Console.over(store)
...     token = console.tokens.add("district-7", "reporter")
...     client = create_app(console).test_client()
...     ok = client.get("/api/v1/stats?by=day", headers={"Authorization": f"Bearer {token}"})
...     refused = client.get("/api/v1/contacts?person=cccd:079190000001", headers={"Authorization": f"Bearer {token}"})
...     ok.status_code, ok.json["rows"], refused.status_code, [r.action for r in console.audit.rows()]
(200, [], 403, ['contacts'])
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, g, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ...plumbing.tomlconfig import DEFAULT_TIMEZONE
from ..store import Store
from .accounts import ConsoleUsers
from .admin import admin
from .api import api
from .api_tokens import ApiTokens
from .audit import ConsoleAudit
from .messages import text
from .pages import pages
from .reporting import reporting

log = logging.getLogger("mqtt.collector.console")

__all__ = ["Console", "create_app"]

#: Every answer: nothing from elsewhere, nothing framed, nothing cached (personal data). The
#: referrer goes to the console itself only: Flask-WTF checks it on every form sent over HTTPS.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


class _Sessions(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over HTTPS (the operator's proxy
    says so in X-Forwarded-Proto): never sent back over plain HTTP once the console is behind it."""

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure


@dataclass
class Console:
    """What the console's routes use, over one open central store. clock: wall time, seconds
    (what "now" is for every window, session, code and audit row)."""

    store: Store
    users: ConsoleUsers
    tokens: ApiTokens
    audit: ConsoleAudit
    timezone: str = DEFAULT_TIMEZONE
    clock: Callable[[], float] = time.time

    @classmethod
    def over(cls, store: Store, *, timezone: str = DEFAULT_TIMEZONE, idle_minutes: int = 15,
             max_hours: int = 8, clock: Callable[[], float] = time.time) -> Console:
        return cls(store, ConsoleUsers(store, idle_minutes=idle_minutes, max_hours=max_hours, clock=clock),
                   ApiTokens(store, clock=clock), ConsoleAudit(store, clock=clock), timezone, clock)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)


def create_app(console: Console) -> Flask:
    """The console's Flask app (the app factory).

    Its signing key (sessions, CSRF tokens) is kept in the store, made at the first start, so a
    restart or a second console process keeps everyone signed in. It runs behind the operator's
    HTTPS proxy on the same machine (it listens on loopback only), so the proxy's
    X-Forwarded-For/-Proto are taken as the client's address and scheme."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=console.store.console_setting("secret_key", lambda: secrets.token_hex(32)),
        MAX_CONTENT_LENGTH=64 * 1024,
        SESSION_COOKIE_NAME="console_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        WTF_CSRF_TIME_LIMIT=None,               # as long as the session: it ends on its own terms
    )
    app.session_interface = _Sessions()
    app.json.ensure_ascii = False               # Vietnamese names as they are
    app.json.sort_keys = False                  # in the order built (sorting a case's keys cost 10 %)
    app.extensions["console"] = console
    csrf = CSRFProtect(app)
    app.register_blueprint(api)
    csrf.exempt(api)                            # bearer tokens, no cookies: nothing to forge
    app.register_blueprint(pages)
    app.register_blueprint(reporting)
    app.register_blueprint(admin)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]

    @app.errorhandler(Exception)
    def _store_down(exc):
        # The central store cannot answer (down, full, locked): said, never a bare 500; the API in JSON.
        if isinstance(exc, HTTPException):
            return exc                  # 403, 404, a CSRF refusal: Flask's own answer
        if not console.store.is_down(exc):
            raise exc                   # a bug: Flask answers 500 and logs it
        log.error("console: the central store does not answer: %s", type(exc).__name__)
        if request.path.startswith("/api/"):
            return jsonify({"error": "store_unavailable", "message": "the central store does not answer; "
                            "try again shortly"}), 503
        return render_template("message.html", message=text("store_down", g.get("language", "vi"))), 503

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:           # behind the HTTPS proxy: browsers keep to HTTPS for a year
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    return app
