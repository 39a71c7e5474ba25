"""``checkin.selftest/1``: the report a technician's self-test publishes on
``kiosks/<id>/selftest``, acked by its ``report_id`` like an event once the centre stores it.
"""

from __future__ import annotations

import math
from typing import Any

from .fields import (
    InvalidEvent,
    has_controls,
    load_json,
    parse_time,
    require_keys,
    require_one_of,
    require_text,
    require_uuid,
)
from .ids import ID, ID_RULE

SELFTEST_SCHEMA = "checkin.selftest/1"
#: A self-test report: a dozen checks with a sentence and a few figures each.
MAX_SELFTEST_BYTES = 16384
SELFTEST_STATUSES = ("pass", "warn", "fail", "skip")


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
    require_keys(report, keys, keys, "report")
    require_uuid(report, "report_id")
    for key in ("kiosk_id", "venue_id"):
        if not isinstance(report[key], str) or not ID.fullmatch(report[key]):
            raise InvalidEvent("field", f"{key} must be {ID_RULE}")
    if topic_kiosk_id is not None and report["kiosk_id"] != topic_kiosk_id:
        raise InvalidEvent("kiosk_mismatch", "kiosk_id in the payload differs from the topic's")
    parse_time(report["at"])
    require_text(report, "version", 32)
    if not isinstance(report["passed"], bool):
        raise InvalidEvent("field", "passed must be true or false")
    checks = report["checks"]
    if not isinstance(checks, list) or not 1 <= len(checks) <= 32:
        raise InvalidEvent("field", "checks must be a list of 1-32 checks")
    for check in checks:
        if not isinstance(check, dict):
            raise InvalidEvent("field", "each check is an object")
        require_keys(check, {"name", "status", "detail"}, {"name", "status", "detail", "figures"}, "check")
        require_text(check, "name", 32)
        require_one_of(check, "status", SELFTEST_STATUSES)
        require_text(check, "detail", 400)
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
