"""The audit trail: who (staff id), what (an action code and the visit or person id it touched),
when. Never a name, a phone number or an ID number: the trail is kept longer than personal data.

>>> audit = Audit(store)
>>> audit.record("s-1a2b3c4d", "check_in", subject="3f2a9c1e-…")
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from ..store import VisitStore

ACTIONS = ("login", "login_failed", "locked_out", "logout", "pin_changed", "check_in", "check_out",
           "check_out_all", "register", "print_card", "revoke")


class Audit:
    def __init__(self, store: VisitStore, *, lock: threading.RLock | None = None):
        self.store = store
        self.lock = lock or threading.RLock()

    def record(self, staff_id: str | None, action: str, *, subject: str | None = None, detail: str | None = None) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        with self.lock, self.store.transaction() as tx:
            tx.execute("INSERT INTO audit (at, staff_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                       [datetime.now(timezone.utc).isoformat(timespec="seconds"), staff_id, action, subject, detail])

    def recent(self, limit: int = 200) -> list[dict]:
        with self.lock:
            rows = self.store.db.execute("SELECT at, staff_id, action, subject, detail FROM audit "
                                         "ORDER BY id DESC LIMIT ?", [limit]).fetchall()
        return [dict(zip(("at", "staff_id", "action", "subject", "detail"), r)) for r in rows]
