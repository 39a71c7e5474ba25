"""Building ``checkin.event/1`` events (the wire contract's JSON) from a visit change.

Every event is checked with the collector's own validator (:func:`mqtt.contract.check_event`)
before it is recorded, so the kiosk never keeps an event the centre would refuse. The person has
been fitted to the contract at the door (:func:`kiosk.credentials.fit_to_contract`), so for any
accepted credential this check passes (``tests/test_credentials_properties.py`` proves it).
"""

from __future__ import annotations

from mqtt import contract

from .clock import Stamp

SCHEMA = contract.SCHEMA
METHODS = contract.METHODS


def build_event(*, seq: int, event_id: str, type: str, kiosk_id: str, venue_id: str, visit_id: str,
                at: str, stamp: Stamp, method: str | None, staff_id: str | None, person: dict,
                estimated: bool = False) -> dict:
    """One event; raises :class:`mqtt.contract.InvalidEvent` for one the centre would refuse.

    at: when it happened (for an auto check-out, the estimated time, not now);
    stamp: the clock reading ``at`` comes from (sync state, boot id, uptime);
    estimated: True for check-outs the kiosk inferred (max stay, closing time).
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
        "clock": stamp.as_event_clock(),
        "method": method,
        "staff_id": staff_id,
        "person": person,
        "estimated": estimated,
    }
    contract.check_event(event, now=stamp.at)
    return event
