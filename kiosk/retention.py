"""Deleting personal data the kiosk no longer needs: delivered events and closed visits past
retention, and people staff registered who have not come back for as long.

Only what the central store holds (delivered) is deleted; open visits, undelivered and
quarantined events stay whatever their age.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

DEFAULT_RETENTION_DAYS = 21
#: The visits' ``person_key`` of a registered person: their card's, or their CCCD's when staff typed one.
_PERSON_KEYS = "s.person_key IN ('kiosk_card:' || people.person_id, 'cccd:' || people.id_number)"


def purge(db, *, clock=None, days: float = DEFAULT_RETENTION_DAYS) -> dict[str, int]:
    """Delete what is older than ``days`` and safe to delete; returns counts.

    ``db`` is an sqlite-utils Database of the kiosk store (any connection to it); ``clock`` a
    :class:`~kiosk.clock.Clock` (None: the system clock, taken as synced). Nothing is purged while
    the clock is not synced: "21 days ago" means nothing on a clock that may be years off. Runs in
    one ``BEGIN IMMEDIATE`` transaction.
    """
    if clock is None:
        now = datetime.now().astimezone()
    else:
        stamp = clock.stamp()
        if not stamp.synced:
            return {}
        now = stamp.at
    cutoff = (now - timedelta(days=days)).isoformat(timespec="milliseconds")
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        # A visit goes when it is closed before the cutoff and every event of it is delivered.
        conn.execute("""
            CREATE TEMP TABLE IF NOT EXISTS purge_visits (visit_id TEXT PRIMARY KEY)""")
        conn.execute("DELETE FROM purge_visits")
        conn.execute("""
            INSERT INTO purge_visits
            SELECT v.visit_id FROM visits v
            WHERE v.check_out_at IS NOT NULL AND v.check_out_at < ?
              AND NOT EXISTS (SELECT 1 FROM events e JOIN outbox o ON o.seq = e.seq
                              WHERE e.visit_id = v.visit_id AND o.state != 'delivered')""", [cutoff])
        outbox = conn.execute("""
            DELETE FROM outbox WHERE seq IN (
                SELECT seq FROM events WHERE visit_id IN (SELECT visit_id FROM purge_visits))""").rowcount
        events = conn.execute(
            "DELETE FROM events WHERE visit_id IN (SELECT visit_id FROM purge_visits)").rowcount
        visits = conn.execute(
            "DELETE FROM visits WHERE visit_id IN (SELECT visit_id FROM purge_visits)").rowcount
        refusals = conn.execute("DELETE FROM refusals WHERE at < ?", [cutoff]).rowcount
        # People staff registered: kept while they keep coming (a visit of theirs, at the camera or
        # through staff, checked in since the cutoff) and while they are inside; gone when not seen
        # for as long, or revoked that long ago. Their own times are UTC.
        utc_cutoff = (now - timedelta(days=days)).astimezone(timezone.utc).isoformat(timespec="seconds")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS purge_seen (person_key TEXT PRIMARY KEY, inside INTEGER)")
        conn.execute("DELETE FROM purge_seen")
        conn.execute("""
            INSERT INTO purge_seen
            SELECT person_key, max(check_out_at IS NULL) FROM visits
            WHERE check_out_at IS NULL OR check_in_at >= ? GROUP BY person_key""", [cutoff])
        people = conn.execute(f"""
            DELETE FROM people
            WHERE NOT EXISTS (SELECT 1 FROM purge_seen s WHERE s.inside AND {_PERSON_KEYS})
              AND (revoked_at < ?
                   OR (created_at < ? AND NOT EXISTS (SELECT 1 FROM purge_seen s WHERE {_PERSON_KEYS})))""",
                              [utc_cutoff, utc_cutoff]).rowcount
        conn.execute("DELETE FROM print_jobs WHERE state != 'queued' AND done_at < ?", [utc_cutoff])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return {"visits": visits, "events": events, "outbox": outbox, "refusals": refusals, "people": people}
