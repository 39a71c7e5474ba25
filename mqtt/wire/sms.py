"""``checkin.sms/1`` and ``checkin.sms-state/1``: a kiosk without a modem asks the centre to text
a citizen's phone (the one-time code of a staff phone check-in), and the centre says what became
of it. On ``kiosks/<id>/sms/send`` (kiosk → centre, QoS 1) and ``kiosks/<id>/sms/state`` (centre
→ kiosk, QoS 1): the broker's ACL lets a kiosk write only under its own id, and the centre answers
only there, so no kiosk can have a text sent in another's name or read another's answers.

>>> request = decode_request(encode_request("0b6e4a52-8d2f-4c1e-9a0e-3f5b7c9d1e2a", "0912345678", "Mã: 123456"))
>>> request.to, request.text
('0912345678', 'Mã: 123456')
>>> decode_state(encode_state(request.request_id, "failed", "rate_limited"))
SmsState(request_id='0b6e4a52-8d2f-4c1e-9a0e-3f5b7c9d1e2a', state='failed', reason='rate_limited')
"""

from __future__ import annotations

from dataclasses import dataclass

from ..plumbing.sms import STATES, check_message
from .fields import InvalidEvent, compact_json, load_json, require_keys, require_one_of, require_uuid

REQUEST_SCHEMA = "checkin.sms/1"
STATE_SCHEMA = "checkin.sms-state/1"
#: Larger messages are refused unread (a request's text is at most 201 characters: 804 bytes).
MAX_SMS_BYTES = 2048
#: Why the centre did not send a text (``state`` ``failed``), or none (``queued``, ``sent``):
#: ``no_relay`` the centre has no SMS backend; ``unknown_kiosk`` the fleet does not list the kiosk;
#: ``rate_limited`` too many texts to that phone or from that kiosk; ``send_failed`` the backend
#: could not hand it over; ``not_delivered`` the network reported it undelivered.
FAILURE_REASONS = ("no_relay", "unknown_kiosk", "rate_limited", "send_failed", "not_delivered")

_REQUEST_FIELDS = {"schema", "request_id", "to", "text"}
_STATE_FIELDS = {"schema", "request_id", "state", "reason"}


@dataclass(frozen=True)
class SmsRequest:
    request_id: str
    to: str
    text: str


@dataclass(frozen=True)
class SmsState:
    request_id: str
    state: str
    reason: str | None = None


def encode_request(request_id: str, to: str, text: str) -> bytes:
    """A kiosk's request; ValueError for what :func:`decode_request` would refuse."""
    payload = compact_json({"schema": REQUEST_SCHEMA, "request_id": request_id, "to": to, "text": text}).encode()
    decode_request(payload)
    return payload


def decode_request(payload: bytes) -> SmsRequest:
    """The request ``payload`` holds; :class:`~mqtt.wire.fields.InvalidEvent` (a ValueError) says
    why it is not one: ``too_large``, ``not_json``, ``schema``, ``field``."""
    obj = _load(payload, REQUEST_SCHEMA)
    require_keys(obj, _REQUEST_FIELDS, _REQUEST_FIELDS, "sms request")
    require_uuid(obj, "request_id")
    if not isinstance(obj["to"], str) or not isinstance(obj["text"], str):
        raise InvalidEvent("field", "to and text must be strings")
    try:
        check_message(obj["to"], obj["text"])
    except ValueError as exc:
        raise InvalidEvent("field", str(exc)) from None
    return SmsRequest(obj["request_id"], obj["to"], obj["text"])


def encode_state(request_id: str, state: str, reason: str | None = None) -> bytes:
    """The centre's answer; ValueError for what :func:`decode_state` would refuse."""
    payload = compact_json({"schema": STATE_SCHEMA, "request_id": request_id, "state": state,
                            "reason": reason}).encode()
    decode_state(payload)
    return payload


def decode_state(payload: bytes) -> SmsState:
    """The answer ``payload`` holds: ``state`` one of ``queued``, ``sent``, ``failed``, and a
    ``reason`` (one of :data:`FAILURE_REASONS`) exactly when it failed."""
    obj = _load(payload, STATE_SCHEMA)
    require_keys(obj, _STATE_FIELDS, _STATE_FIELDS, "sms state")
    require_uuid(obj, "request_id")
    require_one_of(obj, "state", STATES)
    if obj["state"] == "failed":
        require_one_of(obj, "reason", FAILURE_REASONS)
    elif obj["reason"] is not None:
        raise InvalidEvent("field", "reason is null unless the state is failed")
    return SmsState(obj["request_id"], obj["state"], obj["reason"])


def _load(payload: bytes, schema: str) -> dict:
    if len(payload) > MAX_SMS_BYTES:
        raise InvalidEvent("too_large", f"larger than {MAX_SMS_BYTES} bytes")
    obj = load_json(payload)
    if not isinstance(obj, dict) or obj.get("schema") != schema:
        raise InvalidEvent("schema", f"not a {schema} message")
    return obj
