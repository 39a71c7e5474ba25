"""The console's API (``/api/v1``, a contract: docs/architecture.md), for machines with an API token
(``Authorization: Bearer TOKEN``):

- ``GET /api/v1/contacts?person=KIND:ID&days=N``: a case, :func:`mqtt.collector.queries.case`
  (``KIND`` may be ``phone``); personal data: tracers only;
- ``GET /api/v1/presence?venue=V&from=ISO&to=ISO``: everyone at V then,
  :func:`mqtt.collector.queries.presence`; tracers only;
- ``GET /api/v1/stats?by=day|week[&venue=V][&from=YYYY-MM-DD&to=YYYY-MM-DD]``: ``{"rows": […]}``,
  :func:`mqtt.collector.queries.figures`, aggregates only.

A missing or unknown token is 401, a role without the right 403, a malformed parameter 400, each
with ``{"error": CODE, "message": …}``. Every contacts and presence answer is audited (who, what,
how many people) before it is sent; so is every refusal of a person lookup.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, jsonify, request

from ...wire.event import PERSON_ID, PERSON_KINDS
from ...wire.ids import ID
from .. import queries
from ..store import TRACE_PHONE
from ..store_figures import LEVELS, MAX_PLACE_NAME, is_place_name
from .roles import FIGURES, PERSONAL_DATA, rights

api = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_DAYS = 60
#: A presence window is at most this long (a venue for a day is the usual question).
MAX_WINDOW_DAYS = 31
_TRACE_KINDS = (*PERSON_KINDS, TRACE_PHONE)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@api.errorhandler(ApiError)
def _api_error(exc: ApiError):
    response = jsonify({"error": exc.code, "message": exc.message})
    response.status_code = exc.status
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="checkin-kiosk console"'
    return response


@api.before_request
def _authenticate():
    token = current_app.extensions["console"].tokens.authenticate(request.headers.get("Authorization"))
    if token is None:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer TOKEN (kiosk-collector api-token add)")
    g.actor = f"token:{token.name}"
    g.rights = rights([token.role])


def _require(right: str, action: str, person: str | None = None) -> None:
    if right not in g.rights:
        if right == PERSONAL_DATA:
            _audit(action, person=person, query={"refused": "role"}, results=None)
        raise ApiError(403, "forbidden", "this token's role may not see this")


def _audit(action: str, **values) -> None:
    current_app.extensions["console"].audit.record(g.actor, action, client=request.remote_addr, **values)


def _int(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ApiError(400, "bad_request", f"{name} must be a whole number {low}-{high}")
    return int(text)


def _time(name: str) -> datetime:
    text = request.args.get(name, "")
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "bad_request", f"{name} must be an ISO 8601 time with its offset") from None
    if at.tzinfo is None:
        raise ApiError(400, "bad_request", f"{name} must carry a UTC offset (e.g. +07:00)")
    return at.astimezone(UTC)


def _date(name: str) -> date | None:
    text = request.args.get(name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "bad_request", f"{name} must be YYYY-MM-DD") from None


def _venue(required: bool) -> str | None:
    venue = request.args.get("venue")
    if venue is None and not required:
        return None
    if not venue or not ID.fullmatch(venue):
        raise ApiError(400, "bad_request", "venue must be a venue id")
    return venue


@api.get("/contacts")
def contacts():
    kind, _, person_id = request.args.get("person", "").partition(":")
    person = f"{kind}:{person_id}" if kind in _TRACE_KINDS and PERSON_ID.fullmatch(person_id or "") else None
    _require(PERSONAL_DATA, "contacts", person)
    if person is None:
        raise ApiError(400, "bad_request", f"person must be KIND:ID with KIND one of {', '.join(_TRACE_KINDS)}")
    days = _int("days", queries.DEFAULT_TRACE_DAYS, 1, MAX_DAYS)
    try:
        console = current_app.extensions["console"]
        found = queries.case(console.store, kind, person_id, days, now=console.now())
    except ValueError as exc:          # a phone number that is not one
        raise ApiError(400, "bad_request", str(exc)) from None
    _audit("contacts", person=person, query={"days": days}, results=len(found["contacts"]))
    return jsonify(found)


@api.get("/presence")
def presence():
    _require(PERSONAL_DATA, "presence")
    venue = _venue(required=True)
    start, end = _time("from"), _time("to")
    if not start < end or (end - start).days > MAX_WINDOW_DAYS:
        raise ApiError(400, "bad_request", f"from must be before to, at most {MAX_WINDOW_DAYS} days apart")
    console = current_app.extensions["console"]
    found = queries.presence(console.store, venue, start, end, now=console.now())
    _audit("presence", query={"venue": venue, "from": start.isoformat(), "to": end.isoformat()}, results=len(found))
    return jsonify({"venue_id": venue, "from": start.isoformat(), "to": end.isoformat(), "people": found})


@api.get("/stats")
def stats():
    _require(FIGURES, "stats")
    by = request.args.get("by", "day")
    if by not in ("day", "week"):
        raise ApiError(400, "bad_request", 'by must be "day" or "week"')
    level = request.args.get("level", "venue")
    if level not in LEVELS:
        raise ApiError(400, "bad_request", f"level must be one of {', '.join(LEVELS)}")
    console = current_app.extensions["console"]
    try:
        rows = queries.figures(console.store, by=by, level=level, venue=_venue(required=False),
                               province=_place("province"), district=_place("district"), date_from=_date("from"),
                               date_to=_date("to"), tz=console.timezone,
                               today=console.now().astimezone(ZoneInfo(console.timezone)).date())
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    return jsonify({"by": by, "level": level, "rows": rows})


def _place(name: str) -> str | None:
    """A province or district as the fleet registry names it (``""``: a venue not placed)."""
    value = request.args.get(name)
    if value is not None and not is_place_name(value):
        raise ApiError(400, "bad_request", f"{name} must be a place's name (at most {MAX_PLACE_NAME} characters)")
    return value
