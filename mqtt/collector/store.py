"""The central store: one interface, SQLite (default) and PostgreSQL (several collectors) behind it.

Both backends share the rules in :class:`SqlStore` (de-duplication, visits, seq tracking, clock
correction, purge); a backend only says how to talk to its database.

An event (as :func:`mqtt.wire.event.validate_event` returns it) that comes twice is stored once,
and its id is held (to be acked) whichever copy is the new one:

>>> import tempfile
>>> event = {"schema": "checkin.event/1", "event_id": "0b6e4a52-8d2f-4c1e-9a0e-3f5b7c9d1e2a",
...          "kiosk_id": "k-01", "venue_id": "cho-thu", "seq": 1, "type": "check_in",
...          "visit_id": "5f1c2d3e-4b5a-4697-8a8b-9c0d1e2f3a4b", "at": "2026-08-19T01:00:00.000+00:00",
...          "clock": {"synced": True, "boot_id": "boot-1", "uptime_s": 60.0}, "method": "camera",
...          "staff_id": None, "person": {"kind": "cccd", "id": "079190000001", "name": None,
...                                       "birth_date": None, "sex": None, "phone": None}}
>>> with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite://{tmp}/central.db") as store:
...     result = store.ingest([event, event])       # one transaction; validated events only
...     result.held, result.inserted, result.duplicates, store.counts()["visits"]
(['0b6e4a52-8d2f-4c1e-9a0e-3f5b7c9d1e2a'], 1, 1, 1)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..wire.event import encode_event
from ..wire.fields import compact_json, parse_time
from ..wire.topics import events_topic
from .store_console import ConsoleRecords
from .store_figures import FigureRecords

UTC = UTC
#: Dead letters keep at most this much of the payload (enough to see what went wrong).
DEAD_LETTER_PAYLOAD_BYTES = 4096

EVENT_COLUMNS = ("event_id", "kiosk_id", "venue_id", "seq", "type", "visit_id", "at", "at_corrected",
                 "synced", "boot_id", "uptime_s", "method", "staff_id", "person_kind", "person_id",
                 "person", "estimated", "received_at", "phone_verified", "phone_check_reason", "declaration",
                 "declaration_flagged")
VISIT_COLUMNS = ("visit_id", "kiosk_id", "venue_id", "person_kind", "person_id", "person", "check_in_at",
                 "check_out_at", "check_out_type", "check_out_estimated", "check_in_corrected",
                 "check_out_corrected", "time_trusted", "updated_at", "person_phone", "method", "phone_verified",
                 "phone_check_reason", "declaration", "declaration_flagged")
SEQ_COLUMNS = ("kiosk_id", "high_water", "beyond", "max_seq", "updated_at")
#: :meth:`Store.trace_rows`'s ``kind`` for tracing everyone checked in with a phone number.
TRACE_PHONE = "phone"


class StoreError(RuntimeError):
    """The store cannot be used now (database down, disk full, locked); retry later.

    Each backend raises it for what says "the store is down" (never for what one message holds),
    so the collector keeps such a batch un-acknowledged and retries it instead of dead-lettering it."""

#: Why a valid event is refused by the store itself (a dead-letter reason): its visit was opened
#: by another kiosk. The first stored event of a visit fixes the visit's kiosk.
VISIT_OF_OTHER_KIOSK = "visit_of_other_kiosk"


@dataclass
class IngestResult:
    """What one :meth:`Store.ingest` did.

    held: event ids now stored durably, new and already-held alike, in batch order (ack them all);
    late: ``(kiosk_id, seq)`` of new events that filled a gap; seq_conflicts: new events whose
    seq was already taken by another event of the kiosk (a reset kiosk?); corrected: events whose
    time was corrected from a synced event of their boot in this transaction; refused:
    ``(kiosk_id, event_id, reason)`` of events the store would not take (their visit belongs to
    another kiosk): dead-lettered (final) in the same transaction, not held, so not acked but
    named refused.
    """

    held: list[str] = field(default_factory=list)
    inserted: int = 0
    duplicates: int = 0
    late: list[tuple[str, int]] = field(default_factory=list)
    seq_conflicts: list[tuple[str, int]] = field(default_factory=list)
    corrected: int = 0
    refused: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class DeadLetter:
    """A message that was not a usable event (or status/health); kept with why, for the operator."""

    topic: str
    kiosk_id: str | None
    reason: str
    detail: str
    payload: bytes
    received_at: datetime | None = None
    #: For an event refused (by the contract, the registry, the store): the id it carries, when it
    #: carries one that is a UUID. The same event refused again for the same reason (the kiosk
    #: re-sends what is not acked) is kept once.
    event_id: str | None = None
    #: The refusal can never come right (the contract, a visit of another kiosk, the store itself):
    #: once the letter is written the event's kiosk is told (an ack's ``refused``) and sets it
    #: aside. Not final: ``unknown_kiosk``, ``venue_mismatch`` (held until the registry is fixed).
    final: bool = False


@dataclass(frozen=True)
class FleetUpdate:
    """A status (``online``/``offline``), health (a JSON object) or self-test report
    (``checkin.selftest/1``, acked by its ``report_id`` once stored) from a kiosk."""

    kiosk_id: str
    at: datetime
    status: str | None = None
    health: dict | None = None
    retained: bool = False
    selftest: dict | None = None


class Store(ABC):
    """The interface the collector, the queries and the CLI use."""

    # -- writing ----------------------------------------------------------------------------
    @abstractmethod
    def ingest(self, events: list[dict], *, received_at: datetime | None = None) -> IngestResult: ...
    @abstractmethod
    def add_dead_letters(self, letters: list[DeadLetter]) -> None: ...
    @abstractmethod
    def update_fleet(self, updates: list[FleetUpdate]) -> None: ...
    @abstractmethod
    def purge(self, older_than_days: int, *, now: datetime | None = None) -> dict[str, int]: ...

    # -- reading (times are aware datetimes in UTC; person/health are dicts) -----------------
    @abstractmethod
    def visit_rows(self, venue: str | None = None, limit: int | None = None) -> list[dict]: ...
    @abstractmethod
    def trace_rows(self, kind: str, person_id: str, since: datetime, now: datetime) -> list[dict]: ...
    @abstractmethod
    def checkins_by_hour(self, venue: str | None = None) -> list[tuple[str, datetime, int]]: ...
    @abstractmethod
    def fleet_rows(self) -> list[dict]: ...
    @abstractmethod
    def seq_state(self, kiosk_id: str) -> tuple[int, list[list[int]]]: ...
    @abstractmethod
    def event_rows(self, *, kiosk_id: str | None = None, visit_id: str | None = None) -> list[dict]: ...
    @abstractmethod
    def dead_letter_rows(self, limit: int = 100) -> list[dict]: ...
    @abstractmethod
    def counts(self) -> dict[str, int]: ...
    @abstractmethod
    def close(self) -> None: ...

    def is_down(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised by this store, says it is down (:class:`StoreError`, or the
        backend's own error for a lost server, a full disk, a damaged file) rather than a bug."""
        return isinstance(exc, StoreError)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_store(url: str) -> Store:
    """``sqlite:///ABSOLUTE/PATH.db`` (``sqlite:///./relative.db`` for a relative path) or ``postgresql://…``."""
    if url.startswith("sqlite://"):
        from .store_sqlite import SqliteStore
        return SqliteStore(sqlite_path(url))
    if url.startswith(("postgresql://", "postgres://")):
        from .store_postgres import PostgresStore
        return PostgresStore(url)
    raise ValueError(f"unknown store url {url.split(':', 1)[0]!r} (sqlite:///… or postgresql://…)")


