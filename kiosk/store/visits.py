"""Visits and their events: who is inside, a check-in, a check-out (the visit closed and its
event appended, with its outbox row), the kiosk's own event sequence, refused codes counted.

The scan path opens a :meth:`~kiosk.store.VisitStore.transaction`, reads the person's open
visit, lets the rules decide, and writes the visit change, its event (next ``seq``) and the
outbox row before the single COMMIT. Feedback is given only after that COMMIT returns.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .database import Statements


@dataclass(frozen=True)
class OpenVisit:
    visit_id: str
    person_key: str
    person: dict
    check_in_at: str
    check_in_boot: str
    check_in_uptime: float
    check_in_synced: bool
    check_in_method: str


@dataclass(frozen=True)
class RecordedEvent:
    """When one of the kiosk's events happened, and whose it was (the cooldown after a restart)."""

    seq: int
    person_key: str
    method: str | None
    at: str                 # ISO wall time, as in the event
    boot_id: str
    uptime_s: float


@dataclass(frozen=True)
class VisitState:
    """Whose a visit is and whether (and how) it ended: what a slip that comes back is checked against."""

    person: dict
    check_out_at: str | None
    check_out_method: str | None


class EventBuilder(Protocol):
    """Makes a visit change's event (``mqtt.wire.event.build_event`` with the kiosk, the clock
    reading and the staff member bound); raises for one the contract cannot carry."""

    def __call__(self, *, seq: int, event_id: str, type: str, visit_id: str, at: str, method: str | None,
                 person: dict, estimated: bool) -> dict: ...


_OPEN_COLUMNS = ("visit_id, person_key, person, check_in_at, check_in_boot, check_in_uptime, check_in_synced, "
                 "check_in_method")


class VisitReads(Statements):
    def open_visit(self, venue_id: str, person_key: str) -> OpenVisit | None:
        row = self._row(
            f"SELECT {_OPEN_COLUMNS} FROM visits WHERE venue_id = ? AND person_key = ? AND check_out_at IS NULL",
            [venue_id, person_key])
        return _open_visit(row) if row else None

    def open_visits(self, venue_id: str) -> list[OpenVisit]:
        rows = self._rows(
            f"SELECT {_OPEN_COLUMNS} FROM visits WHERE venue_id = ? AND check_out_at IS NULL ORDER BY check_in_at",
            [venue_id])
        return [_open_visit(r) for r in rows]

    def occupancy(self, venue_id: str) -> int:
        return self._value("SELECT count(*) FROM visits WHERE venue_id = ? AND check_out_at IS NULL", [venue_id])

    def visit_state(self, visit_id: str, venue_id: str) -> VisitState | None:
        """The visit ``visit_id`` at ``venue_id``, open or closed; None when there is no record of it."""
        row = self._row("SELECT person, check_out_at, check_out_method FROM visits WHERE visit_id = ? AND venue_id = ?",
                        [visit_id, venue_id])
        return VisitState(json.loads(row[0]), row[1], row[2]) if row else None

    def events_before(self, before: int | None, limit: int) -> list[RecordedEvent]:
        """The kiosk's events with a ``seq`` below ``before`` (None: all), newest first, at most ``limit``."""
        rows = self._rows(
            "SELECT e.seq, v.person_key, json_extract(e.body, '$.method'), e.at, "
            "json_extract(e.body, '$.clock.boot_id'), json_extract(e.body, '$.clock.uptime_s') "
            "FROM events e JOIN visits v ON v.visit_id = e.visit_id "
            "WHERE ? IS NULL OR e.seq < ? ORDER BY e.seq DESC LIMIT ?", [before, before, limit])
        return [RecordedEvent(*row) for row in rows]

    def visit_list(self, *, open_only: bool = False, limit: int | None = None) -> list[dict]:
        """Visits, newest first, as the CLI's ``visits --json`` objects."""
        sql = ("SELECT visit_id, kiosk_id, venue_id, person, check_in_at, check_out_at, check_out_type, "
               "check_out_estimated, check_in_method, check_out_method, staff_id, check_in_synced "
               "FROM visits" + (" WHERE check_out_at IS NULL" if open_only else "") +
               " ORDER BY check_in_at DESC, rowid DESC" + (f" LIMIT {int(limit)}" if limit else ""))
        return [{"visit_id": r[0], "kiosk_id": r[1], "venue_id": r[2], "person": json.loads(r[3]),
                 "check_in_at": r[4], "check_out_at": r[5], "check_out_type": r[6],
                 "check_out_estimated": bool(r[7]), "check_in_method": r[8], "check_out_method": r[9],
                 "staff_id": r[10], "clock_synced": bool(r[11])} for r in self._rows(sql)]



