"""``checkin.ack/1``: what the collector tells a kiosk on ``kiosks/<id>/acks``: the event (and
self-test report) ids it holds durably, and the events it refused for good with the reason.

>>> decode_ack(encode_ack(["0b6e4a52-8d2f-4c1e-9a0e-3f5b7c9d1e2a"]))
(['0b6e4a52-8d2f-4c1e-9a0e-3f5b7c9d1e2a'], [])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .fields import compact_json, has_controls, load_json
from .ids import UUID

ACK_SCHEMA = "checkin.ack/1"
#: An ack names at most this many event ids, and at most this many refusals ...
MAX_ACK_IDS = 1000
#: ... in at most this many bytes (room for MAX_ACK_IDS ids; a refusal takes about twice an id's
#: room, so a long list of refusals goes in several acks: :func:`encode_acks`). The kiosk refuses a
#: larger ack unread; the brokers' max_packet_size (64 KiB) is above it.
MAX_ACK_BYTES = MAX_ACK_IDS * 40 + 100


def encode_ack(event_ids: Sequence[str], refused: Sequence[tuple[str, str]] = ()) -> bytes:
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


def encode_acks(event_ids: Sequence[str], refused: Sequence[tuple[str, str]] = ()) -> list[bytes]:
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
    return (isinstance(event_id, str) and bool(UUID.fullmatch(event_id)) and isinstance(reason, str)
            and 0 < len(reason) <= 32 and not has_controls(reason))

