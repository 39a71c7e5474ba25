"""What a kiosk's database file holds, read as a technician would with ``sqlite3
/var/lib/checkin-kiosk/kiosk.db``: on a connection of its own, outside the kiosk's store, so a
test sees what was committed and nothing the kiosk's own connection has not yet made durable.
The product needs neither list, so :mod:`kiosk.store` has no method for them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


def _rows(store_or_path, sql: str) -> list[tuple]:
    path = Path(getattr(store_or_path, "path", store_or_path))
    connection = sqlite3.connect(path, timeout=10)
    try:
        connection.execute("PRAGMA query_only = 1")
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def events(store_or_path) -> list[dict]:
    """Every event the kiosk holds, as it publishes it, by ``seq``."""
    return [json.loads(body) for (body,) in _rows(store_or_path, "SELECT body FROM events ORDER BY seq")]


def refusal_counts(store_or_path) -> dict[str, int]:
    """Refused codes by reason, as counted at the door."""
    return dict(_rows(store_or_path, "SELECT reason, count(*) FROM refusals GROUP BY reason"))
