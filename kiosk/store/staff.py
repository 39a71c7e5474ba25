"""Staff accounts and login sessions: their rows (tables in :mod:`.schema`).

The callers (:mod:`kiosk.staff.accounts`) hold the lock that serialises the connection between
the web server's threads, and decide everything: these only read and write.
"""

from __future__ import annotations

from dataclasses import dataclass

from .database import Statements


@dataclass(frozen=True)
class AccountRow:
    staff_id: str
    name: str
    pin_hash: str
    must_change: bool
    failures: int
    locked_until: float | None


class StaffReads(Statements):
    def staff_name_taken(self, name_key: str) -> bool:
        return self._row("SELECT 1 FROM staff WHERE name_key = ?", [name_key]) is not None

    def staff_account_id(self, name_key: str) -> str | None:
        return self._value("SELECT staff_id FROM staff WHERE name_key = ? AND removed_at IS NULL", [name_key])

    def account_for_login(self, name_key: str) -> AccountRow | None:
        row = self._row("SELECT staff_id, name, pin_hash, must_change, failures, locked_until FROM staff "
                        "WHERE name_key = ? AND removed_at IS NULL", [name_key])
        return AccountRow(row[0], row[1], row[2], bool(row[3]), row[4], row[5]) if row else None

    def pin_hash_of(self, staff_id: str) -> str | None:
        return self._value("SELECT pin_hash FROM staff WHERE staff_id = ? AND removed_at IS NULL", [staff_id])

    def list_accounts(self) -> list[tuple]:
        """(staff_id, name, must_change, locked_until, created_at) of the live accounts, by name."""
        return self._rows("SELECT staff_id, name, must_change, locked_until, created_at FROM staff "
                          "WHERE removed_at IS NULL ORDER BY name_key")

    def count_accounts(self) -> int:
        return self._value("SELECT count(*) FROM staff WHERE removed_at IS NULL")

    def session_row(self, token_hash: str) -> tuple | None:
        """(staff_id, name, must_change, last_seen) of a session of a live account, or None."""
        return self._row("SELECT s.staff_id, s.name, s.must_change, x.last_seen FROM staff_sessions x "
                         "JOIN staff s ON s.staff_id = x.staff_id WHERE x.token_hash = ? AND s.removed_at IS NULL",
                         [token_hash])


class StaffWrites(Statements):
    # -- accounts ---------------------------------------------------------------------------------

    def insert_account(self, *, staff_id: str, name: str, name_key: str, pin_hash: str, created_at: str) -> None:
        self._change("INSERT INTO staff (staff_id, name, name_key, pin_hash, must_change, created_at) "
                     "VALUES (?, ?, ?, ?, 1, ?)", [staff_id, name, name_key, pin_hash, created_at])

    def set_one_time_pin(self, staff_id: str, pin_hash: str) -> None:
        """A new one-time PIN (``kiosk staff reset``): to be replaced at the next login; any lockout
        ends, and so do the account's sessions."""
        self._change("UPDATE staff SET pin_hash = ?, must_change = 1, failures = 0, locked_until = NULL "
                     "WHERE staff_id = ?", [pin_hash, staff_id])
        self._change("DELETE FROM staff_sessions WHERE staff_id = ?", [staff_id])

    def set_own_pin(self, staff_id: str, pin_hash: str) -> None:
        self._change("UPDATE staff SET pin_hash = ?, must_change = 0 WHERE staff_id = ? AND removed_at IS NULL",
                     [pin_hash, staff_id])

    def remove_account(self, staff_id: str, removed_at: str) -> None:
        """The name is freed (for a new account), the id stays for the audit trail."""
        self._change("UPDATE staff SET removed_at = ?, name_key = name_key || '#' || staff_id WHERE staff_id = ?",
                     [removed_at, staff_id])
        self._change("DELETE FROM staff_sessions WHERE staff_id = ?", [staff_id])

    def add_login_failure(self, staff_id: str) -> int:
        """One more wrong PIN in a row; returns how many there are now."""
        return self._rows("UPDATE staff SET failures = failures + 1 WHERE staff_id = ? RETURNING failures",
                          [staff_id])[0][0]

    def lock_account(self, staff_id: str, until: float) -> None:
        self._change("UPDATE staff SET failures = 0, locked_until = ? WHERE staff_id = ?", [until, staff_id])

    def clear_login_failures(self, staff_id: str) -> None:
        self._change("UPDATE staff SET failures = 0, locked_until = NULL WHERE staff_id = ?", [staff_id])

    # -- sessions ---------------------------------------------------------------------------------

    def insert_session(self, token_hash: str, staff_id: str, now: float) -> None:
        self._change("INSERT INTO staff_sessions (token_hash, staff_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
                     [token_hash, staff_id, now, now])

    def delete_idle_sessions(self, before: float) -> None:
        self._change("DELETE FROM staff_sessions WHERE last_seen < ?", [before])

    def touch_session(self, token_hash: str, now: float) -> None:
        self._change("UPDATE staff_sessions SET last_seen = ? WHERE token_hash = ?", [now, token_hash])

    def delete_session(self, token_hash: str) -> None:
        self._change("DELETE FROM staff_sessions WHERE token_hash = ?", [token_hash])
