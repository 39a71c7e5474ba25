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

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..wire.event import canonical_phone
from .store import TRACE_PHONE, UTC, Store, iso, seq_gaps

DEFAULT_TRACE_DAYS = 14


def _visit(r: dict) -> dict:
    return {"visit_id": r["visit_id"], "kiosk_id": r["kiosk_id"], "venue_id": r["venue_id"], "person": r["person"],
            "check_in_at": iso(r["check_in_at"]), "check_out_at": iso(r["check_out_at"]),
            "check_out_type": r["check_out_type"], "check_out_estimated": r["check_out_estimated"],
            "corrected": r["check_in_corrected"] or r["check_out_corrected"]}


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
    - ``corrected``: some shared time rests on a clock-corrected time (theirs or the index's).

    Open visits count as lasting until ``now``; visits that only touch (one leaves the instant the
    other arrives) do not overlap. Raises ValueError for a malformed phone number.
    """
    if kind == TRACE_PHONE:
        person_id = canonical_phone(person_id)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return contacts(store.trace_rows(kind, person_id, now - timedelta(days=days), now), now)


def contacts(pairs: list[dict], now: datetime) -> list[dict]:
    """The (index visit, contact visit) pairs of :meth:`Store.trace_rows` as one entry per contact person."""
    by_person: dict[tuple[str, str], list[tuple[dict, datetime, datetime]]] = defaultdict(list)
    for r in pairs:
        start = max(r["check_in_at"] or r["check_out_at"], r["index_check_in_at"] or r["index_check_out_at"])
        end = min(r["check_out_at"] or now, r["index_check_out_at"] or now)
        if end > start:
            by_person[(r["person_kind"], r["person_id"])].append((r, start, end))
    out = []
    for key, shared in by_person.items():
        rows = [r for r, _, _ in shared]
        latest = max(rows, key=lambda r: (r["check_in_at"] or r["check_out_at"], r["visit_id"]))
        out.append((key, {
            "person": latest["person"],
            "overlap_s": round(union_seconds([(s, e) for _, s, e in shared]), 3),
            "first_overlap": iso(min(s for _, s, _ in shared)), "last_overlap": iso(max(e for _, _, e in shared)),
            "venues": sorted({r["venue_id"] for r in rows}),
            "visits": len({r["visit_id"] for r in rows}),
            "estimated": any(r["check_out_estimated"] or r["index_estimated"] for r in rows),
            "open": any(r["check_out_at"] is None for r in rows),
            "corrected": any(r["check_in_corrected"] or r["check_out_corrected"] or r["index_in_corrected"]
                             or r["index_out_corrected"] for r in rows),
        }))
    out.sort(key=lambda kc: (-kc[1]["overlap_s"], kc[1]["first_overlap"], kc[0]))
    return [c for _, c in out]


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
