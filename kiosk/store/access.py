"""The ways into the kiosk database: :class:`VisitStore` hands out a :class:`Reader` (reads
outside any write transaction) and a :class:`Transaction` (reads and writes of one
``BEGIN IMMEDIATE`` … ``COMMIT``); each is every group of the store's statements on one
connection, so a caller says what it wants (``tx.check_out(visit, …)``) and never SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from .audit import AuditReads, AuditWrites
from .database import StoreConnection, StoreUnavailable, translated, write_transaction
from .declarations import DeclarationReads, DeclarationWrites
from .figures import FigureReads
from .outbox import OutboxReads, OutboxWrites
from .people import PeopleReads, PeopleWrites
from .phone_codes import PhoneCodeReads, PhoneCodeWrites
from .print_jobs import PrintJobReads, PrintJobWrites
from .retention import RetentionWrites
from .room import prove_room
from .staff import StaffReads, StaffWrites
from .visits import RecordedEvent, VisitReads, VisitWrites


class Reader(VisitReads, FigureReads, OutboxReads, PrintJobReads, PeopleReads, StaffReads, AuditReads,
             PhoneCodeReads, DeclarationReads):
    """Reads only, each statement its own snapshot: no write transaction (it would take the
    store's write lock from the door). Raises :class:`StoreUnavailable` like every statement."""

    def quick_check(self) -> str:
        """SQLite's ``quick_check`` of the whole file: ``"ok"``, or what is damaged."""
        return self._value("PRAGMA quick_check")


class Transaction(Reader, VisitWrites, OutboxWrites, PrintJobWrites, PeopleWrites, StaffWrites, AuditWrites,
                  RetentionWrites, PhoneCodeWrites, DeclarationWrites):
    """The reads and writes of one write transaction; valid only inside :meth:`VisitStore.transaction`."""

    def __init__(self, db: sqlite_utils.Database, folder: Path | None, after_commit: list[Callable[[], None]]):
        super().__init__(db, folder)
        self._after_commit = after_commit

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the transaction (the outermost, when nested) has committed."""
        self._after_commit.append(callback)


class VisitStore:
    """The kiosk database.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     store = VisitStore.open(Path(tmp, "kiosk.db"))
    ...     store.count_refusal("2026-08-19T08:31:02.153+07:00", "payment_qr")    # one transaction
    ...     with store.transaction() as tx:
    ...         tx.count_refusal("2026-08-19T08:31:05.020+07:00", "payment_qr")
    ...         with store.transaction() as inner:          # the same thread: a savepoint of it
    ...             inner.count_refusal("2026-08-19T08:31:09.400+07:00", "url")
    ...     day = store.reader().day_rows("cho-phanrang", since="2026-08-19T00:00:00+07:00")
    ...     sorted(reason for _, reason in day.refusals), store.reader().occupancy("cho-phanrang")
    ...     store.close()
    (['payment_qr', 'payment_qr', 'url'], 0)

    Every method raises :class:`StoreUnavailable` when the disk is full, the database is locked
    past the busy timeout, or the file cannot be written; nothing is half-written then.
    """

    def __init__(self, connection: StoreConnection):
        self._connection = connection
        self.path = connection.path
        self._owner: int | None = None          # the thread whose transaction is open
        self._after_commit: list[Callable[[], None]] = []

    @classmethod
    def open(cls, path: Path) -> VisitStore:
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
        """The open database (for tests and tools that look into the file); raises
        :class:`StoreUnavailable` while it cannot be opened."""
        return self._connection.get()

    def reader(self) -> Reader:
        """Reads outside any write transaction; raises :class:`StoreUnavailable` while the file
        cannot be opened."""
        return Reader(self.db, self.path.parent)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One write transaction (:func:`~kiosk.store.database.write_transaction`): committed at
        the end of the block, rolled back whole on any error.

        Opened again by the thread whose transaction is open (a staff action and its audit row),
        it is part of that one: a savepoint, undone alone on an error, committed with it.
        """
        db, me = self.db, threading.get_ident()
        nested = self._owner == me
        with write_transaction(db.conn, self.path.parent, nested=nested):
            if nested:
                yield Transaction(db, self.path.parent, self._after_commit)
                return
            self._owner = me
            try:
                yield Transaction(db, self.path.parent, self._after_commit)
            finally:
                self._owner = None
                callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def count_refusal(self, at: str, reason: str) -> None:
        with self.transaction() as tx:
            tx.count_refusal(at, reason)

    def probe(self) -> None:
        """Prove that a check-in can be recorded now, by durable writes of what one needs; raises
        :class:`StoreUnavailable` while it cannot.

        1. Room (:mod:`kiosk.store.room`): a new file of ``ROOM_BYTES`` beside the database, written,
           fsynced and deleted. A commit alone cannot prove room: it fits into room SQLite already
           holds (a WAL tail that a failed commit extended, free pages) while a check-in, several
           times larger, does not; and a rolled-back transaction writes nothing at all.
        2. The database: a committed change of a row (synchronous=FULL: the WAL is fsynced), through
           this connection (opened now if it was not): the file, its lock and its WAL work.
        """
        folder = self.path.parent
        with translated(what=str(folder)):
            prove_room(folder)
        with self.transaction() as tx:
            tx.count_probe()

    def latest_events(self, batch: int = 100) -> Iterator[RecordedEvent]:
        """The kiosk's events, newest first, with whose visit each was; read in batches, so the
        caller may stop early without leaving a statement open. Raises :class:`StoreUnavailable`."""
        before = None
        while True:
            events = self.reader().events_before(before, batch)
            if not events:
                return
            yield from events
            before = events[-1].seq

    def visits(self, *, open_only: bool = False, limit: int | None = None) -> list[dict]:
        """Visits, newest first, as the CLI's ``visits --json`` objects."""
        return self.reader().visit_list(open_only=open_only, limit=limit)

    def close(self) -> None:
        self._connection.close()
