"""The staff pages (``/staff/…``): log in, check people in and out by phone number, declare
someone on their behalf, see who is inside, close the day, the day's figures.

Served to the venue's LAN as well as the kiosk itself, so:

- every page but the login needs a live session (a random token in the signed session cookie,
  checked against the store: logging out ends it at once); a one-time PIN must be replaced first;
- every form carries a CSRF token (:mod:`kiosk.web.security`);
- personal data never goes into a URL (phone numbers travel in POST bodies only) or a log line;
- every action is audited and carried in the events as ``staff_id``;
- on a store that cannot write (a full disk), an action is not done and the page says so in staff
  wording, 503 with Retry-After (:func:`store_unavailable`): never an error page of the server.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from functools import wraps

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from mqtt.wire.masking import mask_name

from ..credentials.phone import PhoneError, mask_phone, normalise_phone
from ..health.questions import Unanswered
from ..lan import is_kiosk_screen
from ..messages import text
from ..staff.accounts import AccountError
from ..staff.people import DeclarationError, PhoneFull, parse_declaration
from ..staff.phone_codes import LET_IN_REASONS, NO_SMS, SUGGESTED_REASON, VERIFIED, unverified
from ..store import StoreUnavailable
from .context import web_context
from .i18n import current_language

log = logging.getLogger(__name__)

bp = Blueprint("staff", __name__, url_prefix="/staff")

SESSION_KEY = "staff_token"
#: Seconds a page of an action the store could not write asks to wait (the door's probe runs every few).
RETRY_AFTER_S = 10


def services():
    return web_context().staff


@bp.context_processor
def _page_values():
    ctx = web_context()
    printer = ctx.printer()
    problem = (text(f"printer_{printer}", current_language())
               if printer in ("offline", "no_paper", "paper_low", "error") else None)
    # health: the venue's health declaration policy (its questions on the declare and phone pages)
    return {"venue_name": ctx.config.kiosk.venue_name, "printer_problem": problem,
            "flagged_inside": _flagged_inside(), "health": ctx.staff.desk.health if ctx.staff else None}


def _flagged_inside() -> int:
    """People inside admitted flagged by their health declaration (every staff page says so)."""
    if getattr(g, "staff", None) is None:
        return 0
    try:
        return services().desk.flagged_inside()
    except StoreUnavailable:
        return 0


@bp.errorhandler(StoreUnavailable)
def store_unavailable(exc: StoreUnavailable):
    """Any staff page whose writes the store refused: nothing was recorded (each action is one
    transaction), said in staff wording; the store's reason goes to the log, never a traceback."""
    log.error("staff page %s: nothing recorded, the store cannot be written (%s)", request.endpoint, exc.reason)
    message = text("staff_store_unavailable", current_language())
    return (render_template("staff_message.html", ok=False, message=message), 503,
            {"Retry-After": str(RETRY_AFTER_S)})


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
    error = text("session_ended", current_language()) if request.args.get("ended") else None
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
            return (_login_page(text(code, current_language(), seconds=result.retry_after_s), name), 429,
                    {"Retry-After": str(result.retry_after_s)})
        return _login_page(text("bad_login", current_language()), name), 401
    return _login_page(error, "")


def _login_page(error: str | None, name: str) -> str:
    # On the kiosk's own screen only: say that nobody can log in yet, and how to change that.
    try:
        none_yet = is_kiosk_screen(request.remote_addr) and services().accounts.count() == 0
    except StoreUnavailable:
        none_yet = False                    # the page still shows (the storage problem is said elsewhere)
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
            error = text(exc.code, current_language())
        else:
            services().audit.record(g.staff.staff_id, "pin_changed")
            return redirect(url_for("staff.home"), code=303)
    return render_template("staff_pin.html", error=error, first=g.staff.must_change), 400 if error else 200


# -- by phone number --------------------------------------------------------------------------

@bp.get("/")
@login_required
def home():
    return render_template("staff_phone.html", phone="", members=None, error=None, results=None, code=None,
                           chosen=())


