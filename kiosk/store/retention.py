"""The retention purge's statements: what is older than the cutoff and safe to delete goes, in
the caller's transaction (:func:`kiosk.retention.purge` decides the cutoff, and whether to purge).

Only what the central store holds (delivered) is deleted; open visits, undelivered and
quarantined events stay whatever their age.
"""

from __future__ import annotations

from .database import Statements

#: The visits' ``person_key`` of a registered person: their card's, or their CCCD's when staff typed one.
_PERSON_KEYS = "s.person_key IN ('kiosk_card:' || people.person_id, 'cccd:' || people.id_number)"


class RetentionWrites(Statements):
    def purge_expired(self, cutoff: str, utc_cutoff: str) -> dict[str, int]:
        """Delete visits closed before ``cutoff`` (the kiosk's ISO times) whose every event is
        delivered, with their events and outbox rows; refusals counted before it; people staff
        registered who were neither inside nor checked in since then (``utc_cutoff``: the same
        moment in UTC, as their own times are), or revoked before it; print jobs done before it.
        Returns how many visits, events, outbox rows, refusals and people went."""
        # A visit goes when it is closed before the cutoff and every event of it is delivered.
        self._change("CREATE TEMP TABLE IF NOT EXISTS purge_visits (visit_id TEXT PRIMARY KEY)")
        self._change("DELETE FROM purge_visits")
        self._change("""
            INSERT INTO purge_visits
            SELECT v.visit_id FROM visits v
            WHERE v.check_out_at IS NOT NULL AND v.check_out_at < ?
              AND NOT EXISTS (SELECT 1 FROM events e JOIN outbox o ON o.seq = e.seq
                              WHERE e.visit_id = v.visit_id AND o.state != 'delivered')""", [cutoff])
        outbox = self._change("""
            DELETE FROM outbox WHERE seq IN (
                SELECT seq FROM events WHERE visit_id IN (SELECT visit_id FROM purge_visits))""")
        events = self._change("DELETE FROM events WHERE visit_id IN (SELECT visit_id FROM purge_visits)")
        visits = self._change("DELETE FROM visits WHERE visit_id IN (SELECT visit_id FROM purge_visits)")
        refusals = self._change("DELETE FROM refusals WHERE at < ?", [cutoff])
        # People staff registered: kept while they keep coming (a visit of theirs, at the camera or
        # through staff, checked in since the cutoff) and while they are inside; gone when not seen
        # for as long, or revoked that long ago.
        self._change("CREATE TEMP TABLE IF NOT EXISTS purge_seen (person_key TEXT PRIMARY KEY, inside INTEGER)")
        self._change("DELETE FROM purge_seen")
        self._change("""
            INSERT INTO purge_seen
            SELECT person_key, max(check_out_at IS NULL) FROM visits
            WHERE check_out_at IS NULL OR check_in_at >= ? GROUP BY person_key""", [cutoff])
        people = self._change(f"""
            DELETE FROM people
            WHERE NOT EXISTS (SELECT 1 FROM purge_seen s WHERE s.inside AND {_PERSON_KEYS})
              AND (revoked_at < ?
                   OR (created_at < ? AND NOT EXISTS (SELECT 1 FROM purge_seen s WHERE {_PERSON_KEYS})))""",
                              [utc_cutoff, utc_cutoff])
        self._change("DELETE FROM print_jobs WHERE state != 'queued' AND done_at < ?", [utc_cutoff])
        return {"visits": visits, "events": events, "outbox": outbox, "refusals": refusals, "people": people}
