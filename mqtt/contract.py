"""The wire contract, in code: topic names, the ``checkin.event/1`` schema, acks, and the
``checkin.selftest/1`` report a technician's self-test sends.

Both sides import this module (and nothing from ``kiosk``), so the kiosk and the collector can
never disagree about a topic or a field.

>>> events_topic("cho-phanrang-01")
'kiosks/cho-phanrang-01/events'

:func:`validate_event` returns the event in a payload as a dict, or raises :class:`InvalidEvent`
with the reason:

>>> validate_event(b'{"schema": "checkin.event/1"}', topic_kiosk_id="cho-phanrang-01")
Traceback (most recent call last):
mqtt.contract.InvalidEvent: schema: event lacks at, clock, event_id, kiosk_id, method, person, seq, ...
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

SCHEMA = "checkin.event/1"
ACK_SCHEMA = "checkin.ack/1"
SELFTEST_SCHEMA = "checkin.selftest/1"
#: A larger message is refused unread: an event is a few hundred bytes.
MAX_EVENT_BYTES = 4096
#: An ack names at most this many event ids, and at most this many refusals ...
MAX_ACK_IDS = 1000
#: ... in at most this many bytes (room for MAX_ACK_IDS ids; a refusal takes about twice an id's
#: room, so a long list of refusals goes in several acks: :func:`encode_acks`). The kiosk refuses a
#: larger ack unread; the brokers' max_packet_size (64 KiB) is above it.
MAX_ACK_BYTES = MAX_ACK_IDS * 40 + 100
#: A message nested deeper than this (``[[[…]]]``) is not JSON the contract reads: none of its
#: messages is deeper than 4, and a limit of our own, unlike Python's recursion limit, does not
#: depend on how deep the reading thread's stack already is.
MAX_JSON_DEPTH = 32
#: A self-test report: a dozen checks with a sentence and a few figures each.
MAX_SELFTEST_BYTES = 16384
SELFTEST_STATUSES = ("pass", "warn", "fail", "skip")

EVENT_TYPES = ("check_in", "check_out", "auto_check_out")
METHODS = ("camera", "slip", "kiosk_card", "staff_phone", "staff_form")
PERSON_KINDS = ("cccd", "bhyt", "national_qr", "kiosk_card", "slip")
SEXES = ("male", "female")

_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
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


# -- topics -----------------------------------------------------------------------------------

def events_topic(kiosk_id: str) -> str:
    return f"kiosks/{kiosk_id}/events"


def status_topic(kiosk_id: str) -> str:
    return f"kiosks/{kiosk_id}/status"


def health_topic(kiosk_id: str) -> str:
    return f"kiosks/{kiosk_id}/health"


def acks_topic(kiosk_id: str) -> str:
    return f"kiosks/{kiosk_id}/acks"


def cmd_topic(kiosk_id: str, name: str) -> str:
    return f"kiosks/{kiosk_id}/cmd/{name}"


def selftest_topic(kiosk_id: str) -> str:
    return f"kiosks/{kiosk_id}/selftest"


EVENTS_FILTER = "kiosks/+/events"
STATUS_FILTER = "kiosks/+/status"
HEALTH_FILTER = "kiosks/+/health"
SELFTEST_FILTER = "kiosks/+/selftest"


def shared(group: str, topic_filter: str) -> str:
    """A shared subscription: the broker gives each message to one member of ``group``."""
    return f"$share/{group}/{topic_filter}"


def parse_topic(topic: str) -> tuple[str, str] | None:
    """``(kiosk_id, leaf)`` for ``kiosks/<id>/<leaf...>``, or None for anything else."""
    parts = topic.split("/", 2)
    if len(parts) != 3 or parts[0] != "kiosks" or not _ID.fullmatch(parts[1]):
        return None
    return parts[1], parts[2]


# -- events -----------------------------------------------------------------------------------

class InvalidEvent(ValueError):
    """A message that is not a valid event; ``reason`` is a short code, the message says why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def load_json(payload: bytes) -> Any:
    """The JSON value a message holds, for every reader of the wire (events, acks, self-test
    reports, health). Anything else raises ``InvalidEvent("not_json")`` (a ValueError): bytes that
    are not UTF-8, text that is not JSON, and JSON nested deeper than :data:`MAX_JSON_DEPTH`,
    including nesting so deep that the parser itself gives up (``RecursionError``), which no
    caller is prepared for.

    >>> load_json(b"[" * 2000 + b"]" * 2000)
    Traceback (most recent call last):
    mqtt.contract.InvalidEvent: not_json: nested deeper than 32 levels
    """
    try:
        value = json.loads(payload.decode("utf-8"))
    except RecursionError:
        raise InvalidEvent("not_json", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEvent("not_json", f"not UTF-8 JSON ({type(exc).__name__})") from None
    if not _within_depth(value, MAX_JSON_DEPTH):
        raise InvalidEvent("not_json", f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _within_depth(value: Any, limit: int) -> bool:
    """Whether no list or object in ``value`` lies more than ``limit`` deep (iteratively: a
    recursive walk would fail on what it is there to refuse)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


_FIELDS = {"schema", "event_id", "kiosk_id", "venue_id", "seq", "type", "visit_id", "at", "clock", "method",
           "staff_id", "person", "estimated"}
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
    _exact_keys(event, _FIELDS - {"estimated"}, _FIELDS, "event")
    if event["schema"] != SCHEMA:
        raise InvalidEvent("schema", f"schema must be {SCHEMA!r}")
    _uuid(event, "event_id")
    _uuid(event, "visit_id")
    for key in ("kiosk_id", "venue_id"):
        if not isinstance(event[key], str) or not _ID.fullmatch(event[key]):
            raise InvalidEvent("field", f"{key} must be lower-case letters, digits and '-'")
    if topic_kiosk_id is not None and event["kiosk_id"] != topic_kiosk_id:
        raise InvalidEvent("kiosk_mismatch", "kiosk_id in the payload differs from the topic's")
    if not isinstance(event["seq"], int) or isinstance(event["seq"], bool) or not 1 <= event["seq"] < 2**63:
        raise InvalidEvent("field", "seq must be a positive integer")
    _enum(event, "type", EVENT_TYPES)
    if event["method"] is not None or event["type"] != "auto_check_out":
        _enum(event, "method", METHODS)
    _clock(event["clock"])
    check_time(parse_time(event["at"], "at"), synced=event["clock"]["synced"], now=now)
    _text(event, "staff_id", 64, nullable=True)
    if not isinstance(event.get("estimated", False), bool):
        raise InvalidEvent("field", "estimated must be true or false")
    _person(event["person"])
    return event


def _exact_keys(obj: dict, required: set, allowed: set, where: str) -> None:
    missing = required - obj.keys()
    if missing:
        raise InvalidEvent("schema", f"{where} lacks {', '.join(sorted(missing))}")
    extra = obj.keys() - allowed
    if extra:
        raise InvalidEvent("schema", f"{where} has unknown field(s) {', '.join(sorted(map(str, extra)))[:80]}")


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid(event: dict, key: str) -> None:
    value = event[key]
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise InvalidEvent("field", f"{key} must be a lower-case UUID")


def _enum(obj: dict, key: str, allowed: tuple) -> None:
    if obj[key] not in allowed:
        raise InvalidEvent("field", f"{key} must be one of {', '.join(allowed)}")


def parse_time(value: Any, key: str = "at") -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidEvent("field", f"{key} must be an ISO 8601 time") from None
    if at.tzinfo is None:
        raise InvalidEvent("field", f"{key} must carry a UTC offset")
    return at


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
    return event_id if isinstance(event_id, str) and _UUID.fullmatch(event_id) else None


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
    _exact_keys(clock, _CLOCK_FIELDS, _CLOCK_FIELDS, "clock")
    if not isinstance(clock["synced"], bool):
        raise InvalidEvent("field", "clock.synced must be true or false")
    _text(clock, "boot_id", 64)
    up = clock["uptime_s"]
    if not isinstance(up, (int, float)) or isinstance(up, bool) or not 0 <= up < 10**10:
        raise InvalidEvent("field", "clock.uptime_s must be a non-negative number")


def _person(person: Any) -> None:
    if not isinstance(person, dict):
        raise InvalidEvent("field", "person must be an object")
    _exact_keys(person, _PERSON_FIELDS, _PERSON_FIELDS, "person")
    _enum(person, "kind", PERSON_KINDS)
    if not isinstance(person["id"], str) or not PERSON_ID.fullmatch(person["id"]):
        raise InvalidEvent("field", "person.id must be 1-64 letters, digits, '*' or '-'")
    _text(person, "name", MAX_NAME_CHARS, nullable=True)
    for key, rx in (("birth_date", _BIRTH), ("phone", _PHONE)):
        if person[key] is not None and (not isinstance(person[key], str) or not rx.fullmatch(person[key])):
            raise InvalidEvent("field", f"person.{key} is malformed")
    if person["sex"] is not None:
        _enum(person, "sex", SEXES)


def _text(obj: dict, key: str, limit: int, nullable: bool = False) -> None:
    value = obj[key]
    if value is None and nullable:
        return
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise InvalidEvent("field", f"{key} must be a string of 1-{limit} characters")
    if has_controls(value):
        raise InvalidEvent("field", f"{key} contains control characters")


def has_controls(value: str) -> bool:
    """Control, format, surrogate or private-use characters in ``value``."""
    # isprintable() is False for every Cc/Cf/Cs/Co character (and for a few harmless ones such
    # as a no-break space), so only the rare non-printable string pays for the exact check.
    return not value.isprintable() and any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in value)


#: Compact UTF-8 JSON, one encoder for every call (json.dumps with options builds one per call).
compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_event(event: dict) -> bytes:
    return compact_json(event).encode("utf-8")


# -- acks -------------------------------------------------------------------------------------

def encode_ack(event_ids: list[str], refused: list[tuple[str, str]] = ()) -> bytes:
    """One message for ``kiosks/<id>/acks``: the event ids the collector holds durably, and
    (``refused``, only when there are any) ``(event_id, reason)`` of events it refused for good,
    so that the kiosk keeps them aside instead of sending them again every few minutes. Raises
    ValueError for what :func:`decode_ack` would refuse (more than :data:`MAX_ACK_IDS` of either,
    more than :data:`MAX_ACK_BYTES`, a malformed entry): :func:`encode_acks` splits a long list."""
    event_ids, refused = list(event_ids), list(refused)
    if len(event_ids) > MAX_ACK_IDS or len(refused) > MAX_ACK_IDS:
        raise ValueError(f"an ack names at most {MAX_ACK_IDS} event ids and {MAX_ACK_IDS} refusals")
    if not all(_ack_id(i) for i in event_ids):
        raise ValueError("malformed event ids")
    if not all(_refusal(r) for r in refused):
        raise ValueError("malformed refusals")
    ack: dict[str, Any] = {"schema": ACK_SCHEMA, "event_ids": event_ids}
    if refused:
        ack["refused"] = [{"event_id": event_id, "reason": reason} for event_id, reason in refused]
    payload = compact_json(ack).encode()
    if len(payload) > MAX_ACK_BYTES:
        raise ValueError(f"an ack is at most {MAX_ACK_BYTES} bytes")
    return payload


def encode_acks(event_ids: list[str], refused: list[tuple[str, str]] = ()) -> list[bytes]:
    """As many :func:`encode_ack` messages as ``event_ids`` and ``refused`` need, each within
    what the kiosk's :func:`decode_ack` takes (:data:`MAX_ACK_IDS` entries of each kind,
    :data:`MAX_ACK_BYTES`); in order, ids first. None for nothing."""
    # Each entry's room as encoded (and a comma), within what is left of an ack once its frame
    # (schema, both keys) is counted.
    room = MAX_ACK_BYTES - len(compact_json({"schema": ACK_SCHEMA, "event_ids": [], "refused": []}).encode())
    entries = ([(0, i, len(compact_json(i).encode()) + 1) for i in event_ids]
               + [(1, (e, r), len(compact_json({"event_id": e, "reason": r}).encode()) + 1) for e, r in refused])
    chunks: list[tuple[list, list]] = [([], [])]
    used = 0
    for kind, entry, size in entries:
        if used + size > room or len(chunks[-1][kind]) >= MAX_ACK_IDS:
            chunks.append(([], []))
            used = 0
        chunks[-1][kind].append(entry)
        used += size
    return [encode_ack(ids, refusals) for ids, refusals in chunks if ids or refusals]


def decode_ack(payload: bytes) -> tuple[list[str], list[tuple[str, str]]]:
    """``(event_ids, refused)`` of an ack: the ids the collector holds, and ``(event_id, reason)``
    of the events it refused for good (none for most acks); raises ValueError for anything else."""
    if len(payload) > MAX_ACK_BYTES:
        raise ValueError("ack too large")
    ack = load_json(payload)
    if not isinstance(ack, dict) or ack.get("schema") != ACK_SCHEMA or not isinstance(ack.get("event_ids"), list):
        raise ValueError("not a checkin.ack/1 message")
    ids = ack["event_ids"]
    if len(ids) > MAX_ACK_IDS or not all(_ack_id(i) for i in ids):
        raise ValueError("malformed event ids")
    refused = ack.get("refused", [])
    if not isinstance(refused, list) or len(refused) > MAX_ACK_IDS or not all(
            isinstance(r, dict) and _refusal((r.get("event_id"), r.get("reason"))) for r in refused):
        raise ValueError("malformed refusals")
    return ids, [(r["event_id"], r["reason"]) for r in refused]


def _ack_id(value: Any) -> bool:
    """An acked id: an event id or a self-test report id (36 characters)."""
    return isinstance(value, str) and len(value) == 36


def _refusal(entry: Any) -> bool:
    """A refusal ``(event_id, reason)``: a lower-case UUID, and a code of 1-32 characters."""
    if not isinstance(entry, (tuple, list)) or len(entry) != 2:
        return False
    event_id, reason = entry
    return (isinstance(event_id, str) and bool(_UUID.fullmatch(event_id)) and isinstance(reason, str)
            and 0 < len(reason) <= 32 and not has_controls(reason))


# -- self-test reports ------------------------------------------------------------------------

def validate_selftest(payload: bytes, *, topic_kiosk_id: str | None = None) -> dict[str, Any]:
    """A ``checkin.selftest/1`` report::

        {"schema": "checkin.selftest/1", "report_id": "<uuid>", "kiosk_id": "...", "venue_id": "...",
         "at": "2026-11-22T10:40:00.000+07:00", "version": "0.1.0", "passed": true,
         "checks": [{"name": "camera", "status": "pass", "detail": "15.0 frames/s", "figures": {...}}]}

    ``report_id`` is acked on ``kiosks/<id>/acks`` like an event id once the report is stored.
    Raises :class:`InvalidEvent` (reasons as for events) for anything else.
    """
    if len(payload) > MAX_SELFTEST_BYTES:
        raise InvalidEvent("oversize", f"{len(payload)} bytes, limit {MAX_SELFTEST_BYTES}")
    report = load_json(payload)
    if not isinstance(report, dict):
        raise InvalidEvent("schema", "a report is a JSON object")
    if report.get("schema") != SELFTEST_SCHEMA:
        raise InvalidEvent("schema", f"schema must be {SELFTEST_SCHEMA!r}")
    keys = {"schema", "report_id", "kiosk_id", "venue_id", "at", "version", "passed", "checks"}
    _exact_keys(report, keys, keys, "report")
    _uuid(report, "report_id")
    for key in ("kiosk_id", "venue_id"):
        if not isinstance(report[key], str) or not _ID.fullmatch(report[key]):
            raise InvalidEvent("field", f"{key} must be a lower-case id")
    if topic_kiosk_id is not None and report["kiosk_id"] != topic_kiosk_id:
        raise InvalidEvent("kiosk_mismatch", "kiosk_id in the payload differs from the topic's")
    parse_time(report["at"])
    _text(report, "version", 32)
    if not isinstance(report["passed"], bool):
        raise InvalidEvent("field", "passed must be true or false")
    checks = report["checks"]
    if not isinstance(checks, list) or not 1 <= len(checks) <= 32:
        raise InvalidEvent("field", "checks must be a list of 1-32 checks")
    for check in checks:
        if not isinstance(check, dict):
            raise InvalidEvent("field", "each check is an object")
        _exact_keys(check, {"name", "status", "detail"}, {"name", "status", "detail", "figures"}, "check")
        _text(check, "name", 32)
        _enum(check, "status", SELFTEST_STATUSES)
        _text(check, "detail", 400)
        figures = check.get("figures", {})
        if not isinstance(figures, dict) or len(figures) > 16 or not all(
                isinstance(k, str) and len(k) <= 32 and _scalar(v) for k, v in figures.items()):
            raise InvalidEvent("field", "figures must be at most 16 short scalar values")
    if report["passed"] != all(c["status"] != "fail" for c in checks):
        raise InvalidEvent("field", "passed disagrees with the checks")
    return report


def _scalar(value: Any) -> bool:
    """A figure: null, true/false, a finite number, or a short text without control characters."""
    if value is None or isinstance(value, (bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and len(value) <= 200 and not has_controls(value)
