"""Opening the SQLite file: pragmas for durability, and what a failing disk looks like."""

from __future__ import annotations

import sqlite3
import threading
import typing
from pathlib import Path

import sqlite_utils

from mqtt.private_file import owner_only

from .room import out_of_room
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


def raise_unavailable(exc: sqlite3.Error) -> typing.NoReturn:
    """Re-raise a storage failure as :class:`StoreUnavailable`; anything else (a bug) as it is."""
    unavailable = classify_error(exc)
    if unavailable:
        raise unavailable from exc
    raise exc


def open_database(path: Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the kiosk database with its pragmas, and bring its schema up to date.

    Raises :class:`StoreUnavailable` when the file cannot be opened for writing: on a full disk the
    WAL index (``-shm``) cannot be created ("disk I/O error", named ``disk_full`` here when the disk
    has no room) and a pending migration cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable("io_error", f"cannot create {path.parent}: {exc.strerror}") from exc
    try:
        owner_only(path)                # visitors' names and ids: 0600, and so its -wal and -shm
    except OSError as exc:
        reason = "disk_full" if out_of_room(path.parent) else "io_error"
        raise StoreUnavailable(reason, f"cannot open {path.name}: {exc.strerror}") from exc
    conn = None
    try:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in the store);
        # sqlite-utils' atomic() also works with it for the migrations.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a check-in whose feedback was given survives a power cut, not just a crash.
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if migrate:
            with _MIGRATING:            # the kiosk's connections open side by side after a failed start
                migrations.apply(db)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()                # a kiosk retrying every few seconds must not leak a file per try
        unavailable = classify_error(exc)
        if unavailable and unavailable.reason == "io_error" and out_of_room(path.parent):
            unavailable = StoreUnavailable("disk_full", str(exc))
        if unavailable:
            raise unavailable from exc
        raise
    return db


_MIGRATING = threading.Lock()


class StoreConnection:
    """One connection to the kiosk database, opened when first needed rather than at start.

    >>> connection = StoreConnection(Path("./var/kiosk.db"))
    >>> connection.get().execute("SELECT count(*) FROM visits").fetchone()

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