@bp.post("/phone")
@login_required
def phone():
    """Look up a phone number, or act for chosen members of its household: check in (with the
    kiosk's codes on: text a one-time code first, then check in once the code read out is typed
    in, or without it and with a reason), check out, take off the number."""
    raw = request.form.get("phone", "")
    try:
        number = normalise_phone(raw)
    except PhoneError as exc:
        return render_template("staff_phone.html", phone=raw, members=None, results=None, code=None, chosen=(),
                               error=text(exc.code, current_language(), **exc.values)), 400
    s, action, language = services(), request.form.get("action", "lookup"), current_language()
    chosen = list(dict.fromkeys(request.form.getlist("person")))
    results, error, code, done, check, asking, then = None, None, None, None, None, None, ""
    declared: list = []
    if action == "health_save" and chosen:
        members = {m.person.person_id: m for m in s.desk.household(number)}
        try:
            answers = _household_answers(request.form, [members[i] for i in chosen if i in members])
        except HealthUnanswered as exc:
            error, asking, then = exc.message, exc.members, request.form.get("then", "")
        else:
            declared = s.desk.declare_health(g.staff, number, answers)
            results = [_declared_line(m) for m in declared]
            if request.form.get("then") == "check_in":
                action = "check_in"         # and on with the check-in they were declared for
    if error:
        pass                            # the health form was left incomplete: it is shown again
    elif action in ("check_in", "check_out", "revoke", "send_code", "confirm", "unverified", "health",
                    "health_save") and not chosen:
        error = text("staff_nobody_chosen", language)
    elif action == "health":
        asking = [m for m in s.desk.household(number) if m.person.person_id in chosen]
    elif action == "check_in" and (undeclared := s.desk.undeclared(number, chosen)):
        asking, then = undeclared, "check_in"       # the venue asks a declaration of them first
    elif action == "check_in" and s.codes.enabled and _anyone_outside(s.desk.household(number), chosen):
        code = _send_code(s, number)
    elif action == "send_code":
        code = _send_code(s, number)
    elif action == "confirm":
        checked = s.codes.check(g.staff.staff_id, number, request.form.get("otp", ""))
        if checked == "ok":
            check = VERIFIED
            done = s.desk.check_in(g.staff, number, chosen, phone_check=check)
        else:
            code = {"sent": True, "tone": "bad", "message": text(f"staff_code_{checked}", language),
                    "reason": SUGGESTED_REASON.get(checked)}
    elif action == "unverified":
        try:
            check = unverified(request.form.get("reason", ""))
        except ValueError:
            code = {"sent": True, "tone": "bad", "message": text("staff_reason_missing", language), "reason": None}
        else:
            done = s.desk.check_in(g.staff, number, chosen, phone_check=check)
    elif action == "check_in":          # codes are off here (or everyone chosen is inside already)
        done = s.desk.check_in(g.staff, number, chosen, phone_check=None if s.codes.enabled else NO_SMS)
    elif action == "check_out":
        done = s.desk.check_out(g.staff, number, chosen)
    elif action == "revoke":
        revoked = s.desk.revoke(g.staff, number, chosen)
        results = [{"ok": True, "text": text("staff_revoked_n", language, n=revoked)}]
    members = s.desk.household(number)
    if done is not None:
        results = ([_declared_line(m) for m in declared] + [_result(r) for r in done]
                   + _flagged_notes(done, members) + _phone_check_note(done, check))
    page = render_template("staff_phone.html", phone=number, members=members, results=results, error=error,
                           code=code, chosen=chosen if code or asking else (), reasons=LET_IN_REASONS,
                           masked_phone=mask_phone(number), full=len(members) >= s.desk.people.max_per_phone,
                           asking=asking, then=then, form=request.form)
    if done is not None and any(r.code == "not_recorded" for r in done):     # the store could not write it
        return page, 503, {"Retry-After": str(RETRY_AFTER_S)}
    if code is not None and code.get("retry_after_s"):
        return page, 429, {"Retry-After": str(code["retry_after_s"])}
    refused = code is not None and action in ("confirm", "unverified")     # a wrong code, no reason
    return page, 400 if error or refused else 200


class HealthUnanswered(ValueError):
    """Not every question answered for someone: ``message`` names them; ``members``: whom to ask."""

    def __init__(self, message: str, members: list):
        super().__init__(message)
        self.message, self.members = message, members


def _household_answers(form, members: list) -> dict[str, dict[str, bool]]:
    """Each chosen member's answers from the health form (fields ``h_<person id>_<question id>``)."""
    questions = services().desk.health.questions
    answers = {}
    for m in members:
        prefix = f"h_{m.person.person_id}_"
        try:
            answers[m.person.person_id] = questions.answers({q: form.get(prefix + q) for q in questions.ids})
        except Unanswered:
            raise HealthUnanswered(text("staff_health_unanswered", current_language(), name=m.person.name),
                                   members) from None
    return answers


def _declared_line(member) -> dict:
    """What saving a member's health declaration said: saved, or flagged (the medical desk)."""
    name = member.person.name
    if member.flagged:
        return {"tone": "bad", "text": text("staff_health_flagged", current_language(), name=name)}
    return {"tone": "ok", "ok": True, "text": text("staff_health_declared", current_language(), name=name)}


