"""What every message on the wire is read and written with: one reader of JSON (bounded in size
by the caller and in depth here), the field checks the event, self-test and ack schemas share,
and :class:`InvalidEvent`, the refusal they all raise.

>>> load_json(b"[" * 2000 + b"]" * 2000)
Traceback (most recent call last):
mqtt.wire.fields.InvalidEvent: not_json: nested deeper than 32 levels
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from typing import Any

from .ids import UUID

#: A message nested deeper than this (``[[[…]]]``) is not JSON the contract reads: none of its
#: messages is deeper than 4, and a limit of our own, unlike Python's recursion limit, does not
#: depend on how deep the reading thread's stack already is.
MAX_JSON_DEPTH = 32


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
    caller is prepared for."""
    try:
        value = json.loads(payload.decode("utf-8"))
    except RecursionError:
        raise InvalidEvent("not_json", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEvent("not_json", f"not UTF-8 JSON ({type(exc).__name__})") from None
    # Every list or object opens with a bracket, so a text with no more opening brackets than the
    # limit (an event has three) cannot nest deeper: only other texts are walked.
    if payload.count(b"[") + payload.count(b"{") > MAX_JSON_DEPTH and not _within_depth(value, MAX_JSON_DEPTH):
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


def require_keys(obj: dict, required: set, allowed: set, where: str) -> None:
    missing = required - obj.keys()
    if missing:
        raise InvalidEvent("schema", f"{where} lacks {', '.join(sorted(missing))}")
    extra = obj.keys() - allowed
    if extra:
        raise InvalidEvent("schema", f"{where} has unknown field(s) {', '.join(sorted(map(str, extra)))[:80]}")


def require_uuid(obj: dict, key: str) -> None:
    value = obj[key]
    if not isinstance(value, str) or not UUID.fullmatch(value):
        raise InvalidEvent("field", f"{key} must be a lower-case UUID")


def require_one_of(obj: dict, key: str, allowed: tuple) -> None:
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


def require_text(obj: dict, key: str, limit: int, nullable: bool = False) -> None:
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
