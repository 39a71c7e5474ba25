"""What the central operator asks the store: visits, tracing, daily figures, fleet health.

Each function returns plain dicts with ISO 8601 UTC times (``--json`` prints them as they are);
the CLI masks them for the screen.

>>> trace(store, "cccd", "079190000001", days=14)
[{'person': {...}, 'venue_id': 'cho-thu', 'overlap_minutes': 42.0, 'estimated': False, ...}]
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .store import UTC, Store, iso, seq_gaps

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
    """Everyone whose visit at the same venue overlapped a visit of ``kind:person_id`` that was
    still going within the last ``days`` days: one dict per (co-visitor visit, index visit).

    Open visits count as lasting until ``now``; visits that only touch (one leaves the instant
    the other arrives) do not overlap. ``estimated``: either check-out was inferred;
    ``open``: either visit is still open.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    out = []
    for r in store.trace_rows(kind, person_id, now - timedelta(days=days), now):
        start = r["check_in_at"] or r["check_out_at"]
        end = r["check_out_at"] or now
        index_start = r["index_check_in_at"] or r["index_check_out_at"]
        index_end = r["index_check_out_at"] or now
        overlap_start, overlap_end = max(start, index_start), min(end, index_end)
        out.append({
            "person": r["person"], "venue_id": r["venue_id"], "kiosk_id": r["kiosk_id"], "visit_id": r["visit_id"],
            "check_in_at": iso(r["check_in_at"]), "check_out_at": iso(r["check_out_at"]),
            "check_out_type": r["check_out_type"],
            "index_visit_id": r["index_visit_id"],
            "overlap_start": iso(overlap_start), "overlap_end": iso(overlap_end),
            "overlap_minutes": round((overlap_end - overlap_start).total_seconds() / 60, 1),
            "estimated": bool(r["check_out_estimated"] or r["index_estimated"]),
            "open": r["check_out_at"] is None or r["index_check_out_at"] is None,
            "corrected": bool(r["check_in_corrected"] or r["check_out_corrected"]),
        })
    out.sort(key=lambda t: (t["overlap_start"], t["venue_id"], t["visit_id"], t["index_visit_id"]))
    return out


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
    """The latest self-test (stored only once it passed contract.validate_selftest): when,
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
