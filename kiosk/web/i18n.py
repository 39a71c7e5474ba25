"""The pages' language: the kiosk's ``[kiosk] language`` (Vietnamese by default), or the one chosen
with the switch.

- Staff pages: the switch is ``POST /lang``, remembered in a cookie (a staff member's own phone).
- The door screen (and the simulator's panel on it) is shared by every visitor: a visitor's choice
  is ``?lang=`` on that one page (``GET /?lang=en``), never a cookie, and the page goes back to the
  venue's language by itself (:data:`kiosk.web.SCREEN_LANGUAGE_S` after the last result). Nothing
  on the server or in the browser keeps one visitor's language for the next.

Every sentence is looked up with the one lookup, :func:`kiosk.messages.text`, in the language
:func:`current_language` says; templates call ``text(code, language, **values)`` (``language`` is
in every template's context).
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, redirect, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from mqtt.plumbing.wording import LANGUAGES

from .. import messages
from .context import web_context

COOKIE = "lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600

#: The door screen's query parameter, and the blueprints that make up the screen.
SCREEN_ARG = "lang"
SCREEN_BLUEPRINTS = ("screen", "sim")

bp = Blueprint("lang", __name__)


def default_language() -> str:
    return web_context().config.kiosk.language


def current_language() -> str:
    if request.blueprint in SCREEN_BLUEPRINTS:
        chosen = request.args.get(SCREEN_ARG)
    else:
        chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else default_language()


def template_values() -> dict:
    """What every template is given: the one lookup and the request's language."""
    return {"text": messages.text, "language": current_language()}


def catalogue() -> dict[str, str]:
    """Every sentence in the request's language, unformatted, for the page's script."""
    language = current_language()
    return {code: messages.text(code, language) for code in messages.CATALOGUE}


#: What a path of this app is made of: no scheme, host, query, backslash, space or control character
#: (browsers drop tabs and newlines from a URL, so "/\t/evil.example" would read as "//evil.example").
_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)*/?")


def local_path(target: str) -> str:
    """``target`` when it is a page of this app (a path its routes answer with GET), else ``/``:
    never a redirect to another site, never a header the server cannot write."""
    if not _PATH.fullmatch(target) or not target:
        return "/"
    try:
        current_app.url_map.bind("localhost").match(target, method="GET")
    except RequestRedirect:
        return target               # a folder without its trailing slash: still this app's page
    except HTTPException:
        return "/"
    return target


@bp.post("/lang")
def switch_language():
    """Form fields ``language`` (vi, en) and ``next`` (a path on this site to go back to)."""
    language = request.form.get("language")
    response = redirect(local_path(request.form.get("next", "")), code=303)
    if language in LANGUAGES:
        response.set_cookie(COOKIE, language, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="Strict")
    return response
