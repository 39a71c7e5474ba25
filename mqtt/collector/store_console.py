"""The tracing console's records in the central store: its users, API tokens and sessions, and the
append-only audit of every lookup (tables of migration 5 in both backends).

Statements only: what a password, a one-time code or a role means is
:mod:`mqtt.collector.console`'s. :class:`ConsoleRecords` is part of every
:class:`~mqtt.collector.store.SqlStore`, on its connection and its ``?`` placeholders.

>>> import tempfile
>>> from datetime import datetime, UTC
>>> from mqtt.collector.store import open_store
>>> with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite://{tmp}/central.db") as store:
...     at = datetime(2026, 8, 19, 1, 0, tzinfo=UTC)
...     store.append_audit(AuditRow(at, "user:lan", "contacts", "cccd:079190000001", {"days": 14}, 3, "10.0.0.5"))
...     [(r.actor, r.person, r.results) for r in store.audit_rows()]
[('user:lan', 'cccd:079190000001', 3)]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class UserRow:
    user_id: str
    name: str
    roles: tuple[str, ...]
    password_hash: str
    must_change: bool
    totp_secret: str
    created_at: datetime
    password_changed_at: datetime | None


@dataclass(frozen=True)
class TokenRow:
    token_id: str
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str                  # user:NAME, token:NAME, cli
    action: str
    person: str | None          # kind:id looked up, where there was one
    query: dict | None          # what was searched (never a name typed: that is a person)
    results: int | None         # how many people (or rows) it returned
    client: str | None
    id: int | None = None


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    person: str                 # kind:id
    days: int
    opened_by: str
    opened_at: datetime
    handled_at: datetime | None
    handled_by: str | None
    note: str | None


_USER_COLUMNS = ("user_id, name, roles, password_hash, must_change, totp_secret, created_at, "
                 "password_changed_at")


class ConsoleRecords:
    """Statements of the console's tables, mixed into :class:`~mqtt.collector.store.SqlStore`
    (whose ``_rows``, ``_exec``, ``_transaction``, ``_t``, ``_dt``, ``_json`` and ``_obj`` they use)."""

    # The backend's hooks, as SqlStore has them.
    _rows: Any
    _exec: Any
    _transaction: Any
    _t: Any
    _dt: Any
    _json: Any
    _obj: Any

    # -- users ------------------------------------------------------------------------------
    def _user(self, r: dict) -> UserRow:
        return UserRow(r["user_id"], r["name"], tuple(self._obj(r["roles"])), r["password_hash"],
                       bool(r["must_change"]), r["totp_secret"], self._dt(r["created_at"]),
                       self._dt(r["password_changed_at"]))

    def insert_user(self, *, user_id: str, name: str, name_key: str, roles: tuple[str, ...], password_hash: str,
                    totp_secret: str, created_at: datetime) -> None:
        with self._transaction():
            self._exec("INSERT INTO console_users (user_id, name, name_key, roles, password_hash, must_change, "
                       "totp_secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       [user_id, name, name_key, self._json(list(roles)), password_hash, True, totp_secret,
                        self._t(created_at)])

    def user_by_name_key(self, name_key: str) -> UserRow | None:
        rows = self._rows(f"SELECT {_USER_COLUMNS} FROM console_users WHERE name_key = ?", [name_key])
        return self._user(rows[0]) if rows else None

    def user_by_id(self, user_id: str) -> UserRow | None:
        rows = self._rows(f"SELECT {_USER_COLUMNS} FROM console_users WHERE user_id = ?", [user_id])
        return self._user(rows[0]) if rows else None

    def user_rows(self) -> list[UserRow]:
        return [self._user(r) for r in self._rows(f"SELECT {_USER_COLUMNS} FROM console_users ORDER BY name_key")]

    def set_password(self, user_id: str, password_hash: str, *, must_change: bool, at: datetime) -> None:
        """A new password; every session of the user ends with it."""
        with self._transaction():
            self._exec("UPDATE console_users SET password_hash = ?, must_change = ?, password_changed_at = ? "
                       "WHERE user_id = ?", [password_hash, must_change, self._t(at), user_id])
            self._exec("DELETE FROM console_sessions WHERE user_id = ?", [user_id])

    def reset_user(self, user_id: str, password_hash: str, totp_secret: str, *, at: datetime) -> None:
        """A new one-time password and a new TOTP secret (a lost phone); every session ends."""
        with self._transaction():
            self._exec("UPDATE console_users SET password_hash = ?, must_change = ?, totp_secret = ?, "
                       "totp_last_step = 0, password_changed_at = ? WHERE user_id = ?",
                       [password_hash, True, totp_secret, self._t(at), user_id])
            self._exec("DELETE FROM console_sessions WHERE user_id = ?", [user_id])

    def remove_user(self, user_id: str) -> int:
        with self._transaction():
            self._exec("DELETE FROM console_sessions WHERE user_id = ?", [user_id])
            return self._exec("DELETE FROM console_users WHERE user_id = ?", [user_id])

    def spend_totp_step(self, user_id: str, step: int) -> bool:
        """Mark the one-time code of time step ``step`` used; False if it (or a later one) already
        was: a code seen once, by anyone, is never good again."""
        with self._transaction():
            return self._exec("UPDATE console_users SET totp_last_step = ? WHERE user_id = ? AND totp_last_step < ?",
                              [step, user_id, step]) == 1

    # -- sessions ---------------------------------------------------------------------------
    def insert_session(self, session_hash: str, user_id: str, at: datetime) -> None:
        with self._transaction():
            self._exec("INSERT INTO console_sessions (session_hash, user_id, created_at, seen_at) VALUES (?, ?, ?, ?)",
                       [session_hash, user_id, self._t(at), self._t(at)])

    def session_row(self, session_hash: str) -> tuple[str, datetime, datetime] | None:
        """``(user_id, created_at, seen_at)`` of the session, or None."""
        rows = self._rows("SELECT user_id, created_at, seen_at FROM console_sessions WHERE session_hash = ?",
                          [session_hash])
        if not rows:
            return None
        r = rows[0]
        return r["user_id"], self._dt(r["created_at"]), self._dt(r["seen_at"])

    def touch_session(self, session_hash: str, at: datetime) -> None:
        with self._transaction():
            self._exec("UPDATE console_sessions SET seen_at = ? WHERE session_hash = ?", [self._t(at), session_hash])

    def end_session(self, session_hash: str) -> None:
        with self._transaction():
            self._exec("DELETE FROM console_sessions WHERE session_hash = ?", [session_hash])

    def end_sessions_before(self, *, seen_before: datetime, created_before: datetime) -> int:
        """End the sessions idle since ``seen_before`` or begun before ``created_before``."""
        with self._transaction():
            return self._exec("DELETE FROM console_sessions WHERE seen_at < ? OR created_at < ?",
                              [self._t(seen_before), self._t(created_before)])

    # -- API tokens -------------------------------------------------------------------------
    def _token(self, r: dict) -> TokenRow:
        return TokenRow(r["token_id"], r["name"], r["role"], self._dt(r["created_at"]), self._dt(r["last_used_at"]),
                        self._dt(r["revoked_at"]))

    def insert_token(self, *, token_id: str, name: str, role: str, token_hash: str, created_at: datetime) -> None:
        with self._transaction():
            self._exec("INSERT INTO console_tokens (token_id, name, role, token_hash, created_at) "
                       "VALUES (?, ?, ?, ?, ?)", [token_id, name, role, token_hash, self._t(created_at)])

    def live_token(self, token_hash: str) -> TokenRow | None:
        """The token with this hash, unless it was revoked."""
        rows = self._rows("SELECT token_id, name, role, created_at, last_used_at, revoked_at FROM console_tokens "
                          "WHERE token_hash = ? AND revoked_at IS NULL", [token_hash])
        return self._token(rows[0]) if rows else None

    def touch_token(self, token_id: str, at: datetime) -> None:
        with self._transaction():
            self._exec("UPDATE console_tokens SET last_used_at = ? WHERE token_id = ?", [self._t(at), token_id])

    def token_rows(self) -> list[TokenRow]:
        return [self._token(r) for r in self._rows(
            "SELECT token_id, name, role, created_at, last_used_at, revoked_at FROM console_tokens "
            "ORDER BY created_at, name")]

    def revoke_tokens(self, name: str, at: datetime) -> int:
        with self._transaction():
            return self._exec("UPDATE console_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                              [self._t(at), name])

    # -- cases ------------------------------------------------------------------------------
    def insert_case(self, *, case_id: str, person: str, days: int, opened_by: str, opened_at: datetime) -> None:
        with self._transaction():
            self._exec("INSERT INTO console_cases (case_id, person, days, opened_by, opened_at) VALUES (?, ?, ?, ?, ?)",
                       [case_id, person, days, opened_by, self._t(opened_at)])

    def _case(self, r: dict) -> CaseRow:
        return CaseRow(r["case_id"], r["person"], r["days"], r["opened_by"], self._dt(r["opened_at"]),
                       self._dt(r["handled_at"]), r["handled_by"], r["note"])

    def case_row(self, case_id: str) -> CaseRow | None:
        rows = self._rows("SELECT case_id, person, days, opened_by, opened_at, handled_at, handled_by, note "
                          "FROM console_cases WHERE case_id = ?", [case_id])
        return self._case(rows[0]) if rows else None

    def case_rows(self, limit: int = 20) -> list[CaseRow]:
        """The latest cases opened, newest first."""
        return [self._case(r) for r in self._rows(
            "SELECT case_id, person, days, opened_by, opened_at, handled_at, handled_by, note FROM console_cases "
            f"ORDER BY opened_at DESC, case_id LIMIT {int(limit)}")]

    def mark_case_handled(self, case_id: str, *, by: str, note: str, at: datetime) -> int:
        with self._transaction():
            return self._exec("UPDATE console_cases SET handled_at = ?, handled_by = ?, note = ? WHERE case_id = ?",
                              [self._t(at), by, note, case_id])

    # -- settings ---------------------------------------------------------------------------
    def console_setting(self, name: str, make) -> str:
        """The setting ``name``, made with ``make()`` and kept the first time it is asked for (by
        whichever console process asks first)."""
        with self._transaction():
            self._exec("INSERT INTO console_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                       [name, make()])
            return self._rows("SELECT value FROM console_settings WHERE name = ?", [name])[0]["value"]

    # -- the audit --------------------------------------------------------------------------
    def append_audit(self, row: AuditRow) -> None:
        with self._transaction():
            self._exec("INSERT INTO console_audit (at, actor, action, person, query, results, client) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [self._t(row.at), row.actor, row.action, row.person,
                        None if row.query is None else self._json(row.query), row.results, row.client])

    def audit_rows(self, *, since: datetime | None = None, before_id: int | None = None,
                   limit: int | None = None) -> list[AuditRow]:
        """The audit, oldest first (``limit``: the latest that many; ``before_id``: of the rows
        before that one, a page further back)."""
        clauses, params = [], []
        if since:
            clauses, params = ["at >= ?"], [self._t(since)]
        if before_id is not None:
            clauses, params = [*clauses, "id < ?"], [*params, before_id]
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        tail = f" LIMIT {int(limit)}" if limit else ""
        rows = self._rows(f"SELECT * FROM (SELECT id, at, actor, action, person, query, results, client "
                          f"FROM console_audit {where} ORDER BY id DESC{tail}) latest ORDER BY id", params)
        out = []
        for r in rows:
            query = self._obj(r["query"]) if r["query"] is not None else None
            out.append(AuditRow(self._dt(r["at"]), r["actor"], r["action"], r["person"], query, r["results"],
                                r["client"], r["id"]))
        return out
