"""Staff accounts: PINs (argon2), lockout after repeated failures, login sessions.

A new account gets a one-time PIN (printed once by ``kiosk staff add``); the first login with it
must choose the staff member's own PIN. Five wrong PINs in a row lock the account for 15
minutes. Sessions are random tokens; only their SHA-256 is stored, so a copy of the database
logs nobody in, and logging out (or removing the account) ends them at once.

>>> accounts = StaffAccounts(store)
>>> pin = accounts.add("Lan")                 # '480215'
>>> result = accounts.login("lan", pin)
>>> result.ok, result.must_change
(True, True)
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..store import VisitStore
from ..store.database import raise_unavailable

#: OWASP's argon2id minimum (19 MiB, 2 passes): about 60 ms on a Raspberry Pi 4.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
#: Verified when the name is unknown, so a wrong name takes as long as a wrong PIN.
_DUMMY_HASH = _HASHER.hash("not a pin")

ONE_TIME_PIN_DIGITS = 6
PIN_RE = re.compile(r"[0-9]{6,12}")
NAME_MAX = 40


class AccountError(ValueError):
    """A refused account operation; ``code`` is a :mod:`kiosk.messages` code."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Staff:
    staff_id: str
    name: str
    must_change: bool


@dataclass(frozen=True)
class LoginResult:
    """ok with ``staff``; or refused with ``reason`` ``bad_login`` (wrong name or PIN; the two
    are not told apart) or ``locked`` (``locked_for_s`` seconds left)."""

    staff: Staff | None = None
    reason: str | None = None
    locked_for_s: int = 0

    @property
    def ok(self) -> bool:
        return self.staff is not None

    @property
    def must_change(self) -> bool:
        return bool(self.staff and self.staff.must_change)


def check_name(name: str) -> str:
    """The display name, NFC, trimmed; AccountError ``staff_name_invalid`` for empty, too long or
    control characters."""
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise AccountError("staff_name_invalid")
    return name


