"""The central store in one SQLite file (one collector): WAL, synchronous=FULL, versioned schema.

Times are stored as fixed-width UTC ISO text (``2021-08-15T01:31:02.153+00:00``), so text order
is time order and the indexes serve range queries.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     store = SqliteStore(Path(tmp, "central.db"))      # created 0600 (personal data), migrated
...     [store.db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("journal_mode", "synchronous")]
...     oct(store.path.stat().st_mode & 0o777)
...     store.close()
['wal', 2]
'0o600'
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from ..plumbing.files import owner_only
from .store import UTC, SqlStore, StoreError, dumps, iso

BUSY_TIMEOUT_MS = 5000
#: Rows per INSERT statement: 400 × 18 event columns stays well under SQLite's 32766 parameters.
_CHUNK = 400

migrations = Migrations("checkin-collector")


@migrations()
def m001_central(db):
    db.execute("""
        CREATE TABLE events (
            event_id TEXT PRIMARY KEY,
            kiosk_id TEXT NOT NULL,
            venue_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            visit_id TEXT NOT NULL,
            at TEXT NOT NULL,                   -- UTC ISO, as the kiosk's clock said
            at_corrected TEXT,                  -- from a later synced event of the same boot
            synced INTEGER NOT NULL,
            boot_id TEXT NOT NULL,
            uptime_s REAL NOT NULL,
            method TEXT,
            staff_id TEXT,
            person_kind TEXT NOT NULL,
            person_id TEXT NOT NULL,
            person TEXT NOT NULL,               -- JSON, as in the event
            estimated INTEGER NOT NULL DEFAULT 0,
            received_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX events_visit ON events (visit_id)")
    db.execute("CREATE INDEX events_boot ON events (kiosk_id, boot_id, synced, uptime_s)")
    db.execute("CREATE INDEX events_kiosk_seq ON events (kiosk_id, seq)")
    db.execute("""
        CREATE TABLE visits (
            visit_id TEXT PRIMARY KEY,
            kiosk_id TEXT NOT NULL,
            venue_id TEXT NOT NULL,
            person_kind TEXT NOT NULL,
            person_id TEXT NOT NULL,
            person TEXT NOT NULL,
            check_in_at TEXT,                   -- null until the check-in arrives
            check_out_at TEXT,                  -- null while open
            check_out_type TEXT,
            check_out_estimated INTEGER NOT NULL DEFAULT 0,
            check_in_corrected INTEGER NOT NULL DEFAULT 0,
            check_out_corrected INTEGER NOT NULL DEFAULT 0,
            time_trusted INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX visits_venue_in ON visits (venue_id, check_in_at)")
    db.execute("CREATE INDEX visits_venue_out ON visits (venue_id, check_out_at)")
    db.execute("CREATE INDEX visits_venue_open ON visits (venue_id, check_in_at) WHERE check_out_at IS NULL")
    db.execute("CREATE INDEX visits_person ON visits (person_kind, person_id)")
    db.execute("""
        CREATE TABLE kiosk_seq (
            kiosk_id TEXT PRIMARY KEY,
            high_water INTEGER NOT NULL,        -- every seq up to here has arrived
            beyond TEXT NOT NULL,               -- JSON [[lo, hi], ...] received above it
            max_seq INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            topic TEXT NOT NULL,
            kiosk_id TEXT,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL,
            payload BLOB NOT NULL,              -- at most 4 KB of it
            payload_size INTEGER NOT NULL
        )""")
    db.execute("CREATE INDEX dead_letters_received ON dead_letters (received_at)")
    db.execute("""
        CREATE TABLE fleet (
            kiosk_id TEXT PRIMARY KEY,
            status TEXT,
            status_at TEXT,
            last_seen TEXT,
            health TEXT,
            health_at TEXT
        )""")


@migrations()
def m002_selftest(db):
    # The kiosk's latest self-test report (kiosk selftest), as the technician left it.
    db.execute("ALTER TABLE fleet ADD COLUMN selftest TEXT")
    db.execute("ALTER TABLE fleet ADD COLUMN selftest_at TEXT")


@migrations()
def m003_dead_letter_event(db):
    # A valid event refused (its kiosk, venue or visit) is kept once per reason, however often
    # its kiosk re-sends it (it is not acked: a corrected registry lets it in later).
    db.execute("ALTER TABLE dead_letters ADD COLUMN event_id TEXT")
    db.execute("CREATE UNIQUE INDEX dead_letters_event ON dead_letters (event_id, reason)")


@migrations()
def m004_visit_phone(db):
    # Tracing by phone (staff phone check-ins carry the household's phone): the visit's
    # person.phone beside its JSON, indexed where there is one; filled here for the visits before.
    db.execute("ALTER TABLE visits ADD COLUMN person_phone TEXT")
    db.execute("UPDATE visits SET person_phone = json_extract(person, '$.phone') "
               "WHERE json_extract(person, '$.phone') IS NOT NULL")
    db.execute("CREATE INDEX visits_phone ON visits (person_phone) WHERE person_phone IS NOT NULL")


@migrations()
def m005_console(db):
    # The tracing console (mqtt/collector/console/): its users, API tokens, sessions, the cases
    # tracers work, and the audit of every lookup, which nothing may change or delete.
    db.execute("""
        CREATE TABLE console_users (
            user_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,      -- the name case-folded: one account per name
            roles TEXT NOT NULL,                -- JSON list, e.g. ["tracer"]
            password_hash TEXT NOT NULL,        -- argon2id
            must_change INTEGER NOT NULL,       -- the one-time password is still the password
            totp_secret TEXT NOT NULL,          -- base32 (RFC 6238); the authenticator app holds it too
            totp_last_step INTEGER NOT NULL DEFAULT 0,  -- a code is good once: steps up to here are spent
            created_at TEXT NOT NULL,
            password_changed_at TEXT
        )""")
    db.execute("""
        CREATE TABLE console_tokens (
            token_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,    -- SHA-256 of the token, which is shown once
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        )""")
    db.execute("""
        CREATE TABLE console_sessions (
            session_hash TEXT PRIMARY KEY,      -- SHA-256 of the cookie's session id
            user_id TEXT NOT NULL REFERENCES console_users (user_id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            seen_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE console_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,                -- user:NAME, token:NAME or cli
            action TEXT NOT NULL,               -- contacts, presence, export, users_add, ...
            person TEXT,                        -- kind:id looked up, where there was one
            query TEXT,                         -- JSON: the search (venue, window, days, ...)
            results INTEGER,                    -- how many people (or rows) it returned
            client TEXT                         -- where the request came from
        )""")
    db.execute("CREATE INDEX console_audit_at ON console_audit (at)")
    for verb in ("UPDATE", "DELETE"):
        db.execute(f"CREATE TRIGGER console_audit_no_{verb.lower()} BEFORE {verb} ON console_audit "
                   "BEGIN SELECT RAISE(ABORT, 'the console audit is append-only'); END")


@migrations()
def m006_console_cases(db):
    # A tracer's case: the person it is about stays in the store, the browser sees only an opaque
    # id (no personal data in URLs or history). The console's signing key, made at its first start.
    db.execute("""
        CREATE TABLE console_cases (
            case_id TEXT PRIMARY KEY,           -- random, what the case's URL carries
            person TEXT NOT NULL,               -- kind:id (kind may be phone)
            days INTEGER NOT NULL,
            opened_by TEXT NOT NULL,            -- the user's id
            opened_at TEXT NOT NULL,
            handled_at TEXT,
            handled_by TEXT,
            note TEXT
        )""")
    db.execute("CREATE INDEX console_cases_opened ON console_cases (opened_at)")
    db.execute("CREATE TABLE console_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migrations()
def m007_figures(db):
    # The committees' figures (store_figures.py): where each venue is, the venue-days ingest has
    # changed, and the figures reckoned; filled from the visits at the store's first open after.
    db.execute("""
        CREATE TABLE venues (
            venue_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            district TEXT NOT NULL,
            province TEXT NOT NULL,
            changed_gen INTEGER NOT NULL        -- the venue list's version when this row last changed
        )""")
    db.execute("""
        CREATE TABLE figure_marks (
            venue_id TEXT NOT NULL,
            day TEXT NOT NULL,                  -- UTC YYYY-MM-DD
            gen INTEGER NOT NULL,               -- bumped by every write of a visit covering the day
            PRIMARY KEY (venue_id, day)
        )""")
    db.execute("CREATE INDEX figure_marks_day ON figure_marks (day)")
    db.execute("""
        CREATE TABLE figure_cache (
            offset_s INTEGER NOT NULL,          -- the local day's offset from UTC
            week INTEGER NOT NULL,              -- 1: the week from Monday ``day``
            level TEXT NOT NULL,                -- venue, district, province
            scope TEXT NOT NULL,
            day TEXT NOT NULL,
            gen INTEGER NOT NULL,               -- the sum of the marks it was reckoned from
            venues_gen INTEGER NOT NULL,
            check_ins INTEGER NOT NULL,
            visitors INTEGER NOT NULL,
            kiosks INTEGER NOT NULL,
            venues INTEGER NOT NULL,
            peak INTEGER NOT NULL,
            PRIMARY KEY (offset_s, week, level, scope, day)
        )""")


@migrations()
def m008_visit_name(db):
    # A tracer opens a case by name too: the name as the kiosk read it (person.name), indexed.
    db.execute("CREATE INDEX visits_name ON visits (json_extract(person, '$.name'))")


@migrations()
def m009_visit_method(db):
    # How the visitor was checked in (camera, slip, staff_phone, ...: the check-in's method, else the
    # check-out's), for the tracer's view of a case; filled from the events for the visits before.
    db.execute("ALTER TABLE visits ADD COLUMN method TEXT")
    db.execute("""
        UPDATE visits SET method = (
            SELECT e.method FROM events e WHERE e.visit_id = visits.visit_id AND e.method IS NOT NULL
            ORDER BY e.type <> 'check_in', COALESCE(e.at_corrected, e.at), e.seq LIMIT 1)""")


@migrations()
def m010_phone_check(db):
    # A staff phone check-in says whether the citizen read out the code texted to the household's
    # phone (1), or why staff let them in without (0 and the reason); NULL: no code was asked.
    for table in ("events", "visits"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN phone_verified INTEGER")
        db.execute(f"ALTER TABLE {table} ADD COLUMN phone_check_reason TEXT")


@migrations()
def m011_declaration(db):
    # A check-in's health declaration of the day (personal health data: the answers as the event
    # carried them, JSON) and whether it flagged the visitor; NULL: none was made.
    for table in ("events", "visits"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN declaration TEXT")
        db.execute(f"ALTER TABLE {table} ADD COLUMN declaration_flagged INTEGER")


#: Primary result codes that say the database cannot be written now, whatever is written: the
#: disk or memory is full, I/O fails, the file is locked, read-only, gone or damaged.
STORE_DOWN_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM,
                              sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT,
                              sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL,
                              sqlite3.SQLITE_NOTADB})


def store_down(exc: BaseException) -> bool:
    """Whether ``exc`` says the store is down (retry the batch later), rather than that one
    message could not be stored (a constraint, a value out of range: dead-letter that message)."""
    if isinstance(exc, OSError):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in STORE_DOWN_CODES


class SqliteStore(SqlStore):
    """One SQLite file; one writer at a time (``BEGIN IMMEDIATE``)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._mutex = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            owner_only(self.path)       # the people who visited: 0600, and so its -wal and -shm
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            # FULL: an event we have acked survives a power cut of the central server too.
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            migrations.apply(self.db)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the central store {self.path}: {exc}") from exc
        self.conn = conn
        self._fill_figure_marks()

    def is_down(self, exc: BaseException) -> bool:
        return isinstance(exc, StoreError) or store_down(exc)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _transaction(self):
        with self._mutex:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"central store busy or unavailable: {exc}") from exc
            try:
                yield
            except BaseException as exc:
                self._rollback()
                if store_down(exc):
                    # The disk is full (or failing, locked…): the store is down, not the message.
                    raise StoreError(f"central store cannot write: {exc}") from exc
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"central store commit failed: {exc}") from exc

    def _rollback(self) -> None:
        # After SQLITE_FULL or an I/O error SQLite may have rolled the transaction back already.
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _rows(self, sql: str, params: Iterable = ()) -> list[dict]:
        with self._mutex:
            cur = self.conn.execute(sql, list(params))
            if cur.description is None:
                return []
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def _exec(self, sql: str, params: Iterable = ()) -> int:
        with self._mutex:
            return self.conn.execute(sql, list(params)).rowcount

    def _many(self, sql: str, rows: list) -> None:
        with self._mutex:
            self.conn.executemany(sql, rows)

    def _rows_each(self, sql: str, rows: list) -> list[list[dict]]:
        return [self._rows(sql, params) for params in rows]

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[tuple], tail: str) -> list[dict]:
        # Multi-row VALUES (executemany cannot RETURN); chunked to stay under SQLite's parameter limit.
        one = "(" + ", ".join("?" * len(columns)) + ")"
        out = []
        for i in range(0, len(rows), _CHUNK):
            chunk = rows[i:i + _CHUNK]
            values = ", ".join([one] * len(chunk))
            out += self._rows(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values} {tail}",
                              [v for row in chunk for v in row])
        return out

    def _in(self, column: str, values: list) -> tuple[str, list]:
        return f"{column} IN (SELECT value FROM json_each(?))", [dumps(values)]

    def _t(self, at: datetime | None) -> Any:
        return iso(at)

    def _dt(self, value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value).astimezone(UTC)

    def _json(self, obj: Any) -> Any:
        return dumps(obj)

    def _obj(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def _hour_sql(self) -> str:
        return "substr(check_in_at, 1, 13)"

    def _local_day_sql(self, expr: str, offset_s: int, week: bool = False) -> str:
        # 'weekday 0' moves to the next Sunday (or stays on one); six days back is its Monday.
        monday = ", 'weekday 0', '-6 days'" if week else ""
        return f"date({expr}, '{int(offset_s):+d} seconds'{monday})"

    def _json_text_sql(self, expr: str, key: str) -> str:
        return f"json_extract({expr}, '$.{key}')"

    def _plus_seconds_sql(self, expr: str, seconds: int) -> str:
        # the stored form, 2021-08-15T01:31:02.153+00:00 (%f is seconds with milliseconds)
        return f"strftime('%Y-%m-%dT%H:%M:%f', {expr}, '{int(seconds):+d} seconds') || '+00:00'"

    def _hour_value(self, value: Any) -> datetime:
        return datetime.fromisoformat(value + ":00:00+00:00")
