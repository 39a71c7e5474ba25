"""The outbox table's statements, for the uplink's view of it (:class:`kiosk.outbox.KioskOutbox`).

Reads take the database; writes take the connection inside the caller's write transaction and
return how many rows changed state. ``now`` is the ISO 8601 time written to ``updated_at``.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

#: Below SQLite's 999-parameter limit of older builds.
CHUNK = 500


def pending(db: sqlite_utils.Database, after_seq: int, limit: int) -> list[tuple[int, str, str]]:
    """``(seq, event_id, body)`` of pending rows after ``after_seq``, lowest seq first."""
    return db.execute(
        "SELECT o.seq, e.event_id, e.body FROM outbox o JOIN events e ON e.seq = o.seq "
        "WHERE o.state = 'pending' AND o.seq > ? ORDER BY o.seq LIMIT ?", [after_seq, limit]).fetchall()


def quarantined(db: sqlite_utils.Database, reason_prefix: str, limit: int) -> list[tuple[int, str, str]]:
    """``(seq, event_id, body)`` of quarantined rows whose reason starts with ``reason_prefix``,
    lowest seq first."""
    return db.execute(
        "SELECT o.seq, e.event_id, e.body FROM outbox o JOIN events e ON e.seq = o.seq "
        "WHERE o.state = 'quarantined' AND substr(o.last_error, 1, length(?)) = ? ORDER BY o.seq LIMIT ?",
        [reason_prefix, reason_prefix, limit]).fetchall()


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Rows by state."""
    return dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


def undelivered(db: sqlite_utils.Database) -> int:
    """How many events the central store does not hold yet (pending or sent): the screen's
    "waiting to be sent" (an index range, not a count of every state)."""
    return db.execute("SELECT count(*) FROM outbox WHERE state IN ('pending', 'sent')").fetchone()[0]


def oldest_undelivered_at(db: sqlite_utils.Database) -> str | None:
    """The ``at`` of the oldest event not yet held centrally (pending or sent), or None."""
    return db.execute("SELECT min(e.at) FROM outbox o JOIN events e ON e.seq = o.seq "
                      "WHERE o.state IN ('pending', 'sent')").fetchone()[0]


def mark_sent(conn: sqlite3.Connection, seqs: list[int], now: str) -> int:
    return sum(conn.execute(
        "UPDATE outbox SET state = 'sent', attempts = attempts + 1, updated_at = ? "
        f"WHERE state = 'pending' AND seq IN ({_marks(chunk)})", [now, *chunk]).rowcount for chunk in _chunks(seqs))


def mark_delivered(conn: sqlite3.Connection, event_ids: list[str], now: str) -> int:
    """Acks may repeat: only rows not yet delivered (or quarantined) change."""
    return sum(conn.execute(
        "UPDATE outbox SET state = 'delivered', updated_at = ? WHERE state IN ('pending', 'sent') "
        f"AND seq IN (SELECT seq FROM events WHERE event_id IN ({_marks(chunk)}))", [now, *chunk]).rowcount
        for chunk in _chunks(event_ids))


def quarantine(conn: sqlite3.Connection, seqs: list[int], reason: str, now: str) -> int:
    """The rows ``seqs`` are set aside with ``reason``."""
    return sum(conn.execute(
        "UPDATE outbox SET state = 'quarantined', last_error = ?, updated_at = ? "
        f"WHERE seq IN ({_marks(chunk)})", [reason, now, *chunk]).rowcount for chunk in _chunks(seqs))


def quarantine_refused(conn: sqlite3.Connection, refused: list[tuple[str, str]], now: str) -> int:
    """Rows the collector refused for good (``(event_id, reason)``) are set aside with the reason."""
    return sum(conn.execute(
        "UPDATE outbox SET state = 'quarantined', last_error = ?, updated_at = ? WHERE state IN ('pending', 'sent') "
        "AND seq IN (SELECT seq FROM events WHERE event_id = ?)", [f"refused centrally: {reason}", now, event_id]
    ).rowcount for event_id, reason in refused)


def quarantine_pending(conn: sqlite3.Connection, reason: str, now: str) -> int:
    """Every pending row is set aside with ``reason``."""
    return conn.execute("UPDATE outbox SET state = 'quarantined', last_error = ?, updated_at = ? "
                        "WHERE state = 'pending'", [reason, now]).rowcount


def requeue_quarantined(conn: sqlite3.Connection, reason_prefix: str, now: str) -> int:
    """Quarantined rows whose reason starts with ``reason_prefix`` back to pending (the reason is
    kept, as a record of why they waited)."""
    return conn.execute("UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'quarantined' "
                        "AND substr(last_error, 1, length(?)) = ?", [now, reason_prefix, reason_prefix]).rowcount


def requeue_sent(conn: sqlite3.Connection, now: str, *, updated_before: str | None = None) -> int:
    """Sent rows (PUBACKed by the broker, not acked by the collector) back to pending: all of
    them, or those last updated before ``updated_before``."""
    if updated_before is None:
        return conn.execute("UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'sent'",
                            [now]).rowcount
    return conn.execute("UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'sent' AND updated_at < ?",
                        [now, updated_before]).rowcount


def _marks(chunk: list) -> str:
    return ", ".join("?" * len(chunk))


def _chunks(items: list) -> list[list]:
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]
