"""The console's audit: every lookup of a person, every venue exposure, every export, every change
of a user or a token, with who, when, what and how many people it returned. Append-only: the
store's triggers refuse any change or deletion, for every database role, and the retention purge
never touches it. Admins read it on the console; operators with ``kiosk-collector audit [--json]``.

What is written is the person looked up (``kind:id``) and the search, never a name typed into a
search box as such: a name search records how many it matched.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ..store import Store
from ..store_console import AuditRow


class ConsoleAudit:
    def __init__(self, store: Store, *, clock=time.time):
        self.store = store
        self.clock = clock

    def record(self, actor: str, action: str, *, person: str | None = None, query: dict | None = None,
               results: int | None = None, client: str | None = None) -> None:
        self.store.append_audit(AuditRow(datetime.fromtimestamp(self.clock(), UTC), actor, action, person, query,
                                         results, client))

    def rows(self, *, since: datetime | None = None, limit: int | None = None) -> list[AuditRow]:
        return self.store.audit_rows(since=since, limit=limit)


def as_json(row: AuditRow) -> dict:
    """One audit row as ``kiosk-collector audit --json`` prints it."""
    return {"id": row.id, "at": row.at.isoformat(timespec="milliseconds"), "actor": row.actor,
            "action": row.action, "person": row.person, "query": row.query, "results": row.results,
            "client": row.client}
