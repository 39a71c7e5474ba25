"""What the central operator asks the store: visits, tracing, daily figures, fleet health.

Each function returns plain dicts with ISO 8601 UTC times (``--json`` prints them as they are);
the CLI masks them for the screen. Usage, with an open :class:`~.store.Store`::

    trace(store, "cccd", "079190000001", days=14)
    # [{'person': {...}, 'overlap_s': 2520.0, 'first_overlap': '…', 'last_overlap': '…',
    #   'venues': ['cho-thu'], 'visits': 1, 'estimated': False, 'open': False, 'corrected': False}]

Shared time is a union: time shared twice (the index at two venues at once) counts once.

>>> at = lambda hour, minute=0: datetime(2026, 8, 19, hour, minute, tzinfo=UTC)
>>> union_seconds([(at(1), at(2)), (at(1, 30), at(3))])
7200.0
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..plumbing.tomlconfig import DEFAULT_TIMEZONE
from ..wire.event import canonical_phone
from .store import TRACE_PHONE, UTC, Store, iso, seq_gaps
from .store_figures import LEVELS

DEFAULT_TRACE_DAYS = 14
#: The longest span of figures asked at once (a year and a day).
MAX_FIGURE_DAYS = 366


def _visit(r: dict) -> dict:
    return {"visit_id": r["visit_id"], "kiosk_id": r["kiosk_id"], "venue_id": r["venue_id"], "person": r["person"],
            "check_in_at": iso(r["check_in_at"]), "check_out_at": iso(r["check_out_at"]),
            "check_out_type": r["check_out_type"], "check_out_estimated": r["check_out_estimated"],
            "corrected": r["check_in_corrected"] or r["check_out_corrected"], "method": r.get("method"),
            "phone_verified": r.get("phone_verified"), "phone_check_reason": r.get("phone_check_reason"),
            "declaration": r.get("declaration")}


def visits(store: Store, venue: str | None = None, limit: int | None = None) -> list[dict]:
    """Visits, newest first; times are corrected where a synced event of the boot allowed it."""
    return [_visit(r) for r in store.visit_rows(venue, limit)]


def trace(store: Store, kind: str, person_id: str, days: int = DEFAULT_TRACE_DAYS, *,
          now: datetime | None = None) -> list[dict]:
    """The contacts of ``kind:person_id`` or, with ``kind`` ``"phone"``, of everyone checked in with
    that phone number (typed in any form :func:`mqtt.wire.event.canonical_phone` reads): every other
    person whose visit at the same venue overlapped an index visit still going within the last
    ``days`` days. One dict per contact person (``kind:id``), longest shared time first:

    - ``person``: the person of their latest overlapping visit (as in the event);
    - ``overlap_s``: the seconds they shared with the index, the union of the overlaps of all their
      visits with all the index visits (time shared twice, e.g. while the index was checked in at
      two venues at once, counts once);
    - ``first_overlap``, ``last_overlap``: when the first shared time began and the last ended;
    - ``venues``: where they shared it (sorted ids); ``visits``: how many of their visits overlapped;
    - ``estimated``: some shared time rests on an inferred check-out (theirs or the index's);
    - ``open``: one of their overlapping visits is still open (they may still be there);
    - ``corrected``: some shared time rests on a clock-corrected time (theirs or the index's);
    - ``declaration_flagged``: a health declaration of one of their overlapping visits flagged them.

    Open visits count as lasting until ``now``; visits that only touch (one leaves the instant the
    other arrives) do not overlap. Raises ValueError for a malformed phone number.
    """
    if kind == TRACE_PHONE:
        person_id = canonical_phone(person_id)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return contacts(store.trace_rows(kind, person_id, now - timedelta(days=days), now), now)


def contacts(pairs: list[dict], now: datetime) -> list[dict]:
    """The (index visit, contact visit) pairs of :meth:`Store.trace_rows` as one entry per contact
    person (``trace``'s, with ``visits`` the number of their overlapping visits)."""
    return [{**entry, "visits": len({r["visit_id"] for r in rows})} for entry, rows in _by_contact(pairs, now)]


def _by_contact(pairs: list[dict], now: datetime) -> list[tuple[dict, list[dict]]]:
    """Each contact person's entry (without ``visits``) and their overlapping visit rows, longest
    shared time first: the one place shared time is reckoned. (Most contacts share one visit with
    the index: that case is reckoned without the union's generality.)"""
    by_person: dict[tuple[str, str], list[tuple[dict, datetime, datetime]]] = defaultdict(list)
    for r in pairs:
        start = max(r["check_in_at"] or r["check_out_at"], r["index_check_in_at"] or r["index_check_out_at"])
        end = min(r["check_out_at"] or now, r["index_check_out_at"] or now)
        if end > start:
            by_person[(r["person_kind"], r["person_id"])].append((r, start, end))
    out = []
    for key, shared in by_person.items():
        if len(shared) == 1:
            (r, first, last), = shared
            rows = [r]
            latest, overlap_s, venues = r, (last - first).total_seconds(), [r["venue_id"]]
        else:
            rows = [r for r, _, _ in shared]
            latest = max(rows, key=lambda r: (r["check_in_at"] or r["check_out_at"], r["visit_id"]))
            overlap_s = union_seconds([(s, e) for _, s, e in shared])
            first, last = min(s for _, s, _ in shared), max(e for _, _, e in shared)
            venues = sorted({r["venue_id"] for r in rows})
        out.append((key, {
            "person": latest["person"], "overlap_s": round(overlap_s, 3),
            "first_overlap": iso(first), "last_overlap": iso(last), "venues": venues,
            "estimated": any(r["check_out_estimated"] or r["index_estimated"] for r in rows),
            "open": any(r["check_out_at"] is None for r in rows),
            "corrected": any(r["check_in_corrected"] or r["check_out_corrected"] or r["index_in_corrected"]
                             or r["index_out_corrected"] for r in rows),
            "declaration_flagged": any(r.get("declaration_flagged") for r in rows),
        }, rows))
    out.sort(key=lambda kc: (-kc[1]["overlap_s"], kc[1]["first_overlap"], kc[0]))
    return [(entry, rows) for _, entry, rows in out]


def case(store: Store, kind: str, person_id: str, days: int = DEFAULT_TRACE_DAYS, *,
         now: datetime | None = None) -> dict:
    """What a tracer opens a case with (the console's contacts, ``GET /api/v1/contacts``):
    ``person`` (of the index's latest visit in the window; None without one), ``visits`` (the
    index's visits in the window, first first) and ``contacts``, one per person as :func:`trace`
    gives them but with ``visits`` the list of their overlapping visits (each once, first first).
    Raises ValueError for a malformed phone number."""
    if kind == TRACE_PHONE:
        person_id = canonical_phone(person_id)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    since = now - timedelta(days=days)
    index = store.person_visit_rows(kind, person_id, since, now)
    out = []
    for entry, rows in _by_contact(store.trace_rows(kind, person_id, since, now), now):
        once = rows if len(rows) == 1 else sorted({r["visit_id"]: r for r in rows}.values(), key=_visit_start)
        entry["visits"] = [_visit(r) for r in once]
        out.append(entry)
    return {"person": index[-1]["person"] if index else None, "visits": [_visit(r) for r in index],
            "contacts": out}


#: The most people a search by name lists (the latest seen first).
MAX_NAMED = 50


def name_forms(text: str) -> list[str]:
    """The forms of a typed name to look for: as typed, and each word capitalised (names are
    stored as the card has them: "Nguyễn Thị Mẫu"), in NFC, spaces collapsed.

    >>> name_forms("  nguyễn   thị mẫu ")
    ['nguyễn thị mẫu', 'Nguyễn Thị Mẫu']
    """
    typed = " ".join(unicodedata.normalize("NFC", text).split())
    return list(dict.fromkeys([typed, " ".join(w[:1].upper() + w[1:].lower() for w in typed.split(" "))]))


def persons_named(store: Store, name: str, *, limit: int = MAX_NAMED) -> list[dict]:
    """The people checked in under ``name`` (exactly, in any capitalisation :func:`name_forms`
    gives): one entry each, the latest seen first: ``person`` (of their latest visit),
    ``last_venue``, ``last_at`` and ``visits`` (how many of the visits found)."""
    found: dict[tuple[str, str], dict] = {}
    for r in store.named_visit_rows(name_forms(name)):
        entry = found.setdefault((r["person_kind"], r["person_id"]), {
            "person": r["person"], "last_venue": r["venue_id"], "last_at": iso(_visit_start(r)), "visits": 0})
        entry["visits"] += 1
    return list(found.values())[:limit]


def presence(store: Store, venue_id: str, start: datetime, end: datetime, *, now: datetime | None = None) -> list[dict]:
    """Everyone at ``venue_id`` between ``start`` and ``end`` (a venue exposure): one entry per
    person, longest there first: ``person`` (of their latest visit), ``present_s`` (the union of
    their time there within the window), ``first_in``, ``last_out`` (None while still there),
    ``estimated``, ``visits`` (each visit, first first)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    by_person: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in store.presence_rows(venue_id, start, end, now):
        by_person[(r["person_kind"], r["person_id"])].append(r)
    out = []
    for key, rows in by_person.items():
        rows.sort(key=_visit_start)
        spans = [(max(_visit_start(r), start), min(r["check_out_at"] or now, end)) for r in rows]
        still_there = any(r["check_out_at"] is None for r in rows)
        out.append((key, {
            "person": rows[-1]["person"],
            "present_s": round(union_seconds([(a, b) for a, b in spans if b > a]), 3),
            "first_in": iso(_visit_start(rows[0])),
            "last_out": None if still_there else iso(max(r["check_out_at"] for r in rows)),
            "estimated": any(r["check_out_estimated"] for r in rows),
            "visits": [_visit(r) for r in rows],
        }))
    out.sort(key=lambda kc: (-kc[1]["present_s"], kc[1]["first_in"], kc[0]))
    return [entry for _, entry in out]


def _visit_start(r: dict) -> datetime:
    return r["check_in_at"] or r["check_out_at"]


def union_seconds(spans: list[tuple[datetime, datetime]]) -> float:
    """How long the union of the ``(start, end)`` intervals lasts, in seconds (overlaps counted once)."""
    total, reached = timedelta(), None
    for start, end in sorted(spans):
        if reached is None or start > reached:
            total += end - start
            reached = end
        elif end > reached:
            total += end - reached
            reached = end
    return total.total_seconds()


def stats(store: Store, venue: str | None = None, by: str = "day", tz: str = "Asia/Ho_Chi_Minh") -> list[dict]:
    """Check-ins per venue per local day (``YYYY-MM-DD``) or hour (``YYYY-MM-DDTHH``) in ``tz``."""
    if by not in ("day", "hour"):
        raise ValueError('by must be "day" or "hour"')
    zone = ZoneInfo(tz)
    counts: Counter = Counter()
    for venue_id, hour, n in store.checkins_by_hour(venue):
        local = hour.astimezone(zone)
        counts[(venue_id, local.strftime("%Y-%m-%d" if by == "day" else "%Y-%m-%dT%H"))] += n
    return [{"venue_id": v, by: period, "check_ins": n} for (v, period), n in sorted(counts.items())]


def fleet(store: Store, *, now: datetime | None = None) -> list[dict]:
    """Each kiosk: status, last seen, its outbox (from the last health), seq high-water mark and
    gaps, and its latest self-test."""
    now = now or datetime.now(UTC)
    out = []
    for r in store.fleet_rows():
        health = r["health"] if isinstance(r["health"], dict) else {}
        outbox = health.get("outbox") if isinstance(health.get("outbox"), dict) else {}
        depth = None
        if outbox:
            depth = sum(v for k, v in outbox.items() if k in ("pending", "sent") and isinstance(v, int))
        oldest = outbox.get("oldest_undelivered_s")
        out.append({
            "kiosk_id": r["kiosk_id"], "status": r["status"], "status_at": iso(r["status_at"]),
            "last_seen": iso(r["last_seen"]),
            "last_seen_s": round((now - r["last_seen"]).total_seconds(), 1) if r["last_seen"] else None,
            "outbox_depth": depth, "oldest_undelivered_s": oldest if isinstance(oldest, (int, float)) else None,
            "health_at": iso(r["health_at"]), "version": health.get("version"),
            "seq_high_water": r["high_water"], "seq_max": r["max_seq"],
            "gaps": seq_gaps(r["high_water"], r["beyond"]),
            "selftest": selftest_summary(r["selftest"], r["selftest_at"]),
        })
    return out


def selftest_summary(report: dict | None, received_at: datetime | None) -> dict | None:
    """The latest self-test (stored only once it passed validate_selftest): when,
    passed or not, and the checks that failed or warned."""
    if report is None:
        return None
    return {"at": report["at"], "received_at": iso(received_at), "passed": report["passed"],
            "version": report["version"],
            "failed": [c["name"] for c in report["checks"] if c["status"] == "fail"],
            "warnings": [c["name"] for c in report["checks"] if c["status"] == "warn"]}


def dead_letters(store: Store, limit: int = 100) -> list[dict]:
    return [{"id": r["id"], "received_at": iso(r["received_at"]), "topic": r["topic"], "kiosk_id": r["kiosk_id"],
             "reason": r["reason"], "detail": r["detail"], "payload_size": r["payload_size"],
             "payload": r["payload"].decode("utf-8", errors="replace")} for r in store.dead_letter_rows(limit)]


def figures(store: Store, *, by: str = "day", level: str = "venue", venue: str | None = None,
            province: str | None = None, district: str | None = None, date_from: date | None = None,
            date_to: date | None = None, tz: str = DEFAULT_TIMEZONE, today: date | None = None) -> list[dict]:
    """The steering committees' figures (``GET /api/v1/stats``), aggregates only: per ``level``
    (``venue``; ``district``; ``province``, from the fleet registry's ``[venues]``) and local day
    (``by="day"``) or week (``"week"``, ``day`` its Monday, ``week`` ISO ``YYYY-Www``), from
    ``date_from`` to ``date_to`` inclusive (default: the last 7 days to today, in ``tz``):
    ``check_ins``, distinct ``visitors``, ``peak_occupancy`` (the most people inside at once:
    in a district or province, inside any of its venues), ``kiosks`` (that checked anyone in)
    and, above a venue, ``venues`` (that did). Only where ``venue``, or ``province`` (and
    ``district``) says. Days are reckoned at the zone's offset on ``date_from`` (Vietnam keeps
    one all year). Kept by the store (:mod:`.store_figures`), so a day is read from the visits once."""
    if by not in ("day", "week"):
        raise ValueError('by must be "day" or "week"')
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if district is not None and province is None:
        raise ValueError("a district is named with its province")
    zone = ZoneInfo(tz)
    today = today or datetime.now(zone).date()
    date_to = date_to or today
    date_from = date_from or date_to - timedelta(days=6)
    if date_from > date_to:
        raise ValueError("from is after to")
    if (date_to - date_from).days > MAX_FIGURE_DAYS:
        raise ValueError(f"at most {MAX_FIGURE_DAYS} days at once")
    week = by == "week"
    if week:    # whole weeks, so a week's distinct visitors are the week's
        date_from -= timedelta(days=date_from.weekday())
        date_to += timedelta(days=6 - date_to.weekday())
    start = datetime.combine(date_from, time(), zone)
    offset_s = int(start.utcoffset().total_seconds())
    until = datetime.combine(date_to + timedelta(days=1), time(), zone)
    rows = store.figure_rows(start.astimezone(UTC), until.astimezone(UTC), offset_s, week=week, level=level,
                             venue=venue, district=district, province=province)
    places = {v.venue_id: v for v in store.venue_list()} if level == "venue" else {}
    out = []
    for r in sorted(rows, key=lambda r: (r["day"], r["scope"])):
        if level == "venue":
            place = places.get(r["scope"])
            row = {"venue_id": r["scope"], "venue_name": place.name if place else "",
                   "district": place.district if place else "", "province": place.province if place else ""}
        elif level == "district":
            row_province, _, row_district = r["scope"].partition("|")
            row = {"province": row_province, "district": row_district}
        else:
            row = {"province": r["scope"]}
        row |= {"day": r["day"], "check_ins": r["check_ins"], "visitors": r["visitors"],
                "peak_occupancy": r["peak"], "kiosks": r["kiosks"]}
        if level != "venue":
            row["venues"] = r["venues"]
        if week:
            year, number, _ = date.fromisoformat(r["day"]).isocalendar()
            row["week"] = f"{year}-W{number:02d}"
        out.append(row)
    return out
