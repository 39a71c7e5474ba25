"""Check-in commit latency at synchronous=FULL: ``CheckinDesk.present()`` against raw sqlite3.

Raw = the same schema and pragmas (WAL, synchronous=FULL), one ``BEGIN IMMEDIATE`` transaction
inserting a visit, its event and its outbox row, then COMMIT — the least SQLite can do for a
check-in. Rows are prepared before the clock starts, so raw measures SQLite and the disk only;
the kiosk's figure includes everything present() does (rules, reads, JSON, clock, ids).
Both databases sit side by side and the calls alternate, so both see the same disk conditions.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path

from kiosk.config import DB_NAME
from kiosk.credentials import recognise
from kiosk.store import open_database

from .frames import person_payload
from .harness import make_desk
from .report import latency_summary

_WARMUP = 50  # first writes grow the files and the WAL; not what a running kiosk sees


def _raw_connection(path: Path) -> sqlite3.Connection:
    # The kiosk's schema (its migrations), so both write the same tables and indexes.
    open_database(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _raw_rows(i: int, seq: int) -> tuple:
    visit_id = str(uuid.uuid4())
    person = {"kind": "cccd", "id": f"raw{i:09d}", "name": "Nguyễn Thị Mẫu", "birth_date": "1990-01-01",
              "sex": "female", "phone": None}
    at = "2025-06-01T08:00:00.000+07:00"
    visit = (visit_id, "sim-venue", "sim-kiosk-01", f"cccd:raw{i:09d}", json.dumps(person, ensure_ascii=False), at,
             0, "boot", 1.0, "camera")
    body = json.dumps({"seq": seq, "type": "check_in", "visit_id": visit_id, "at": at, "person": person},
                      ensure_ascii=False, separators=(",", ":"))
    event = (seq, str(uuid.uuid4()), "check_in", visit_id, at, body)
    return visit, event, (seq,)


def _raw_check_in(conn: sqlite3.Connection, rows: tuple) -> None:
    visit, event, outbox = rows
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO visits (visit_id, venue_id, kiosk_id, person_key, person, check_in_at, "
                 "check_in_synced, check_in_boot, check_in_uptime, check_in_method) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", visit)
    conn.execute("INSERT INTO events (seq, event_id, type, visit_id, at, body) VALUES (?, ?, ?, ?, ?, ?)", event)
    conn.execute("INSERT INTO outbox (seq) VALUES (?)", outbox)
    conn.execute("COMMIT")


def commit_latency(workdir: Path, calls: int) -> dict:
    """p50/p99/max of ``calls`` check-ins (distinct persons) through the kiosk and through raw sqlite3."""
    desk = make_desk(workdir / "kiosk")
    raw = _raw_connection(workdir / "raw" / DB_NAME)
    total = _WARMUP + calls
    credentials = [recognise(person_payload(i)) for i in range(total)]
    raw_rows = [_raw_rows(i, i + 1) for i in range(total)]
    kiosk_s, raw_s, kinds = [], [], {}
    clock = time.perf_counter
    try:
        for i in range(total):
            def kiosk_call(credential=credentials[i]):
                outcome = desk.present(credential, method="camera")
                kinds[outcome.kind] = kinds.get(outcome.kind, 0) + 1

            def raw_call(rows=raw_rows[i]):
                _raw_check_in(raw, rows)

            for fn, samples in ((kiosk_call, kiosk_s), (raw_call, raw_s))[:: 1 if i % 2 == 0 else -1]:
                t = clock()
                fn()
                if i >= _WARMUP:
                    samples.append(clock() - t)
        visits = desk.store.db.execute("SELECT count(*) FROM visits").fetchone()[0]
    finally:
        desk.store.close()
        raw.close()
    kiosk, rawsum = latency_summary(kiosk_s), latency_summary(raw_s)
    return {"kiosk": kiosk, "raw": rawsum, "outcomes": kinds, "visits_in_db": visits,
            "ratio_p50": kiosk["p50_ms"] / rawsum["p50_ms"], "ratio_p99": kiosk["p99_ms"] / rawsum["p99_ms"]}
