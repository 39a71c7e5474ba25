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

from dataclasses import dataclass

from flask import Flask

from ..store import Store
from .accounts import ConsoleUsers
from .api import api
from .api_tokens import ApiTokens
from .audit import ConsoleAudit

__all__ = ["Console", "create_app"]

#: Every answer: nothing from elsewhere, nothing framed, nothing cached (personal data).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@dataclass
class Console:
    """What the console's routes use, over one open central store."""

    store: Store
    users: ConsoleUsers
    tokens: ApiTokens
    audit: ConsoleAudit
    timezone: str = "Asia/Ho_Chi_Minh"

    @classmethod
    def over(cls, store: Store, *, timezone: str = "Asia/Ho_Chi_Minh", idle_minutes: int = 15,
             max_hours: int = 8) -> Console:
        return cls(store, ConsoleUsers(store, idle_minutes=idle_minutes, max_hours=max_hours), ApiTokens(store),
                   ConsoleAudit(store), timezone)


def create_app(console: Console) -> Flask:
    """The console's Flask app (the app factory)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.json.ensure_ascii = False               # Vietnamese names as they are
    app.extensions["console"] = console
    app.register_blueprint(api)

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
