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


@migrations()
def m002_staff_people_print(db):
    # Staff accounts: a PIN's argon2 hash only; the one-time PIN from `kiosk staff add` must be
    # replaced at the first login (must_change).
    db.execute("""
        CREATE TABLE staff (
            staff_id TEXT PRIMARY KEY,          -- carried in events as staff_id
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,      -- casefolded, for login
            pin_hash TEXT NOT NULL,
            must_change INTEGER NOT NULL DEFAULT 1,
            failures INTEGER NOT NULL DEFAULT 0,
            locked_until REAL,                  -- epoch seconds
            created_at TEXT NOT NULL,
            removed_at TEXT
        )""")
    db.execute("""
        CREATE TABLE staff_sessions (
            token_hash TEXT PRIMARY KEY,        -- sha256 of the cookie's token; the token itself is never stored
            staff_id TEXT NOT NULL REFERENCES staff (staff_id),
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL
        )""")
    # Who did what, when: ids and counts only, never names or numbers.
    db.execute("""
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            staff_id TEXT,
            action TEXT NOT NULL,
            subject TEXT,
            detail TEXT
        )""")
    db.execute("CREATE INDEX audit_at ON audit (at)")
    # People staff registered under a phone number (households without smartphones).
    db.execute("""
        CREATE TABLE people (
            person_id TEXT PRIMARY KEY,         -- the kiosk_card id
            phone TEXT NOT NULL,                -- canonical 0 + 9 digits
            name TEXT NOT NULL,
            birth_date TEXT,                    -- YYYY-MM-DD or YYYY
            sex TEXT CHECK (sex IN ('male', 'female')),
            id_type TEXT CHECK (id_type IN ('cccd', 'cmnd', 'passport')),
            id_number TEXT,
            address TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT,
            last_seen_at TEXT NOT NULL,         -- registration or last check-in, for retention
            revoked_at TEXT
        )""")
    db.execute("CREATE INDEX people_phone ON people (phone) WHERE revoked_at IS NULL")
    # Print jobs wait here until the printer takes them (the door never waits for the printer).
    db.execute("""
        CREATE TABLE print_jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('slip', 'card')),
            subject TEXT NOT NULL,              -- visit_id for a slip, person_id for a card
            state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'printed', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            staff_id TEXT,
            done_at TEXT
        )""")
    db.execute("CREATE INDEX print_jobs_state ON print_jobs (state, id)")


@migrations()
def m003_people_last_seen_from_visits(db):
    # Retention now reads when someone was last here from their visits (camera and staff alike).
    db.execute("ALTER TABLE people DROP COLUMN last_seen_at")


@migrations()
def m004_phone_codes(db):
    # One-time codes texted to a citizen's phone before staff check their household in: kept only
    # as keyed hashes (the kiosk's own key), with their expiry, attempts and use.
    db.execute("""
        CREATE TABLE phone_codes (
            id INTEGER PRIMARY KEY,
            phone_mac TEXT NOT NULL,            -- HMAC of the phone number: never the number
            code_mac TEXT NOT NULL,             -- HMAC of the phone and the code: never the code
            created_at TEXT NOT NULL,           -- UTC ISO 8601
            expires_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            used_at TEXT,
            sms_ticket TEXT,                    -- the SMS backend's ticket, to read its fate
            staff_id TEXT
        )""")
    db.execute("CREATE INDEX phone_codes_phone ON phone_codes (phone_mac, created_at)")
    db.execute("CREATE INDEX phone_codes_created ON phone_codes (created_at)")


@migrations()
def m005_health_declarations(db):
    # Health declarations (personal health data): the day's, so a visitor is asked once a day; the
    # visit keeps the one its check-in carried (the event's JSON), and whether it flagged them.
    db.execute("""
        CREATE TABLE declarations (
            person_key TEXT NOT NULL,
            day TEXT NOT NULL,                  -- the venue's day, YYYY-MM-DD
            declaration TEXT NOT NULL,          -- JSON, as the event carries it
            staff_id TEXT,
            PRIMARY KEY (person_key, day)
        )""")
    db.execute("ALTER TABLE visits ADD COLUMN declaration TEXT")
    db.execute("ALTER TABLE visits ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0")
