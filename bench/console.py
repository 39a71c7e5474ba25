"""The tracing console against the engine doing the same work, on the trace bench's synthetic province
(:mod:`bench.tracing`: 5,000 visits a venue, 21 days).

- **Contacts of a case**: ``GET /api/v1/contacts?person=cccd:…&days=14`` through the console's whole
  app (token check, both queries, the union of shared time, JSON, the audit row it writes) against
  the raw engine running the same two SQL statements with the same parameters on a connection of
  its own (the statements are taken from the store as it runs them, so they cannot drift).
- **A province's daily figures**: ``GET /api/v1/stats?by=day&province=…&from=…&to=…``, its 200
  venues over the 21 days, one request (a page load's worth): the first load, a load with nothing
  changed, and a busy morning's (every venue written to today); against the raw engine reckoning
  the 21 days from the visits, as every load did before the store kept the figures.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from statistics import median
from urllib.parse import quote

from mqtt.collector.console.app import Console, create_app
from mqtt.collector.store import open_store, sqlite_path
from mqtt.collector.store_figures import Venue

from . import tracing
from .report import percentile

#: Venues in a province, and in a district, of the synthetic country (a province: the target's 200).
PROVINCE_VENUES = 200
DISTRICT_VENUES = 10


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
        # The durable audit row each lookup writes (its own commit), which the raw SQL does not do.
        audit_s = []
        for _ in range(20):
            t = time.perf_counter()
            console.audit.record("token:bench", "contacts", person="cccd:000000000000", query={"days": 14}, results=0)
            audit_s.append(time.perf_counter() - t)
        return {"sampled": len(persons), "contacts_p50": median(contacts), "audit_p50_ms": median(audit_s) * 1000,
                "api_p50_ms": median(api_s) * 1000, "api_p95_ms": percentile(api_s, 95) * 1000,
                "raw_p50_ms": median(raw_s) * 1000, "ratio_p50": median(api_s) / median(raw_s),
                "venues": lay["venues"], **time_figures(store, client, headers, lay, run_raw)}
    finally:
        close_raw()
        store.close()


def place_venues(store, lay: dict) -> list[Venue]:
    """Provinces of :data:`PROVINCE_VENUES` venues, districts of :data:`DISTRICT_VENUES`, in the
    fleet registry's ``[venues]`` as the collector stores them."""
    venues = [Venue(f"cho-{v:04d}", f"Chợ {v}", f"Huyện {v // DISTRICT_VENUES + 1}", f"Tỉnh {v // PROVINCE_VENUES + 1}")
              for v in range(lay["venues"])]
    store.set_venues(venues)
    return venues


def time_figures(store, client, headers, lay: dict, run_raw, repeats: int = 5) -> dict:
    """A province's daily figures (its venues × 21 days, one request: the reporter's page load):
    the first load, which reckons every day from the visits and keeps it; a load with nothing
    changed; and a busy morning's load, with every venue of the province written to today (its
    marks bumped as ingest bumps them), so today is reckoned again. Against the raw engine
    running the statements that reckon the 21 days from the visits (what every load cost before
    the figures were kept)."""
    venues = place_venues(store, lay)
    t = time.perf_counter()
    marks = store.mark_all_figures()
    mark_s = time.perf_counter() - t
    now = lay["now"]
    first_day, last_day = (now - timedelta(days=tracing.DAYS - 1)).date(), now.date()
    province = venues[0].province
    mine = [v.venue_id for v in venues if v.province == province]
    url = f"/api/v1/stats?by=day&province={quote(province)}&from={first_day}&to={last_day}"

    def load(level: str = "venue") -> tuple[float, int]:
        t = time.perf_counter()
        r = client.get(f"{url}&level={level}", headers=headers)
        took = time.perf_counter() - t
        assert r.status_code == 200, r.get_data(as_text=True)
        return took, len(r.get_json()["rows"])
    cold, rows = load()
    warm = [load()[0] for _ in range(repeats)]
    busy, busy_province = [], []
    for level, into in (("venue", busy), ("province", busy_province)):
        load(level)
        for _ in range(repeats):
            where, params = store._in("venue_id", mine)
            with store._transaction():
                store._exec(f"UPDATE figure_marks SET gen = gen + 1 WHERE day = ? AND {where}",
                            [last_day.isoformat(), *params])
            into.append(load(level)[0])
    since = datetime.combine(first_day, dtime(), UTC) - timedelta(hours=7)
    seen, restore = _captured(store)
    store.reckon_figures(since, since + timedelta(days=tracing.DAYS), 7 * 3600, week=False, level="venue",
                         venues=mine)
    restore()
    raw = []
    for _ in range(max(1, repeats // 2)):
        t = time.perf_counter()
        for sql, params in seen:
            run_raw(sql, params)
        raw.append(time.perf_counter() - t)
    return {"stats_rows": rows, "province_venues": len(mine), "marks": marks, "mark_s": mark_s,
            "stats_cold_ms": cold * 1000, "stats_p50_ms": median(warm) * 1000, "stats_busy_p50_ms": median(busy) * 1000,
            "stats_province_busy_p50_ms": median(busy_province) * 1000, "stats_raw_p50_ms": median(raw) * 1000,
            "stats_ratio": median(busy) / median(raw)}


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