def _flagged_notes(done, members) -> list[dict]:
    """A line for each member just checked in whose declaration flagged them (the venue admits
    flagged visitors): staff keep an eye on them."""
    flagged = {m.person.person_id for m in members if m.flagged}
    return [{"tone": "bad", "text": text("staff_admitted_flagged", current_language(), name=r.person.name)}
            for r in done if r.code == "check_in" and r.person.person_id in flagged]


def _anyone_outside(members, chosen: list[str]) -> bool:
    """Whether a code is needed: someone chosen is not inside yet."""
    return any(m.person.person_id in chosen and not m.inside for m in members)


def _send_code(s, number: str) -> dict:
    """Text a one-time code to ``number``: the code step of the page (what was done, and the
    reason to suggest should staff let them in without it)."""
    sent = s.codes.send(g.staff.staff_id, number)
    language = current_language()
    if sent.on_its_way:
        return {"sent": True, "tone": "ok", "message": text("staff_code_sent", language, phone=mask_phone(number)),
                "delivery": sent.state, "reason": None}
    return {"sent": False, "tone": "bad", "message": text(f"staff_code_{sent.state}", language),
            "reason": SUGGESTED_REASON.get(sent.state), "retry_after_s": sent.retry_after_s}


def _phone_check_note(done, check: dict | None) -> list[dict]:
    """After staff confirmed a code or gave a reason: one line saying whether the phone was
    verified, and if not why (nothing when codes are off or nobody was checked in)."""
    if check is None or not any(r.code == "check_in" for r in done):
        return []
    if check["verified"]:
        return [{"tone": "ok", "ok": True, "text": text("staff_verified_note", current_language())}]
    reason = text(f"staff_reason_{check['reason']}", current_language())
    return [{"tone": "note", "text": text("staff_unverified_note", current_language(), reason=reason)}]


@bp.post("/phone/delivery")
@login_required
def delivery():
    """What became of the latest code to the number in the body (the page asks while staff wait):
    ``{"state": "queued" | "sent" | "failed" | null, "text": …}``, and when it failed the ``reason``
    to suggest for letting them in without the code."""
    try:
        number = normalise_phone(request.form.get("phone", ""))
    except PhoneError:
        return {"state": None, "text": ""}, 400
    codes = services().codes
    state = codes.delivery(number)
    answer = {"state": state, "text": text(f"staff_delivery_{state}", current_language()) if state else ""}
    if state == "failed":
        answer["reason"] = codes.failed_because(number)      # the reason to suggest for "without a code"
    return answer


#: A staff result's code -> its sentence (:mod:`kiosk.messages`); the tone: ok, note (nothing
#: needed doing) or bad (not done).
_RESULTS = {"check_in": ("staff_did_check_in", "ok"), "check_out": ("staff_did_check_out", "ok"),
            "already_inside": ("staff_already_inside_since", "note"), "not_inside": ("staff_not_inside", "note"),
            "venue_full": ("staff_venue_full", "bad"), "not_recorded": ("staff_not_recorded", "bad"),
            "declaration_needed": ("staff_declaration_needed", "bad"),
            "declaration_refused": ("staff_declaration_refused", "bad")}


def _result(r) -> dict:
    """One line of what a staff action did for one person, in staff wording (they see the full
    name: they just typed it or chose it)."""
    code, tone = _RESULTS.get(r.code, ("staff_not_done", "bad"))
    capacity = r.outcome.capacity if r.outcome else 0
    return {"ok": tone == "ok", "tone": tone,
            "text": text(code, current_language(), name=r.person.name, time=_hhmm(r.at), capacity=capacity)}


@bp.app_template_filter("hhmm")
def _hhmm(at: str | None) -> str:
    """An ISO time as the venue's local HH:MM."""
    return datetime.fromisoformat(at).astimezone(services().desk.desk.clock.tz).strftime("%H:%M") if at else ""


@bp.app_template_filter("day")
def day(value: date | str | None) -> str:
    """A date as the slips print it, dd/mm/yyyy (in both languages); a year alone stays a year."""
    if not value:
        return ""
    if isinstance(value, str):
        if len(value) == 4:
            return value
        value = date.fromisoformat(value)
    return f"{value:%d/%m/%Y}"


# -- declaring on someone's behalf ------------------------------------------------------------

