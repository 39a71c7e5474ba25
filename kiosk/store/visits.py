"""Visits, their events and the outbox, written together in one transaction.

The scan path opens a :meth:`VisitStore.transaction`, reads the person's open visit, lets the
rules decide, and writes the visit change, its event (next ``seq``) and the outbox row before
the single COMMIT. Feedback is given only after that COMMIT returns.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import sqlite_utils

from .database import StoreConnection, StoreUnavailable, raise_unavailable
from .room import NO_ROOM, prove_room


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


_OPEN_COLUMNS = ("visit_id, person_key, person, check_in_at, check_in_boot, check_in_uptime, check_in_synced, "
                 "check_in_method")


class Transaction:
    """The writes of one presentation; valid only inside :meth:`VisitStore.transaction`."""

    def __init__(self, db: sqlite_utils.Database):
        self._db = db

    def execute(self, sql: str, params: list | tuple = ()):
        """Any other statement of this transaction (staff accounts, people, print jobs)."""
        return self._db.execute(sql, params)

    def open_visit(self, venue_id: str, person_key: str) -> OpenVisit | None:
        row = self._db.execute(
            f"SELECT {_OPEN_COLUMNS} FROM visits WHERE venue_id = ? AND person_key = ? AND check_out_at IS NULL",
            [venue_id, person_key]).fetchone()
        return _open_visit(row) if row else None

    def open_visits(self, venue_id: str) -> list[OpenVisit]:
        rows = self._db.execute(
            f"SELECT {_OPEN_COLUMNS} FROM visits WHERE venue_id = ? AND check_out_at IS NULL ORDER BY check_in_at",
            [venue_id]).fetchall()
        return [_open_visit(r) for r in rows]

    def occupancy(self, venue_id: str) -> int:
        return self._db.execute(
            "SELECT count(*) FROM visits WHERE venue_id = ? AND check_out_at IS NULL", [venue_id]).fetchone()[0]

    def insert_visit(self, *, visit_id: str, venue_id: str, kiosk_id: str, person_key: str, person: dict,
                     check_in_at: str, synced: bool, boot_id: str, uptime_s: float, method: str,
                     staff_id: str | None, warnings: tuple[str, ...]) -> None:
        self._db.execute(
            "INSERT INTO visits (visit_id, venue_id, kiosk_id, person_key, person, check_in_at, check_in_synced, "
            "check_in_boot, check_in_uptime, check_in_method, staff_id, warnings) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [visit_id, venue_id, kiosk_id, person_key, json.dumps(person, ensure_ascii=False), check_in_at,
             int(synced), boot_id, uptime_s, method, staff_id, json.dumps(list(warnings))])

    def close_visit(self, visit_id: str, *, at: str, type: str, estimated: bool, method: str | None) -> None:
        cur = self._db.execute(
            "UPDATE visits SET check_out_at = ?, check_out_type = ?, check_out_estimated = ?, check_out_method = ? "
            "WHERE visit_id = ? AND check_out_at IS NULL",
            [at, type, int(estimated), method, visit_id])
        if cur.rowcount != 1:
            raise LookupError("visit is not open")

    def append_event(self, build: Callable[[int, str], dict]) -> dict:
        """Give the next event its ``seq`` and id, store it and queue it in the outbox.

        ``build(seq, event_id)`` returns the event; it is stored exactly as it will be published.
        """
        seq = self._db.execute("SELECT value FROM counters WHERE name = 'next_seq'").fetchone()[0]
        event_id = str(uuid.uuid4())
        event = build(seq, event_id)
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        self._db.execute("INSERT INTO events (seq, event_id, type, visit_id, at, body) VALUES (?, ?, ?, ?, ?, ?)",
                         [seq, event_id, event["type"], event["visit_id"], event["at"], body])
        self._db.execute("INSERT INTO outbox (seq) VALUES (?)", [seq])
        self._db.execute("UPDATE counters SET value = value + 1 WHERE name = 'next_seq'")
        return event


@dataclass(frozen=True)
class RecordedEvent:
    """When one of the kiosk's events happened, and whose it was (the cooldown after a restart)."""

    seq: int
    person_key: str
    method: str | None
    at: str                 # ISO wall time, as in the event
    boot_id: str
    uptime_s: float


def _open_visit(row) -> OpenVisit:
    return OpenVisit(visit_id=row[0], person_key=row[1], person=json.loads(row[2]), check_in_at=row[3],
                     check_in_boot=row[4], check_in_uptime=row[5], check_in_synced=bool(row[6]),
                     check_in_method=row[7])


