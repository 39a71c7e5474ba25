"""Trace query time on a large collector store: 1 M vs 10 M stored visits, same crowds.

The store is the collector's own (its migrations make the schema and indexes); the visits are
synthetic and inserted straight with SQL, shaped as ``SqlStore._rebuild_visits`` writes them (person
JSON as the kiosk sends it, UTC ISO text times on SQLite / timestamptz on PostgreSQL, booleans,
``updated_at`` = when the last event arrived). Trace reads only ``visits``, so ``events`` stays
empty. Rows go in check-in time order (as a live collector inserts them; a check-out updates the
row in place). The visit indexes are dropped for the load and re-created from the very SQL the
migration wrote.

Layout: a bigger store is a bigger deployment, not a denser one: per 1 M visits 200 venues and
200 k persons (about 5 visits each in 21 days), 1-3 h per visit during 12 opening hours a day,
10 % auto-checked-out, the ones still going at ``now`` open. One household in five (persons
2h and 2h+1) was checked in by staff with its phone, so a phone trace has about twice a person's
index visits. So a typical person's (or phone's) trace has the same amount of answer at 1 M and
at 10 M, and the time ratio shows what the extra data costs.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

from mqtt.collector import queries
from mqtt.collector.store import UTC, open_store

from .report import median, percentile

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
OPEN_MS = 12 * HOUR_MS          # opening hours a day
FIRST_OPEN_MS = 6 * HOUR_MS     # opening time (UTC) each day
DAYS = 21
NOW_OPEN_MS = 9 * HOUR_MS       # "now" is 9 h into the last day's opening hours
VISITS_PER_VENUE = 5000         # in the 21 days
VISITS_PER_PERSON = 5
TRACE_DAYS = 14
PHONE_HOUSEHOLDS = 5            # one household (2 persons) in this many has a phone on its visits
LETTERS = "ABCDEGHIKLMNOPQRSTUVXY"


def layout(n: int) -> dict:
    t0 = datetime(2021, 8, 1, tzinfo=UTC)
    t0_ms = int(t0.timestamp() * 1000)
    now_ms = t0_ms + (DAYS - 1) * DAY_MS + FIRST_OPEN_MS + NOW_OPEN_MS
    return {"n": n, "venues": max(1, n // VISITS_PER_VENUE), "persons": max(1, n // VISITS_PER_PERSON),
            "t0_ms": t0_ms, "now_ms": now_ms, "span_ms": (DAYS - 1) * OPEN_MS + NOW_OPEN_MS,
            "now": datetime.fromtimestamp(now_ms / 1000, UTC)}


def _random_cte(lay: dict, series: str, rnd) -> str:
    """Per visit n: person p, venue v, kiosk k, duration, auto check-out, uuid bits; check-in s_ms
    rises with n through the opening hours of the 21 days. ``series``/``rnd`` are the dialect's."""
    t = f"(n * {lay['span_ms']} / {lay['n']})"       # ms of opening time before visit n
    return f"""
        r AS MATERIALIZED (
            SELECT n,
                   {rnd(lay['persons'])} AS p,
                   {rnd(lay['venues'])} AS v,
                   1 + {rnd(2)} AS k,
                   {HOUR_MS} + {rnd(2 * HOUR_MS)} AS dur,
                   {rnd(10)} = 0 AS auto,
                   {rnd(2 ** 32)} AS u1, {rnd(2 ** 16)} AS u2, {rnd(2 ** 12)} AS u3,
                   {rnd(2 ** 14)} AS u4, {rnd(2 ** 48)} AS u5,
                   {lay['t0_ms']} + {t} / {OPEN_MS} * {DAY_MS} + {FIRST_OPEN_MS} + {t} % {OPEN_MS} AS s_ms
            FROM {series}),
        w AS (SELECT *, s_ms + dur AS e_ms, s_ms + dur <= {lay['now_ms']} AS closed FROM r)"""


def _phone_sql(p: str, digits: str) -> str:
    """The household phone of person ``p`` (``09`` + 8 digits of ``p / 2``), or NULL."""
    return f"CASE WHEN ({p} / 2) % {PHONE_HOUSEHOLDS} = 0 THEN '09' || {digits} END"


def _name_sql(p: str, concat_digit) -> str:
    parts = [concat_digit(f"({p} / {10 ** (5 - i)}) % 10") for i in range(6)]
    return " || ".join(parts)


# -- SQLite ---------------------------------------------------------------------------------------

