"""The kiosk's outbox as the uplink sees it: events to publish, in ``seq`` order, and their fate.

States: ``pending`` (to publish) -> ``sent`` (the broker PUBACKed it) -> ``delivered`` (the
collector's ack named it; the central store holds it). ``quarantined``: the broker refused it
as not authorised; it waits for a technician instead of being retried forever.

The uplink thread owns its own connection to the kiosk database (the scan loop has another).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from pathlib import Path

import sqlite_utils

from .retention import purge as purge_store
from .store import StoreConnection
from .store.database import raise_unavailable


class KioskOutbox:
    """The uplink's interface to the kiosk store (see ``mqtt.uplink.Outbox``).

    >>> outbox = KioskOutbox(Path("/var/lib/checkin-kiosk/kiosk.db"))
    >>> outbox.pending(after_seq=0, limit=100)
    [(1, 'c0ffee…', b'{"schema":"checkin.event/1",…}')]
    """

    def __init__(self, path: Path, *, retention_days: float = 21.0, clock=None):
        # Opened when first needed (and again after a failed open): see StoreConnection.
        self._connection = StoreConnection(path)
        self.retention_days = retention_days
        self._clock = clock

    @property
    def db(self) -> sqlite_utils.Database:
        return self._connection.get()

    def pending(self, *, after_seq: int = 0, limit: int = 100) -> list[tuple[int, str, bytes]]:
        """``(seq, event_id, payload)`` of pending rows after ``after_seq``, lowest seq first."""
        rows = self._read(
            "SELECT o.seq, e.event_id, e.body FROM outbox o JOIN events e ON e.seq = o.seq "
            "WHERE o.state = 'pending' AND o.seq > ? ORDER BY o.seq LIMIT ?", [after_seq, limit])
        return [(seq, event_id, body.encode("utf-8")) for seq, event_id, body in rows]

    def mark_sent(self, seqs: list[int]) -> None:
        for chunk in _chunks(seqs):
            self._write_many("UPDATE outbox SET state = 'sent', attempts = attempts + 1, updated_at = ? "
                             f"WHERE state = 'pending' AND seq IN ({', '.join('?' * len(chunk))})",
                             [(_now(), *chunk)])

    def mark_delivered(self, event_ids: list[str]) -> int:
        """Rows the collector holds; returns how many changed state (acks may repeat)."""
        return sum(self._write_many(
            "UPDATE outbox SET state = 'delivered', updated_at = ? WHERE state IN ('pending', 'sent') "
            f"AND seq IN (SELECT seq FROM events WHERE event_id IN ({', '.join('?' * len(chunk))}))",
            [(_now(), *chunk)]) for chunk in _chunks(event_ids))

    def quarantine(self, seq: int, reason: str) -> None:
        self._write_many("UPDATE outbox SET state = 'quarantined', last_error = ?, updated_at = ? WHERE seq = ?",
                         [(reason, _now(), seq)])

    def quarantine_refused(self, refused: list[tuple[str, str]]) -> int:
        """Rows the collector refused for good (an ack's ``refused``: event id, reason) set aside."""
        return self._write_many(
            "UPDATE outbox SET state = 'quarantined', last_error = ?, updated_at = ? WHERE state IN ('pending', 'sent') "
            "AND seq IN (SELECT seq FROM events WHERE event_id = ?)",
            [(f"refused centrally: {reason}", _now(), event_id) for event_id, reason in refused])

    def resend_unacknowledged(self, older_than_s: float) -> int:
        """Sent rows the collector has not acked for a while go back to pending (the broker or
        the collector may have lost them; the collector de-duplicates a second copy)."""
        cutoff = datetime.fromtimestamp(time.time() - older_than_s).astimezone().isoformat()
        return self._write_many("UPDATE outbox SET state = 'pending', updated_at = ? "
                                "WHERE state = 'sent' AND updated_at < ?", [(_now(), cutoff)])

    def depth(self) -> dict:
        """Counts by state and the age in seconds of the oldest undelivered event (health report)."""
        counts = dict(self._read("SELECT state, count(*) FROM outbox GROUP BY state", []))
        oldest = self._read("SELECT min(o.seq), min(e.at) FROM outbox o JOIN events e ON e.seq = o.seq "
                            "WHERE o.state IN ('pending', 'sent')", [])[0]
        age = None
        if oldest[1]:
            age = max(0.0, time.time() - datetime.fromisoformat(oldest[1]).timestamp())
        return {"pending": counts.get("pending", 0), "sent": counts.get("sent", 0),
                "delivered": counts.get("delivered", 0), "quarantined": counts.get("quarantined", 0),
                "oldest_undelivered_s": round(age, 1) if age is not None else None}

    def purge(self) -> dict[str, int]:
        """Retention purge, on command (see :func:`kiosk.retention.purge`)."""
        try:
            return purge_store(self.db, clock=self._clock, days=self.retention_days)
        except sqlite3.Error as exc:
            raise_unavailable(exc)

    def close(self) -> None:
        self._connection.close()

    def _read(self, sql: str, params: list) -> list[tuple]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise_unavailable(exc)

    def _write_many(self, sql: str, rows: list[tuple]) -> int:
        if not rows:
            return 0
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            changed = sum(conn.execute(sql, row).rowcount for row in rows)
            conn.execute("COMMIT")
            return changed
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise_unavailable(exc)


def _chunks(items: list, size: int = 500) -> list[list]:
    """Below SQLite's 999-parameter limit of older builds."""
    return [items[i:i + size] for i in range(0, len(items), size)]


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")

