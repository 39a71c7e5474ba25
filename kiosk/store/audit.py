"""The audit trail's rows: who (staff id), what (an action code, the id it touched), when; never
a name or a number (:mod:`kiosk.staff.audit` decides what is written)."""

from __future__ import annotations

from .database import Statements


class AuditReads(Statements):
    def recent_audit(self, limit: int) -> list[tuple]:
        """(at, staff_id, action, subject, detail), newest first."""
        return self._rows("SELECT at, staff_id, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?", [limit])


class AuditWrites(Statements):
    def insert_audit(self, *, at: str, staff_id: str | None, action: str, subject: str | None,
                     detail: str | None) -> int:
        """A new row; returns its id."""
        return self._rows("INSERT INTO audit (at, staff_id, action, subject, detail) VALUES (?, ?, ?, ?, ?) "
                          "RETURNING id", [at, staff_id, action, subject, detail])[0][0]

    def update_audit_detail(self, row_id: int, detail: str) -> bool:
        """Rewrite a row's detail (a running count); False when the row is gone (purged)."""
        return self._change("UPDATE audit SET detail = ? WHERE id = ?", [detail, row_id]) == 1