def _sqlite_iso(ms: str) -> str:
    return f"(strftime('%Y-%m-%dT%H:%M:%S', ({ms}) / 1000, 'unixepoch') || printf('.%03d+00:00', ({ms}) % 1000))"


def _sqlite_insert_sql(lay: dict) -> str:
    def rnd(mod: str) -> str:
        return f"(abs(random()) % {mod})"
    name = _name_sql("p", lambda d: f"substr('{LETTERS}', 1 + 2 * ({d}), 1)")
    phone = _phone_sql("p", "printf('%08d', p / 2)")
    cte = _random_cte(lay, "c", rnd)
    return f"""
        WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < {lay['n'] - 1}),
        {cte}
        INSERT INTO visits (visit_id, kiosk_id, venue_id, person_kind, person_id, person, check_in_at,
                            check_out_at, check_out_type, check_out_estimated, check_in_corrected,
                            check_out_corrected, time_trusted, updated_at, person_phone)
        SELECT printf('%08x-%04x-4%03x-%04x-%012x', u1, u2, u3, 32768 + u4, u5),
               printf('kiosk-%04d-%d', v, k), printf('cho-%04d', v), 'cccd', printf('079%09d', p),
               '{{"kind":"cccd","id":"' || printf('079%09d', p) || '","name":"Người Thử ' || {name}
                 || '","birth_date":"' || printf('%04d', 1940 + p % 60) || '-01-01","sex":"'
                 || CASE p % 2 WHEN 0 THEN 'female' ELSE 'male' END || '","phone":'
                 || COALESCE('"' || {phone} || '"', 'null') || '}}',
               {_sqlite_iso('s_ms')},
               CASE WHEN closed THEN {_sqlite_iso('e_ms')} END,
               CASE WHEN NOT closed THEN NULL WHEN auto THEN 'auto_check_out' ELSE 'check_out' END,
               closed AND auto, 0, 0, 1,
               {_sqlite_iso('CASE WHEN closed THEN e_ms ELSE s_ms END + 1000')}, {phone}
        FROM w ORDER BY n"""


def build_sqlite(path: Path, n: int) -> dict:
    """A collector SQLite store holding ``n`` synthetic visits; returns the layout and build times."""
    lay = layout(n)
    open_store(f"sqlite://{path}").close()          # the collector's migrations: schema + indexes
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")          # a throwaway bulk load; WAL again afterwards
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-2000000")
    conn.execute("PRAGMA temp_store=MEMORY")
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'visits' "
                           "AND sql IS NOT NULL").fetchall()
    conn.execute("BEGIN")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.execute(_sqlite_insert_sql(lay))
    loaded = time.perf_counter()
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    done = time.perf_counter()
    return {**lay, "insert_s": loaded - started, "index_s": done - loaded, "build_s": done - started,
            "db_bytes": path.stat().st_size, "indexes": [name for name, _ in indexes]}


# -- PostgreSQL -----------------------------------------------------------------------------------

def _pg_insert_sql(lay: dict) -> str:
    def rnd(mod: str) -> str:
        return f"floor(random() * {mod})::bigint"
    name = _name_sql("p", lambda d: f"substr('{LETTERS}', (1 + 2 * ({d}))::int, 1)")
    phone = _phone_sql("p", "lpad((p / 2)::text, 8, '0')")
    cte = _random_cte(lay, f"generate_series(0::bigint, {lay['n'] - 1}) AS g(n)", rnd)

    def ts(ms: str) -> str:
        return f"to_timestamp(({ms})::double precision / 1000)"
    return f"""
        WITH {cte}
        INSERT INTO visits (visit_id, kiosk_id, venue_id, person_kind, person_id, person, check_in_at,
                            check_out_at, check_out_type, check_out_estimated, check_in_corrected,
                            check_out_corrected, time_trusted, updated_at, person_phone)
        SELECT lpad(to_hex(u1), 8, '0') || '-' || lpad(to_hex(u2), 4, '0') || '-4' || lpad(to_hex(u3), 3, '0')
                 || '-' || to_hex(32768 + u4) || '-' || lpad(to_hex(u5), 12, '0'),
               format('kiosk-%s-%s', lpad(v::text, 4, '0'), k), format('cho-%s', lpad(v::text, 4, '0')),
               'cccd', '079' || lpad(p::text, 9, '0'),
               jsonb_build_object('kind', 'cccd', 'id', '079' || lpad(p::text, 9, '0'),
                                  'name', 'Người Thử ' || {name},
                                  'birth_date', (1940 + p % 60)::text || '-01-01',
                                  'sex', CASE p % 2 WHEN 0 THEN 'female' ELSE 'male' END, 'phone', {phone}),
               {ts('s_ms')},
               CASE WHEN closed THEN {ts('e_ms')} END,
               CASE WHEN NOT closed THEN NULL WHEN auto THEN 'auto_check_out' ELSE 'check_out' END,
               closed AND auto, FALSE, FALSE, TRUE,
               {ts('CASE WHEN closed THEN e_ms ELSE s_ms END + 1000')}, {phone}
        FROM w ORDER BY n"""


