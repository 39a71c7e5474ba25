"""The tracing console against the engine doing the same work, on the trace bench's synthetic province
(:mod:`bench.tracing`: 5,000 visits a venue, 21 days).

- **Contacts of a case**: ``GET /api/v1/contacts?person=cccd:…&days=14`` through the console's whole
  app (token check, both queries, the union of shared time, JSON, the audit row it writes) against
  the raw engine running the same two SQL statements with the same parameters on a connection of
  its own (the statements are taken from the store as it runs them, so they cannot drift).
- **A province's daily figures**: ``GET /api/v1/stats?by=day&from=…&to=…`` for every venue over the
  21 days, one request (a page load's worth), against the raw engine running its two statements.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from statistics import median

from mqtt.collector.console.app import Console, create_app
from mqtt.collector.store import open_store, sqlite_path

from . import tracing
from .report import percentile


def _captured(store):
    """Run-through recorder: ``(sql, params)`` of every statement ``store`` runs."""
    seen: list[tuple[str, list]] = []
    rows = store._rows

    def recording(sql, params=()):
        params = list(params)
        seen.append((sql, params))
        return rows(sql, params)
    store._rows = recording
    return seen, lambda: setattr(store, "_rows", rows)


def _raw_runner(url: str):
    """Runs ``(sql, params)`` on a raw connection of the engine, fetching every row; and closes it."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sqlite_path(url))
        return (lambda sql, params: conn.execute(sql, params).fetchall()), conn.close
    import psycopg
    conn = psycopg.connect(url, autocommit=True)
    return (lambda sql, params: conn.execute(sql.replace("?", "%s"), params).fetchall()), conn.close


def time_console(url: str, lay: dict, k: int) -> dict:
    store = open_store(url)
    run_raw, close_raw = _raw_runner(url)
    try:
        now = lay["now"]
        console = Console.over(store, clock=lambda: now.timestamp())
        token = console.tokens.add("bench", "tracer")
        client = create_app(console).test_client()
        headers = {"Authorization": f"Bearer {token}"}
        persons = tracing.sample_persons(store, lay, k + 5)
        warm, persons = persons[:5], persons[5:]
        api_s, raw_s, contacts = [], [], []
        for i, pid in enumerate(warm + persons):
            seen, restore = _captured(store)
            t = time.perf_counter()
            r = client.get(f"/api/v1/contacts?person=cccd:{pid}&days={tracing.TRACE_DAYS}", headers=headers)
            api = time.perf_counter() - t
            restore()
            assert r.status_code == 200, r.get_data(as_text=True)
            work = [(sql, params) for sql, params in seen if "FROM visits" in sql]
            assert len(work) == 2, [sql[:60] for sql, _ in seen]
            t = time.perf_counter()
            for sql, params in work:
                run_raw(sql, params)
            raw = time.perf_counter() - t
            if i >= len(warm):
                api_s.append(api)
                raw_s.append(raw)
                contacts.append(len(r.get_json()["contacts"]))
        first_day = (now - timedelta(days=tracing.DAYS - 1)).date()
        stats_s, stats_raw_s, rows = [], [], 0
        for _ in range(5):
            seen, restore = _captured(store)
            t = time.perf_counter()
            r = client.get(f"/api/v1/stats?by=day&from={first_day}&to={now.date()}", headers=headers)
            stats_s.append(time.perf_counter() - t)
            restore()
            assert r.status_code == 200
            rows = len(r.get_json()["rows"])
            t = time.perf_counter()
            for sql, params in seen:
                if "FROM visits" in sql:
                    run_raw(sql, params)
            stats_raw_s.append(time.perf_counter() - t)
        return {"sampled": len(persons), "contacts_p50": median(contacts),
                "api_p50_ms": median(api_s) * 1000, "api_p95_ms": percentile(api_s, 95) * 1000,
                "raw_p50_ms": median(raw_s) * 1000, "ratio_p50": median(api_s) / median(raw_s),
                "stats_p50_ms": median(stats_s) * 1000, "stats_raw_p50_ms": median(stats_raw_s) * 1000,
                "stats_ratio": median(stats_s) / median(stats_raw_s), "stats_rows": rows,
                "venues": lay["venues"]}
    finally:
        close_raw()
        store.close()


def run(size: int, persons: int, scratch: Path, pg=None, log=print) -> dict:
    """Build a store of ``size`` visits (SQLite, then PostgreSQL when ``pg`` is a started server), time, drop."""
    out: dict = {"visits": size, "stores": {}}
    lay = tracing.layout(size)
    for backend in ["sqlite"] + (["postgresql"] if pg is not None else []):
        log(f"console {backend}: building {size:,} visits …")
        if backend == "sqlite":
            path = scratch / "console.db"
            tracing.build_sqlite(path, size)
            url = f"sqlite://{path}"
        else:
            url = pg.new_database()
            tracing.build_postgres(url, size)
        log(f"console {backend}: timing {persons} cases and the figures …")
        out["stores"][backend] = time_console(url, lay, persons)
        if backend == "sqlite":
            for p in scratch.glob("console.db*"):
                p.unlink()
    return out
