"""The audit trail: who (staff id), what (an action code and the visit or person id it touched),
when. Never a name, a phone number or an ID number: the trail is kept longer than personal data.

>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as tmp:
...     store = VisitStore.open(Path(tmp, "kiosk.db"))
...     audit = Audit(store)
...     audit.record("s-1a2b3c4d", "check_in", subject="3f2a9c1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b")
...     [(row["staff_id"], row["action"], row["subject"]) for row in audit.recent()]
...     store.close()
[('s-1a2b3c4d', 'check_in', '3f2a9c1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b')]

Failed logins are not a row each (a flood would write one per request): each client (see
:func:`mqtt.plumbing.throttle.client_key`) gets one ``login_failed`` row per window, its subject
the client and its detail the running counts, ``failed=3 throttled=120`` (wrong names or PINs
that were checked; attempts answered "try again later" by the throttle). The row is rewritten at
each checked failure (the throttle keeps them few) and, for throttled attempts, at most once per
``flush_s``; :meth:`Audit.flush` writes what is left when the kiosk stops.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ..store import VisitStore

ACTIONS = ("login", "login_failed", "locked_out", "unlocked", "pin_reset", "logout", "pin_changed", "check_in",
           "check_out", "check_out_all", "register", "print_card", "revoke",
           # one-time codes to a citizen's phone (kiosk/staff/phone_codes.py): the code's row id, the outcome
           "phone_code_sent", "phone_code_refused", "phone_code_checked",
           # a health declaration made with staff: the person id, "flagged" or "clear" (never the answers)
           "health_declared")


@dataclass
class _Tally:
    started: float
    failed: int = 0
    throttled: int = 0
    row_id: int | None = None
    written: tuple[int, int] = (0, 0)
    written_at: float = 0.0

    @property
    def detail(self) -> str:
        return f"failed={self.failed} throttled={self.throttled}"


class Audit:
    """clock: seconds since the epoch; window_s: one ``login_failed`` row per client this long;
    flush_s: throttled attempts are written at most this often per client."""

    def __init__(self, store: VisitStore, *, lock: threading.RLock | None = None, clock=time.time,
                 window_s: float = 600, flush_s: float = 60):
        self.store = store
        self.lock = lock or threading.RLock()
        self.clock = clock
        self.window_s = window_s
        self.flush_s = flush_s
        self._tallies: dict[str, _Tally] = {}

    def record(self, staff_id: str | None, action: str, *, subject: str | None = None,
               detail: str | None = None) -> None:
        """One row, in a transaction of its own."""
        with self.lock, self.store.transaction() as tx:
            self.write(tx, staff_id, action, subject=subject, detail=detail)

    def write(self, tx, staff_id: str | None, action: str, *, subject: str | None = None,
              detail: str | None = None) -> int:
        """One row in the caller's transaction (the caller holds the lock); returns its id."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        return tx.insert_audit(at=self._at(self.clock()), staff_id=staff_id, action=action,
                                    subject=subject, detail=detail)

    def recent(self, limit: int = 200) -> list[dict]:
        with self.lock:
            rows = self.store.reader().recent_audit(limit)
        return [dict(zip(("at", "staff_id", "action", "subject", "detail"), r, strict=True)) for r in rows]

    # -- failed logins, tallied -----------------------------------------------------------------

    def login_failed(self, tx, client: str) -> None:
        """A checked login that failed, written now in the caller's transaction (lock held)."""
        tally = self._tally(client, tx)
        tally.failed += 1
        self._write_tally(tx, client, tally)

    def login_throttled(self, client: str) -> None:
        """An attempt the throttle refused: counted, and written when the client's row is due."""
        with self.lock:
            tally = self._tally(client)
            tally.throttled += 1
            if self.clock() - tally.written_at < self.flush_s:
                return
            with self.store.transaction() as tx:
                self._write_tally(tx, client, tally)

    def flush(self) -> None:
        """Write every count not written yet (the kiosk stops)."""
        with self.lock:
            due = [(c, t) for c, t in self._tallies.items() if (t.failed, t.throttled) != t.written]
            if not due:
                return
            with self.store.transaction() as tx:
                for client, tally in due:
                    self._write_tally(tx, client, tally)

    def _tally(self, client: str, tx=None) -> _Tally:
        """The client's tally of this window (lock held); a window that ended gets its last
        counts written (in ``tx``, else in a transaction of its own)."""
        now = self.clock()
        tally = self._tallies.get(client)
        if tally is None or now - tally.started >= self.window_s:
            if tally is not None and (tally.failed, tally.throttled) != tally.written:
                if tx is not None:
                    self._write_tally(tx, client, tally)
                else:
                    with self.store.transaction() as own:
                        self._write_tally(own, client, tally)
            for old in [c for c, t in self._tallies.items() if now - t.started >= self.window_s
                        and (t.failed, t.throttled) == t.written]:
                del self._tallies[old]
            tally = self._tallies[client] = _Tally(started=now)
        return tally

    def _write_tally(self, tx, client: str, tally: _Tally) -> None:
        if tally.row_id is None or not tx.update_audit_detail(tally.row_id, tally.detail):
            tally.row_id = tx.insert_audit(at=self._at(tally.started), staff_id=None, action="login_failed",
                                                subject=client, detail=tally.detail)
        tally.written, tally.written_at = (tally.failed, tally.throttled), self.clock()

    @staticmethod
    def _at(epoch: float) -> str:
        return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
