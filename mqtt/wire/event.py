"""The ``checkin.event/1`` schema, in code: its fields, the plausible time window, the person's
form, and :func:`build_event`, through which the kiosk makes every event it records. The kiosk
checks each event with the validator the collector applies to it (:func:`check_event`), so the
two ends can never disagree about what a valid event is.

:func:`validate_event` returns the event in a payload as a dict, or raises
:class:`~mqtt.wire.fields.InvalidEvent` with the reason:

>>> validate_event(b'{"schema": "checkin.event/1"}', topic_kiosk_id="cho-phanrang-01")
Traceback (most recent call last):
mqtt.wire.fields.InvalidEvent: schema: event lacks at, clock, event_id, kiosk_id, method, person, seq, ...
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from .fields import (
    InvalidEvent,
    compact_json,
    load_json,
    parse_time,
    require_keys,
    require_one_of,
    require_text,
    require_uuid,
)
from .ids import ID, ID_RULE, UUID

SCHEMA = "checkin.event/1"
#: A larger message is refused unread: an event is a few hundred bytes.
MAX_EVENT_BYTES = 4096

EVENT_TYPES = ("check_in", "check_out", "auto_check_out")
METHODS = ("camera", "slip", "kiosk_card", "staff_phone", "staff_form")
PERSON_KINDS = ("cccd", "bhyt", "national_qr", "kiosk_card", "slip")
SEXES = ("male", "female")

# [0-9], not \d: \d also matches the digits of other scripts, which no consumer expects.
_BIRTH = re.compile(r"[0-9]{4}(-[0-9]{2}-[0-9]{2})?")
_PHONE = re.compile(r"0[0-9]{9}")

#: ``person.id``: 1-64 ASCII letters, digits, ``*`` or ``-``.
PERSON_ID = re.compile(r"[0-9A-Za-z*-]{1,64}")
#: ``person.name``: at most this many characters (the kiosk shortens a longer one at the door).
MAX_NAME_CHARS = 200

#: ``at`` of an event whose clock is synced: not before this (the product did not exist; the
#: kiosk's clock takes an earlier reading for unsynced by definition) ...
EARLIEST_SYNCED_AT = datetime(2025, 1, 1, tzinfo=UTC)
#: ... and not more than this ahead of the receiving side's clock (two NTP-synced clocks agree to
#: well under a second; a day leaves room for a badly set collector, not for year 9999).
MAX_AHEAD = timedelta(days=1)
#: ``at`` of an event whose clock is not synced is only what the kiosk's wall clock said, and the
#: collector corrects it from a synced event of the same boot; it is taken as it is within what a
#: kiosk's clock can read: from the Unix epoch (a Pi without a battery clock boots there) to
#: 2100. The kiosk keeps its unsynced readings in this range (``kiosk.clock``).
UNSYNCED_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


#: ``phone_check`` of a staff phone check-in: whether the citizen read out the one-time code texted
#: to the household's phone (``verified``), and when not, why staff let them in anyway.
PHONE_CHECK_REASONS = ("no_sms", "sms_failed", "not_delivered", "rate_limited", "code_refused", "no_phone_signal")

#: ``declaration`` of a check-in: the visitor's health declaration of the day (tờ khai y tế), made at
#: the kiosk's screen or with staff: each question's id and the answer (true: "yes"), and whether
#: an answer flagged the visitor (the venue admitted them flagged).
DECLARATION_VIA = ("screen", "staff")
QUESTION_ID = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_QUESTIONS = 32

_FIELDS = {"schema", "event_id", "kiosk_id", "venue_id", "seq", "type", "visit_id", "at", "clock", "method",
           "staff_id", "person", "estimated", "phone_check", "declaration"}
_OPTIONAL = {"estimated", "phone_check", "declaration"}
_PHONE_CHECK_FIELDS = {"verified", "reason"}
_DECLARATION_FIELDS = {"made_at", "via", "answers", "flagged"}
_PERSON_FIELDS = {"kind", "id", "name", "birth_date", "sex", "phone"}
_CLOCK_FIELDS = {"synced", "boot_id", "uptime_s"}


def validate_event(payload: bytes, *, topic_kiosk_id: str | None = None,
                   now: datetime | None = None) -> dict[str, Any]:
    """The event in ``payload``, checked field by field; raises :class:`InvalidEvent`.

    topic_kiosk_id: the kiosk id in the topic it arrived on; an event claiming another kiosk is
    refused (the broker's ACL vouches for the topic, not for the payload).
    now: the checking side's clock (the collector: when the message arrived), for the plausible
    time window (:func:`check_time`); default: this machine's clock.
    """
    if len(payload) > MAX_EVENT_BYTES:
        raise InvalidEvent("oversize", f"{len(payload)} bytes, limit {MAX_EVENT_BYTES}")
    event = load_json(payload)
    if not isinstance(event, dict):
        raise InvalidEvent("schema", "not a JSON object")
    require_keys(event, _FIELDS - _OPTIONAL, _FIELDS, "event")
    if event["schema"] != SCHEMA:
        raise InvalidEvent("schema", f"schema must be {SCHEMA!r}")
    require_uuid(event, "event_id")
    require_uuid(event, "visit_id")
    for key in ("kiosk_id", "venue_id"):
        if not isinstance(event[key], str) or not ID.fullmatch(event[key]):
            raise InvalidEvent("field", f"{key} must be {ID_RULE}")
    if topic_kiosk_id is not None and event["kiosk_id"] != topic_kiosk_id:
        raise InvalidEvent("kiosk_mismatch", "kiosk_id in the payload differs from the topic's")
    if not isinstance(event["seq"], int) or isinstance(event["seq"], bool) or not 1 <= event["seq"] < 2**63:
        raise InvalidEvent("field", "seq must be a positive integer")
    require_one_of(event, "type", EVENT_TYPES)
    if event["method"] is not None or event["type"] != "auto_check_out":
        require_one_of(event, "method", METHODS)
    _clock(event["clock"])
    check_time(parse_time(event["at"], "at"), synced=event["clock"]["synced"], now=now)
    require_text(event, "staff_id", 64, nullable=True)
    if not isinstance(event.get("estimated", False), bool):
        raise InvalidEvent("field", "estimated must be true or false")
    _person(event["person"])
    if "phone_check" in event:
        _phone_check(event)
    if "declaration" in event:
        if event["type"] != "check_in":
            raise InvalidEvent("field", "declaration belongs to a check-in only")
        check_declaration(event["declaration"])
    return event


def check_declaration(declaration: Any) -> None:
    """Raise :class:`InvalidEvent` unless ``declaration`` is a valid event ``declaration``:
    ``made_at`` (ISO 8601 with offset), ``via`` (one of :data:`DECLARATION_VIA`), ``answers`` (1 to
    :data:`MAX_QUESTIONS` question ids, :data:`QUESTION_ID`, each true or false) and ``flagged``
    (true or false; true only with some "yes")."""
    if not isinstance(declaration, dict):
        raise InvalidEvent("field", "declaration must be an object")
    require_keys(declaration, _DECLARATION_FIELDS, _DECLARATION_FIELDS, "declaration")
    parse_time(declaration["made_at"], "declaration.made_at")
    require_one_of(declaration, "via", DECLARATION_VIA)
    answers = declaration["answers"]
    if not isinstance(answers, dict) or not 1 <= len(answers) <= MAX_QUESTIONS:
        raise InvalidEvent("field", f"declaration.answers must be an object of 1-{MAX_QUESTIONS} answers")
    for question, answer in answers.items():
        if not QUESTION_ID.fullmatch(question) or not isinstance(answer, bool):
            raise InvalidEvent("field", "declaration.answers: question ids are [a-z][a-z0-9_]{0,31}, answers "
                               "true or false")
    if not isinstance(declaration["flagged"], bool):
        raise InvalidEvent("field", "declaration.flagged must be true or false")
    if declaration["flagged"] and not any(answers.values()):
        raise InvalidEvent("field", "declaration.flagged needs a yes among the answers")


def _phone_check(event: dict) -> None:
    if event["type"] != "check_in" or event["method"] != "staff_phone":
        raise InvalidEvent("field", "phone_check belongs to a staff phone check-in only")
    check = event["phone_check"]
    if not isinstance(check, dict):
        raise InvalidEvent("field", "phone_check must be an object")
    require_keys(check, _PHONE_CHECK_FIELDS, _PHONE_CHECK_FIELDS, "phone_check")
    if not isinstance(check["verified"], bool):
        raise InvalidEvent("field", "phone_check.verified must be true or false")
    if check["verified"]:
        if check["reason"] is not None:
            raise InvalidEvent("field", "phone_check.reason must be null when verified")
    else:
        require_one_of(check, "reason", PHONE_CHECK_REASONS)


def check_time(at: datetime, *, synced: bool, now: datetime | None = None) -> None:
    """Raise ``InvalidEvent("implausible_time")`` unless ``at`` is a time the event's clock could
    have read: synced, from :data:`EARLIEST_SYNCED_AT` to :data:`MAX_AHEAD` after ``now``;
    unsynced, within :data:`UNSYNCED_RANGE` (the centre corrects it)."""
    try:
        utc = at.astimezone(UTC)
    except OverflowError:
        raise InvalidEvent("implausible_time", "at is outside the years 1-9999 in UTC") from None
    if synced:
        latest = (now or datetime.now(UTC)) + MAX_AHEAD
        if not EARLIEST_SYNCED_AT <= utc <= latest:
            raise InvalidEvent("implausible_time", f"at of a synced clock must lie between "
                               f"{EARLIEST_SYNCED_AT:%Y-%m-%d} and a day after the receiver's clock")
    elif not UNSYNCED_RANGE[0] <= utc < UNSYNCED_RANGE[1]:
        raise InvalidEvent("implausible_time", f"at of an unsynced clock must lie in "
                           f"{UNSYNCED_RANGE[0]:%Y}-{UNSYNCED_RANGE[1]:%Y}")


def check_event(event: dict, *, now: datetime | None = None) -> None:
    """Raise :class:`InvalidEvent` unless the centre would take ``event`` as it will be sent: the
    kiosk checks every event it builds with the validator the collector applies to it."""
    validate_event(encode_event(event), topic_kiosk_id=event.get("kiosk_id"), now=now)


def event_id_of(payload: bytes) -> str | None:
    """The ``event_id`` a refused message claims, if it has one that is a lower-case UUID (so the
    collector can tell the kiosk which of its events it refused); else None."""
    if len(payload) > MAX_EVENT_BYTES:
        return None
    try:
        event = load_json(payload)
    except InvalidEvent:
        return None
    event_id = event.get("event_id") if isinstance(event, dict) else None
    return event_id if isinstance(event_id, str) and UUID.fullmatch(event_id) else None


def check_person(person: Any) -> None:
    """Raise :class:`InvalidEvent` unless ``person`` is a valid event ``person`` object."""
    _person(person)


#: What people type between the digits of a phone number; and the country code's forms.
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_PHONE_PREFIXES = ("+84", "0084", "84", "0")


def canonical_phone(text: str) -> str:
    """A phone number as staff type it (``+84 912 345 678``, ``84912345678``, ``0084…``,
    ``0912 345 678``, ``+84 (0) 912…``) in the form an event's ``person.phone`` carries: ``0`` and 9
    digits. That is the canonical form the kiosk's ``normalise_phone`` (kiosk/credentials/phone.py)
    gives every phone it records, so the collector finds a visit by it. Only the form is checked
    here, not the kiosk's rules for which numbers are mobiles: a number the kiosk would refuse is
    simply on no visit. Raises ValueError saying what is wrong (without the number).

    >>> canonical_phone("+84 (0) 912-345-678")
    '0912345678'
    """
    compact = _PHONE_SEPARATORS.sub("", text) if isinstance(text, str) else ""
    for prefix in _PHONE_PREFIXES:
        if compact.startswith(prefix):
            national = compact[len(prefix):]
            if prefix != "0" and national.startswith("0"):
                national = national[1:]       # "+84 (0) 912…": the national 0 kept after the country code
            break
    else:
        raise ValueError("a phone number starts with 0, +84, 84 or 0084")
    if not _PHONE.fullmatch("0" + national):
        raise ValueError("a phone number has 0 and 9 more digits (spaces, dots, dashes and parentheses aside)")
    return "0" + national


def _clock(clock: Any) -> None:
    if not isinstance(clock, dict):
        raise InvalidEvent("field", "clock must be an object")
    require_keys(clock, _CLOCK_FIELDS, _CLOCK_FIELDS, "clock")
    if not isinstance(clock["synced"], bool):
        raise InvalidEvent("field", "clock.synced must be true or false")
    require_text(clock, "boot_id", 64)
    up = clock["uptime_s"]
    if not isinstance(up, (int, float)) or isinstance(up, bool) or not 0 <= up < 10**10:
        raise InvalidEvent("field", "clock.uptime_s must be a non-negative number")


def _person(person: Any) -> None:
    if not isinstance(person, dict):
        raise InvalidEvent("field", "person must be an object")
    require_keys(person, _PERSON_FIELDS, _PERSON_FIELDS, "person")
    require_one_of(person, "kind", PERSON_KINDS)
    if not isinstance(person["id"], str) or not PERSON_ID.fullmatch(person["id"]):
        raise InvalidEvent("field", "person.id must be 1-64 letters, digits, '*' or '-'")
    require_text(person, "name", MAX_NAME_CHARS, nullable=True)
    for key, rx in (("birth_date", _BIRTH), ("phone", _PHONE)):
        if person[key] is not None and (not isinstance(person[key], str) or not rx.fullmatch(person[key])):
            raise InvalidEvent("field", f"person.{key} is malformed")
    if person["sex"] is not None:
        require_one_of(person, "sex", SEXES)



def encode_event(event: dict) -> bytes:
    return compact_json(event).encode("utf-8")


def build_event(*, seq: int, event_id: str, type: str, kiosk_id: str, venue_id: str, visit_id: str,
                at: str, clock: dict, now: datetime, method: str | None, staff_id: str | None, person: dict,
                estimated: bool = False, phone_check: dict | None = None, declaration: dict | None = None) -> dict:
    """One event; raises :class:`InvalidEvent` for one the centre would refuse.

    at: when it happened (for an auto check-out, the estimated time, not now);
    clock: the reading ``at`` comes from (``synced``, ``boot_id``, ``uptime_s``), and now, that
    clock's time when the event is made (the checking side's "now" of :func:`check_time`);
    estimated: True for check-outs the kiosk inferred (max stay, closing time);
    phone_check: of a staff phone check-in, ``{"verified": bool, "reason": …}`` (left out when None);
    declaration: of a check-in, the visitor's health declaration of the day (left out when None).
    """
    event = {
        "schema": SCHEMA,
        "event_id": event_id,
        "kiosk_id": kiosk_id,
        "venue_id": venue_id,
        "seq": seq,
        "type": type,
        "visit_id": visit_id,
        "at": at,
        "clock": clock,
        "method": method,
        "staff_id": staff_id,
        "person": person,
        "estimated": estimated,
    }
    if phone_check is not None:
        event["phone_check"] = phone_check
    if declaration is not None and type == "check_in":
        event["declaration"] = declaration
    check_event(event, now=now)
    return event
