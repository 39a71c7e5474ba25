"""People staff registered under a phone number (households without smartphones): their rows.

A person is returned as the tuple of :data:`PERSON_COLUMNS` (``kiosk.staff.people.Person(*row)``);
``revoked`` people (taken off their number) are never returned.
"""

from __future__ import annotations

from .database import Statements

PERSON_COLUMNS = ("person_id", "phone", "name", "birth_date", "sex", "id_type", "id_number", "address", "created_at")
_COLUMNS = ", ".join(PERSON_COLUMNS)


class PeopleReads(Statements):
    def people_by_phone(self, phone: str) -> list[tuple]:
        """The people registered under ``phone`` (canonical form), oldest first."""
        return self._rows(f"SELECT {_COLUMNS} FROM people WHERE phone = ? AND revoked_at IS NULL "
                          "ORDER BY created_at, rowid", [phone])

    def person_row(self, person_id: str) -> tuple | None:
        return self._row(f"SELECT {_COLUMNS} FROM people WHERE person_id = ? AND revoked_at IS NULL", [person_id])


class PeopleWrites(Statements):
    def add_person(self, row: tuple, *, created_by: str | None) -> None:
        """A new person: ``row`` holds the values of :data:`PERSON_COLUMNS`."""
        self._change(f"INSERT INTO people ({_COLUMNS}, created_by) VALUES ({', '.join('?' * len(PERSON_COLUMNS))}, ?)",
                     [*row, created_by])

    def revoke_person(self, person_id: str, at: str) -> bool:
        """Take a person off their phone number; False when they were not on it (any more)."""
        return self._change("UPDATE people SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL",
                            [at, person_id]) == 1
