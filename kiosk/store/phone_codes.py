"""One-time codes texted to a citizen's phone (keyed hashes only; :mod:`kiosk.staff.phone_codes`
decides what they mean). Times are UTC ISO 8601, given by the caller."""

from __future__ import annotations

from dataclasses import dataclass

from .database import Statements


@dataclass(frozen=True)
class PhoneCode:
    id: int
    code_mac: str
    created_at: str
    expires_at: str
    attempts: int
    used_at: str | None
    sms_ticket: str | None


_COLUMNS = "id, code_mac, created_at, expires_at, attempts, used_at, sms_ticket"


class PhoneCodeReads(Statements):
    def latest_phone_code(self, phone_mac: str) -> PhoneCode | None:
        row = self._row(f"SELECT {_COLUMNS} FROM phone_codes WHERE phone_mac = ? ORDER BY id DESC LIMIT 1",
                        [phone_mac])
        return PhoneCode(*row) if row else None

    def phone_codes_since(self, since: str, phone_mac: str | None = None) -> int:
        """How many codes were made since ``since`` (for one phone, or at all)."""
        if phone_mac is None:
            return self._value("SELECT count(*) FROM phone_codes WHERE created_at >= ?", [since])
        return self._value("SELECT count(*) FROM phone_codes WHERE phone_mac = ? AND created_at >= ?",
                           [phone_mac, since])


class PhoneCodeWrites(Statements):
    def insert_phone_code(self, *, phone_mac: str, code_mac: str, created_at: str, expires_at: str,
                          staff_id: str | None) -> int:
        return self._rows("INSERT INTO phone_codes (phone_mac, code_mac, created_at, expires_at, staff_id) "
                          "VALUES (?, ?, ?, ?, ?) RETURNING id",
                          [phone_mac, code_mac, created_at, expires_at, staff_id])[0][0]

    def set_phone_code_ticket(self, code_id: int, ticket: str) -> None:
        self._change("UPDATE phone_codes SET sms_ticket = ? WHERE id = ?", [ticket, code_id])

    def count_phone_code_attempt(self, code_id: int) -> int:
        """One more attempt at the code; returns the attempts made."""
        return self._rows("UPDATE phone_codes SET attempts = attempts + 1 WHERE id = ? RETURNING attempts",
                          [code_id])[0][0]

    def use_phone_code(self, code_id: int, at: str) -> bool:
        """Mark the code used (once: False when it already was)."""
        return self._change("UPDATE phone_codes SET used_at = ? WHERE id = ? AND used_at IS NULL", [at, code_id]) == 1

    def purge_phone_codes(self, before: str) -> int:
        """Delete the codes made before ``before`` (long expired: only the rate limits read them)."""
        return self._change("DELETE FROM phone_codes WHERE created_at < ?", [before])