class VisitStore:
    """The kiosk database.

    >>> store = VisitStore.open(Path("./var/kiosk.db"))
    >>> with store.transaction() as tx:
    ...     tx.occupancy("cho-phanrang")
    0

    Every method raises :class:`StoreUnavailable` when the disk is full, the database is locked
    past the busy timeout, or the file cannot be written; nothing is half-written then.
    """

    def __init__(self, connection: StoreConnection):
        self._connection = connection
        self.path = connection.path

    @classmethod
    def open(cls, path: Path) -> "VisitStore":
        """The store, opened now: raises :class:`StoreUnavailable` (the CLI's commands)."""
        connection = StoreConnection(path)
        connection.get()
        return cls(connection)

    @classmethod
    def deferred(cls, path: Path) -> VisitStore:
        """The running kiosk's store: opened (and its schema brought up to date) now if it can be,
        so the readers that open without migrating find its tables; otherwise at its first use, and
        again at the next use after an open that failed (see :class:`StoreConnection`), so a kiosk
        starts on a full disk."""
        connection = StoreConnection(path)
        try:
            connection.get()
        except StoreUnavailable:
            pass                        # said by the scan loop's first store check, red light on
        return cls(connection)

    @property
    def db(self) -> sqlite_utils.Database:
        """The open database; raises :class:`StoreUnavailable` while it cannot be opened."""
        return self._connection.get()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One write transaction: ``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on any error).

        IMMEDIATE takes the write lock up front, so a read-then-write cannot fail half-way
        because another process (staff pages, uplink) wrote in between.
        """
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise_unavailable(exc)
        try:
            yield Transaction(self.db)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise_unavailable(exc)
        except BaseException:
            _rollback(conn)
            raise

    def count_refusal(self, at: str, reason: str) -> None:
        try:
            self.db.execute("INSERT INTO refusals (at, reason) VALUES (?, ?)", [at, reason])
        except sqlite3.Error as exc:
            raise_unavailable(exc)

    def refusal_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT reason, count(*) FROM refusals GROUP BY reason").fetchall())

    def probe(self) -> None:
        """Prove that a check-in can be recorded now, by durable writes of what one needs; raises
        :class:`StoreUnavailable` while it cannot.

        1. Room (:mod:`kiosk.store.room`): a new file of ``ROOM_BYTES`` beside the database, written,
           fsynced and deleted. A commit alone cannot prove room: it fits into room SQLite already
           holds (a WAL tail that a failed commit extended, free pages) while a check-in, several
           times larger, does not; and a rolled-back transaction writes nothing at all.
        2. The database: a committed change of a row (synchronous=FULL: the WAL is fsynced), through
           this connection (opened now if it was not): the file, its lock and its WAL work. (A
           write that changes nothing, such as ``SET value = value``, is skipped by SQLite and
           commits nothing: it succeeds on any disk.)
        """
        folder = self.path.parent
        try:
            prove_room(folder)
        except OSError as exc:
            reason = "disk_full" if exc.errno in NO_ROOM else "io_error"
            raise StoreUnavailable(reason, f"{folder}: {exc.strerror}") from exc
        with self.transaction() as tx:
            tx.execute("INSERT INTO counters (name, value) VALUES ('store_probe', 1) "
                       "ON CONFLICT (name) DO UPDATE SET value = value + 1")

    def latest_events(self, batch: int = 100) -> Iterator[RecordedEvent]:
        """The kiosk's events, newest first, with whose visit each was; read in batches, so the
        caller may stop early without leaving a statement open. Raises :class:`StoreUnavailable`."""
        before = None
        while True:
            try:
                rows = self.db.execute(
                    "SELECT e.seq, v.person_key, json_extract(e.body, '$.method'), e.at, "
                    "json_extract(e.body, '$.clock.boot_id'), json_extract(e.body, '$.clock.uptime_s') "
                    "FROM events e JOIN visits v ON v.visit_id = e.visit_id "
                    "WHERE ? IS NULL OR e.seq < ? ORDER BY e.seq DESC LIMIT ?", [before, before, batch]).fetchall()
            except sqlite3.Error as exc:
                raise_unavailable(exc)
            if not rows:
                return
            for row in rows:
                yield RecordedEvent(*row)
            before = rows[-1][0]

    def purge(self, *, clock, days: float) -> dict[str, int]:
        """The retention purge (see :mod:`kiosk.retention`); raises StoreUnavailable."""
        from ..retention import purge
        try:
            return purge(self.db, clock=clock, days=days)
        except sqlite3.Error as exc:
            raise_unavailable(exc)

    def visits(self, *, open_only: bool = False, limit: int | None = None) -> list[dict]:
        """Visits, newest first, as the CLI's ``visits --json`` objects."""
        sql = ("SELECT visit_id, kiosk_id, venue_id, person, check_in_at, check_out_at, check_out_type, "
               "check_out_estimated, check_in_method, check_out_method, staff_id, check_in_synced "
               "FROM visits" + (" WHERE check_out_at IS NULL" if open_only else "") +
               " ORDER BY check_in_at DESC, rowid DESC" + (f" LIMIT {int(limit)}" if limit else ""))
        out = []
        for r in self.db.execute(sql).fetchall():
            out.append({"visit_id": r[0], "kiosk_id": r[1], "venue_id": r[2], "person": json.loads(r[3]),
                        "check_in_at": r[4], "check_out_at": r[5], "check_out_type": r[6],
                        "check_out_estimated": bool(r[7]), "check_in_method": r[8], "check_out_method": r[9],
                        "staff_id": r[10], "clock_synced": bool(r[11])})
        return out

    def events(self) -> list[dict]:
        return [json.loads(b) for (b,) in self.db.execute("SELECT body FROM events ORDER BY seq").fetchall()]

    def close(self) -> None:
        self._connection.close()


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the failed COMMIT already ended it
