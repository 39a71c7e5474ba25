"""The staff side's SQL: accounts, login sessions and the audit trail (tables in :mod:`.schema`).

Each function takes ``db``: a :class:`~kiosk.store.Transaction` for writes (inside
``store.transaction()``), or the store's connection (``store.db``) for reads. The callers
(:mod:`kiosk.staff.accounts`, :mod:`kiosk.staff.audit`) hold the lock that serialises the
connection between the web server's threads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccountRow:
    staff_id: str
    name: str
    pin_hash: str
    must_change: bool
    failures: int
    locked_until: float | None


# -- accounts ---------------------------------------------------------------------------------

def name_taken(db, name_key: str) -> bool:
    return db.execute("SELECT 1 FROM staff WHERE name_key = ?", [name_key]).fetchone() is not None


def insert_account(db, *, staff_id: str, name: str, name_key: str, pin_hash: str, created_at: str) -> None:
    db.execute("INSERT INTO staff (staff_id, name, name_key, pin_hash, must_change, created_at) "
               "VALUES (?, ?, ?, ?, 1, ?)", [staff_id, name, name_key, pin_hash, created_at])


def account_id(db, name_key: str) -> str | None:
    row = db.execute("SELECT staff_id FROM staff WHERE name_key = ? AND removed_at IS NULL", [name_key]).fetchone()
    return row[0] if row else None


def account_for_login(db, name_key: str) -> AccountRow | None:
    row = db.execute("SELECT staff_id, name, pin_hash, must_change, failures, locked_until FROM staff "
                     "WHERE name_key = ? AND removed_at IS NULL", [name_key]).fetchone()
    return AccountRow(row[0], row[1], row[2], bool(row[3]), row[4], row[5]) if row else None


def pin_hash_of(db, staff_id: str) -> str | None:
    row = db.execute("SELECT pin_hash FROM staff WHERE staff_id = ? AND removed_at IS NULL", [staff_id]).fetchone()
    return row[0] if row else None


def set_one_time_pin(db, staff_id: str, pin_hash: str) -> None:
    """A new one-time PIN (``kiosk staff reset``): to be replaced at the next login; any lockout
    ends, and so do the account's sessions."""
    db.execute("UPDATE staff SET pin_hash = ?, must_change = 1, failures = 0, locked_until = NULL "
               "WHERE staff_id = ?", [pin_hash, staff_id])
    db.execute("DELETE FROM staff_sessions WHERE staff_id = ?", [staff_id])


def set_own_pin(db, staff_id: str, pin_hash: str) -> None:
    db.execute("UPDATE staff SET pin_hash = ?, must_change = 0 WHERE staff_id = ? AND removed_at IS NULL",
               [pin_hash, staff_id])


def remove_account(db, staff_id: str, removed_at: str) -> None:
    """The name is freed (for a new account), the id stays for the audit trail."""
    db.execute("UPDATE staff SET removed_at = ?, name_key = name_key || '#' || staff_id WHERE staff_id = ?",
               [removed_at, staff_id])
    db.execute("DELETE FROM staff_sessions WHERE staff_id = ?", [staff_id])


def list_accounts(db) -> list[tuple]:
    """(staff_id, name, must_change, locked_until, created_at) of the live accounts, by name."""
    return db.execute("SELECT staff_id, name, must_change, locked_until, created_at FROM staff "
                      "WHERE removed_at IS NULL ORDER BY name_key").fetchall()


def count_accounts(db) -> int:
    return db.execute("SELECT count(*) FROM staff WHERE removed_at IS NULL").fetchone()[0]


def add_failure(db, staff_id: str) -> int:
    """One more wrong PIN in a row; returns how many there are now."""
    return db.execute("UPDATE staff SET failures = failures + 1 WHERE staff_id = ? RETURNING failures",
                      [staff_id]).fetchall()[0][0]


def lock_account(db, staff_id: str, until: float) -> None:
    db.execute("UPDATE staff SET failures = 0, locked_until = ? WHERE staff_id = ?", [until, staff_id])


def clear_failures(db, staff_id: str) -> None:
    db.execute("UPDATE staff SET failures = 0, locked_until = NULL WHERE staff_id = ?", [staff_id])


# -- sessions ---------------------------------------------------------------------------------

def insert_session(db, token_hash: str, staff_id: str, now: float) -> None:
    db.execute("INSERT INTO staff_sessions (token_hash, staff_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
               [token_hash, staff_id, now, now])


def delete_idle_sessions(db, before: float) -> None:
    db.execute("DELETE FROM staff_sessions WHERE last_seen < ?", [before])


def session_row(db, token_hash: str) -> tuple | None:
    """(staff_id, name, must_change, last_seen) of a session of a live account, or None."""
    return db.execute("SELECT s.staff_id, s.name, s.must_change, x.last_seen FROM staff_sessions x "
                      "JOIN staff s ON s.staff_id = x.staff_id WHERE x.token_hash = ? AND s.removed_at IS NULL",
                      [token_hash]).fetchone()


def touch_session(db, token_hash: str, now: float) -> None:
    db.execute("UPDATE staff_sessions SET last_seen = ? WHERE token_hash = ?", [now, token_hash])


def delete_session(db, token_hash: str) -> None:
    db.execute("DELETE FROM staff_sessions WHERE token_hash = ?", [token_hash])


# -- the audit trail --------------------------------------------------------------------------

def insert_audit(db, *, at: str, staff_id: str | None, action: str, subject: str | None,
                 detail: str | None) -> int:
    """A new row; returns its id."""
    return db.execute("INSERT INTO audit (at, staff_id, action, subject, detail) VALUES (?, ?, ?, ?, ?) RETURNING id",
                      [at, staff_id, action, subject, detail]).fetchall()[0][0]


def update_audit_detail(db, row_id: int, detail: str) -> bool:
    """Rewrite a row's detail (a running count); False when the row is gone (purged)."""
    return db.execute("UPDATE audit SET detail = ? WHERE id = ?", [detail, row_id]).rowcount == 1


def recent_audit(db, limit: int) -> list[tuple]:
    """(at, staff_id, action, subject, detail), newest first."""
    return db.execute("SELECT at, staff_id, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?",
                      [limit]).fetchall()
