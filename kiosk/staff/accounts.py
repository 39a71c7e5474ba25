"""Staff accounts: PINs (argon2), login throttling and lockout, login sessions.

A new account gets a one-time PIN (printed once by ``kiosk staff add``); the first login with it
must choose the staff member's own PIN, a different one (the staff pages stay closed until then).
Sessions are random tokens; only their SHA-256 is stored, so a copy of the database logs nobody
in, and logging out (or removing the account) ends them at once.

Logging in from the web (``client`` = the request's address) is guarded twice:

- per client device (:class:`~mqtt.plumbing.throttle.LoginThrottle`): a few attempts are free, then
  each waits a delay that doubles (up to 15 minutes); a client that must wait is answered at
  once, before any name is looked up or PIN hashed;
- per account: five wrong PINs in a row (from anywhere) lock it for 15 minutes against logins
  over the LAN. The account's owner still logs in on the kiosk's own screen (loopback), which
  ends the lockout, and so does ``kiosk staff reset NAME``; open sessions are not ended by it.
  So a lockout stops guessing over the LAN without locking the venue's staff out: the screen
  at the door is as close as the staff's own phones, and guessing there is throttled too.

An unknown name, a wrong PIN and a locked account give the same answer after the same work:
one argon2 verification (of a dummy hash for an unknown name) and one write transaction (the
failed-login tally of the audit trail, see :mod:`kiosk.staff.audit`). The verification runs
outside the lock that serialises the staff pages' database work, and at most two run at once
(19 MiB each), a PIN change's included; a third is answered "busy, try again in 1 s".

The per-device throttle keeps its times in memory on a monotonic clock, so an NTP step back
never lengthens a wait. A lockout is written to the database and must outlast a restart, which
no monotonic clock does (it starts again at each boot): it keeps wall time, and a clock stepped
back while an account is locked lengthens that lockout by the step at most (its owner still
opens it on the kiosk's screen, or ``kiosk staff reset``).

>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as tmp:
...     store = VisitStore.open(Path(tmp, "kiosk.db"))
...     accounts = StaffAccounts(store)
...     pin = accounts.add("Lan")                 # the one-time PIN, six digits
...     result = accounts.login("lan", pin, client="192.168.1.50")
...     result.ok, result.must_change, accounts.login("Lan", "000000", client="192.168.1.50").reason
...     accounts.change_pin(result.staff.staff_id, "480215")
...     accounts.login("Lan", "480215", client="192.168.1.50").must_change
...     store.close()
(True, True, 'bad_login')
False
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mqtt.plumbing.throttle import LOOPBACK, LoginThrottle, client_key

from ..store import StoreUnavailable, VisitStore
from .audit import Audit

log = logging.getLogger(__name__)

#: OWASP's argon2id minimum (19 MiB, 2 passes): about 60 ms on a Raspberry Pi 4.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
#: Verified when the name is unknown, so a wrong name takes as long as a wrong PIN.
_DUMMY_HASH = _HASHER.hash("not a pin")

ONE_TIME_PIN_DIGITS = 6
PIN_RE = re.compile(r"[0-9]{6,12}")
NAME_MAX = 40
#: argon2 verifications at once (each takes 19 MiB and most of a core).
VERIFY_SLOTS = 2
#: A session's last use is written at most this often (a write per page view costs an fsync).
SESSION_TOUCH_S = 60


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
    """ok with ``staff`` (``unlocked``: it ended a lockout, on the kiosk's screen); or refused
    with ``reason``:

    - ``bad_login`` (unknown name or wrong PIN) or ``locked`` (the account is locked:
      ``locked_for_s`` seconds left). For the person at the other end these are one answer:
      the reason is for the caller's own records and tests, never to be shown;
    - ``throttled``: this client must wait ``retry_after_s`` seconds (nothing was checked);
    - ``busy``: verifications are running for others; try again in ``retry_after_s``.
    """

    staff: Staff | None = None
    reason: str | None = None
    locked_for_s: int = 0
    retry_after_s: int = 0
    unlocked: bool = False

    @property
    def ok(self) -> bool:
        return self.staff is not None

    @property
    def must_change(self) -> bool:
        return bool(self.staff and self.staff.must_change)


def name_key(name: str) -> str:
    """What a login name is looked up by: NFC, trimmed, case-folded ("  LAN " is "lan")."""
    return unicodedata.normalize("NFC", (name or "").strip()).casefold()


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
    steps = {int(b) - int(a) for a, b in pairwise(pin)}
    if steps in ({0}, {1}, {-1}):
        raise AccountError("pin_too_simple")
    return pin


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()




class StaffAccounts:
    """Accounts and sessions in the kiosk store. Thread-safe: ``lock`` serialises the store's
    connection (shared with the other staff services); argon2 runs outside it.

    max_failures: wrong PINs in a row before the lockout; lockout_s: how long it lasts;
    session_idle_s: a session unused this long has ended; clock: seconds since the epoch (the
    lockout and sessions, kept in the database); monotonic: seconds that never go back (the
    throttle's, kept in memory); audit: where lockouts and failed logins are recorded; throttle:
    per-client delays.
    """

    def __init__(self, store: VisitStore, *, lock: threading.RLock | None = None, max_failures: int = 5,
                 lockout_s: float = 900, session_idle_s: float = 2 * 3600, clock=time.time,
                 monotonic=time.monotonic, audit: Audit | None = None, throttle: LoginThrottle | None = None,
                 verify_slots: threading.Semaphore | None = None):
        self.store = store
        self.lock = lock or threading.RLock()
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.session_idle_s = session_idle_s
        self.clock = clock
        self.audit = audit or Audit(store, lock=self.lock, clock=clock)
        # "is None", not "or": an empty throttle has no clients, so len() 0, so it is falsy
        self.throttle = LoginThrottle(clock=monotonic) if throttle is None else throttle
        self.verify_slots = verify_slots or threading.BoundedSemaphore(VERIFY_SLOTS)

    # -- accounts (the ``kiosk staff`` command) --------------------------------------------------

    def add(self, name: str) -> str:
        """Create an account; returns its one-time PIN (shown once, never stored)."""
        name = check_name(name)
        pin = self._one_time_pin()
        pin_hash = _HASHER.hash(pin)
        with self.lock, self.store.transaction() as tx:
            if tx.staff_name_taken(name.casefold()):
                raise AccountError("staff_exists")
            tx.insert_account(staff_id="s-" + secrets.token_hex(4), name=name, name_key=name.casefold(),
                                   pin_hash=pin_hash, created_at=_now_iso())
        return pin

    def reset(self, name: str) -> str:
        """A new one-time PIN for a forgotten PIN or a lockout (which it ends); ends the account's sessions."""
        pin = self._one_time_pin()
        pin_hash = _HASHER.hash(pin)
        with self.lock, self.store.transaction() as tx:
            staff_id = self._id_of(tx, name)
            tx.set_one_time_pin(staff_id, pin_hash)
            self.audit.write(tx, None, "pin_reset", subject=staff_id)
        return pin

    def remove(self, name: str) -> None:
        """The account can no longer log in; its id stays, so the audit trail still names it."""
        with self.lock, self.store.transaction() as tx:
            tx.remove_account(self._id_of(tx, name), _now_iso())

    def list(self) -> list[dict]:
        now = self.clock()
        with self.lock:
            rows = self.store.reader().list_accounts()
        return [{"staff_id": r[0], "name": r[1], "pin_set": not r[2], "locked": bool(r[3] and r[3] > now),
                 "created_at": r[4]} for r in rows]

    def count(self) -> int:
        """Live accounts (0: nobody can use the staff pages yet)."""
        with self.lock:
            return self.store.reader().count_accounts()

    @staticmethod
    def _id_of(tx, name: str) -> str:
        staff_id = tx.staff_account_id(check_name(name).casefold())
        if staff_id is None:
            raise AccountError("staff_unknown")
        return staff_id

    @staticmethod
    def _one_time_pin() -> str:
        while True:
            pin = "".join(secrets.choice("0123456789") for _ in range(ONE_TIME_PIN_DIGITS))
            try:
                return check_new_pin(pin)
            except AccountError:
                continue

    # -- logging in ---------------------------------------------------------------------------

    def login(self, name: str, pin: str, *, client: str | None = None) -> LoginResult:
        """Check a login. ``client``: the web request's address (throttled per device; loopback
        is the kiosk's own screen); None for a caller that is not a web client (no throttle)."""
        who = client_key(client) if client is not None else None
        if not self.verify_slots.acquire(blocking=False):
            return LoginResult(reason="busy", retry_after_s=1)
        try:
            if who is not None:
                wait = self.throttle.admit(who)
                if wait > 0:
                    self.audit.login_throttled(who)
                    return LoginResult(reason="throttled", retry_after_s=max(1, math.ceil(wait)))
            now = self.clock()
            with self.lock:
                row = self.store.reader().account_for_login(name_key(name))
            # The same work whether the name exists or not: one verification.
            right = self._verify(row.pin_hash if row else _DUMMY_HASH, pin if isinstance(pin, str) else "")
        finally:
            self.verify_slots.release()
        locked = row is not None and row.locked_until is not None and row.locked_until > now
        if row is not None and right and (not locked or who == LOOPBACK):
            with self.lock, self.store.transaction() as tx:
                tx.clear_login_failures(row.staff_id)
                if locked:
                    self.audit.write(tx, row.staff_id, "unlocked", subject=row.staff_id)
            if who is not None:
                self.throttle.succeeded(who)
            return LoginResult(Staff(row.staff_id, row.name, row.must_change), unlocked=locked)
        # Refused: one transaction whatever the reason (the tally, and the account's count if any).
        newly_locked = False
        with self.lock, self.store.transaction() as tx:
            if row is not None and not locked and tx.add_login_failure(row.staff_id) >= self.max_failures:
                tx.lock_account(row.staff_id, now + self.lockout_s)
                self.audit.write(tx, None, "locked_out", subject=row.staff_id)
                newly_locked = True
            if who is not None:
                self.audit.login_failed(tx, who)
        if newly_locked:
            return LoginResult(reason="locked", locked_for_s=int(self.lockout_s))
        if locked:
            return LoginResult(reason="locked", locked_for_s=int(row.locked_until - now) + 1)
        return LoginResult(reason="bad_login")

    def change_pin(self, staff_id: str, new_pin: str) -> None:
        """Set the staff member's own PIN (after logging in with the current one). The current PIN
        (the one-time PIN at the first login) is refused: AccountError ``pin_same``; while the
        verification slots are taken, AccountError ``pin_busy`` (nothing changed)."""
        check_new_pin(new_pin)
        with self.lock:
            current = self.store.reader().pin_hash_of(staff_id)
        # Two argon2 runs (the check against the current PIN, the new hash): logins' limit.
        if not self.verify_slots.acquire(blocking=False):
            raise AccountError("pin_busy")
        try:
            if current is not None and self._verify(current, new_pin):
                raise AccountError("pin_same")
            pin_hash = _HASHER.hash(new_pin)
        finally:
            self.verify_slots.release()
        with self.lock, self.store.transaction() as tx:
            tx.set_own_pin(staff_id, pin_hash)

    def flush(self) -> None:
        """Write the failed-login counts not written yet (the kiosk stops)."""
        self.audit.flush()

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
            tx.delete_idle_sessions(now - self.session_idle_s)
            tx.insert_session(_token_hash(token), staff_id, now)
        return token

    def session(self, token: str | None) -> Staff | None:
        """The staff member a live session belongs to (and the session is kept alive, when the
        store can be written), or None."""
        if not token:
            return None
        now = self.clock()
        token_hash = _token_hash(token)
        with self.lock:
            row = self.store.reader().session_row(token_hash)
            if row is None or row[3] < now - self.session_idle_s:
                return None
            if now - row[3] >= SESSION_TOUCH_S:
                try:
                    with self.store.transaction() as tx:
                        tx.touch_session(token_hash, now)
                except StoreUnavailable as exc:
                    # A store that cannot write: the pages that only read still open (who is
                    # inside); the session is kept alive at the next page that can write it.
                    log.warning("staff session not kept alive: the store cannot be written (%s)", exc.reason)
        return Staff(row[0], row[1], bool(row[2]))

    def close_session(self, token: str | None) -> None:
        if not token:
            return
        with self.lock, self.store.transaction() as tx:
            tx.delete_session(_token_hash(token))
