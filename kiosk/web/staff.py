"""The staff pages (``/staff/…``): log in, check people in and out by phone number, declare
someone on their behalf, see who is inside, close the day, the day's figures.

Served to the venue's LAN as well as the kiosk itself, so:

- every page but the login needs a live session (a random token in the signed session cookie,
  checked against the store: logging out ends it at once); a one-time PIN must be replaced first;
- every form carries a CSRF token (:mod:`kiosk.web.security`);
- personal data never goes into a URL (phone numbers travel in POST bodies only) or a log line;
- every action is audited and carried in the events as ``staff_id``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import wraps

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from mqtt.masking import mask_name

from ..credentials.phone import PhoneError, mask_phone, normalise_phone
from ..staff.accounts import AccountError
from ..staff.people import DeclarationError, PhoneFull, parse_declaration
from ..staff.throttle import is_kiosk_screen
from .context import web_context
from .i18n import t

log = logging.getLogger(__name__)

bp = Blueprint("staff", __name__, url_prefix="/staff")

SESSION_KEY = "staff_token"


def services():
    return web_context().staff


@bp.context_processor
def _page_values():
    ctx = web_context()
    printer = ctx.printer()
    problem = t(f"printer_{printer}") if printer in ("offline", "no_paper", "paper_low", "error") else None
    return {"venue_name": ctx.config.kiosk.venue_name, "printer_problem": problem}


# -- sessions ---------------------------------------------------------------------------------

@bp.before_request
def load_staff():
    token = session.get(SESSION_KEY)
    g.staff = services().accounts.session(token) if token else None
    g.session_ended = bool(token) and g.staff is None


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.staff is None:
            session.pop(SESSION_KEY, None)
            return redirect(url_for("staff.login", ended=1 if g.session_ended else None), code=303)
        if g.staff.must_change and request.endpoint != "staff.change_pin":
            return redirect(url_for("staff.change_pin"), code=303)
        return view(*args, **kwargs)
    return wrapper


@bp.route("/login", methods=["GET", "POST"])
def login():
    """One answer (401, the same page) for an unknown name, a wrong PIN and a locked account; a
    device that tried too often is told at once how long to wait (429, Retry-After)."""
    error = t("session_ended") if request.args.get("ended") else None
    if request.method == "POST":
        s, name = services(), request.form.get("name", "")
        result = s.accounts.login(name, request.form.get("pin", ""), client=request.remote_addr)
        if result.ok:
            session.clear()
            session[SESSION_KEY] = s.accounts.open_session(result.staff.staff_id)
            s.audit.record(result.staff.staff_id, "login")
            target = "staff.change_pin" if result.must_change else "staff.home"
            return redirect(url_for(target), code=303)
        if result.retry_after_s:
            code = "login_busy" if result.reason == "busy" else "login_throttled"
            return (_login_page(t(code, seconds=result.retry_after_s), name), 429,
                    {"Retry-After": str(result.retry_after_s)})
        return _login_page(t("bad_login"), name), 401
    return _login_page(error, "")


def _login_page(error: str | None, name: str) -> str:
    # On the kiosk's own screen only: say that nobody can log in yet, and how to change that.
    none_yet = is_kiosk_screen(request.remote_addr) and services().accounts.count() == 0
    return render_template("staff_login.html", error=error, name=name, none_yet=none_yet)


@bp.post("/logout")
def logout():
    token = session.pop(SESSION_KEY, None)
    if g.staff is not None:
        services().audit.record(g.staff.staff_id, "logout")
    services().accounts.close_session(token)
    return redirect(url_for("staff.login"), code=303)


@bp.route("/pin", methods=["GET", "POST"])
@login_required
def change_pin():
    error = None
    if request.method == "POST":
        pin, again = request.form.get("pin", ""), request.form.get("pin_again", "")
        try:
            if pin != again:
                raise AccountError("pin_mismatch")
            services().accounts.change_pin(g.staff.staff_id, pin)
        except AccountError as exc:
            error = t(exc.code)
        else:
            services().audit.record(g.staff.staff_id, "pin_changed")
            return redirect(url_for("staff.home"), code=303)
    return render_template("staff_pin.html", error=error, first=g.staff.must_change), 400 if error else 200


# -- by phone number --------------------------------------------------------------------------

@bp.get("/")
@login_required
def home():
    return render_template("staff_phone.html", phone="", members=None, error=None, results=None)


@bp.post("/phone")
@login_required
def phone():
    """Look up a phone number, or check chosen members of its household in or out."""
    raw = request.form.get("phone", "")
    try:
        number = normalise_phone(raw)
    except PhoneError as exc:
        return render_template("staff_phone.html", phone=raw, members=None, results=None,
                               error=t(exc.code, **exc.values)), 400
    s, action = services(), request.form.get("action", "lookup")
    chosen = request.form.getlist("person")
    results = None
    if action in ("check_in", "check_out") and chosen:
        done = (s.desk.check_in if action == "check_in" else s.desk.check_out)(g.staff, number, chosen)
        results = [_result(person.name, outcome) for person, outcome in done]
    elif action == "revoke" and chosen:
        results = [{"ok": True, "text": t("staff_revoked_n", n=s.desk.revoke(g.staff, number, chosen))}]
    members = s.desk.household(number)
    return render_template("staff_phone.html", phone=number, members=members, results=results, error=None,
                           masked_phone=mask_phone(number), full=len(members) >= s.desk.people.max_per_phone)


def _result(name: str, outcome) -> dict:
    """One line of "what happened" for the staff member (they see the full name: they just typed it)."""
    if outcome.accepted:
        at = datetime.fromisoformat(outcome.at).strftime("%H:%M")
        return {"ok": True, "text": t(outcome.kind, name=name, time=at)}
    return {"ok": False, "text": f"{name}: {t(outcome.reason or 'unknown_format')}"}


# -- declaring on someone's behalf ------------------------------------------------------------

@bp.route("/declare", methods=["GET", "POST"])
@login_required
def declare():
    form = request.form if request.method == "POST" else {}
    if request.method == "GET" or form.get("prefill"):
        return render_template("staff_declare.html", form=form, error=None, field=None)
    try:
        declaration = parse_declaration(form)
        person, new, outcome = services().desk.declare(g.staff, declaration)
    except DeclarationError as exc:
        return render_template("staff_declare.html", form=form, field=exc.field,
                               error=t(exc.code, **exc.values)), 400
    except PhoneFull as exc:
        return render_template("staff_declare.html", form=form, field="phone",
                               error=t("phone_full", limit=exc.limit)), 409
    result = _result(person.name, outcome) if outcome else {"ok": True, "text": t("staff_already_inside",
                                                                                 name=person.name)}
    return render_template("staff_declared.html", person=person, new=new, result=result, printed=False)


@bp.post("/card")
@login_required
def card():
    """Queue a personal QR card for a registered person (the printer prints it when it can)."""
    queued = services().desk.print_card(g.staff, request.form.get("person_id", ""))
    if queued is None:
        return render_template("staff_message.html", ok=False, text=t("staff_no_such_person")), 404
    _, person = queued
    return render_template("staff_message.html", ok=True, text=t("staff_card_queued", name=mask_name(person.name)))


# -- who is inside ----------------------------------------------------------------------------

@bp.get("/inside")
@login_required
def inside():
    return render_template("staff_inside.html", visits=_inside(), done=None)


def _inside() -> list[dict]:
    tz = services().desk.desk.clock.tz
    return [{**v, "time": datetime.fromisoformat(v["check_in_at"]).astimezone(tz).strftime("%H:%M")}
            for v in services().desk.inside()]


@bp.post("/inside")
@login_required
def inside_check_out():
    s, action, chosen = services(), request.form.get("action"), request.form.getlist("visit")
    if action == "print":
        done = t("staff_slips_queued_n", n=s.desk.print_slips(g.staff, chosen))
    elif action == "everyone":
        done = t("staff_checked_out_n", n=s.desk.check_out_everyone(g.staff))
    else:
        done = t("staff_checked_out_n", n=s.desk.check_out_visits(g.staff, chosen))
    return render_template("staff_inside.html", visits=_inside(), done=done)


# -- today ------------------------------------------------------------------------------------

@bp.get("/today")
@login_required
def today():
    figures = services().desk.today()
    return render_template("staff_today.html", f=figures, chart=hour_chart(figures["check_ins_by_hour"]),
                           reasons=[(t(code), n) for code, n in figures["refusals"].items()])


def hour_chart(per_hour: list[int], *, first: int = 5, last: int = 22) -> dict:
    """Bars for an inline SVG (no script, no inline style): the opening hours, widened to any
    hour that had check-ins."""
    busy = [h for h, n in enumerate(per_hour) if n]
    lo, hi = min([first, *busy]), max([last, *busy])
    top = max(per_hour[lo:hi + 1] + [1])
    width, height, gap = 20, 120, 4
    bars = []
    for i, hour in enumerate(range(lo, hi + 1)):
        h = round(height * per_hour[hour] / top)
        bars.append({"x": i * (width + gap), "y": height - h, "h": h, "hour": hour, "n": per_hour[hour]})
    return {"bars": bars, "width": len(bars) * (width + gap), "height": height, "bar": width, "top": top}
