"""The outbox: each event waits here to be published, in ``seq`` order, and its fate (for the
uplink's view of it, :class:`kiosk.centre.outbox.KioskOutbox`, and the screen's and the staff desk's counts).

The writes return how many rows changed state; ``now`` is the ISO 8601 time written to ``updated_at``.
"""

from __future__ import annotations

from .database import Statements

#: Below SQLite's 999-parameter limit of older builds.
CHUNK = 500


class OutboxReads(Statements):
    def pending_events(self, after_seq: int, limit: int) -> list[tuple[int, str, str]]:
        """``(seq, event_id, body)`` of pending rows after ``after_seq``, lowest seq first."""
        return self._rows(
            "SELECT o.seq, e.event_id, e.body FROM outbox o JOIN events e ON e.seq = o.seq "
            "WHERE o.state = 'pending' AND o.seq > ? ORDER BY o.seq LIMIT ?", [after_seq, limit])

    def quarantined_events(self, reason_prefix: str, limit: int) -> list[tuple[int, str, str]]:
        """``(seq, event_id, body)`` of quarantined rows whose reason starts with ``reason_prefix``,
        lowest seq first."""
        return self._rows(
            "SELECT o.seq, e.event_id, e.body FROM outbox o JOIN events e ON e.seq = o.seq "
            "WHERE o.state = 'quarantined' AND substr(o.last_error, 1, length(?)) = ? ORDER BY o.seq LIMIT ?",
            [reason_prefix, reason_prefix, limit])

    def outbox_counts(self) -> dict[str, int]:
        """Rows by state."""
        return dict(self._rows("SELECT state, count(*) FROM outbox GROUP BY state"))

    def undelivered(self) -> int:
        """How many events the central store does not hold yet (pending or sent): the screen's
        "waiting to be sent" (an index range, not a count of every state)."""
        return self._value("SELECT count(*) FROM outbox WHERE state IN ('pending', 'sent')")

    def oldest_undelivered_at(self) -> str | None:
        """The ``at`` of the oldest event not yet held centrally (pending or sent), or None."""
        return self._value("SELECT min(e.at) FROM outbox o JOIN events e ON e.seq = o.seq "
                           "WHERE o.state IN ('pending', 'sent')")


class OutboxWrites(Statements):
    def mark_sent(self, seqs: list[int], now: str) -> int:
        return sum(self._change(
            "UPDATE outbox SET state = 'sent', attempts = attempts + 1, updated_at = ? "
            f"WHERE state = 'pending' AND seq IN ({_marks(chunk)})", [now, *chunk]) for chunk in _chunks(seqs))

    def mark_delivered(self, event_ids: list[str], now: str) -> int:
        """Acks may repeat: only rows not yet delivered (or quarantined) change."""
        return sum(self._change(
            "UPDATE outbox SET state = 'delivered', updated_at = ? WHERE state IN ('pending', 'sent') "
            f"AND seq IN (SELECT seq FROM events WHERE event_id IN ({_marks(chunk)}))", [now, *chunk])
            for chunk in _chunks(event_ids))

    def quarantine(self, seqs: list[int], reason: str, now: str) -> int:
        """The rows ``seqs`` are set aside with ``reason``."""
        return sum(self._change(
            "UPDATE outbox SET state = 'quarantined', last_error = ?, updated_at = ? "
            f"WHERE seq IN ({_marks(chunk)})", [reason, now, *chunk]) for chunk in _chunks(seqs))

    def quarantine_refused(self, refused: list[tuple[str, str]], now: str) -> int:
        """Rows the collector refused for good (``(event_id, reason)``) are set aside with the reason."""
        return sum(self._change(
            "UPDATE outbox SET state = 'quarantined', last_error = ?, updated_at = ? "
            "WHERE state IN ('pending', 'sent') AND seq IN (SELECT seq FROM events WHERE event_id = ?)",
            [f"refused centrally: {reason}", now, event_id])
            for event_id, reason in refused)

    def quarantine_pending(self, reason: str, now: str) -> int:
        """Every pending row is set aside with ``reason``."""
        return self._change("UPDATE outbox SET state = 'quarantined', last_error = ?, updated_at = ? "
                            "WHERE state = 'pending'", [reason, now])

    def requeue_quarantined(self, reason_prefix: str, now: str) -> int:
        """Quarantined rows whose reason starts with ``reason_prefix`` back to pending (the reason is
        kept, as a record of why they waited)."""
        return self._change("UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'quarantined' "
                            "AND substr(last_error, 1, length(?)) = ?", [now, reason_prefix, reason_prefix])

    def requeue_sent(self, now: str, *, updated_before: str | None = None) -> int:
        """Sent rows (PUBACKed by the broker, not acked by the collector) back to pending: all of
        them, or those last updated before ``updated_before``."""
        if updated_before is None:
            return self._change("UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'sent'", [now])
        return self._change("UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'sent' "
                            "AND updated_at < ?", [now, updated_before])


def _marks(chunk: list) -> str:
    return ", ".join("?" * len(chunk))


def _chunks(items: list) -> list[list]:
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]
