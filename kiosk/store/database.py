"""Opening the SQLite file (pragmas for durability), what a failing disk looks like, and the two
things every statement of the store goes through: :func:`reraise` (the one place a failure of
the file becomes :class:`StoreUnavailable`; :func:`translated` is it as a ``with`` block) and
:func:`write_transaction` (the one ``BEGIN IMMEDIATE`` … ``COMMIT``/``ROLLBACK``)."""

from __future__ import annotations

import sqlite3
import threading
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import sqlite_utils

from mqtt.plumbing.files import owner_only

from .room import NO_ROOM, out_of_room
from .schema import migrations

#: How long a writer waits for another writer (staff pages, uplink) before giving up.
BUSY_TIMEOUT_MS = 2000


class StoreUnavailable(RuntimeError):
    """The store cannot be written now (disk full, database locked, I/O error).

    ``reason`` is ``"disk_full"``, ``"locked"`` or ``"io_error"``; the kiosk shows an error and
    retries by itself.
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def classify_error(exc: sqlite3.Error) -> StoreUnavailable | None:
    """The :class:`StoreUnavailable` an sqlite3 error means, or None for a programming error."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if code is not None else None
    text = str(exc).lower()
    if primary == sqlite3.SQLITE_FULL or "disk is full" in text:
        return StoreUnavailable("disk_full", str(exc))
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text:
        return StoreUnavailable("locked", str(exc))
    if primary in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CORRUPT):
        return StoreUnavailable("io_error", str(exc))
    return None


def unavailable(exc: BaseException, folder: Path | None = None, what: str = "") -> StoreUnavailable | None:
    """What a failure of the store's file means: an sqlite3 error by its result code
    (:func:`classify_error`), an OSError ``disk_full`` when it says "no room", else ``io_error``;
    and an I/O error while ``folder``'s disk has no room is ``disk_full`` (on a full disk SQLite
    may only say "disk I/O error"). None: not a storage failure but a bug, to be raised as it is.
    ``what``: what was being done, for the detail."""
    if isinstance(exc, sqlite3.Error):
        found = classify_error(exc)
    elif isinstance(exc, OSError):
        found = StoreUnavailable("disk_full" if exc.errno in NO_ROOM else "io_error", exc.strerror or str(exc))
    else:
        return None
    if found is None:
        return None
    detail = f"{what}: {found.detail}" if what else found.detail
    reason = "disk_full" if found.reason == "io_error" and folder is not None and out_of_room(folder) else found.reason
    return StoreUnavailable(reason, detail)


def reraise(exc: sqlite3.Error | OSError, folder: Path | None = None, what: str = "") -> NoReturn:
    """Raise ``exc``, a failure of the store's file, as :class:`StoreUnavailable`; as it is when
    it is not one (a bug). See :func:`unavailable`."""
    found = unavailable(exc, folder, what)
    if found is None:
        raise exc
    raise found from exc


