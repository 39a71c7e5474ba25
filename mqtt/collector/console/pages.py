"""The console's pages, in Vietnamese by default (English one click away): signing in with a password
and an authenticator code, the first login's new password, and each role's home; a tracer opens a
case by identity or phone number and sees the person's visits and contacts.

No personal data in a URL or the browser's history: a search is a POST, and a case's page is at an
opaque id (``/cases/<random>``) that only a tracer can open. Every form carries a CSRF token; every
case opened or viewed is audited with how many contacts it showed.
"""

from __future__ import annotations

import functools
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for

from ...plumbing.wording import LANGUAGES
from ...wire.event import PERSON_ID, canonical_phone
from ...wire.ids import ID
from ...wire.masking import mask_id
from .. import queries
from ..store import TRACE_PHONE
from . import export
from .accounts import AccountError
from .messages import CATALOGUE, text
from .roles import ADMIN, FIGURES, FLEET, PERSONAL_DATA, rights

pages = Blueprint("pages", __name__)

#: What a tracer opens a case by (the event contract's kinds, and the phone staff check in by).
CASE_KINDS = ("cccd", "bhyt", "national_qr", "kiosk_card", TRACE_PHONE)
#: ... and what they search by: a name lists the people of that name to open a case of.
NAME = "name"
SEARCH_KINDS = (*CASE_KINDS, NAME)
NAME_MAX = 100
NOTE_MAX = 500
#: The latest cases a tracer's home lists.
CASES_LISTED = 20
#: A kiosk not heard from, or with an event waiting, for longer than this stands out on the fleet page.
STALE_S = 3600
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _console():
    return current_app.extensions["console"]


@pages.before_app_request
def _who_and_language():
    language = request.cookies.get("lang")
    g.language = language if language in LANGUAGES else "vi"
    g.user = _console().users.session(session.get("sid"))
    g.rights = rights(g.user.roles) if g.user else frozenset()


@pages.app_context_processor
def _helpers():
    zone = ZoneInfo(_console().timezone)

    def local(iso_time, fmt="%d/%m/%Y %H:%M"):
        return datetime.fromisoformat(iso_time).astimezone(zone).strftime(fmt) if iso_time else ""

    def duration(seconds):
        minutes = round(seconds / 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes:02d}" if hours else f"{minutes} min"

    def declared(declaration):
        """A visit's health declaration in a line: flagged or not, the "yes" answers, where and when."""
        language = g.get("language", "vi")
        if not declaration:
            return text("declaration_none", language)
        yes = [text(f"question_{q}", language) if f"question_{q}" in CATALOGUE else q
               for q, answer in declaration["answers"].items() if answer]
        parts = [text("declaration_flagged" if declaration["flagged"] else "declaration_clear", language)]
        if yes:
            parts.append(text("declaration_yes", language, answers=", ".join(yes)))
        parts.append(text(f"declaration_via_{declaration['via']}", language, time=local(declaration["made_at"])))
        return " · ".join(parts)

    return {"text": text, "language": g.get("language", "vi"), "local": local, "duration": duration,
            "declared": declared,
            "mask_id": mask_id, "rights": g.get("rights", frozenset()),
            "PERSONAL_DATA": PERSONAL_DATA, "FIGURES": FIGURES, "FLEET": FLEET, "ADMIN": ADMIN}


