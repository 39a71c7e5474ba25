"""The visit rules, alone and applied by the check-in desk on a real SQLite store."""

from __future__ import annotations

import json

import pytest

import kiosk_db
from codes import CCCD_MAU, CCCD_THU, cccd_payload
from kiosk.credentials import recognise
from kiosk.door.checkin import CheckinDesk
from kiosk.door.rules import Decision, decide


@pytest.mark.parametrize("mode, inside, occupancy, capacity, expected", [
    ("toggle", False, 0, 0, Decision("check_in")),
    ("toggle", True, 5, 0, Decision("check_out")),
    ("entry", False, 0, 0, Decision("check_in")),
    ("entry", True, 3, 0, Decision("reopen")),
    ("exit", True, 3, 0, Decision("check_out")),
    ("exit", False, 3, 0, Decision("refuse", "not_inside")),
    ("toggle", False, 10, 10, Decision("refuse", "venue_full")),
    ("toggle", False, 9, 10, Decision("check_in")),
    ("toggle", True, 10, 10, Decision("check_out")),          # leaving is always allowed
    ("entry", True, 10, 10, Decision("reopen")),              # re-entering frees their own place
    ("entry", False, 10, 10, Decision("refuse", "venue_full")),
])
def test_decide(mode, inside, occupancy, capacity, expected):
    assert decide(mode, inside=inside, occupancy=occupancy, capacity=capacity) == expected


def test_decide_rejects_unknown_mode():
    with pytest.raises(ValueError):
        decide("both", inside=False, occupancy=0, capacity=0)


def test_toggle_checks_in_then_out(desk, store):
    person = recognise(CCCD_MAU)
    first = desk.present(person)
    second = desk.present(person)
    assert (first.kind, second.kind) == ("check_in", "check_out")
    assert first.visit_id == second.visit_id
    [visit] = store.visits()
    assert visit["check_out_type"] == "check_out" and not visit["check_out_estimated"]
    assert visit["person"]["name"] == "Nguyễn Thị Mẫu"
    third = desk.present(person)
    assert third.kind == "check_in" and third.visit_id != first.visit_id


def test_every_change_writes_one_event_and_one_outbox_row_with_gapless_seq(desk, store):
    for n in range(5):
        desk.present(recognise(cccd_payload(n)))
    desk.present(recognise(cccd_payload(2)))  # a check-out
    events = kiosk_db.events(store)
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e["type"] for e in events] == ["check_in"] * 5 + ["check_out"]
    outbox = store.db.execute("SELECT seq, state FROM outbox ORDER BY seq").fetchall()
    assert outbox == [(n, "pending") for n in range(1, 7)]
    e = events[0]
    assert e["schema"] == "checkin.event/1" and e["kiosk_id"] == "test-kiosk-01" and e["venue_id"] == "cho-thu"
    assert e["method"] == "camera" and e["staff_id"] is None and e["estimated"] is False
    assert e["at"].endswith("+07:00") and e["clock"]["synced"] is True
    assert set(e["person"]) == {"kind", "id", "name", "birth_date", "sex", "phone"}  # no address, no details


def test_refusal_writes_nothing(store, clock):
    desk = CheckinDesk(store, clock, kiosk_id="k", venue_id="v", mode="exit")
    outcome = desk.present(recognise(CCCD_MAU))
    assert (outcome.kind, outcome.reason) == ("refused", "not_inside")
    assert store.visits() == [] and kiosk_db.events(store) == []
    assert store.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_entry_kiosk_closes_a_stale_visit_as_estimated_then_checks_in(store, clock):
    desk = CheckinDesk(store, clock, kiosk_id="k", venue_id="v", mode="entry")
    person = recognise(CCCD_MAU)
    first = desk.present(person)
    second = desk.present(person)
    assert (first.kind, second.kind) == ("check_in", "check_in")
    visits = {v["visit_id"]: v for v in store.visits()}
    assert visits[first.visit_id]["check_out_type"] == "auto_check_out"
    assert visits[first.visit_id]["check_out_estimated"] is True
    assert visits[second.visit_id]["check_out_at"] is None
    assert [e["type"] for e in kiosk_db.events(store)] == ["check_in", "auto_check_out", "check_in"]


def test_exit_kiosk_checks_out_visits_made_at_the_entry(store, clock):
    entry = CheckinDesk(store, clock, kiosk_id="k-in", venue_id="v", mode="entry")
    exit_ = CheckinDesk(store, clock, kiosk_id="k-out", venue_id="v", mode="exit")
    assert entry.present(recognise(CCCD_THU)).kind == "check_in"
    assert exit_.present(recognise(CCCD_THU)).kind == "check_out"
    assert exit_.present(recognise(CCCD_THU)).reason == "not_inside"


def test_capacity_refuses_check_in_at_the_limit_and_frees_on_check_out(store, clock):
    desk = CheckinDesk(store, clock, kiosk_id="k", venue_id="v", mode="toggle", capacity=2)
    a, b, c = (recognise(cccd_payload(n)) for n in (1, 2, 3))
    assert desk.present(a).kind == "check_in"
    assert desk.present(b).occupancy == 2
    full = desk.present(c)
    assert (full.kind, full.reason, full.occupancy, full.capacity) == ("refused", "venue_full", 2, 2)
    assert desk.present(a).kind == "check_out"
    assert desk.present(c).kind == "check_in"


def test_one_open_visit_per_person_is_enforced_by_the_database(store, desk):
    desk.present(recognise(CCCD_MAU))
    with pytest.raises(Exception, match="UNIQUE"):
        with store.transaction() as tx:
            tx.insert_visit(visit_id="x", venue_id="cho-thu", kiosk_id="k", person_key="cccd:079190000001",
                            person={}, check_in_at="2026-01-01T00:00:00+07:00", synced=True, boot_id="b",
                            uptime_s=1.0, method="camera", staff_id=None, warnings=())
    assert len(store.visits()) == 1


def test_unsynced_clock_is_recorded_with_boot_and_uptime(store, wall, uptime):
    from kiosk.clock import Clock
    clock = Clock("Asia/Ho_Chi_Minh", wall=lambda: 86_400.0 * 365, monotonic=uptime)  # 1971: cannot be right
    desk = CheckinDesk(store, clock, kiosk_id="k", venue_id="v")
    desk.present(recognise(CCCD_MAU))
    [event] = kiosk_db.events(store)
    assert event["clock"]["synced"] is False
    assert event["clock"]["uptime_s"] == 1000.0 and event["clock"]["boot_id"]
    assert event["at"].startswith("1971-")


def test_warnings_are_kept_with_the_visit(store, desk):
    # Birth year 1985 does not match the number's digits 5-6 ("90"): a soft inconsistency.
    mismatched = "079190000001||Nguyễn Thị Mẫu|01011985|Nữ|Phường Mẫu|15072021"
    outcome = desk.present(recognise(mismatched))
    assert outcome.kind == "check_in"
    warnings = json.loads(store.db.execute("SELECT warnings FROM visits").fetchone()[0])
    assert "cccd_birth_year_mismatch" in warnings