def build_postgres(url: str, n: int) -> dict:
    import psycopg
    lay = layout(n)
    open_store(url).close()
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET synchronous_commit = off")
        indexes = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'visits' "
                               "AND indexname <> 'visits_pkey'").fetchall()
        with conn.transaction():
            conn.execute("TRUNCATE visits")           # with wal_level=minimal the load skips the WAL
            for name, _ in indexes:
                conn.execute(f"DROP INDEX {name}")
            conn.execute(_pg_insert_sql(lay))
            loaded = time.perf_counter()
            for _, sql in indexes:
                conn.execute(sql)
        conn.execute("VACUUM ANALYZE visits")       # what autovacuum does soon after a load
    done = time.perf_counter()
    return {**lay, "insert_s": loaded - started, "index_s": done - loaded, "build_s": done - started,
            "indexes": [name for name, _ in indexes]}


def pg_size(url: str) -> int:
    import psycopg
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


# -- timing ---------------------------------------------------------------------------------------

_WHO = {"cccd": "person_kind = 'cccd' AND person_id = ?", "phone": "person_phone = ?"}


def sample_persons(store, lay: dict, k: int, seed: int = 14, kind: str = "cccd") -> list[str]:
    """``k`` persons (or, ``kind`` ``"phone"``, household phones) drawn uniformly among those
    with a visit within the trace window (a typical history)."""
    rng = random.Random(seed)
    now, since = lay["now"], lay["now"] - timedelta(days=TRACE_DAYS)
    picked: list[str] = []
    tried = 0
    while len(picked) < k and tried < 100 * k:
        tried += 1
        if kind == "phone":
            pid = f"09{PHONE_HOUSEHOLDS * rng.randrange(max(1, lay['persons'] // (2 * PHONE_HOUSEHOLDS))):08d}"
        else:
            pid = f"079{rng.randrange(lay['persons']):09d}"
        if pid in picked:
            continue
        if _index_visits(store, kind, pid, since, now):
            picked.append(pid)
    return picked


def _index_visits(store, kind: str, pid: str, since: datetime, now: datetime) -> int:
    return store._rows(f"SELECT count(*) AS n FROM visits WHERE {_WHO[kind]} AND COALESCE(check_out_at, ?) >= ?",
                       [pid, store._t(now), store._t(since)])[0]["n"]


def time_traces(url: str, lay: dict, k: int) -> dict:
    """``queries.trace`` for ``k`` typical persons: the first call per person (median, p95) and a
    repeat (median), with the index visits and contacts found, and the visits the query's
    (venue_id, check_out_at > start) range walks for them (counted afterwards, not timed); then
    the same for ``k`` household phones (``trace phone:…``) under ``"phone"``."""
    store = open_store(url)
    try:
        out = _time_kind(store, lay, k, "cccd")
        out["phone"] = _time_kind(store, lay, k, "phone")
        out["visits_in_store"] = store.counts()["visits"]
    finally:
        store.close()
    return out


