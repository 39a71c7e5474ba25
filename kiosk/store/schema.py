"""The store's schema, as versioned migrations (sqlite-utils ``Migrations``).

Append new migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("checkin-kiosk")


@migrations()
def m001_visits_events_outbox(db):
    db.execute("""
        CREATE TABLE visits (
            visit_id TEXT PRIMARY KEY,
            venue_id TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            person_key TEXT NOT NULL,           -- kind:id
            person TEXT NOT NULL,               -- JSON, as in the event
            check_in_at TEXT NOT NULL,          -- ISO 8601 with offset
            check_in_synced INTEGER NOT NULL,
            check_in_boot TEXT NOT NULL,
            check_in_uptime REAL NOT NULL,
            check_in_method TEXT NOT NULL,
            check_out_at TEXT,
            check_out_type TEXT CHECK (check_out_type IN ('check_out', 'auto_check_out')),
            check_out_estimated INTEGER NOT NULL DEFAULT 0,
            check_out_method TEXT,
            staff_id TEXT,
            warnings TEXT NOT NULL DEFAULT '[]'
        )""")
    # At most one open visit per person per venue: the rules rely on it, the database enforces it.
    db.execute("CREATE UNIQUE INDEX visits_open_person ON visits (venue_id, person_key) WHERE check_out_at IS NULL")
    db.execute("CREATE INDEX visits_check_in_at ON visits (check_in_at)")
    db.execute("""
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,            -- per kiosk, +1 per event, no gaps
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL CHECK (type IN ('check_in', 'check_out', 'auto_check_out')),
            visit_id TEXT NOT NULL REFERENCES visits (visit_id),
            at TEXT NOT NULL,
            body TEXT NOT NULL                  -- the event JSON exactly as it is published
        )""")
    db.execute("""
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY REFERENCES events (seq),
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sent', 'delivered', 'quarantined')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_at TEXT
        )""")
    db.execute("CREATE INDEX outbox_state ON outbox (state, seq)")
    db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.execute("INSERT INTO counters (name, value) VALUES ('next_seq', 1)")
    # Refused codes are counted, never stored: the payload may be someone's personal data.
    db.execute("""
        CREATE TABLE refusals (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            reason TEXT NOT NULL
        )""")
