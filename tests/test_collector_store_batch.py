"""The central store with whole batches: many kiosks and boots in one transaction, batches larger
than one statement, and visits that always agree with their events, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mqtt.collector.store import open_store
from test_collector_store import make_event, person, t, vid, visit_of

UTC = UTC


@pytest.fixture
def central(store_url):
    with open_store(store_url) as s:
        yield s


def test_one_batch_of_many_kiosks_and_boots_tracks_and_corrects_each_on_its_own(central):
    # kiosk-a's boot-1 has a synced reference; kiosk-b's boot-1 (same boot id, another kiosk) has
    # none; kiosk-c's boot-1 gets its reference in the batch, after an unsynced event already stored.
    central.ingest([make_event(kiosk="kiosk-a", seq=1, at="2021-08-15T08:00:00.000+07:00", uptime=100.0),
                    make_event(kiosk="kiosk-c", seq=1, at="1970-01-01T00:01:40.000+00:00", synced=False,
                               uptime=100.0, visit=vid("c-early"))])
    batch = [make_event(kiosk="kiosk-a", seq=2, at="1970-01-01T00:03:20.000+00:00", synced=False, uptime=200.0,
                        visit=vid("a-unsynced")),
             make_event(kiosk="kiosk-b", seq=5, at="1970-01-01T00:03:20.000+00:00", synced=False, uptime=200.0,
                        visit=vid("b-unsynced")),
             make_event(kiosk="kiosk-c", seq=2, at="2021-08-15T10:00:00.000+07:00", uptime=300.0)]
    result = central.ingest(batch)
    assert result.inserted == 3 and result.corrected == 2
    assert visit_of(central, vid("a-unsynced"))["check_in_at"] == t("2021-08-15T01:01:40+00:00")
    assert visit_of(central, vid("c-early"))["check_in_at"] == t("2021-08-15T02:56:40+00:00")
    b = visit_of(central, vid("b-unsynced"))
    assert b["check_in_at"] == t("1970-01-01T00:03:20+00:00") and not b["check_in_corrected"] and not b["time_trusted"]
    assert [central.seq_state(k) for k in ("kiosk-a", "kiosk-b", "kiosk-c")] == [(2, []), (0, [[5, 5]]), (2, [])]


def event_stream(seed: int) -> list[dict]:
    """Check-ins, check-outs (real, inferred, doubled, before their check-in), unsynced clocks
    corrected later, re-sent copies; shuffled."""
    rng = random.Random(seed)
    base = datetime(2021, 8, 15, 1, 0, tzinfo=UTC)
    events = []
    for k in range(3):
        seq = 0
        for b in range(2):
            uptime, open_visits = 50.0, []
            for _ in range(rng.randint(100, 200)):
                seq, uptime = seq + 1, uptime + rng.choice([0.001, 0.5, 30.0])
                synced = rng.random() < (0.2 if b == 0 else 0.9)
                at = base + timedelta(seconds=round(uptime + (0 if synced else rng.uniform(-9e5, 9e5)), 3))
                if open_visits and rng.random() < 0.5:
                    visit, who = rng.choice(open_visits)
                    kind = rng.choice(["check_out", "check_out", "auto_check_out"])
                else:
                    visit, who, kind = str(uuid.UUID(int=rng.getrandbits(128))), person(rng.randrange(9999)), "check_in"
                    if int(who["id"]) % 3 == 0:          # checked in by staff with a phone
                        who = {**who, "phone": f"09{int(who['id']) % 10**8:08d}"}
                    open_visits.append((visit, who))
                event = make_event(kiosk=f"kiosk-{k}", seq=seq, type=kind, visit=visit, who=who, at=at,
                                   synced=synced, boot=f"boot-{b}", uptime=uptime, venue=f"venue-{k % 2}",
                                   event_id=str(uuid.UUID(int=rng.getrandbits(128))))
                if kind == "check_in" and who["phone"]:     # with or without the one-time code
                    event["method"] = "staff_phone"
                    event["phone_check"] = rng.choice([{"verified": True, "reason": None},
                                                       {"verified": False, "reason": "no_phone_signal"}])
                if kind == "check_in" and rng.random() < 0.3:     # a health declaration of the day
                    cough = rng.random() < 0.3
                    event["declaration"] = {"made_at": event["at"], "via": rng.choice(["screen", "staff"]),
                                            "answers": {"fever": False, "cough": cough}, "flagged": cough}
                events.append(event)
    events += rng.sample(events, len(events) // 10)
    rng.shuffle(events)
    return events


def ingest_in_batches(store, events: list[dict], seed: int) -> int:
    rng, inserted, i = random.Random(seed), 0, 0
    while i < len(events):
        n = rng.choice([1, 7, 60, 450])          # 450: more rows than one SQLite INSERT takes
        inserted += store.ingest(events[i:i + n]).inserted
        i += n
    return inserted


def derived_visit(events: list[dict]) -> dict:
    """A visit from its stored events, by the rules in SqlStore._rebuild_visits."""
    def when(e):
        return e["at_corrected"] or e["at"]

    def inferred(e):
        return e["estimated"] or e["type"] == "auto_check_out"

    ins = [e for e in events if e["type"] == "check_in"]
    outs = [e for e in events if e["type"] != "check_in"]
    check_in = min(ins, key=lambda e: (when(e), e["seq"], e["event_id"]), default=None)
    check_out = min(outs, key=lambda e: (inferred(e), when(e), e["seq"], e["event_id"]), default=None)
    base = check_in or check_out
    return {"visit_id": base["visit_id"], "kiosk_id": base["kiosk_id"], "venue_id": base["venue_id"],
            "person_kind": base["person_kind"], "person_id": base["person_id"], "person": base["person"],
            "check_in_at": when(check_in) if check_in else None,
            "check_out_at": when(check_out) if check_out else None,
            "check_out_type": check_out["type"] if check_out else None,
            "check_out_estimated": inferred(check_out) if check_out else False,
            "check_in_corrected": bool(check_in and check_in["at_corrected"]),
            "check_out_corrected": bool(check_out and check_out["at_corrected"]),
            "time_trusted": all(e["synced"] or e["at_corrected"] for e in (check_in, check_out) if e),
            "person_phone": base["person"]["phone"],
            "method": (check_in or {}).get("method") or (check_out or {}).get("method"),
            "phone_verified": (check_in or {}).get("phone_verified"),
            "phone_check_reason": (check_in or {}).get("phone_check_reason"),
            "declaration": (check_in or {}).get("declaration"),
            "declaration_flagged": (check_in or {}).get("declaration_flagged")}


def test_visits_are_what_their_events_say_however_they_arrive(store_url, request):
    events = event_stream(7)
    unique = len({e["event_id"] for e in events})
    other_url = (store_url.replace("central.db", "other.db") if store_url.startswith("sqlite")
                 else request.getfixturevalue("postgres").new_database())
    with open_store(store_url) as first, open_store(other_url) as second:
        assert ingest_in_batches(first, events, 1) == unique
        reordered = events[:]
        random.Random(2).shuffle(reordered)
        assert ingest_in_batches(second, reordered, 3) == unique

        by_visit: dict[str, list[dict]] = {}
        for e in first.event_rows():
            by_visit.setdefault(e["visit_id"], []).append(e)
        assert any(e["at_corrected"] for e in first.event_rows())      # the stream did exercise corrections
        checks = {(e["phone_verified"], e["phone_check_reason"]) for e in first.event_rows()}
        assert checks == {(None, None), (True, None), (False, "no_phone_signal")}   # and phone checks
        flags = {e["declaration_flagged"] for e in first.event_rows()}
        assert flags == {None, False, True}                                     # and declarations
        expected = sorted((derived_visit(evs) for evs in by_visit.values()), key=lambda v: v["visit_id"])

        def visits(store):
            return sorted(({k: v for k, v in r.items() if k != "updated_at"} for r in store.visit_rows()),
                          key=lambda v: v["visit_id"])
        assert visits(first) == expected
        assert visits(second) == expected
