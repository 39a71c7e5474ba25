"""The console's users: a name, roles, a password and an authenticator app (TOTP, RFC 6238).

``kiosk-collector users add NAME --role tracer`` makes a user with a one-time password, which the
first login must replace, and a TOTP secret, given as an ``otpauth://`` URI (and a QR code) for any
authenticator app. A login needs the name, the password and the app's current six digits:

- a code is good once: the step it belongs to is spent by the first login that uses it;
- logins are throttled per client device (a few are free, then a doubling wait, up to 15 min)
  and per account (a doubling wait of at most a minute), both answered at once, before any
  password is hashed: a stranger guessing at someone's name slows their login by a minute at
  most and can never lock them out;
- an unknown name takes the same work as a wrong password, and every refusal is one answer.

A session is a random id in the browser's cookie (its SHA-256 in the store): it ends after
``idle_minutes`` without a request, ``max_hours`` after the login, at logout, and when the
user's password is changed or reset or the user removed.

>>> import tempfile
>>> from mqtt.collector.store import open_store
>>> with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite://{tmp}/central.db") as store:
...     users = ConsoleUsers(store)
...     new = users.add("Lan", ["tracer"])
...     code = pyotp.TOTP(new.totp_secret).now()
...     first = users.login("lan", new.password, code, client="10.0.0.5")
...     again = users.login("lan", new.password, code, client="10.0.0.5")      # the same code twice
...     first.ok, first.user.must_change, again.ok, again.reason
(True, True, False, 'bad_login')
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ...plumbing.throttle import LoginThrottle, client_key
from ..store import Store
from ..store_console import UserRow
from .roles import check_roles

ISSUER = "checkin-kiosk"
NAME_MAX = 40
PASSWORD_MIN = 10
PASSWORD_MAX = 128
#: One-time passwords: 12 letters and digits with nothing to confuse (no 0/O, 1/l/I).
_ONE_TIME_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
ONE_TIME_LENGTH = 12
#: Codes of the step before and after the current one are accepted (a phone's clock 30 s off).
TOTP_WINDOW = 1
#: argon2id at its library defaults (RFC 9106's second choice: 64 MiB, 3 passes).
_HASHER = PasswordHasher()
#: Verified when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password")
#: argon2 verifications at once (each takes 64 MiB and most of a core).
VERIFY_SLOTS = 2
SESSION_TOUCH_S = 60


class AccountError(ValueError):
    """A refused account operation, said in English for the operator's command line."""


@dataclass(frozen=True)
class NewCredentials:
    """What ``users add`` and ``users reset`` print once: never stored in the clear."""

    name: str
    password: str
    totp_secret: str

    @property
    def otpauth_uri(self) -> str:
        return pyotp.TOTP(self.totp_secret).provisioning_uri(name=self.name, issuer_name=ISSUER)


@dataclass(frozen=True)
class ConsoleUser:
    """A signed-in user as the pages see them (no hashes, no secret)."""

    user_id: str
    name: str
    roles: tuple[str, ...]
    must_change: bool

    @classmethod
    def of(cls, row: UserRow) -> ConsoleUser:
        return cls(row.user_id, row.name, row.roles, row.must_change)


@dataclass(frozen=True)
class LoginResult:
    """ok with ``user``; or refused with ``reason``: ``bad_login`` (any of name, password, code:
    one answer), ``throttled`` (this device or this account must wait ``retry_after_s``; nothing
    was checked), ``busy`` (verifications are running for others)."""

    user: ConsoleUser | None = None
    reason: str | None = None
    retry_after_s: int = 0

    @property
    def ok(self) -> bool:
        return self.user is not None


def name_key(name: str) -> str:
    """What a login name is looked up by: NFC, trimmed, case-folded."""
    return unicodedata.normalize("NFC", (name or "").strip()).casefold()


def check_name(name: str) -> str:
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not 0 < len(name) <= NAME_MAX or not name.isprintable():
        raise AccountError(f"a user name has 1-{NAME_MAX} printable characters")
    return name


def check_new_password(password: str, *, name: str) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(f"a password has {PASSWORD_MIN}-{PASSWORD_MAX} characters")
    if name_key(password) == name_key(name):
        raise AccountError("a password may not be the user's name")
    return password


