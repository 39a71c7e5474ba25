"""What a kiosk says of itself: ``status`` (retained ``online``/``offline``, the Last Will saying
``offline``) and ``health`` (a JSON object of figures, replaced by each newer one).

>>> read_status(b"online"), read_health(b'{"outbox": 0}')
('online', {'outbox': 0})
"""

from __future__ import annotations

from typing import Any

from .fields import load_json

ONLINE = "online"
OFFLINE = "offline"
STATUSES = (ONLINE, OFFLINE)
#: A health message: a few dozen figures.
MAX_HEALTH_BYTES = 16 * 1024


def read_status(payload: bytes) -> str:
    """``online`` or ``offline``; raises ValueError for anything else."""
    for status in STATUSES:
        if payload == status.encode():
            return status
    raise ValueError(f"status must be {ONLINE!r} or {OFFLINE!r}")


def read_health(payload: bytes) -> dict[str, Any]:
    """The health object in ``payload``; raises ValueError saying why it is not one."""
    if len(payload) > MAX_HEALTH_BYTES:
        raise ValueError(f"{len(payload)} bytes, limit {MAX_HEALTH_BYTES}")
    if b"\\u0000" in payload:
        raise ValueError("NUL characters")     # PostgreSQL's jsonb cannot hold them
    health = load_json(payload)
    if not isinstance(health, dict):
        raise ValueError("not a JSON object")
    return health