@contextmanager
def translated(folder: Path | None = None, what: str = "") -> Iterator[None]:
    """Raise a failure of the store's file (sqlite3.Error, OSError) inside as
    :class:`StoreUnavailable`; anything else (a bug) as it is (:func:`reraise`). The statements of
    :class:`Statements`, one scan's hot path, call :func:`reraise` from a plain ``except``
    instead: a generator context manager costs a microsecond or two each time, nine times a check-in."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        reraise(exc, folder, what)


@contextmanager
def write_transaction(conn: sqlite3.Connection, folder: Path | None, *, nested: bool = False) -> Iterator[None]:
    """One write transaction: ``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error, its
    sqlite3 errors raised as :class:`StoreUnavailable` (:func:`translated`).

    IMMEDIATE takes the write lock up front, so a read-then-write cannot fail half-way because
    another process (staff pages, uplink) wrote in between. nested: inside a transaction this
    thread holds open, a savepoint of it: its changes are undone alone on an error, and are
    committed with the enclosing transaction.
    """
    begin, end, undo = ((f"SAVEPOINT {_SAVEPOINT}", f"RELEASE {_SAVEPOINT}", f"ROLLBACK TO {_SAVEPOINT}")
                        if nested else ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"))
    try:
        conn.execute(begin)
    except sqlite3.Error as exc:
        reraise(exc, folder)
    try:
        yield
        conn.execute(end)
    except sqlite3.Error as exc:
        _undo(conn, undo, nested)
        reraise(exc, folder)
    except BaseException:
        _undo(conn, undo, nested)
        raise


_SAVEPOINT = "kiosk_nested"


def _undo(conn: sqlite3.Connection, undo: str, nested: bool) -> None:
    try:
        if conn.in_transaction:
            conn.execute(undo)
            if nested:
                conn.execute(f"RELEASE {_SAVEPOINT}")
    except sqlite3.Error:
        pass  # the failed COMMIT (or the error, e.g. a full disk) already ended it


class Statements:
    """The base of the store's groups of statements (:mod:`.visits`, :mod:`.outbox`, …): each runs
    on the connection it is given, inside the caller's transaction or as a read of its own, and a
    failure of the file is raised as :class:`StoreUnavailable` (:func:`translated`)."""

    def __init__(self, db: sqlite_utils.Database, folder: Path | None = None):
        self._db = db
        self._folder = folder

    def _rows(self, sql: str, params: typing.Sequence = ()) -> list[tuple]:
        try:
            return self._db.conn.execute(sql, params).fetchall()
        except (sqlite3.Error, OSError) as exc:
            reraise(exc, self._folder)

    def _row(self, sql: str, params: typing.Sequence = ()) -> tuple | None:
        try:
            return self._db.conn.execute(sql, params).fetchone()
        except (sqlite3.Error, OSError) as exc:
            reraise(exc, self._folder)

    def _value(self, sql: str, params: typing.Sequence = ()):
        """The first column of the first row (None: no row)."""
        row = self._row(sql, params)
        return row[0] if row else None

    def _change(self, sql: str, params: typing.Sequence = ()) -> int:
        """A write; how many rows it changed."""
        try:
            return self._db.conn.execute(sql, params).rowcount
        except (sqlite3.Error, OSError) as exc:
            reraise(exc, self._folder)

    def _insert(self, sql: str, params: typing.Sequence = ()) -> int:
        """An INSERT; the new row's id."""
        try:
            row_id = self._db.conn.execute(sql, params).lastrowid
        except (sqlite3.Error, OSError) as exc:
            reraise(exc, self._folder)
        assert row_id is not None, "an INSERT gives its row an id"
        return row_id


def open_database(path: Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the kiosk database with its pragmas, and bring its schema up to date.

    Raises :class:`StoreUnavailable` when the file cannot be opened for writing: on a full disk the
    WAL index (``-shm``) cannot be created ("disk I/O error", named ``disk_full`` here when the disk
    has no room) and a pending migration cannot be written."""
    with translated(what=f"cannot create {path.parent}"):
        path.parent.mkdir(parents=True, exist_ok=True)
    with translated(path.parent, what=f"cannot open {path.name}"):
        owner_only(path)                # visitors' names and ids: 0600, and so its -wal and -shm
    conn = None
    try:
        with translated(path.parent):
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in the store);
            # sqlite-utils' atomic() also works with it for the migrations.
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a check-in whose feedback was given survives a power cut, not just a crash.
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if migrate:
                with _MIGRATING:        # the kiosk's connections open side by side after a failed start
                    migrations.apply(db)
    except BaseException:
        if conn is not None:
            conn.close()                # a kiosk retrying every few seconds must not leak a file per try
        raise
    return db


_MIGRATING = threading.Lock()


class StoreConnection:
    """One connection to the kiosk database, opened when first needed rather than at start.

    >>> import tempfile
    >>> from kiosk.store import VisitStore
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     connection = StoreConnection(Path(tmp, "kiosk.db"))
    ...     connection.opened, sorted(p.name for p in Path(tmp).iterdir())      # nothing opened yet
    ...     VisitStore(connection).reader().occupancy("cho-phanrang")            # opened (and migrated) now
    ...     connection.opened
    ...     connection.close()
    (False, [])
    0
    True

    A kiosk (re)started on a full or failing disk cannot open the file, and must still start, say
    "not recorded" with its red light and recover by itself: so :meth:`get` opens the database on
    first use and, after an open that failed, again at the next use, raising
    :class:`StoreUnavailable` until one succeeds. migrate: bring the schema up to date on opening.
    """

    def __init__(self, path: Path, *, migrate: bool = True):
        self.path = path
        self.migrate = migrate
        self._db: sqlite_utils.Database | None = None
        self._lock = threading.Lock()

    def get(self) -> sqlite_utils.Database:
        db = self._db
        if db is None:
            with self._lock:
                if self._db is None:
                    self._db = open_database(self.path, migrate=self.migrate)
                db = self._db
        return db

    @property
    def opened(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
