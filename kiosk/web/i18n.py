"""The pages' language: the kiosk's ``[kiosk] language`` (Vietnamese by default), or the one a
visitor or staff member chose with the switch (``POST /lang``), remembered in a cookie.

Every sentence comes from the one catalogue, :mod:`kiosk.messages`; templates call ``t(code, **values)``.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request

from .. import messages
from .context import web_context

LANGUAGES = ("vi", "en")
COOKIE = "lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600

bp = Blueprint("lang", __name__)


def current_language() -> str:
    chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else web_context().config.kiosk.language


def t(code: str, **values) -> str:
    """The sentence for ``code`` in the request's language."""
    return messages.text(code, current_language(), **values)


def catalogue() -> dict[str, str]:
    """Every sentence in the request's language, unformatted, for the page's script."""
    language = current_language()
    return {code: messages.text(code, language) for code in messages.CATALOGUE}


@bp.post("/lang")
def switch_language():
    """Form fields ``language`` (vi, en) and ``next`` (a path on this site to go back to)."""
    language = request.form.get("language")
    target = request.form.get("next", "/")
    # Only a local path: never an open redirect to another site (``//host`` or ``/\host``).
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        target = "/"
    response = redirect(target, code=303)
    if language in LANGUAGES:
        response.set_cookie(COOKIE, language, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="Strict")
    return response