class VisitWrites(Statements):
    def insert_visit(self, *, visit_id: str, venue_id: str, kiosk_id: str, person_key: str, person: dict,
                     check_in_at: str, synced: bool, boot_id: str, uptime_s: float, method: str,
                     staff_id: str | None, warnings: tuple[str, ...], declaration: dict | None = None) -> None:
        self._change(
            "INSERT INTO visits (visit_id, venue_id, kiosk_id, person_key, person, check_in_at, check_in_synced, "
            "check_in_boot, check_in_uptime, check_in_method, staff_id, warnings, declaration, flagged) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [visit_id, venue_id, kiosk_id, person_key, json.dumps(person, ensure_ascii=False), check_in_at,
             int(synced), boot_id, uptime_s, method, staff_id, json.dumps(list(warnings)),
             json.dumps(declaration, ensure_ascii=False) if declaration is not None else None,
             int(bool(declaration and declaration["flagged"]))])

    def check_in(self, *, visit_id: str, venue_id: str, kiosk_id: str, person_key: str, person: dict, at: str,
                 synced: bool, boot_id: str, uptime_s: float, method: str, staff_id: str | None,
                 warnings: tuple[str, ...], event: EventBuilder, declaration: dict | None = None) -> dict:
        """A new open visit (the clock reading of ``at``: ``synced``, ``boot_id``, ``uptime_s``)
        and its event (and outbox row); returns the event. declaration: the visitor's health
        declaration of the day, kept on the visit (the event builder carries it too)."""
        self.insert_visit(visit_id=visit_id, venue_id=venue_id, kiosk_id=kiosk_id, person_key=person_key,
                          person=person, check_in_at=at, synced=synced, boot_id=boot_id, uptime_s=uptime_s,
                          method=method, staff_id=staff_id, warnings=warnings, declaration=declaration)
        return self.append_event(lambda seq, event_id: event(
            seq=seq, event_id=event_id, type="check_in", visit_id=visit_id, at=at, method=method, person=person,
            estimated=False))

    def check_out(self, visit: OpenVisit, *, type: str, at: str, estimated: bool, method: str | None,
                  event: EventBuilder) -> dict:
        """Close the open ``visit`` and append its event (and outbox row); returns the event.

        type: ``check_out`` (someone or something saw them leave), or ``auto_check_out`` (the
        kiosk inferred it: the maximum stay, the closing time, a new check-in of a person it
        still had inside); at: when the visit ended (for an inferred end, that moment, not now);
        estimated: nobody saw them leave; method: how the check-out was made (None: by the kiosk
        itself). Raises LookupError when the visit is not open (any more).
        """
        changed = self._change(
            "UPDATE visits SET check_out_at = ?, check_out_type = ?, check_out_estimated = ?, check_out_method = ? "
            "WHERE visit_id = ? AND check_out_at IS NULL",
            [at, type, int(estimated), method, visit.visit_id])
        if changed != 1:
            raise LookupError("visit is not open")
        return self.append_event(lambda seq, event_id: event(
            seq=seq, event_id=event_id, type=type, visit_id=visit.visit_id, at=at, method=method,
            person=visit.person, estimated=estimated))

    def append_event(self, build: Callable[[int, str], dict]) -> dict:
        """Give the next event its ``seq`` and id, store it and queue it in the outbox.

        ``build(seq, event_id)`` returns the event; it is stored exactly as it will be published.
        """
        seq = self._value("SELECT value FROM counters WHERE name = 'next_seq'")
        event_id = str(uuid.uuid4())
        event = build(seq, event_id)
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        self._change("INSERT INTO events (seq, event_id, type, visit_id, at, body) VALUES (?, ?, ?, ?, ?, ?)",
                     [seq, event_id, event["type"], event["visit_id"], event["at"], body])
        self._change("INSERT INTO outbox (seq) VALUES (?)", [seq])
        self._change("UPDATE counters SET value = value + 1 WHERE name = 'next_seq'")
        return event

    def count_refusal(self, at: str, reason: str) -> None:
        """A refused code, counted (never its payload: it may be someone's personal data)."""
        self._change("INSERT INTO refusals (at, reason) VALUES (?, ?)", [at, reason])

    def count_probe(self) -> None:
        """The store probe's write: a row that changes each time (a write that changes nothing,
        such as ``SET value = value``, is skipped by SQLite and commits nothing)."""
        self._change("INSERT INTO counters (name, value) VALUES ('store_probe', 1) "
                     "ON CONFLICT (name) DO UPDATE SET value = value + 1")


def _open_visit(row) -> OpenVisit:
    return OpenVisit(visit_id=row[0], person_key=row[1], person=json.loads(row[2]), check_in_at=row[3],
                     check_in_boot=row[4], check_in_uptime=row[5], check_in_synced=bool(row[6]),
                     check_in_method=row[7])
