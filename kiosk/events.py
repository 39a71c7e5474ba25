"""Building ``checkin.event/1`` events (the wire contract's JSON) from a visit change."""

from __future__ import annotations

from .clock import Stamp

SCHEMA = "checkin.event/1"
METHODS = ("camera", "slip", "kiosk_card", "staff_phone", "staff_form")


def build_event(*, seq: int, event_id: str, type: str, kiosk_id: str, venue_id: str, visit_id: str,
                at: str, stamp: Stamp, method: str | None, staff_id: str | None, person: dict,
                estimated: bool = False) -> dict:
    """One event.

    at: when it happened (for an auto check-out, the estimated time, not now);
    stamp: the clock reading when it was recorded (sync state, boot id, uptime);
    estimated: True for check-outs the kiosk inferred (max stay, closing time).
    """
    return {
        "schema": SCHEMA,
        "event_id": event_id,
        "kiosk_id": kiosk_id,
        "venue_id": venue_id,
        "seq": seq,
        "type": type,
        "visit_id": visit_id,
        "at": at,
        "clock": stamp.as_event_clock(),
        "method": method,
        "staff_id": staff_id,
        "person": person,
        "estimated": estimated,
    }