@bp.route("/declare", methods=["GET", "POST"])
@login_required
def declare():
    form = request.form if request.method == "POST" else {}
    if request.method == "GET" or form.get("prefill"):
        return render_template("staff_declare.html", form=form, error=None, field=None)
    try:
        declaration = parse_declaration(form)
        health = _form_health(form)
        person, new, result = services().desk.declare(g.staff, declaration, health)
    except DeclarationError as exc:
        return render_template("staff_declare.html", form=form, field=exc.field,
                               error=text(exc.code, current_language(), **exc.values)), 400
    except PhoneFull as exc:
        return render_template("staff_declare.html", form=form, field="phone",
                               error=text("phone_full", current_language(), limit=exc.limit)), 409
    except StoreUnavailable:        # nobody registered: the form stays, to be sent again
        error = text("staff_store_unavailable", current_language())
        return (render_template("staff_declare.html", form=form, field=None, error=error),
                503, {"Retry-After": str(RETRY_AFTER_S)})
    page = render_template("staff_declared.html", person=person, new=new, result=_result(result), printed=False,
                           flagged=[_declared_line(m) for m in services().desk.household(person.phone)
                                    if m.person.person_id == person.person_id and m.flagged])
    if result.code == "not_recorded":    # registered, but the check-in could not be written
        return page, 503, {"Retry-After": str(RETRY_AFTER_S)}
    return page


def _form_health(form) -> dict[str, bool] | None:
    """The declare form's health answers (fields ``q_<question id>``): every question's, or None
    when none is answered and the venue does not require a declaration."""
    health = services().desk.health
    if health is None:
        return None
    given = {q: form.get(f"q_{q}") for q in health.questions.ids}
    if not any(given.values()) and not health.required:
        return None
    try:
        return health.questions.answers(given)
    except Unanswered:
        raise DeclarationError("health", "staff_health_unanswered", {"name": form.get("name", "")}) from None


@bp.post("/card")
@login_required
def card():
    """Queue a personal QR card for a registered person (the printer prints it when it can)."""
    queued = services().desk.print_card(g.staff, request.form.get("person_id", ""))
    if queued is None:
        message = text("staff_no_such_person", current_language())
        return render_template("staff_message.html", ok=False, message=message), 404
    _, person = queued
    message = text("staff_card_queued", current_language(), name=mask_name(person.name))
    return render_template("staff_message.html", ok=True, message=message)


# -- who is inside ----------------------------------------------------------------------------

@bp.get("/inside")
@login_required
def inside():
    return render_template("staff_inside.html", visits=_inside(), done=None, error=None)


@bp.get("/flagged")
@login_required
def flagged():
    """How many inside were admitted flagged by their health declaration, for the line every staff
    page keeps up to date while it is open: ``{"n": N, "text": …}``."""
    n = services().desk.flagged_inside()
    return {"n": n, "text": text("staff_flagged_inside", current_language(), n=n) if n else ""}


def _inside() -> list[dict]:
    return [{**v, "time": _hhmm(v["check_in_at"])} for v in services().desk.inside()]


@bp.post("/inside")
@login_required
def inside_check_out():
    s, action, chosen = services(), request.form.get("action"), list(dict.fromkeys(request.form.getlist("visit")))
    done = []
    if action != "everyone" and not chosen:
        return render_template("staff_inside.html", visits=_inside(), done=None,
                               error=text("staff_nobody_chosen", current_language())), 400
    if action == "print":
        done.append(text("staff_slips_queued_n", current_language(), n=s.desk.print_slips(g.staff, chosen)))
    elif action == "everyone":
        done.append(text("staff_checked_out_n", current_language(), n=s.desk.check_out_everyone(g.staff)))
    else:
        n = s.desk.check_out_visits(g.staff, chosen)
        done.append(text("staff_checked_out_n", current_language(), n=n))
        if n < len(chosen):     # another staff member or the camera was quicker
            done.append(text("staff_checked_out_gone", current_language(), n=len(chosen) - n))
    return render_template("staff_inside.html", visits=_inside(), done=done, error=None)


# -- today ------------------------------------------------------------------------------------

@bp.get("/today")
@login_required
def today():
    figures = services().desk.today()
    return render_template("staff_today.html", f=figures, chart=hour_chart(figures["check_ins_by_hour"]),
                           reasons=[(text(code, current_language()), n) for code, n in figures["refusals"].items()])


def hour_chart(per_hour: list[int], *, first: int = 5, last: int = 22) -> list[dict]:
    """One column per hour for the page (no script, no inline style: each bar is an SVG rect whose
    height is a percentage of the busiest hour): the opening hours, widened to any hour that had
    check-ins; every third hour labelled."""
    busy = [h for h, n in enumerate(per_hour) if n]
    lo, hi = min([first, *busy]), max([last, *busy])
    top = max(per_hour[lo:hi + 1] + [1])
    return [{"hour": hour, "n": per_hour[hour], "pct": round(100 * per_hour[hour] / top, 1),
             "label": hour % 3 == 0} for hour in range(lo, hi + 1)]
