"""Health declarations made today, so a visitor is not asked again the same day (the venue's day,
``YYYY-MM-DD``); each is the JSON the event carries. A check-in's visit keeps its own copy
(``visits.declaration``), purged with the visit; these day rows go once their day is over."""

from __future__ import annotations

import json

from .database import Statements


class DeclarationReads(Statements):
    def declaration_of_day(self, person_key: str, day: str) -> dict | None:
        """The declaration ``person_key`` made on ``day``, or None."""
        body = self._value("SELECT declaration FROM declarations WHERE person_key = ? AND day = ?", [person_key, day])
        return json.loads(body) if body is not None else None

    def declared_on(self, person_keys: list[str], day: str) -> dict[str, dict]:
        """Of ``person_keys``, the declaration each made on ``day`` (those who made one)."""
        if not person_keys:
            return {}
        marks = ", ".join("?" * len(person_keys))
        rows = self._rows(f"SELECT person_key, declaration FROM declarations WHERE day = ? AND person_key IN ({marks})",
                          [day, *person_keys])
        return {key: json.loads(body) for key, body in rows}


    def flagged_open_visits(self, venue_id: str) -> set[str]:
        """The open visits at ``venue_id`` whose declaration flagged the visitor (admitted flagged)."""
        return {r[0] for r in self._rows("SELECT visit_id FROM visits WHERE venue_id = ? AND check_out_at IS NULL "
                                         "AND flagged = 1", [venue_id])}


class DeclarationWrites(Statements):
    def save_declaration(self, *, person_key: str, day: str, declaration: dict, staff_id: str | None) -> None:
        """Keep ``declaration`` as ``person_key``'s of ``day`` (a later one the same day replaces it),
        and forget the days before."""
        self._change("INSERT INTO declarations (person_key, day, declaration, staff_id) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT (person_key, day) DO UPDATE SET declaration = excluded.declaration, "
                     "staff_id = excluded.staff_id",
                     [person_key, day, json.dumps(declaration, ensure_ascii=False), staff_id])
        self.purge_declarations(day)

    def purge_declarations(self, day: str) -> int:
        """Delete the declarations of the days before ``day``."""
        return self._change("DELETE FROM declarations WHERE day < ?", [day])