def _time_kind(store, lay: dict, k: int, kind: str) -> dict:
    persons = sample_persons(store, lay, k + 5, kind=kind)
    warm, persons = persons[:5], persons[5:]
    for pid in warm:                                 # statement caches, not these persons' pages
        queries.trace(store, kind, pid, days=TRACE_DAYS, now=lay["now"])
    first, again, found, index_visits, scanned = [], [], [], [], []
    since = lay["now"] - timedelta(days=TRACE_DAYS)
    for pid in persons:
        t = time.perf_counter()
        out = queries.trace(store, kind, pid, days=TRACE_DAYS, now=lay["now"])
        first.append(time.perf_counter() - t)
        t = time.perf_counter()
        queries.trace(store, kind, pid, days=TRACE_DAYS, now=lay["now"])
        again.append(time.perf_counter() - t)
        found.append(len(out))
        index_visits.append(_index_visits(store, kind, pid, since, lay["now"]))
        # What the closed-visit half walks: every visit of the venue that ended after the index visit began.
        scanned.append(store._rows(
            f"WITH idx AS (SELECT venue_id, COALESCE(check_in_at, check_out_at) AS s FROM visits "
            f"WHERE {_WHO[kind]} AND COALESCE(check_out_at, ?) >= ?) "
            "SELECT COALESCE(sum((SELECT count(*) FROM visits v WHERE v.venue_id = idx.venue_id "
            "AND v.check_out_at > idx.s)), 0) AS n FROM idx",
            [pid, store._t(lay["now"]), store._t(since)])[0]["n"])
    return {"sampled": len(persons), "p50_ms": median(first) * 1000, "p95_ms": percentile(first, 95) * 1000,
            "max_ms": max(first) * 1000, "repeat_p50_ms": median(again) * 1000,
            "contacts_p50": median(found), "index_visits_p50": median(index_visits),
            "scanned_p50": median([int(x) for x in scanned]), "samples_ms": [round(s * 1000, 3) for s in first]}


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


# -- the section ----------------------------------------------------------------------------------

def _need_bytes(n: int) -> int:
    """Free space asked for before building ``n`` visits (about 0.5 KB a visit, with indexes, plus slack);
    6 GB for 10 M and more."""
    return max(n * 900, 6 * 10**9 if n >= 10_000_000 else 0)


def run(sizes: list[int], persons: int, scratch: Path, pg=None, log=print) -> dict:
    """Build, time and drop a store of each size, SQLite then (if ``pg`` is a started
    :class:`~mqtt.loopback.postgres.PgServer`) PostgreSQL."""
    out: dict = {"sizes": sizes, "persons_sampled": persons, "trace_days": TRACE_DAYS,
                 "layout": {"visits_per_venue": VISITS_PER_VENUE, "visits_per_person": VISITS_PER_PERSON,
                            "days": DAYS, "open_hours_a_day": OPEN_MS // HOUR_MS, "visit_hours": "1-3",
                            "auto_check_out_share": 0.1, "phone_households": 1 / PHONE_HOUSEHOLDS},
                 "stores": {}}
    backends = ["sqlite"] + (["postgresql"] if pg is not None else [])
    for backend in backends:
        rows = []
        for i, n in enumerate(sizes):
            free = free_bytes(scratch)
            if free < _need_bytes(n):
                msg = (f"skipped: {free / 1e9:.1f} GB free in {scratch}, {_need_bytes(n) / 1e9:.1f} GB needed "
                       f"for {n:,} visits")
                log(f"trace {backend} {n:,}: {msg}")
                rows.append({"n": n, "skipped": msg})
                continue
            log(f"trace {backend}: building {n:,} visits …")
            if backend == "sqlite":
                path = scratch / f"central-{n}.db"
                built = build_sqlite(path, n)
                url = f"sqlite://{path}"
            else:
                name = f"trace_{i}"
                url = pg.new_database(name)
                built = build_postgres(url, n)
                built["db_bytes"] = pg_size(url)
            log(f"trace {backend}: built in {built['build_s']:.0f} s; timing {persons} traces …")
            timed = time_traces(url, built, persons)
            rows.append({**{k: v for k, v in built.items() if k != "now"}, "now": built["now"].isoformat(),
                         **timed})
            if backend == "sqlite":
                for f in scratch.glob(f"central-{n}.db*"):
                    f.unlink()
            else:
                pg.drop_database(name)
        done = [r for r in rows if "skipped" not in r]
        entry: dict = {"runs": rows}
        if len(done) == len(sizes) == 2:
            small, large = done
            entry["ratio_p50"] = large["p50_ms"] / small["p50_ms"]
            entry["ratio_p95"] = large["p95_ms"] / small["p95_ms"]
            entry["ratio_repeat_p50"] = large["repeat_p50_ms"] / small["repeat_p50_ms"]
            entry["phone_ratio_p50"] = large["phone"]["p50_ms"] / small["phone"]["p50_ms"]
            entry["phone_ratio_p95"] = large["phone"]["p95_ms"] / small["phone"]["p95_ms"]
            entry["phone_ratio_repeat_p50"] = large["phone"]["repeat_p50_ms"] / small["phone"]["repeat_p50_ms"]
        out["stores"][backend] = entry
    return out