def sqlite_path(url: str) -> Path:
    rest = url[len("sqlite://"):]
    if rest.startswith(("/./", "/../", "/~")):
        return Path(rest[1:]).expanduser()
    return Path("/" + rest.lstrip("/"))


# -- the shared rules ---------------------------------------------------------------------------

def utc_ms(at: datetime) -> datetime:
    """``at`` in UTC, cut to milliseconds (what the kiosk sends; both backends store the same)."""
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo is UTC else at.astimezone(UTC)).isoformat(timespec="milliseconds")


def add_seq(high_water: int, ranges: list[list[int]], seq: int) -> tuple[int, list[list[int]]]:
    """Record ``seq`` in (contiguous high-water mark, sorted disjoint [lo, hi] ranges beyond it)."""
    ranges = [list(r) for r in ranges] + [[seq, seq]]
    ranges.sort()
    merged: list[list[int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    while merged and merged[0][0] <= high_water + 1:
        high_water = max(high_water, merged.pop(0)[1])
    return high_water, merged


def seq_held(high_water: int, ranges: list[list[int]], seq: int) -> bool:
    return seq <= high_water or any(lo <= seq <= hi for lo, hi in ranges)


def seq_gaps(high_water: int, ranges: list[list[int]]) -> list[list[int]]:
    """The missing ``[first, last]`` ranges below the highest seq received."""
    gaps, after = [], high_water
    for lo, hi in ranges:
        gaps.append([after + 1, lo - 1])
        after = hi
    return gaps


class SqlStore(ConsoleRecords, FigureRecords, Store):
    """The rules, written once over a few backend hooks (SQL uses ``?`` placeholders)."""

    #: ``FOR UPDATE`` where the backend has row locks.
    for_update = ""

    # -- backend hooks ----------------------------------------------------------------------
    @abstractmethod
    def _transaction(self) -> AbstractContextManager: ...
    @abstractmethod
    def _rows(self, sql: str, params: Iterable = ()) -> list[dict]: ...
    @abstractmethod
    def _exec(self, sql: str, params: Iterable = ()) -> int: ...
    @abstractmethod
    def _many(self, sql: str, rows: list) -> None: ...
    @abstractmethod
    def _rows_each(self, sql: str, rows: list) -> list[list[dict]]:
        """The result of ``sql`` for each parameter row (in one round trip where there is a server)."""
    @abstractmethod
    def _insert(self, table: str, columns: tuple[str, ...], rows: list[tuple], tail: str) -> list[dict]:
        """``INSERT INTO table (columns) <rows> tail``, the rows sent however suits the backend
        best; returns what ``tail``'s RETURNING gives. ``rows`` is not empty."""
    @abstractmethod
    def _in(self, column: str, values: list) -> tuple[str, list]:
        """SQL for ``column IN (values)`` and its parameters: one statement text for any number of values."""
    @abstractmethod
    def _t(self, at: datetime | None) -> Any:
        """A datetime as the backend stores it."""
    @abstractmethod
    def _dt(self, value: Any) -> datetime | None:
        """A stored time back as an aware UTC datetime."""
    @abstractmethod
    def _json(self, obj: Any) -> Any: ...
    @abstractmethod
    def _obj(self, value: Any) -> Any: ...
    @abstractmethod
    def _local_day_sql(self, expr: str, offset_s: int, week: bool = False) -> str:
        """SQL for the ``YYYY-MM-DD`` of time ``expr`` shifted by ``offset_s`` seconds (``week``:
        of the Monday of its week)."""
    @abstractmethod
    def _plus_seconds_sql(self, expr: str, seconds: int) -> str:
        """SQL for the stored time ``expr`` plus ``seconds``, as the backend stores times."""
    @abstractmethod
    def _hour_sql(self) -> str:
        """SQL for the UTC hour of ``check_in_at`` (grouping key for stats)."""
    @abstractmethod
    def _json_text_sql(self, expr: str, key: str) -> str:
        """SQL for the text at ``key`` of the stored JSON object ``expr`` (NULL for JSON null)."""

    def _fill_figure_marks(self) -> None:
        """Mark the venue-days of the visits stored before the figures were kept (migration 7)."""
        if (self._rows("SELECT 1 AS x FROM visits LIMIT 1")
                and not self._rows("SELECT 1 AS x FROM figure_marks LIMIT 1")):
            self.mark_all_figures()

    def _lock(self, keys: Iterable[str]) -> None:
        """Serialise writers of the same kiosks/visits (no-op where there is one writer)."""

    def _retrying(self, fn):
        return fn()

    # -- ingest -----------------------------------------------------------------------------
    def ingest(self, events: list[dict], *, received_at: datetime | None = None) -> IngestResult:
        now = utc_ms(received_at or datetime.now(UTC))
        unique: dict[str, dict] = {}
        for event in events:
            unique.setdefault(event["event_id"], event)
        if not unique:
            return IngestResult()
        batch = list(unique.values())

        def attempt() -> IngestResult:
            with self._transaction():
                return self._ingest(batch, now)
        result = self._retrying(attempt)
        refused = {event_id for _, event_id, _ in result.refused}
        result.held = [event_id for event_id in unique if event_id not in refused]
        result.duplicates = sum(1 for e in events if e["event_id"] not in refused) - result.inserted
        return result

    def _ingest(self, batch: list[dict], now: datetime) -> IngestResult:
        self._lock([f"k:{k}" for k in {e["kiosk_id"] for e in batch}] + [f"v:{e['visit_id']}" for e in batch])
        result = IngestResult()
        stored = self._stored_visits(batch)
        foreign = self._foreign_visits(batch, stored)
        if foreign:
            self._write_dead_letters([DeadLetter(
                events_topic(e["kiosk_id"]), e["kiosk_id"], VISIT_OF_OTHER_KIOSK,
                f"its visit was opened by kiosk {owner}", encode_event(e), now,
                event_id=e["event_id"], final=True) for e, owner in foreign])
            result.refused = [(e["kiosk_id"], e["event_id"], VISIT_OF_OTHER_KIOSK) for e, _ in foreign]
            refused = {e["event_id"] for e, _ in foreign}
            batch = [e for e in batch if e["event_id"] not in refused]
            if not batch:
                return result
        received = self._t(now)
        rows = [self._event_row(e, received) for e in batch]
        inserted = {r["event_id"] for r in self._upsert("events", EVENT_COLUMNS, rows, key="event_id",
                                                         returning="event_id")}
        new = [e for e in batch if e["event_id"] in inserted]
        result.inserted = len(new)
        self._track_seq(new, now, result)
        visits = {e["visit_id"] for e in new}
        visits |= self._correct_clocks(new, result)
        self._rebuild_visits(visits, now, stored)
        kiosks = sorted({e["kiosk_id"] for e in batch})
        self._upsert("fleet", ("kiosk_id", "last_seen"), [(k, received) for k in kiosks], key="kiosk_id",
                     update=("last_seen",))
        return result

    def _stored_visits(self, batch: list[dict]) -> dict[str, dict | None]:
        """The batch's visits as stored before it (None: not stored yet), with their kiosk and
        span: one indexed read (their locks are held)."""
        ids = sorted({e["visit_id"] for e in batch})
        visits, params = self._in("visit_id", ids)
        found: dict[str, dict | None] = dict.fromkeys(ids)
        for r in self._rows(f"SELECT visit_id, kiosk_id, venue_id, check_in_at, check_out_at FROM visits "
                            f"WHERE {visits}", params):
            found[r["visit_id"]] = r
        return found

    def _foreign_visits(self, batch: list[dict], stored: dict[str, dict | None]) -> list[tuple[dict, str]]:
        """The events of ``batch`` whose visit belongs to another kiosk, each with that kiosk: a
        visit is the kiosk's that sent its first stored event (or, for a visit not stored yet,
        its first event in the batch)."""
        owner = {visit_id: r["kiosk_id"] for visit_id, r in stored.items() if r is not None}
        foreign = []
        for e in batch:
            kiosk = owner.setdefault(e["visit_id"], e["kiosk_id"])
            if kiosk != e["kiosk_id"]:
                foreign.append((e, kiosk))
        return foreign

    def _upsert(self, table: str, columns: tuple[str, ...], rows: list[tuple], *, key: str,
                update: tuple[str, ...] = (), returning: str = "") -> list[dict]:
        """Insert ``rows``; on a ``key`` conflict update the ``update`` columns, or keep the stored row."""
        if not rows:
            return []
        action = ("UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update)) if update else "NOTHING"
        return self._insert(table, columns, rows,
                            f"ON CONFLICT ({key}) DO {action}" + (f" RETURNING {returning}" if returning else ""))

    def _event_row(self, e: dict, received: Any) -> tuple:
        clock, person, check, declaration = e["clock"], e["person"], e.get("phone_check"), e.get("declaration")
        return (e["event_id"], e["kiosk_id"], e["venue_id"], e["seq"], e["type"], e["visit_id"],
                self._t(utc_ms(parse_time(e["at"]))), None, bool(clock["synced"]), clock["boot_id"],
                float(clock["uptime_s"]), e["method"], e["staff_id"], person["kind"], person["id"],
                self._json(person), bool(e.get("estimated", False)), received,
                None if check is None else check["verified"], None if check is None else check["reason"],
                None if declaration is None else self._json(declaration),
                None if declaration is None else declaration["flagged"])

    def _track_seq(self, new: list[dict], now: datetime, result: IngestResult) -> None:
        by_kiosk: dict[str, list[int]] = defaultdict(list)
        for e in new:
            by_kiosk[e["kiosk_id"]].append(e["seq"])
        if not by_kiosk:
            return
        kiosks, params = self._in("kiosk_id", sorted(by_kiosk))
        stored = {r["kiosk_id"]: (r["high_water"], self._obj(r["beyond"])) for r in self._rows(
            f"SELECT kiosk_id, high_water, beyond FROM kiosk_seq WHERE {kiosks}{self.for_update}", params)}
        rows = []
        for kiosk, seqs in sorted(by_kiosk.items()):
            hw, ranges = stored.get(kiosk, (0, []))
            for seq in sorted(seqs):
                if seq_held(hw, ranges, seq):
                    result.seq_conflicts.append((kiosk, seq))
                    continue
                if seq < (ranges[-1][1] if ranges else hw):
                    result.late.append((kiosk, seq))
                hw, ranges = add_seq(hw, ranges, seq)
            rows.append((kiosk, hw, self._json(ranges), ranges[-1][1] if ranges else hw, self._t(now)))
        self._upsert("kiosk_seq", SEQ_COLUMNS, rows, key="kiosk_id", update=SEQ_COLUMNS[1:])

    def _correct_clocks(self, new: list[dict], result: IngestResult) -> set[str]:
        """Unsynced events of a boot get ``at_corrected`` from the boot's first synced event
        (smallest uptime): ``ref.at − (ref.uptime − uptime)``. Returns the visits that changed."""
        boots: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for e in new:
            boots[(e["kiosk_id"], e["clock"]["boot_id"])].append(e)
        changed: set[str] = set()
        refs = self._rows_each("SELECT event_id, at, uptime_s FROM events WHERE kiosk_id = ? AND boot_id = ? "
                               "AND synced = TRUE ORDER BY uptime_s, event_id LIMIT 1", list(boots))
        for ((kiosk, boot), events), ref in zip(boots.items(), refs, strict=True):
            if not ref:
                continue
            ref_at, ref_up = self._dt(ref[0]["at"]), ref[0]["uptime_s"]
            if any(e["event_id"] == ref[0]["event_id"] for e in events):
                # A new reference: every unsynced event of the boot is (re)computed from it.
                targets = [(r["event_id"], r["visit_id"], r["uptime_s"], self._dt(r["at_corrected"]))
                           for r in self._rows("SELECT event_id, visit_id, uptime_s, at_corrected FROM events "
                                               "WHERE kiosk_id = ? AND boot_id = ? AND synced = FALSE", [kiosk, boot])]
            else:
                targets = [(e["event_id"], e["visit_id"], float(e["clock"]["uptime_s"]), None)
                           for e in events if not e["clock"]["synced"]]
            updates = []
            for event_id, visit_id, uptime, before in targets:
                corrected = ref_at - timedelta(milliseconds=round((ref_up - uptime) * 1000))
                if corrected != before:
                    updates.append((self._t(corrected), event_id))
                    changed.add(visit_id)
            if updates:
                self._lock(f"v:{v}" for v in changed)
                self._many("UPDATE events SET at_corrected = ? WHERE event_id = ?", updates)
                result.corrected += len(updates)
        return changed

    def _rebuild_visits(self, visit_ids: set[str], now: datetime, stored: dict[str, dict | None]) -> None:
        """Visits are derived from their events, so arrival order never matters: each touched visit
        is rebuilt from all its stored events, in one statement (no event travels to Python).

        The person and places come from the check-in, or from the check-out while there is none;
        the person's phone is kept beside it, for tracing by phone.
        A visit's time is trusted when each of its ends was synced or has been corrected.
        The figures' marks cover each visit's span before (``stored``: the batch's visits as they
        were; a clock correction's others are read here) and after (the upsert returns it)."""
        if not visit_ids:
            return
        touched, params = self._in("visit_id", sorted(visit_ids))
        before = [self._span(r) for v, r in stored.items() if v in visit_ids and r is not None]
        others = sorted(visit_ids - stored.keys())
        if others:
            where, others_params = self._in("visit_id", others)
            before += self._visit_spans(where, others_params)

        def first(where: str, order: str) -> str:
            return (f"SELECT * FROM (SELECT e.*, ROW_NUMBER() OVER (PARTITION BY visit_id ORDER BY {order}) AS n "
                    f"FROM e WHERE {where}) ranked WHERE n = 1")
        base = ", ".join(f"COALESCE(i.{c}, o.{c})"
                         for c in ("kiosk_id", "venue_id", "person_kind", "person_id", "person"))
        sets = ", ".join(f"{c} = excluded.{c}" for c in VISIT_COLUMNS[1:])
        # i: the earliest check-in; o: a real check-out beats an inferred one, and among equals the
        # earliest ends the visit. Earliest by corrected time, then seq (then event id, for ties).
        # (WHERE TRUE: without a WHERE, SQLite would read ON CONFLICT as a join condition.)
        after = self._rows(f"""
            WITH e AS (
                SELECT event_id, visit_id, kiosk_id, venue_id, person_kind, person_id, person, type, seq, synced,
                       method, phone_verified, phone_check_reason, declaration, declaration_flagged, at_corrected,
                       COALESCE(at_corrected, at) AS at_when,
                       (estimated OR type = 'auto_check_out') AS est
                FROM events WHERE {touched}
            ),
            i AS ({first("type = 'check_in'", "at_when, seq, event_id")}),
            o AS ({first("type <> 'check_in'", "est, at_when, seq, event_id")})
            INSERT INTO visits ({", ".join(VISIT_COLUMNS)})
            SELECT v.visit_id, {base}, i.at_when, o.at_when, o.type, COALESCE(o.est, FALSE),
                   i.at_corrected IS NOT NULL, o.at_corrected IS NOT NULL,
                   (i.visit_id IS NULL OR i.synced OR i.at_corrected IS NOT NULL)
                   AND (o.visit_id IS NULL OR o.synced OR o.at_corrected IS NOT NULL), ?,
                   {self._json_text_sql("COALESCE(i.person, o.person)", "phone")}, COALESCE(i.method, o.method),
                   i.phone_verified, i.phone_check_reason, i.declaration, i.declaration_flagged
            FROM (SELECT DISTINCT visit_id FROM e) v
            LEFT JOIN i ON i.visit_id = v.visit_id LEFT JOIN o ON o.visit_id = v.visit_id
            WHERE TRUE
            ON CONFLICT (visit_id) DO UPDATE SET {sets}
            RETURNING venue_id, check_in_at, check_out_at""", params + [self._t(now)])
        self._mark_figures(before + [self._span(r) for r in after])

    # -- dead letters, fleet, purge ---------------------------------------------------------
    def add_dead_letters(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return

        def attempt() -> None:
            with self._transaction():
                self._write_dead_letters(letters)
        self._retrying(attempt)

    def _write_dead_letters(self, letters: list[DeadLetter]) -> None:
        now = datetime.now(UTC)
        def text(value: str, limit: int) -> str:
            return value[:limit].replace("\x00", "\ufffd")    # PostgreSQL text cannot hold NUL
        rows = [(self._t(utc_ms(d.received_at or now)), text(d.topic, 256), d.kiosk_id, text(d.reason, 64),
                 text(d.detail, 500), bytes(d.payload[:DEAD_LETTER_PAYLOAD_BYTES]), len(d.payload), d.event_id)
                for d in letters]
        # (event_id, reason) is unique: a refused event re-sent by its kiosk is one dead letter.
        self._many("INSERT INTO dead_letters (received_at, topic, kiosk_id, reason, detail, payload, payload_size, "
                   "event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, reason) DO NOTHING", rows)

    def update_fleet(self, updates: list[FleetUpdate]) -> None:
        if updates:
            self._retrying(lambda: self._update_fleet(updates))

    def _update_fleet(self, updates: list[FleetUpdate]) -> None:
        with self._transaction():
            last_seen = {u.kiosk_id: self._t(utc_ms(u.at)) for u in updates}    # the latest per kiosk
            self._upsert("fleet", ("kiosk_id", "last_seen"), list(last_seen.items()), key="kiosk_id",
                         update=("last_seen",))
            for u in updates:
                at = self._t(utc_ms(u.at))
                if u.status is not None:
                    # A retained status seen again on resubscribing is not a change: keep its time.
                    keep = " AND (status IS NULL OR status <> ?)" if u.retained else ""
                    self._exec(f"UPDATE fleet SET status = ?, status_at = ? WHERE kiosk_id = ?{keep}",
                               [u.status, at, u.kiosk_id] + ([u.status] if u.retained else []))
                for column, value in (("health", u.health), ("selftest", u.selftest)):
                    if value is not None:
                        self._exec(f"UPDATE fleet SET {column} = ?, {column}_at = ? WHERE kiosk_id = ?",
                                   [self._json(value), at, u.kiosk_id])

    def purge(self, older_than_days: int, *, now: datetime | None = None) -> dict[str, int]:
        """Delete what is older than the retention: visits by check-out (or check-in) time, or by
        when they were last received if their clock could not be trusted; events with their
        visit; dead letters by arrival."""
        cutoff = self._t(utc_ms((now or datetime.now(UTC)) - timedelta(days=older_than_days)))
        with self._transaction():
            visits = self._exec("DELETE FROM visits "
                                "WHERE (time_trusted = TRUE AND COALESCE(check_out_at, check_in_at) < ?) "
                                "OR (time_trusted = FALSE AND updated_at < ?)", [cutoff, cutoff])
            events = self._exec("DELETE FROM events WHERE NOT EXISTS "
                                "(SELECT 1 FROM visits v WHERE v.visit_id = events.visit_id)")
            letters = self._exec("DELETE FROM dead_letters WHERE received_at < ?", [cutoff])
        return {"events": events, "visits": visits, "dead_letters": letters}

    # -- reading ----------------------------------------------------------------------------
    def _visit_out(self, r: dict) -> dict:
        out = dict(r)
        for key in ("check_in_at", "check_out_at", "updated_at", "index_check_in_at", "index_check_out_at"):
            if key in out:
                out[key] = self._dt(out[key])
        for key in ("check_out_estimated", "check_in_corrected", "check_out_corrected", "time_trusted",
                    "index_estimated", "index_in_corrected", "index_out_corrected"):
            if key in out:
                out[key] = bool(out[key])
        out["person"] = self._obj(out["person"])
        if out.get("phone_verified") is not None:           # None: no code was asked (not staff by phone)
            out["phone_verified"] = bool(out["phone_verified"])
        self._declaration_out(out)
        return out

    def _declaration_out(self, row: dict) -> None:
        """A row's health declaration as the event carried it (None: none was made), in place."""
        if row.get("declaration") is not None:
            row["declaration"] = self._obj(row["declaration"])
        if row.get("declaration_flagged") is not None:
            row["declaration_flagged"] = bool(row["declaration_flagged"])

    def _declaration_out(self, row: dict) -> None:
        """A row's health declaration as the event carried it (None: none was made), in place."""
        if row.get("declaration") is not None:
            row["declaration"] = self._obj(row["declaration"])
        if row.get("declaration_flagged") is not None:
            row["declaration_flagged"] = bool(row["declaration_flagged"])

    def visit_rows(self, venue: str | None = None, limit: int | None = None) -> list[dict]:
        where, params = ("WHERE venue_id = ?", [venue]) if venue else ("", [])
        tail = f" LIMIT {int(limit)}" if limit else ""
        return [self._visit_out(r) for r in self._rows(
            f"SELECT * FROM visits {where} ORDER BY COALESCE(check_in_at, check_out_at) DESC, visit_id{tail}", params)]

    def trace_rows(self, kind: str, person_id: str, since: datetime, now: datetime) -> list[dict]:
        """Pairs (index visit, co-visitor visit) at the same venue whose intervals overlap by more
        than a touch. The index visits are those of ``kind:person_id`` still going at ``since`` or
        later; with ``kind`` :data:`TRACE_PHONE`, those checked in with the phone ``person_id``
        (canonical, ``0`` + 9 digits), and every person ever checked in with it is the index, nobody's
        contact.
        Open visits last until ``now``; a visit with no check-in (yet) starts at its check-out.
        Index visits are found through the person or phone index, closed co-visits through
        (venue_id, check_out_at), open ones through the open-visit index, so the cost follows the
        window, not the table."""
        n, s = self._t(utc_ms(now)), self._t(utc_ms(since))
        if kind == TRACE_PHONE:
            index, index_params = "person_phone = ?", [person_id]
            other = ("(v.person_kind, v.person_id) NOT IN "
                     "(SELECT person_kind, person_id FROM visits WHERE person_phone = ?)")
            other_params = [person_id]
        else:
            index, index_params = "person_kind = ? AND person_id = ?", [kind, person_id]
            other, other_params = "NOT (v.person_kind = ? AND v.person_id = ?)", [kind, person_id]
        cols = ("v.visit_id, v.kiosk_id, v.venue_id, v.person_kind, v.person_id, v.person, v.check_in_at, "
                "v.check_out_at, v.check_out_type, v.check_out_estimated, v.check_in_corrected, "
                "v.check_out_corrected, v.method, v.phone_verified, v.phone_check_reason, v.declaration, "
                "v.declaration_flagged, i.visit_id AS index_visit_id, i.check_in_at AS index_check_in_at, "
                "i.check_out_at AS index_check_out_at, i.check_out_estimated AS index_estimated, "
                "i.check_in_corrected AS index_in_corrected, i.check_out_corrected AS index_out_corrected")
        sql = f"""
            WITH idx AS (
                SELECT visit_id, venue_id, check_in_at, check_out_at, check_out_estimated, check_in_corrected,
                       check_out_corrected, COALESCE(check_in_at, check_out_at) AS s, COALESCE(check_out_at, ?) AS e
                FROM visits
                WHERE {index} AND COALESCE(check_out_at, ?) >= ?
            )
            SELECT {cols} FROM idx i JOIN visits v
              ON v.venue_id = i.venue_id AND v.check_out_at > i.s AND COALESCE(v.check_in_at, v.check_out_at) < i.e
             WHERE {other}
            UNION ALL
            SELECT {cols} FROM idx i JOIN visits v
              ON v.venue_id = i.venue_id AND v.check_out_at IS NULL AND v.check_in_at < i.e
             WHERE ? > i.s AND {other}"""
        params = [n, *index_params, n, s, *other_params, n, *other_params]
        return [self._visit_out(r) for r in self._rows(sql, params)]

    def person_visit_rows(self, kind: str, person_id: str, since: datetime, now: datetime) -> list[dict]:
        """The visits of ``kind:person_id`` (with ``kind`` :data:`TRACE_PHONE`: those checked in with
        that phone) still going at ``since`` or later, first first: the index visits of a trace."""
        index, params = (("person_phone = ?", [person_id]) if kind == TRACE_PHONE
                         else ("person_kind = ? AND person_id = ?", [kind, person_id]))
        rows = self._rows(f"SELECT * FROM visits WHERE {index} AND COALESCE(check_out_at, ?) >= ? "
                          "ORDER BY COALESCE(check_in_at, check_out_at), visit_id",
                          [*params, self._t(utc_ms(now)), self._t(utc_ms(since))])
        return [self._visit_out(r) for r in rows]

    def named_visit_rows(self, names: list[str], limit: int = 2000) -> list[dict]:
        """The latest ``limit`` visits of people whose name (as the kiosk read it) is one of
        ``names``, exactly, through the name index; newest first."""
        where, params = self._in(self._json_text_sql("person", "name"), names)
        rows = self._rows(f"SELECT * FROM visits WHERE {where} "
                          f"ORDER BY COALESCE(check_in_at, check_out_at) DESC LIMIT {int(limit)}", params)
        return [self._visit_out(r) for r in rows]

    def presence_rows(self, venue_id: str, start: datetime, end: datetime, now: datetime) -> list[dict]:
        """The visits at ``venue_id`` that overlap ``[start, end)`` by more than a touch (an open
        one lasts until ``now``), through the venue's check-out and open-visit indexes."""
        s, e, n = self._t(utc_ms(start)), self._t(utc_ms(end)), self._t(utc_ms(now))
        rows = self._rows(
            "SELECT * FROM visits WHERE venue_id = ? AND check_out_at > ? AND COALESCE(check_in_at, check_out_at) < ? "
            "UNION ALL SELECT * FROM visits WHERE venue_id = ? AND check_out_at IS NULL AND check_in_at < ? AND ? > ?",
            [venue_id, s, e, venue_id, e, n, s])
        return [self._visit_out(r) for r in rows]

    def checkins_by_hour(self, venue: str | None = None) -> list[tuple[str, datetime, int]]:
        where, params = ("AND venue_id = ?", [venue]) if venue else ("", [])
        hour = self._hour_sql()
        rows = self._rows(f"SELECT venue_id, {hour} AS hour, count(*) AS n FROM visits "
                          f"WHERE check_in_at IS NOT NULL {where} GROUP BY venue_id, {hour}", params)
        return [(r["venue_id"], self._hour_value(r["hour"]), r["n"]) for r in rows]

    def _hour_value(self, value: Any) -> datetime:
        return self._dt(value)

    def fleet_rows(self) -> list[dict]:
        rows = self._rows("SELECT f.kiosk_id, f.status, f.status_at, f.last_seen, f.health, f.health_at, "
                          "f.selftest, f.selftest_at, k.high_water, k.beyond, k.max_seq FROM fleet f "
                          "LEFT JOIN kiosk_seq k ON k.kiosk_id = f.kiosk_id ORDER BY f.kiosk_id")
        out = []
        for r in rows:
            r = dict(r)
            for key in ("status_at", "last_seen", "health_at", "selftest_at"):
                r[key] = self._dt(r[key])
            for key in ("health", "selftest"):
                r[key] = self._obj(r[key]) if r[key] is not None else None
            r["beyond"] = self._obj(r["beyond"]) if r["beyond"] is not None else []
            r["high_water"] = r["high_water"] or 0
            r["max_seq"] = r["max_seq"] or 0
            out.append(r)
        return out

    def seq_state(self, kiosk_id: str) -> tuple[int, list[list[int]]]:
        row = self._rows("SELECT high_water, beyond FROM kiosk_seq WHERE kiosk_id = ?", [kiosk_id])
        return (row[0]["high_water"], self._obj(row[0]["beyond"])) if row else (0, [])

    def event_rows(self, *, kiosk_id: str | None = None, visit_id: str | None = None) -> list[dict]:
        conds, params = [], []
        for col, val in (("kiosk_id", kiosk_id), ("visit_id", visit_id)):
            if val is not None:
                conds.append(f"{col} = ?")
                params.append(val)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        out = []
        for r in self._rows(f"SELECT * FROM events {where} ORDER BY kiosk_id, seq", params):
            r = dict(r)
            for key in ("at", "at_corrected", "received_at"):
                r[key] = self._dt(r[key])
            for key in ("synced", "estimated"):
                r[key] = bool(r[key])
            if r["phone_verified"] is not None:
                r["phone_verified"] = bool(r["phone_verified"])
            r["person"] = self._obj(r["person"])
            self._declaration_out(r)
            out.append(r)
        return out

    def dead_letter_rows(self, limit: int = 100) -> list[dict]:
        out = []
        for r in self._rows(f"SELECT * FROM dead_letters ORDER BY id DESC LIMIT {int(limit)}"):
            r = dict(r)
            r["received_at"] = self._dt(r["received_at"])
            r["payload"] = bytes(r["payload"])
            out.append(r)
        return out

    def counts(self) -> dict[str, int]:
        return {t: self._rows(f"SELECT count(*) AS n FROM {t}")[0]["n"]
                for t in ("events", "visits", "dead_letters", "fleet")}


def dumps(obj: Any) -> str:
    return compact_json(obj)
