"""The steering committees' figures, kept so that a province's three weeks load at once: where each
venue is (``venues``), which venue-days changed (``figure_marks``) and the figures already reckoned
(``figure_cache``), tables of migration 7 in both backends.

How it stays right without reading every visit on every page load:

- each ingest that writes a visit bumps the mark ``(venue, UTC day)`` of every day its old and its
  new span cover (an open visit's: :data:`OPEN_COUNTED` from its check-in), in the ingest's own
  transaction;
- a cached row holds the sum of the marks it was reckoned from (and, above a venue, the version of
  the venue list); it is used only while that sum is still the sum: marks only grow, so an equal
  sum means that nothing it rests on changed. Otherwise it is reckoned again from the visits;
- marks are read before the visits they guard, so a row can only be older than its marks say,
  never newer: a race costs a second reckoning, never a stale figure.

Retention deletes visits, not marks: the figures of a purged fortnight stay (they hold no person).

Levels: ``venue``, ``district`` (scope ``province|district``) and ``province``; a venue not in the
fleet registry's ``[venues]`` is counted under the province and district ``""``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

LEVELS = ("venue", "district", "province")
#: An open visit counts as inside for at most this long after its check-in: the longest a kiosk
#: keeps a visit open (``[rules] max_stay_h`` ≤ 7 days) before it sends the auto check-out, which
#: may not have reached the centre yet. When it does, the days it covered are reckoned again.
OPEN_COUNTED = timedelta(days=7)
#: A visit marks at most this many days (the latest; a closed visit can last as long as its times say).
MAX_MARK_DAYS = 400
#: Scopes reckoned by one statement (the venue list of a district or a province is its own).
_CHUNK_SCOPES = 64
FIGURE_COLUMNS = ("check_ins", "visitors", "kiosks", "venues", "peak")
CACHE_COLUMNS = ("offset_s", "week", "level", "scope", "day", "gen", "venues_gen") + FIGURE_COLUMNS


#: The longest venue, district or province name the registry takes.
MAX_PLACE_NAME = 100


def is_place_name(text: str) -> bool:
    """A name of a venue, district or province: printable, at most :data:`MAX_PLACE_NAME`
    characters, no ``|`` (which joins a district to its province); ``""`` is "not placed".

    >>> is_place_name("Phan Rang–Tháp Chàm"), is_place_name("a|b"), is_place_name("x\\n")
    (True, False, False)
    """
    return len(text) <= MAX_PLACE_NAME and "|" not in text and text.isprintable()


@dataclass(frozen=True)
class Venue:
    venue_id: str
    name: str = ""
    district: str = ""
    province: str = ""


def scope_of(level: str, venue_id: str, district: str | None, province: str | None) -> str:
    if level == "venue":
        return venue_id
    if level == "district":
        return f"{province or ''}|{district or ''}"
    return province or ""


class FigureRecords:
    """Statements of the figures' tables, mixed into :class:`~mqtt.collector.store.SqlStore`."""

    _rows: Any
    _exec: Any
    _insert: Any
    _transaction: Any
    _in: Any
    _t: Any
    _dt: Any
    _local_day_sql: Any
    _plus_seconds_sql: Any

    # -- venues -----------------------------------------------------------------------------
    def set_venues(self, venues: Iterable[Venue]) -> int:
        """Record where each venue is (name, district, province); returns how many changed. A
        venue no longer listed keeps its row: its figures stay where they were counted."""
        with self._transaction():
            stored = {r["venue_id"]: Venue(r["venue_id"], r["name"], r["district"], r["province"])
                      for r in self._rows("SELECT venue_id, name, district, province FROM venues")}
            changed = sorted((v for v in venues if stored.get(v.venue_id) != v), key=lambda v: v.venue_id)
            if changed:
                gen = self._venues_gen() + 1
                self._insert("venues", ("venue_id", "name", "district", "province", "changed_gen"),
                             [(v.venue_id, v.name, v.district, v.province, gen) for v in changed],
                             "ON CONFLICT (venue_id) DO UPDATE SET name = excluded.name, district = excluded.district, "
                             "province = excluded.province, changed_gen = excluded.changed_gen")
            return len(changed)

    def venue_list(self) -> list[Venue]:
        return [Venue(r["venue_id"], r["name"], r["district"], r["province"])
                for r in self._rows("SELECT venue_id, name, district, province FROM venues ORDER BY venue_id")]

    def _venues_gen(self) -> int:
        return self._rows("SELECT COALESCE(max(changed_gen), 0) AS g FROM venues")[0]["g"]

    # -- marks (written by ingest, in its transaction) ---------------------------------------
    def _span(self, r: dict) -> tuple[str, datetime, datetime | None]:
        """(venue, start, end or None while open) of a visit row."""
        return r["venue_id"], self._dt(r["check_in_at"] or r["check_out_at"]), self._dt(r["check_out_at"])

    def _visit_spans(self, where: str, params: list) -> list[tuple[str, datetime, datetime | None]]:
        return [self._span(r) for r in
                self._rows(f"SELECT venue_id, check_in_at, check_out_at FROM visits WHERE {where}", params)]

    def _mark_figures(self, spans: Iterable[tuple[str, datetime, datetime | None]]) -> None:
        """Bump the mark of every (venue, UTC day) the spans cover (an open one's :data:`OPEN_COUNTED`).
        Days as ordinals while collecting (ingest runs this for every batch)."""
        keys: set[tuple[str, int]] = set()
        open_days = OPEN_COUNTED.days
        for venue, start, end in spans:
            first = start.toordinal()       # the UTC date: stored times come back in UTC
            last = max(first, end.toordinal()) if end is not None else first + open_days
            keys.update((venue, day) for day in range(max(first, last - MAX_MARK_DAYS + 1), last + 1))
        if keys:
            iso_day = {day: date.fromordinal(day).isoformat() for day in {d for _, d in keys}}
            self._insert("figure_marks", ("venue_id", "day", "gen"),
                         [(v, iso_day[d], 1) for v, d in sorted(keys)],
                         "ON CONFLICT (venue_id, day) DO UPDATE SET gen = figure_marks.gen + 1")

    def mark_all_figures(self) -> int:
        """Mark every venue-day the stored visits cover, from scratch (migration 7 and visits loaded
        without ingest); returns the number of marks."""
        with self._transaction():
            self._exec("DELETE FROM figure_marks")
            self._exec("DELETE FROM figure_cache")
            day_in = self._local_day_sql("COALESCE(check_in_at, check_out_at)", 0)
            day_out = self._local_day_sql("check_out_at", 0)
            self._exec(f"INSERT INTO figure_marks (venue_id, day, gen) SELECT DISTINCT venue_id, {day_in}, 1 "
                       f"FROM visits UNION SELECT DISTINCT venue_id, {day_out}, 1 FROM visits "
                       "WHERE check_out_at IS NOT NULL")
            # the days between, of visits longer than a day (rare) or still open
            self._mark_figures(self._visit_spans(f"check_out_at IS NULL OR {day_out} > "
                                                 f"{self._local_day_sql('check_in_at', 86_400)}", []))
            return self._rows("SELECT count(*) AS n FROM figure_marks")[0]["n"]

    # -- figures ----------------------------------------------------------------------------
    def figure_rows(self, since: datetime, until: datetime, offset_s: int, *, week: bool = False,
                    level: str = "venue", venue: str | None = None, district: str | None = None,
                    province: str | None = None) -> list[dict]:
        """Per scope of ``level`` and local period (day, or week from its Monday; ``since`` and
        ``until`` are local midnights) in ``[since, until)``: ``check_ins``, distinct ``visitors``
        and ``kiosks`` of the check-ins, ``venues`` that checked anyone in, and the ``peak`` of
        people inside at once (in a district or province: inside any of its venues). From the
        cache where nothing changed, reckoned again (and kept) where something did. Filters:
        ``venue``, or ``province`` and optionally ``district``. Rows with neither a check-in nor
        anyone inside are left out."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        step = timedelta(days=7 if week else 1)
        periods = []
        at = since
        while at < until:
            periods.append(at)
            at += step
        if not periods:
            return []
        wanted, scope_venues = self._current_gens(periods, step, level, venue, district, province)
        if not wanted:
            return []
        venues_gen = 0 if level == "venue" else self._venues_gen()
        local = timedelta(seconds=offset_s)
        day_of = {p: (p + local).date().isoformat() for p in periods}
        scopes = sorted({scope for scope, _ in wanted})
        cached = {}
        for i in range(0, len(scopes), 500):
            where, params = self._in("scope", scopes[i:i + 500])
            for r in self._rows(f"SELECT {', '.join(CACHE_COLUMNS)} FROM figure_cache WHERE offset_s = ? AND week = ? "
                                f"AND level = ? AND day >= ? AND day <= ? AND {where}",
                                [offset_s, int(week), level, day_of[periods[0]], day_of[periods[-1]], *params]):
                cached[(r["scope"], r["day"])] = r
        out, stale = [], defaultdict(list)
        for (scope, period), gen in wanted.items():
            row = cached.get((scope, day_of[period]))
            if row is not None and row["gen"] == gen and row["venues_gen"] == venues_gen:
                out.append(row)
            else:
                stale[scope].append(period)
        if stale:
            out += self._reckon(stale, wanted, scope_venues, step, offset_s, week, level, venues_gen, day_of)
        return [{k: r[k] for k in ("scope", "day", *FIGURE_COLUMNS)} for r in out if r["check_ins"] or r["peak"]]

    def _current_gens(self, periods: list[datetime], step: timedelta, level: str, venue: str | None,
                      district: str | None, province: str | None) -> tuple[dict, dict[str, set[str]]]:
        """(scope, period start) → the sum of the marks of the UTC days it overlaps, for every
        scope and period with a mark (which is every one any visit touched); and each scope's
        venues with a mark in the window."""
        first_day = periods[0].astimezone(UTC).date()
        last_day = (periods[-1] + step - timedelta(microseconds=1)).astimezone(UTC).date()
        where, params = "", []
        if venue is not None:
            where, params = " AND m.venue_id = ?", [venue]
        elif province is not None:
            where, params = " AND COALESCE(n.province, '') = ?", [province]
            if district is not None:
                where, params = where + " AND COALESCE(n.district, '') = ?", params + [district]
        rows = self._rows("SELECT m.venue_id, m.day, m.gen, n.district, n.province FROM figure_marks m "
                          f"LEFT JOIN venues n ON n.venue_id = m.venue_id WHERE m.day >= ? AND m.day <= ?{where}",
                          [first_day.isoformat(), last_day.isoformat(), *params])
        start0, step_s = periods[0], step.total_seconds()
        gens: dict[tuple[str, datetime], int] = defaultdict(int)
        venues: dict[str, set[str]] = defaultdict(set)
        for r in rows:
            scope = scope_of(level, r["venue_id"], r["district"], r["province"])
            venues[scope].add(r["venue_id"])
            day_start = datetime.combine(date.fromisoformat(r["day"]), time(), UTC)
            # the periods [day_start, day_start + 1 day) overlaps
            lo = int((day_start - start0).total_seconds() // step_s)
            hi = int((day_start + timedelta(days=1) - timedelta(microseconds=1) - start0).total_seconds() // step_s)
            for k in range(max(lo, 0), min(hi, len(periods) - 1) + 1):
                gens[(scope, periods[k])] += r["gen"]
        return gens, venues

    def _reckon(self, stale: dict[str, list[datetime]], wanted: dict, scope_venues: dict[str, set[str]],
                step: timedelta, offset_s: int, week: bool, level: str, venues_gen: int,
                day_of: dict[datetime, str]) -> list[dict]:
        """Reckon the stale (scope, period)s from the visits, scopes with the same stale periods
        together, over the span of those periods; keep them in the cache; return them."""
        by_span: dict[tuple[datetime, datetime], list[str]] = defaultdict(list)
        for scope, periods in stale.items():
            by_span[(min(periods), max(periods) + step)].append(scope)
        out = []
        for (start, end), scopes in sorted(by_span.items()):
            for i in range(0, len(scopes), _CHUNK_SCOPES):
                chunk = scopes[i:i + _CHUNK_SCOPES]
                got = self.reckon_figures(start, end, offset_s, week=week, level=level,
                                          venues=sorted(set().union(*(scope_venues[c] for c in chunk))))
                for scope in chunk:
                    for period in stale[scope]:
                        key = (scope, day_of[period])
                        r = got.get(key, dict.fromkeys(FIGURE_COLUMNS, 0))
                        out.append({"offset_s": offset_s, "week": int(week), "level": level, "scope": scope,
                                    "day": key[1], "gen": wanted[(scope, period)], "venues_gen": venues_gen,
                                    **{k: r[k] for k in FIGURE_COLUMNS}})
        with self._transaction():
            self._insert("figure_cache", CACHE_COLUMNS, [tuple(r[c] for c in CACHE_COLUMNS) for r in out],
                         "ON CONFLICT (offset_s, week, level, scope, day) DO UPDATE SET "
                         + ", ".join(f"{c} = excluded.{c}" for c in ("gen", "venues_gen", *FIGURE_COLUMNS)))
        return out

    def reckon_figures(self, since: datetime, until: datetime, offset_s: int, *, week: bool, level: str,
                       venues: list[str]) -> dict[tuple[str, str], dict]:
        """The figures of ``venues`` (grouped by ``level``'s scope) per local period of
        ``[since, until)``, straight from the visits: ``{(scope, day): {check_ins, visitors,
        kiosks, venues, peak}}``. Check-ins through the venue's check-in index; the people inside
        through its check-out and open-visit indexes, so the cost follows the window."""
        if not venues:
            return {}
        if level == "venue":
            scope, join = "x.venue_id", ""
        else:
            scope = ("COALESCE(n.province, '')" if level == "province"
                     else "COALESCE(n.province, '') || '|' || COALESCE(n.district, '')")
            join = " LEFT JOIN venues n ON n.venue_id = x.venue_id"
        s, u = self._t(since), self._t(until)
        inside, in_params = self._in("x.venue_id", venues)
        counts = self._rows(
            f"SELECT {scope} AS scope, {self._local_day_sql('x.check_in_at', offset_s, week)} AS day, "
            "count(*) AS check_ins, count(DISTINCT x.person_kind || ':' || x.person_id) AS visitors, "
            "count(DISTINCT x.kiosk_id) AS kiosks, count(DISTINCT x.venue_id) AS venues "
            f"FROM visits x{join} WHERE {inside} AND x.check_in_at >= ? AND x.check_in_at < ? GROUP BY 1, 2",
            [*in_params, s, u])
        # The people inside, from the moves in time order per scope: +1 at each check-in (or the
        # window's start), -1 at each check-out (an open visit's: OPEN_COUNTED after its check-in);
        # a check-out sorts before a check-in at the same instant (they never met).
        open_since, open_until = self._t(since - OPEN_COUNTED), self._t(until - OPEN_COUNTED)
        open_out = self._plus_seconds_sql("x.check_in_at", int(OPEN_COUNTED.total_seconds()))
        moves = self._rows(
            f"SELECT scope, t, d FROM ("
            f"  SELECT {scope} AS scope, CASE WHEN x.check_in_at < ? THEN ? ELSE x.check_in_at END AS t, 1 AS d"
            f"  FROM visits x{join} WHERE {inside} AND x.check_out_at > ? AND x.check_in_at < ?"
            "  UNION ALL"
            f"  SELECT {scope}, CASE WHEN x.check_in_at < ? THEN ? ELSE x.check_in_at END, 1"
            f"  FROM visits x{join} WHERE {inside} AND x.check_out_at IS NULL"
            "    AND x.check_in_at < ? AND x.check_in_at > ?"
            "  UNION ALL"
            f"  SELECT {scope}, x.check_out_at, -1 FROM visits x{join}"
            f"  WHERE {inside} AND x.check_out_at > ? AND x.check_out_at < ? AND x.check_in_at < ?"
            "  UNION ALL"
            f"  SELECT {scope}, {open_out}, -1 FROM visits x{join}"
            f"  WHERE {inside} AND x.check_out_at IS NULL AND x.check_in_at > ? AND x.check_in_at < ?"
            ") moves ORDER BY scope, t, d",
            [s, s, *in_params, s, u, s, s, *in_params, u, open_since, *in_params, s, u, u,
             *in_params, open_since, open_until])
        step = timedelta(days=7 if week else 1)
        local = timedelta(seconds=offset_s)
        starts = []
        at = since
        while at < until:
            starts.append(at)
            at += step
        days = [(p + local).date().isoformat() for p in starts]
        bounds = [self._t(p) for p in starts[1:]]       # as stored: compared with the moves' times
        out: dict[tuple[str, str], dict] = {}

        def figure(key: tuple[str, str]) -> dict:
            return out.setdefault(key, {"check_ins": 0, "visitors": 0, "kiosks": 0, "venues": 0, "peak": 0})
        for r in counts:
            figure((r["scope"], r["day"])).update({k: r[k] for k in ("check_ins", "visitors", "kiosks", "venues")})
        for scope_id, group in itertools.groupby(moves, key=lambda r: r["scope"]):
            peak = _peaks(((r["t"], r["d"]) for r in group), bounds)
            for k, most in enumerate(peak):
                if most:
                    figure((scope_id, days[k]))["peak"] = most
        return out


def _peaks(moves: Iterable[tuple[Any, int]], bounds: list[Any]) -> list[int]:
    """The most people inside at once in each period, from the ``(time, ±1)`` moves in order
    (times and ``bounds``, the starts of the periods after the first, as the store keeps them).
    Whoever is inside when a period begins counts in it (in at 23:00, out at 06:00: both days);
    whoever leaves as it begins does not.

    >>> _peaks([(1, 1), (2, 1), (3, -1), (4, -1), (4, 1), (9, -1)], [4, 8])
    [2, 1, 1]
    """
    peaks = [0] * (len(bounds) + 1)
    period, inside = 0, 0
    for t, d in moves:
        while period < len(bounds) and (t > bounds[period] or (t == bounds[period] and d > 0)):
            period += 1
            peaks[period] = inside
        inside += d
        if d > 0 and inside > peaks[period]:
            peaks[period] = inside
    while period < len(bounds):
        period += 1
        peaks[period] = inside
    return peaks
