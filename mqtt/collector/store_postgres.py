"""The central store in PostgreSQL, for several collectors writing at once (shared subscription).

Concurrency: each ingest transaction first takes transaction-scoped advisory locks on its kiosks
and visits, in one sorted order, so two collectors never interleave the seq tracking or the
rebuild of one visit; de-duplication is ``INSERT … ON CONFLICT (event_id) DO NOTHING``. A
deadlock (possible only when a clock correction reaches a visit another kiosk is closing) rolls
back and the transaction is retried.

Usage (a reachable PostgreSQL server; ``open_store`` picks this class for such a URL)::

    store = PostgresStore("postgresql://collector@db.example/checkin")   # connects, migrates
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from .store import UTC, SqlStore, StoreError

#: Every collector's migration takes this advisory lock, so two starting at once do not race.
MIGRATION_LOCK = 0x636B_696F_736B  # "ckiosk"
RETRIES = 5
#: The placeholder for a list parameter: binary, because psycopg builds a text array by escaping
#: every element with a regular expression, which took longer than the INSERT itself.
ARRAY = "%b"

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
        CREATE TABLE events (
            event_id TEXT PRIMARY KEY,
            kiosk_id TEXT NOT NULL,
            venue_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            type TEXT NOT NULL,
            visit_id TEXT NOT NULL,
            at TIMESTAMPTZ NOT NULL,
            at_corrected TIMESTAMPTZ,
            synced BOOLEAN NOT NULL,
            boot_id TEXT NOT NULL,
            uptime_s DOUBLE PRECISION NOT NULL,
            method TEXT,
            staff_id TEXT,
            person_kind TEXT NOT NULL,
            person_id TEXT NOT NULL,
            person JSONB NOT NULL,
            estimated BOOLEAN NOT NULL DEFAULT FALSE,
            received_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX events_visit ON events (visit_id);
        CREATE INDEX events_boot ON events (kiosk_id, boot_id, synced, uptime_s);
        CREATE INDEX events_kiosk_seq ON events (kiosk_id, seq);
        CREATE TABLE visits (
            visit_id TEXT PRIMARY KEY,
            kiosk_id TEXT NOT NULL,
            venue_id TEXT NOT NULL,
            person_kind TEXT NOT NULL,
            person_id TEXT NOT NULL,
            person JSONB NOT NULL,
            check_in_at TIMESTAMPTZ,
            check_out_at TIMESTAMPTZ,
            check_out_type TEXT,
            check_out_estimated BOOLEAN NOT NULL DEFAULT FALSE,
            check_in_corrected BOOLEAN NOT NULL DEFAULT FALSE,
            check_out_corrected BOOLEAN NOT NULL DEFAULT FALSE,
            time_trusted BOOLEAN NOT NULL DEFAULT TRUE,
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX visits_venue_in ON visits (venue_id, check_in_at);
        CREATE INDEX visits_venue_out ON visits (venue_id, check_out_at);
        CREATE INDEX visits_venue_open ON visits (venue_id, check_in_at) WHERE check_out_at IS NULL;
        CREATE INDEX visits_person ON visits (person_kind, person_id);
        CREATE TABLE kiosk_seq (
            kiosk_id TEXT PRIMARY KEY,
            high_water BIGINT NOT NULL,
            beyond JSONB NOT NULL,
            max_seq BIGINT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE dead_letters (
            id BIGSERIAL PRIMARY KEY,
            received_at TIMESTAMPTZ NOT NULL,
            topic TEXT NOT NULL,
            kiosk_id TEXT,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL,
            payload BYTEA NOT NULL,
            payload_size INTEGER NOT NULL
        );
        CREATE INDEX dead_letters_received ON dead_letters (received_at);
        CREATE TABLE fleet (
            kiosk_id TEXT PRIMARY KEY,
            status TEXT,
            status_at TIMESTAMPTZ,
            last_seen TIMESTAMPTZ,
            health JSONB,
            health_at TIMESTAMPTZ
        );
    """),
    # The kiosk's latest self-test report (kiosk selftest), as the technician left it.
    (2, "ALTER TABLE fleet ADD COLUMN selftest JSONB, ADD COLUMN selftest_at TIMESTAMPTZ"),
    # A valid event refused (its kiosk, venue or visit) is kept once per reason, however often
    # its kiosk re-sends it (it is not acked: a corrected registry lets it in later).
    (3, """
        ALTER TABLE dead_letters ADD COLUMN event_id TEXT;
        CREATE UNIQUE INDEX dead_letters_event ON dead_letters (event_id, reason);
    """),
    # Tracing by phone (staff phone check-ins carry the household's phone): the visit's
    # person.phone beside its JSON, indexed where there is one; filled here for the visits before.
    (4, """
        ALTER TABLE visits ADD COLUMN person_phone TEXT;
        UPDATE visits SET person_phone = person->>'phone' WHERE person->>'phone' IS NOT NULL;
        CREATE INDEX visits_phone ON visits (person_phone) WHERE person_phone IS NOT NULL;
    """),
    # The tracing console (mqtt/collector/console/): its users, API tokens, sessions, and the audit
    # of every lookup, which nothing may change or delete (the trigger refuses it for every role).
    (5, """
        CREATE TABLE console_users (
            user_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            roles JSONB NOT NULL,
            password_hash TEXT NOT NULL,
            must_change BOOLEAN NOT NULL,
            totp_secret TEXT NOT NULL,
            totp_last_step BIGINT NOT NULL DEFAULT 0,
            created_at TIMESTAMPTZ NOT NULL,
            password_changed_at TIMESTAMPTZ
        );
        CREATE TABLE console_tokens (
            token_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TIMESTAMPTZ NOT NULL,
            last_used_at TIMESTAMPTZ,
            revoked_at TIMESTAMPTZ
        );
        CREATE TABLE console_sessions (
            session_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES console_users (user_id) ON DELETE CASCADE,
            created_at TIMESTAMPTZ NOT NULL,
            seen_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE console_audit (
            id BIGSERIAL PRIMARY KEY,
            at TIMESTAMPTZ NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            person TEXT,
            query JSONB,
            results INTEGER,
            client TEXT
        );
        CREATE INDEX console_audit_at ON console_audit (at);
        CREATE FUNCTION console_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the console audit is append-only'; END $$;
        CREATE TRIGGER console_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON console_audit
            FOR EACH STATEMENT EXECUTE FUNCTION console_audit_append_only();
    """),
    # A tracer's case (the browser sees only its opaque id), and the console's signing key.
    (6, """
        CREATE TABLE console_cases (
            case_id TEXT PRIMARY KEY,
            person TEXT NOT NULL,
            days INTEGER NOT NULL,
            opened_by TEXT NOT NULL,
            opened_at TIMESTAMPTZ NOT NULL,
            handled_at TIMESTAMPTZ,
            handled_by TEXT,
            note TEXT
        );
        CREATE INDEX console_cases_opened ON console_cases (opened_at);
        CREATE TABLE console_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    """),
    # The committees' figures (store_figures.py): where each venue is, the venue-days ingest has
    # changed (day: UTC YYYY-MM-DD), and the figures reckoned; filled at the first open after.
    (7, """
        CREATE TABLE venues (
            venue_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            district TEXT NOT NULL,
            province TEXT NOT NULL,
            changed_gen BIGINT NOT NULL
        );
        CREATE TABLE figure_marks (
            venue_id TEXT NOT NULL,
            day TEXT NOT NULL,
            gen BIGINT NOT NULL,
            PRIMARY KEY (venue_id, day)
        );
        CREATE INDEX figure_marks_day ON figure_marks (day);
        CREATE TABLE figure_cache (
            offset_s INTEGER NOT NULL,
            week INTEGER NOT NULL,
            level TEXT NOT NULL,
            scope TEXT NOT NULL,
            day TEXT NOT NULL,
            gen BIGINT NOT NULL,
            venues_gen BIGINT NOT NULL,
            check_ins BIGINT NOT NULL,
            visitors BIGINT NOT NULL,
            kiosks BIGINT NOT NULL,
            venues BIGINT NOT NULL,
            peak BIGINT NOT NULL,
            PRIMARY KEY (offset_s, week, level, scope, day)
        );
    """),
    # A tracer opens a case by name too: the name as the kiosk read it (person.name), indexed.
    (8, "CREATE INDEX visits_name ON visits ((person->>'name'));"),
    # How the visitor was checked in (the check-in's method, else the check-out's), for a case's view.
    (9, """
        ALTER TABLE visits ADD COLUMN method TEXT;
        UPDATE visits v SET method = m.method FROM (
            SELECT DISTINCT ON (visit_id) visit_id, method FROM events WHERE method IS NOT NULL
            ORDER BY visit_id, type <> 'check_in', COALESCE(at_corrected, at), seq) m
        WHERE m.visit_id = v.visit_id;
    """),
    # A staff phone check-in: the code read out (true), or why staff let them in without (false
    # and the reason); NULL: no code was asked.
    (10, """
        ALTER TABLE events ADD COLUMN phone_verified BOOLEAN, ADD COLUMN phone_check_reason TEXT;
        ALTER TABLE visits ADD COLUMN phone_verified BOOLEAN, ADD COLUMN phone_check_reason TEXT;
    """),
    # A check-in's health declaration of the day (the answers as the event carried them) and
    # whether it flagged the visitor; NULL: none was made.
    (11, """
        ALTER TABLE events ADD COLUMN declaration JSONB, ADD COLUMN declaration_flagged BOOLEAN;
        ALTER TABLE visits ADD COLUMN declaration JSONB, ADD COLUMN declaration_flagged BOOLEAN;
    """),
]