def signed_in(right: str | None = None):
    """The route needs a live session (else the login page), a replaced one-time password (else the
    password page) and, given ``right``, a role that has it (else 403)."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            if g.user is None:
                return redirect(url_for("pages.login"))
            if g.user.must_change:
                return redirect(url_for("pages.password"))
            if right is not None and right not in g.rights:
                return render_template("message.html", message=text("no_role", g.language)), 403
            return view(*args, **kwargs)
        return inner
    return wrap


def _audit(action: str, **values) -> None:
    _console().audit.record(f"user:{g.user.name}", action, client=request.remote_addr, **values)


# -- signing in and out -------------------------------------------------------------------------

@pages.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        result = _console().users.login(request.form.get("name", ""), request.form.get("password", ""),
                                        request.form.get("code", ""), client=request.remote_addr)
        if result.ok:
            old = session.get("sid")
            _console().users.close_session(old)
            session.clear()
            session["sid"] = _console().users.open_session(result.user.user_id)
            return redirect(url_for("pages.password" if result.user.must_change else "pages.home"))
        error = (text("login_throttled", g.language, seconds=result.retry_after_s) if result.reason == "throttled"
                 else text("login_busy", g.language) if result.reason == "busy" else text("login_bad", g.language))
        status = 429 if result.reason in ("throttled", "busy") else 401
        return render_template("login.html", error=error), status
    return render_template("login.html", error=error)


@pages.post("/logout")
def logout():
    _console().users.close_session(session.get("sid"))
    session.clear()
    return redirect(url_for("pages.login"))


@pages.route("/password", methods=["GET", "POST"])
def password():
    if g.user is None:
        return redirect(url_for("pages.login"))
    error = None
    if request.method == "POST":
        new = request.form.get("new", "")
        if new != request.form.get("repeat", ""):
            error = text("password_mismatch", g.language)
        else:
            try:
                _console().users.change_password(g.user.user_id, request.form.get("current", ""), new)
            except AccountError as exc:
                error = text("password_refused", g.language, why=str(exc))
            else:
                session.clear()         # every session of the user ended with the change
                return render_template("message.html", message=text("password_saved", g.language),
                                       link=url_for("pages.login"))
    return render_template("password.html", error=error, first=g.user.must_change), 400 if error else 200


@pages.post("/lang")
def switch_language():
    language = request.form.get("language")
    target = request.form.get("next", "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/"
    response = redirect(target)
    if language in LANGUAGES:
        response.set_cookie("lang", language, max_age=365 * 24 * 3600, samesite="Strict", httponly=True,
                            secure=request.is_secure)
    return response


# -- each role's home -----------------------------------------------------------------------------

@pages.get("/")
@signed_in()
def home():
    return _home()


def _home(*, error: str | None = None, exposure_error: str | None = None, named: list[dict] | None = None,
          days: int = queries.DEFAULT_TRACE_DAYS):
    """The user's home, with the sections their roles see (and a refused form's reason)."""
    console = _console()
    today = console.now().astimezone(ZoneInfo(console.timezone)).date()
    # the last week's figures per province (the figures page goes down to each venue)
    figures = (queries.figures(console.store, level="province", tz=console.timezone, today=today)
               if FIGURES in g.rights else None)
    fleet = queries.fleet(console.store, now=console.now()) if FLEET in g.rights else None
    letters = queries.dead_letters(console.store, limit=20) if FLEET in g.rights else None
    users = console.users.list() if ADMIN in g.rights else None
    tracing = PERSONAL_DATA in g.rights
    cases = console.store.case_rows(limit=CASES_LISTED) if tracing else []
    user_names = {u.user_id: u.name for u in console.users.list()} if cases else {}
    audit = console.audit.rows(limit=20) if ADMIN in g.rights else None
    page = render_template("home.html", kinds=SEARCH_KINDS, named=named, search_days=days, figures=figures,
                           fleet=fleet, letters=letters, users=users,
                           audit=audit, error=error, exposure_error=exposure_error, cases=cases,
                           user_names=user_names, venues=console.store.venue_list() if tracing else [],
                           stale_s=STALE_S)
    return page, 400 if error or exposure_error else 200


# -- cases ------------------------------------------------------------------------------------------

@pages.post("/cases")
@signed_in(PERSONAL_DATA)
def open_case():
    kind, person_id = request.form.get("kind", ""), request.form.get("id", "").strip()
    days_text = request.form.get("days", str(queries.DEFAULT_TRACE_DAYS))
    days = int(days_text) if days_text.isascii() and days_text.isdigit() and 1 <= int(days_text) <= 60 else None
    if kind == NAME:
        return _search_name(person_id, days)
    try:
        if kind == TRACE_PHONE:
            person_id = canonical_phone(person_id)
        valid = kind in CASE_KINDS and days is not None and bool(PERSON_ID.fullmatch(person_id))
    except ValueError:
        valid = False
    if not valid:
        return _home(error=text("search_bad", g.language))
    case_id = secrets.token_urlsafe(16)
    console = _console()
    console.store.insert_case(case_id=case_id, person=f"{kind}:{person_id}", days=days, opened_by=g.user.user_id,
                              opened_at=console.now())
    return redirect(url_for("pages.case", case_id=case_id), code=303)


def _search_name(name: str, days: int | None):
    """The people checked in under a name, to open a case of one (audited: how many, never the name)."""
    if days is None or not 2 <= len(name) <= NAME_MAX or not name.isprintable():
        return _home(error=text("search_name_bad", g.language))
    named = queries.persons_named(_console().store, name)
    _audit("search_name", query={"days": days}, results=len(named))
    return _home(named=named, days=days)


@pages.post("/exposure")
@signed_in(PERSONAL_DATA)
def exposure():
    """A venue exposure: everyone at a venue on a day between two times (``Chợ X, 08:00-11:00 on
    12/8``), longest there first; audited with the venue, the window and how many people."""
    console = _console()
    zone = ZoneInfo(console.timezone)
    venue = request.form.get("venue", "").strip()
    try:
        day = datetime.strptime(request.form.get("day", ""), "%Y-%m-%d").date()
        start = datetime.combine(day, datetime.strptime(request.form.get("from", ""), "%H:%M").time(), zone)
        end = datetime.combine(day, datetime.strptime(request.form.get("to", ""), "%H:%M").time(), zone)
        valid = bool(ID.fullmatch(venue)) and start < end
    except ValueError:
        valid = False
    if not valid:
        return _home(exposure_error=text("exposure_bad", g.language))
    people = queries.presence(console.store, venue, start, end, now=console.now())
    _audit("presence", query={"venue": venue, "from": start.isoformat(), "to": end.isoformat()}, results=len(people))
    return render_template("exposure.html", venue=venue, start=start, end=end, people=people)


def _case_or_404(case_id: str):
    row = _console().store.case_row(case_id) if len(case_id) <= 64 else None
    if row is None:
        abort(404)
    return row


@pages.get("/cases/<case_id>")
@signed_in(PERSONAL_DATA)
def case(case_id: str):
    row = _case_or_404(case_id)
    kind, _, person_id = row.person.partition(":")
    console = _console()
    found = queries.case(console.store, kind, person_id, row.days, now=console.now())
    _audit("case_view", person=row.person, query={"case": case_id, "days": row.days}, results=len(found["contacts"]))
    venue_names = {v.venue_id: v.name for v in console.store.venue_list() if v.name}
    return render_template("case.html", case=row, kind=kind, person_id=person_id, found=found,
                           venue_names=venue_names)


@pages.get("/cases/<case_id>/contacts.<fmt>")
@signed_in(PERSONAL_DATA)
def case_export(case_id: str, fmt: str):
    """The contact list for the calling teams, as XLSX or CSV; audited as an export."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    row = _case_or_404(case_id)
    kind, _, person_id = row.person.partition(":")
    console = _console()
    found = queries.case(console.store, kind, person_id, row.days, now=console.now())
    rows = export.contact_rows(found, console.timezone)
    _audit("export", person=row.person, query={"case": case_id, "days": row.days, "format": fmt}, results=len(rows))
    day = console.now().astimezone(ZoneInfo(console.timezone)).strftime("%Y-%m-%d")
    if fmt == "csv":
        body, mime = export.as_csv(rows), "text/csv; charset=utf-8"
    else:
        name = (found["person"] or {}).get("name") or ""
        body = export.as_xlsx(rows, f"Người tiếp xúc của {name} ({kind}:{person_id}), {row.days} ngày đến {day}")
        mime = XLSX
    response = current_app.response_class(body, mimetype=mime)
    response.headers["Content-Disposition"] = f'attachment; filename="tiep-xuc-{day}.{fmt}"'
    return response


@pages.post("/cases/<case_id>/handled")
@signed_in(PERSONAL_DATA)
def case_handled(case_id: str):
    row = _case_or_404(case_id)
    note = " ".join("".join(ch for ch in request.form.get("note", "") if ch.isprintable() or ch.isspace()).split())
    note = note[:NOTE_MAX]
    _console().store.mark_case_handled(case_id, by=g.user.name, note=note, at=_console().now())
    _audit("case_handled", person=row.person, query={"case": case_id})
    return redirect(url_for("pages.case", case_id=case_id), code=303)


@pages.app_errorhandler(404)
def _not_found(exc):
    return render_template("message.html", message=text("not_found", g.get("language", "vi"))), 404
