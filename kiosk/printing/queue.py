"""The print queue: jobs wait in the kiosk store until the printer takes them.

The door never waits for the printer: a check-in (or a staff member asking for a personal card)
only adds a row here. The print worker (with the printer backends) takes queued jobs in order;
jobs survive a restart because they are rows, not memory.

>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as tmp:
...     store = VisitStore.open(Path(tmp, "kiosk.db"))
...     queue = PrintQueue(store, on_queued=lambda: print("worker woken"))
...     queue.enqueue("card", "PABCDEFGHJ", staff_id="s-1a2b3c4d")      # a registered person's card
...     [(job["kind"], job["subject"]) for job in queue.queued()], queue.counts()
...     store.close()
worker woken
1
([('card', 'PABCDEFGHJ')], {'queued': 1})
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from ..store import VisitStore

KINDS = ("slip", "card")


class PrintQueue:
    def __init__(self, store: VisitStore, *, lock: threading.RLock | None = None, on_queued=None):
        """on_queued: called once each job is committed (wakes the print worker)."""
        self.store = store
        self.lock = lock or threading.RLock()
        self.on_queued = on_queued or (lambda: None)

    def enqueue(self, kind: str, subject: str, *, staff_id: str | None = None) -> int:
        """Queue a ``slip`` (subject: visit id) or a ``card`` (subject: person id); returns the job id."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        with self.lock, self.store.transaction() as tx:
            job = tx.queue_print_job(kind, subject, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                                     staff_id=staff_id)
            tx.after_commit(self.on_queued)      # inside a staff action: once that has committed
        return job

    def queued(self) -> list[dict]:
        with self.lock:
            return self.store.reader().queued_print_jobs()

    def counts(self) -> dict[str, int]:
        with self.lock:
            return self.store.reader().print_job_counts()
