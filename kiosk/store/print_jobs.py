"""Print jobs (slips and personal cards) waiting for the printer, and what a slip prints.

Times are UTC ISO 8601 to the second (``created_at``, ``done_at``), given by the caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .database import Statements

_QUEUED = ("id", "kind", "subject", "attempts", "last_error", "created_at")


@dataclass(frozen=True)
class SlipVisit:
    """What a slip for an open visit prints: whose it is, since when, and the check-in's event ``seq``."""

    person: dict
    check_in_at: str
    seq: int


class PrintJobReads(Statements):
    def queued_print_jobs(self) -> list[dict]:
        """Jobs waiting, oldest first: ``id``, ``kind``, ``subject``, ``attempts``, ``last_error``, ``created_at``."""
        rows = self._rows(f"SELECT {', '.join(_QUEUED)} FROM print_jobs WHERE state = 'queued' ORDER BY id")
        return [dict(zip(_QUEUED, r, strict=True)) for r in rows]

    def print_job_counts(self) -> dict[str, int]:
        """Jobs by state."""
        return dict(self._rows("SELECT state, count(*) FROM print_jobs GROUP BY state"))

    def next_print_job(self) -> tuple[int, str, str] | None:
        """``(id, kind, subject)`` of the oldest queued job, or None."""
        return self._row("SELECT id, kind, subject FROM print_jobs WHERE state = 'queued' ORDER BY id LIMIT 1")

    def slip_visit(self, visit_id: str) -> SlipVisit | None:
        """What the slip of the open visit ``visit_id`` prints; None when it is not open (any more)."""
        row = self._row("SELECT v.person, v.check_in_at, e.seq FROM visits v JOIN events e "
                        "ON e.visit_id = v.visit_id AND e.type = 'check_in' "
                        "WHERE v.visit_id = ? AND v.check_out_at IS NULL", [visit_id])
        return SlipVisit(json.loads(row[0]), row[1], row[2]) if row else None


class PrintJobWrites(Statements):
    def queue_print_job(self, kind: str, subject: str, *, created_at: str, staff_id: str | None) -> int:
        """A new queued job (``kind`` ``slip`` or ``card``); returns its id."""
        return self._insert("INSERT INTO print_jobs (kind, subject, created_at, staff_id) VALUES (?, ?, ?, ?)",
                            [kind, subject, created_at, staff_id])

    def print_job_attempted(self, job_id: int, error: str) -> None:
        """The printer could not take the job: it stays queued, one attempt more."""
        self._change("UPDATE print_jobs SET attempts = attempts + 1, last_error = ? WHERE id = ?", [error, job_id])

    def finish_print_job(self, job_id: int, state: str, error: str | None, *, done_at: str) -> None:
        """The job is done: ``printed``, ``failed`` or ``cancelled`` (``error``: why)."""
        self._change("UPDATE print_jobs SET state = ?, last_error = ?, attempts = attempts + 1, done_at = ? "
                     "WHERE id = ?", [state, error, done_at, job_id])
