"""What the staff desk's "Today" page reads: the rows behind one day's figures.

Reads only (no write transaction: the door keeps the write lock). Times are stored as ISO 8601
with the kiosk's offset, so ``since`` (the day as ``YYYY-MM-DD``) only narrows the rows; the desk
puts each time in the venue's day itself (:meth:`kiosk.staff.desk.StaffDesk.today`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .outbox import OutboxReads


@dataclass(frozen=True)
class VisitRow:
    """One visit: when it began and ended (None: still inside), whether the end was estimated
    (closing time, maximum stay), and how many of its events the central store holds."""

    check_in_at: str
    check_out_at: str | None
    estimated: bool
    events: int
    delivered: int

    @property
    def sent(self) -> bool:
        """Every event of the visit is held centrally."""
        return self.events > 0 and self.delivered == self.events


@dataclass(frozen=True)
class DayRows:
    visits: list[VisitRow]              # begun or ended since the day began
    refusals: list[tuple[str, str]]     # (at, reason)
    outbox: dict[str, int]              # events by outbox state, all days


class FigureReads(OutboxReads):
    def day_rows(self, venue_id: str, since: str) -> DayRows:
        visits = [VisitRow(r[0], r[1], bool(r[2]), r[3], r[4]) for r in self._rows(
            """SELECT v.check_in_at, v.check_out_at, v.check_out_estimated, count(e.seq),
                      count(CASE WHEN o.state = 'delivered' THEN 1 END)
               FROM visits v
               LEFT JOIN events e ON e.visit_id = v.visit_id
               LEFT JOIN outbox o ON o.seq = e.seq
               WHERE v.venue_id = ? AND (v.check_in_at >= ? OR v.check_out_at >= ?)
               GROUP BY v.visit_id""", [venue_id, since, since])]
        refusals = self._rows("SELECT at, reason FROM refusals WHERE at >= ?", [since])
        return DayRows(visits, [tuple(r) for r in refusals], self.outbox_counts())
