"""The kiosk's outbox as the uplink sees it: events to publish, in ``seq`` order, and their fate.

States: ``pending`` (to publish) -> ``sent`` (the broker PUBACKed it) -> ``delivered`` (the
collector's ack named it; the central store holds it). ``quarantined``: the broker or the
collector refused it; it waits for a technician instead of being retried forever, unless the
uplink only guessed the refusal (its reason says so): then it goes back to pending once the broker
accepts the kiosk's events again.

The uplink thread owns its own connection to the kiosk database (the scan loop has another).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from ..store import StoreConnection, VisitStore


class KioskOutbox:
    """The uplink's interface to the kiosk store (see ``mqtt.uplink.Outbox``); its statements are
    in :mod:`kiosk.store.outbox`, each call one read or one write transaction.

    >>> import tempfile
    >>> from kiosk.door.checkin import CheckinDesk
    >>> from kiosk.clock import Clock
    >>> from kiosk.credentials import recognise
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = VisitStore.open(Path(tmp.name, "kiosk.db"))         # the scan loop's connection
    >>> desk = CheckinDesk(store, Clock("Asia/Ho_Chi_Minh"), kiosk_id="k1", venue_id="cho-phanrang")
    >>> _ = desk.present(recognise("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1|15072021"))
    >>> outbox = KioskOutbox(store.path)                             # the uplink's own
    >>> [(seq, event_id, payload)] = outbox.pending(after_seq=0, limit=100)
    >>> seq, payload[:27]
    (1, b'{"schema":"checkin.event/1"')
    >>> outbox.mark_sent([seq])                                      # the broker PUBACKed it
    >>> outbox.mark_delivered([event_id]), outbox.mark_delivered([event_id])      # the collector's ack, twice
    (1, 0)
    >>> outbox.depth()
    {'pending': 0, 'sent': 0, 'delivered': 1, 'quarantined': 0, 'oldest_undelivered_s': None}
    >>> outbox.close(); store.close(); tmp.cleanup()
    """

    def __init__(self, path: Path):
        # Opened when first needed (and again after a failed open): see StoreConnection. The
        # uplink thread's connection; the kiosk's commands run on that thread and use it too.
        self.store = VisitStore(StoreConnection(path))

    def pending(self, *, after_seq: int = 0, limit: int = 100) -> list[tuple[int, str, bytes]]:
        """``(seq, event_id, payload)`` of pending rows after ``after_seq``, lowest seq first."""
        rows = self.store.reader().pending_events(after_seq, limit)
        return [(seq, event_id, body.encode("utf-8")) for seq, event_id, body in rows]

    def mark_sent(self, seqs: list[int]) -> None:
        with self.store.transaction() as tx:
            tx.mark_sent(seqs, _now())

    def mark_delivered(self, event_ids: list[str]) -> int:
        """Rows the collector holds; returns how many changed state (acks may repeat)."""
        with self.store.transaction() as tx:
            return tx.mark_delivered(event_ids, _now())

    def quarantine(self, seq: int, reason: str) -> None:
        with self.store.transaction() as tx:
            tx.quarantine([seq], reason, _now())

    def quarantine_refused(self, refused: list[tuple[str, str]]) -> int:
        """Rows the collector refused for good (an ack's ``refused``: event id, reason) set aside."""
        with self.store.transaction() as tx:
            return tx.quarantine_refused(refused, _now())

    def quarantine_pending(self, reason: str) -> int:
        """Every pending row set aside at once (the broker refuses the kiosk's events topic)."""
        with self.store.transaction() as tx:
            return tx.quarantine_pending(reason, _now())

    def quarantined(self, *, reason_prefix: str, limit: int = 1) -> list[tuple[int, str, bytes]]:
        """``(seq, event_id, payload)`` of rows set aside for a reason starting with
        ``reason_prefix``, lowest seq first (the uplink tests its guesses with them)."""
        rows = self.store.reader().quarantined_events(reason_prefix, limit)
        return [(seq, event_id, body.encode("utf-8")) for seq, event_id, body in rows]

    def requeue_quarantined(self, reason_prefix: str) -> int:
        """Rows set aside for a reason starting with ``reason_prefix`` back to pending: the uplink's
        guesses that the broker refuses them proved wrong. How many."""
        with self.store.transaction() as tx:
            return tx.requeue_quarantined(reason_prefix, _now())

    def requeue_sent(self) -> int:
        """Every sent row (PUBACKed by the broker, not acked by the collector) back to pending: the
        broker came back without our session, so what it held for the collector may be gone."""
        with self.store.transaction() as tx:
            return tx.requeue_sent(_now())

    def resend_unacknowledged(self, older_than_s: float) -> int:
        """Sent rows the collector has not acked for a while go back to pending (the broker or
        the collector may have lost them; the collector de-duplicates a second copy)."""
        cutoff = datetime.fromtimestamp(time.time() - older_than_s).astimezone().isoformat()
        with self.store.transaction() as tx:
            return tx.requeue_sent(_now(), updated_before=cutoff)

    def depth(self) -> dict:
        """Counts by state and the age in seconds of the oldest undelivered event (health report)."""
        reader = self.store.reader()
        counts = reader.outbox_counts()
        oldest = reader.oldest_undelivered_at()
        age = None
        if oldest:
            age = max(0.0, time.time() - datetime.fromisoformat(oldest).timestamp())
        return {"pending": counts.get("pending", 0), "sent": counts.get("sent", 0),
                "delivered": counts.get("delivered", 0), "quarantined": counts.get("quarantined", 0),
                "oldest_undelivered_s": round(age, 1) if age is not None else None}

    def close(self) -> None:
        self.store.close()


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")