#: SQLSTATE classes that say the server cannot do any work now, whatever is sent: 08 connection
#: exception, 53 insufficient resources (53100 disk_full, 53200 out_of_memory, 53300
#: too_many_connections), 57 operator intervention (shutdown, cancelled), 58 system error (I/O).
STORE_DOWN_CLASSES = frozenset({"08", "53", "57", "58"})
#: Single states of other classes that are as transient: a lock not granted, a read-only
#: server (a standby, or default_transaction_read_only during an incident), and the
#: transaction conflicts still failing after :data:`RETRIES`.
STORE_DOWN_STATES = frozenset({"55P03", "25006", "40001", "40P01"})


def store_down(exc: BaseException) -> bool:
    """Whether ``exc`` says the store is down (retry the batch later), rather than that one
    message could not be stored (class 22 data exception, 23 integrity, 54 program limit…:
    dead-letter that message). A lost connection has no SQLSTATE and is "down"."""
    if isinstance(exc, OSError):
        return True
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))
    return state[:2] in STORE_DOWN_CLASSES or state in STORE_DOWN_STATES


class PostgresStore(SqlStore):
    """One connection (autocommit, explicit transactions); reconnects when the server went away."""

    for_update = " FOR UPDATE"

    def __init__(self, url: str):
        self.url = url
        self._mutex = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self._connection()
        self._migrate()
        #: table -> column -> type name, for the arrays of :meth:`_insert`.
        self._column_types: dict[str, dict[str, str]] = defaultdict(dict)
        for r in self._rows("SELECT table_name, column_name, udt_name FROM information_schema.columns "
                            "WHERE table_schema = current_schema()"):
            self._column_types[r["table_name"]][r["column_name"]] = r["udt_name"]
        self._fill_figure_marks()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                             options="-c TimeZone=UTC", connect_timeout=10)
            except psycopg.Error as exc:
                raise StoreError(f"cannot connect to the central store: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
        return self._conn

    def _migrate(self) -> None:
        with self._transaction():
            self._exec("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK])
            self._exec("CREATE TABLE IF NOT EXISTS schema_version "
                       "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            done = {r["version"] for r in self._rows("SELECT version FROM schema_version")}
            for version, sql in MIGRATIONS:
                if version not in done:
                    self._connection().execute(sql)
                    self._exec("INSERT INTO schema_version (version) VALUES (?)", [version])

    def is_down(self, exc: BaseException) -> bool:
        return isinstance(exc, StoreError) or store_down(exc)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    @contextmanager
    def _transaction(self):
        with self._mutex:
            conn = self._connection()
            try:
                with conn.transaction():
                    yield
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                raise           # _retrying tries the transaction again
            except (psycopg.Error, OSError) as exc:
                if store_down(exc):
                    raise StoreError(f"central store unavailable: {type(exc).__name__}"
                                     f"{' ' + exc.sqlstate if getattr(exc, 'sqlstate', None) else ''}") from exc
                raise

    def _retrying(self, fn):
        for attempt in range(RETRIES):
            try:
                return fn()
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
                if attempt == RETRIES - 1:
                    raise StoreError(f"central store: {type(exc).__name__} {RETRIES} times") from exc
                time.sleep(0.01 * (attempt + 1))

    def _lock(self, keys: Iterable[str]) -> None:
        keys = sorted(set(keys))
        if keys:
            self._exec("SELECT count(pg_advisory_xact_lock(k)) FROM "
                       f"(SELECT DISTINCT hashtextextended(x, 0) AS k FROM unnest({ARRAY}::text[]) AS x ORDER BY k) s",
                       [keys])

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def _rows(self, sql: str, params: Iterable = ()) -> list[dict]:
        with self._mutex:
            cur = self._connection().execute(self._sql(sql), list(params))
            return cur.fetchall() if cur.description is not None else []

    def _exec(self, sql: str, params: Iterable = ()) -> int:
        with self._mutex:
            return self._connection().execute(self._sql(sql), list(params)).rowcount

    def _many(self, sql: str, rows: list) -> None:
        with self._mutex:
            with self._connection().cursor() as cur:
                cur.executemany(self._sql(sql), rows)

    def _rows_each(self, sql: str, rows: list) -> list[list[dict]]:
        if not rows:
            return []
        with self._mutex, self._connection().cursor() as cur:
            cur.executemany(self._sql(sql), rows, returning=True)    # pipelined: one round trip
            results = [cur.fetchall()]
            while cur.nextset():
                results.append(cur.fetchall())
            return results

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[tuple], tail: str) -> list[dict]:
        # One array per column: the statement text is the same for any number of rows, so psycopg
        # parses it once and the server prepares it, instead of thousands of placeholders per batch.
        types = self._column_types[table]
        arrays = ", ".join(f"{ARRAY}::{types[c]}[]" for c in columns)
        return self._rows(f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {tail}",
                          [list(values) for values in zip(*rows, strict=True)])

    def _in(self, column: str, values: list) -> tuple[str, list]:
        return f"{column} = ANY({ARRAY})", [values]

    def _t(self, at: datetime | None) -> Any:
        return at

    def _dt(self, value: Any) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def _json(self, obj: Any) -> Any:
        return Jsonb(obj)

    def _obj(self, value: Any) -> Any:
        return value.obj if isinstance(value, Jsonb) else value

    def _hour_sql(self) -> str:
        return "date_trunc('hour', check_in_at)"

    def _local_day_sql(self, expr: str, offset_s: int, week: bool = False) -> str:
        local = f"({expr}) AT TIME ZONE 'UTC' + interval '{int(offset_s)} seconds'"
        return f"to_char(date_trunc('{'week' if week else 'day'}', {local}), 'YYYY-MM-DD')"

    def _json_text_sql(self, expr: str, key: str) -> str:
        return f"({expr})->>'{key}'"

    def _plus_seconds_sql(self, expr: str, seconds: int) -> str:
        return f"({expr} + interval '{int(seconds)} seconds')"