def check_new_pin(pin: str) -> str:
    """6-12 digits, not one digit repeated and not a run (123456, 987654)."""
    if not isinstance(pin, str) or not PIN_RE.fullmatch(pin):
        raise AccountError("pin_format")
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:])}
    if steps in ({0}, {1}, {-1}):
        raise AccountError("pin_too_simple")
    return pin


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffAccounts:
    """Accounts and sessions in the kiosk store. Thread-safe (one lock around the connection).

    max_failures: wrong PINs in a row before the lockout; lockout_s: how long it lasts;
    session_idle_s: a session unused this long has ended; clock: seconds since the epoch.
    """

    def __init__(self, store: VisitStore, *, lock: threading.RLock | None = None, max_failures: int = 5,
                 lockout_s: float = 900, session_idle_s: float = 2 * 3600, clock=time.time):
        self.store = store
        self.lock = lock or threading.RLock()
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.session_idle_s = session_idle_s
        self.clock = clock

    # -- accounts (the ``kiosk staff`` command) --------------------------------------------------

    def add(self, name: str) -> str:
        """Create an account; returns its one-time PIN (shown once, never stored)."""
        name = check_name(name)
        pin = self._one_time_pin()
        staff_id = "s-" + secrets.token_hex(4)
        with self.lock, self.store.transaction() as tx:
            if tx.execute("SELECT 1 FROM staff WHERE name_key = ?", [name.casefold()]).fetchone():
                raise AccountError("staff_exists")
            tx.execute("INSERT INTO staff (staff_id, name, name_key, pin_hash, must_change, created_at) "
                           "VALUES (?, ?, ?, ?, 1, ?)", [staff_id, name, name.casefold(), _HASHER.hash(pin), _now_iso()])
        return pin

    def reset(self, name: str) -> str:
        """A new one-time PIN for a forgotten PIN or a lockout; ends the account's sessions."""
        pin = self._one_time_pin()
        with self.lock, self.store.transaction() as tx:
            staff_id = self._id_of(tx, name)
            tx.execute("UPDATE staff SET pin_hash = ?, must_change = 1, failures = 0, locked_until = NULL "
                           "WHERE staff_id = ?", [_HASHER.hash(pin), staff_id])
            tx.execute("DELETE FROM staff_sessions WHERE staff_id = ?", [staff_id])
        return pin

    def remove(self, name: str) -> None:
        """The account can no longer log in; its id stays, so the audit trail still names it."""
        with self.lock, self.store.transaction() as tx:
            staff_id = self._id_of(tx, name)
            tx.execute("UPDATE staff SET removed_at = ?, name_key = name_key || '#' || staff_id "
                           "WHERE staff_id = ?", [_now_iso(), staff_id])
            tx.execute("DELETE FROM staff_sessions WHERE staff_id = ?", [staff_id])

    def list(self) -> list[dict]:
        now = self.clock()
        with self.lock:
            rows = self.store.db.execute("SELECT staff_id, name, must_change, locked_until, created_at FROM staff "
                                         "WHERE removed_at IS NULL ORDER BY name_key").fetchall()
        return [{"staff_id": r[0], "name": r[1], "pin_set": not r[2], "locked": bool(r[3] and r[3] > now),
                 "created_at": r[4]} for r in rows]

    @staticmethod
    def _id_of(db, name: str) -> str:
        row = db.execute("SELECT staff_id FROM staff WHERE name_key = ? AND removed_at IS NULL",
                         [check_name(name).casefold()]).fetchone()
        if not row:
            raise AccountError("staff_unknown")
        return row[0]

    @staticmethod
    def _one_time_pin() -> str:
        while True:
            pin = "".join(secrets.choice("0123456789") for _ in range(ONE_TIME_PIN_DIGITS))
            try:
                return check_new_pin(pin)
            except AccountError:
                continue

    # -- logging in ---------------------------------------------------------------------------

    def login(self, name: str, pin: str) -> LoginResult:
        key = unicodedata.normalize("NFC", (name or "").strip()).casefold()
        now = self.clock()
        with self.lock:
            row = self.store.db.execute("SELECT staff_id, name, pin_hash, must_change, failures, locked_until "
                                        "FROM staff WHERE name_key = ? AND removed_at IS NULL", [key]).fetchone()
            if row is None:
                self._verify(_DUMMY_HASH, pin or "")
                return LoginResult(reason="bad_login")
            staff_id, display, pin_hash, must_change, failures, locked_until = row
            if locked_until and locked_until > now:
                return LoginResult(reason="locked", locked_for_s=int(locked_until - now) + 1)
            if not self._verify(pin_hash, pin or ""):
                failures += 1
                lock = now + self.lockout_s if failures >= self.max_failures else None
                with self.store.transaction() as tx:
                    tx.execute("UPDATE staff SET failures = ?, locked_until = ? WHERE staff_id = ?",
                                   [0 if lock else failures, lock, staff_id])
                if lock:
                    return LoginResult(reason="locked", locked_for_s=int(self.lockout_s))
                return LoginResult(reason="bad_login")
            with self.store.transaction() as tx:
                tx.execute("UPDATE staff SET failures = 0, locked_until = NULL WHERE staff_id = ?", [staff_id])
            return LoginResult(Staff(staff_id, display, bool(must_change)))

    def change_pin(self, staff_id: str, new_pin: str) -> None:
        """Set the staff member's own PIN (after logging in with the current one)."""
        pin_hash = _HASHER.hash(check_new_pin(new_pin))
        with self.lock, self.store.transaction() as tx:
            tx.execute("UPDATE staff SET pin_hash = ?, must_change = 0 WHERE staff_id = ? AND removed_at IS NULL",
                           [pin_hash, staff_id])

    @staticmethod
    def _verify(pin_hash: str, pin: str) -> bool:
        try:
            return _HASHER.verify(pin_hash, pin)
        except (VerificationError, InvalidHashError):
            return False

    # -- sessions -----------------------------------------------------------------------------

    def open_session(self, staff_id: str) -> str:
        """A new session token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.lock, self.store.transaction() as tx:
            tx.execute("DELETE FROM staff_sessions WHERE last_seen < ?", [now - self.session_idle_s])
            tx.execute("INSERT INTO staff_sessions (token_hash, staff_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
                           [_token_hash(token), staff_id, now, now])
        return token

    def session(self, token: str | None) -> Staff | None:
        """The staff member a live session belongs to (and the session is kept alive), or None."""
        if not token:
            return None
        now = self.clock()
        with self.lock:
            row = self.store.db.execute(
                "SELECT s.staff_id, s.name, s.must_change, x.last_seen FROM staff_sessions x "
                "JOIN staff s ON s.staff_id = x.staff_id WHERE x.token_hash = ? AND s.removed_at IS NULL",
                [_token_hash(token)]).fetchone()
            if row is None or row[3] < now - self.session_idle_s:
                return None
            try:
                self.store.db.execute("UPDATE staff_sessions SET last_seen = ? WHERE token_hash = ?",
                                      [now, _token_hash(token)])
            except sqlite3.Error as exc:
                raise_unavailable(exc)
        return Staff(row[0], row[1], bool(row[2]))

    def close_session(self, token: str | None) -> None:
        if not token:
            return
        with self.lock, self.store.transaction() as tx:
            tx.execute("DELETE FROM staff_sessions WHERE token_hash = ?", [_token_hash(token)])
