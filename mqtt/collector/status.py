"""What the running collector says about itself: ``[collector] status_file``, one JSON object,
replaced atomically, read by ``kiosk-collector fleet``.

It lives on a tmpfs (``/run/checkin-collector``, systemd's RuntimeDirectory), not beside the
store: when the store's disk is full this is how the operator's screen still learns of it::

    {"client_id": "collector-1", "pid": 4242, "at": "2025-08-15T01:31:02+00:00",
     "connected": true, "store": "down", "store_down_since": "2025-08-15T01:20:00+00:00",
     "store_error": "central store cannot write: database or disk is full", "waiting": 57,
     "stored": 4812, "dead_letters": 3, "line": "STORE DOWN since …"}

No personal data goes in it (counts, times and the store's error text only).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

from ..plumbing.files import replace_file

log = logging.getLogger("mqtt.collector")

#: A status file not rewritten for this long belongs to a collector that is not running.
STALE_S = 30.0


def write_status(path: Path, state: dict) -> bool:
    """Replace ``path`` with ``state``; False (logged once by the caller) when it cannot be written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, (json.dumps(state, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"), mode=0o644)
        return True
    except OSError:
        return False


def read_status(path: Path, now: datetime) -> dict | None:
    """The collector's last status (with ``stale``: not rewritten for :data:`STALE_S`), or None
    when there is none (or it is not a status file)."""
    try:
        state = json.loads(Path(path).read_text(encoding="utf-8"))
        at = datetime.fromisoformat(state["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(state, dict):
        return None
    state["stale"] = (now - at).total_seconds() > STALE_S
    return state