def _session_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ConsoleUsers:
    """The console's users, over the central store. clock: wall time (sessions, TOTP steps)."""

    def __init__(self, store: Store, *, idle_minutes: int = 15, max_hours: int = 8,
                 device_throttle: LoginThrottle | None = None, account_throttle: LoginThrottle | None = None,
                 clock=time.time):
        self.store = store
        self.idle = timedelta(minutes=idle_minutes)
        self.max_age = timedelta(hours=max_hours)
        # "is None", not "or": an empty throttle has no clients, so len() 0, so it is falsy
        self.devices = LoginThrottle(free=5, max_wait_s=900.0) if device_throttle is None else device_throttle
        self.accounts = LoginThrottle(free=5, max_wait_s=60.0) if account_throttle is None else account_throttle
        self.clock = clock
        self._slots = threading.BoundedSemaphore(VERIFY_SLOTS)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- the operator's commands ------------------------------------------------------------
    def add(self, name: str, roles: list[str] | tuple[str, ...]) -> NewCredentials:
        name = check_name(name)
        try:
            roles = check_roles(roles)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        if self.store.user_by_name_key(name_key(name)) is not None:
            raise AccountError(f"there is already a user {name!r}")
        new = NewCredentials(name, _one_time_password(), pyotp.random_base32())
        self.store.insert_user(user_id=str(uuid.uuid4()), name=name, name_key=name_key(name), roles=roles,
                               password_hash=_HASHER.hash(new.password), totp_secret=new.totp_secret,
                               created_at=self._now())
        return new

    def reset(self, name: str) -> NewCredentials:
        """A new one-time password and a new authenticator secret (a forgotten password, a lost phone)."""
        user = self._existing(name)
        new = NewCredentials(user.name, _one_time_password(), pyotp.random_base32())
        self.store.reset_user(user.user_id, _HASHER.hash(new.password), new.totp_secret, at=self._now())
        return new

    def remove(self, name: str) -> None:
        self.store.remove_user(self._existing(name).user_id)

    def list(self) -> list[UserRow]:
        return self.store.user_rows()

    def _existing(self, name: str) -> UserRow:
        user = self.store.user_by_name_key(name_key(name))
        if user is None:
            raise AccountError(f"there is no user {name.strip()!r}")
        return user

    # -- logging in -------------------------------------------------------------------------
    def login(self, name: str, password: str, code: str, *, client: str | None = None) -> LoginResult:
        device, account = client_key(client), name_key(name)[:NAME_MAX]
        wait = max(self.devices.wait(device), self.accounts.wait(account))
        if wait > 0:
            return LoginResult(reason="throttled", retry_after_s=max(1, round(wait)))
        if not self._slots.acquire(blocking=False):
            return LoginResult(reason="busy", retry_after_s=1)
        try:
            self.devices.admit(device)
            self.accounts.admit(account)
            user = self.store.user_by_name_key(account) if account else None
            password_ok = _verify(user.password_hash if user else _DUMMY_HASH, password or "")
            step = _code_step(user.totp_secret if user else pyotp.random_base32(), code, self._now())
            if user is None or not password_ok or step is None or not self.store.spend_totp_step(user.user_id, step):
                return LoginResult(reason="bad_login")
        finally:
            self._slots.release()
        self.devices.succeeded(device)
        self.accounts.succeeded(account)
        return LoginResult(user=ConsoleUser.of(user))

    def change_password(self, user_id: str, current: str, new: str) -> None:
        """The user's own change (the first login's, or later); every session of theirs ends."""
        user = self.store.user_by_id(user_id)
        if user is None:
            raise AccountError("no such user")
        if not _verify(user.password_hash, current or ""):
            raise AccountError("the current password is wrong")
        check_new_password(new, name=user.name)
        if new == current:
            raise AccountError("the new password must differ from the current one")
        self.store.set_password(user_id, _HASHER.hash(new), must_change=False, at=self._now())

    # -- sessions ---------------------------------------------------------------------------
    def open_session(self, user_id: str) -> str:
        token = secrets.token_urlsafe(32)
        self.store.insert_session(_session_hash(token), user_id, self._now())
        return token

    def session(self, token: str | None) -> ConsoleUser | None:
        """The user of a live session (its last use noted), or None: unknown, idle too long, too old."""
        if not token or len(token) > 100:
            return None
        key = _session_hash(token)
        found = self.store.session_row(key)
        if found is None:
            return None
        user_id, created, seen = found
        now = self._now()
        if now - seen > self.idle or now - created > self.max_age:
            self.store.end_session(key)
            return None
        user = self.store.user_by_id(user_id)
        if user is None:
            return None
        if (now - seen).total_seconds() >= SESSION_TOUCH_S:
            self.store.touch_session(key, now)
        return ConsoleUser.of(user)

    def close_session(self, token: str | None) -> None:
        if token:
            self.store.end_session(_session_hash(token))

    def end_stale_sessions(self) -> int:
        now = self._now()
        return self.store.end_sessions_before(seen_before=now - self.idle, created_before=now - self.max_age)


def _one_time_password() -> str:
    return "".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(ONE_TIME_LENGTH))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password[:PASSWORD_MAX])
    except (VerificationError, InvalidHashError):
        return False


def _code_step(secret: str, code: str, now: datetime) -> int | None:
    """The TOTP time step ``code`` belongs to, within :data:`TOTP_WINDOW` of now; None if none."""
    code = (code or "").replace(" ", "")
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in range(step - TOTP_WINDOW, step + TOTP_WINDOW + 1):
        if secrets.compare_digest(totp.at(candidate * totp.interval), code):
            return candidate
    return None
