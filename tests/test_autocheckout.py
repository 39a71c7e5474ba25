"""Auto check-out after the maximum stay or at closing time, with a right or a wrong clock."""

from __future__ import annotations

from datetime import datetime

import kiosk_db
from codes import CCCD_MAU, ManualTime, cccd_payload
from kiosk.clock import Clock
from kiosk.credentials import recognise
from kiosk.door.autocheckout import AutoCheckout
from kiosk.door.checkin import CheckinDesk

HOUR = 3600.0


def at(wall_s, tz="Asia/Ho_Chi_Minh"):
    from zoneinfo import ZoneInfo
    return datetime.fromtimestamp(wall_s, ZoneInfo(tz))


def test_max_stay_closes_at_check_in_plus_max_stay(store, clock, desk, wall, uptime):
    visit = desk.present(recognise(CCCD_MAU))
    auto = AutoCheckout(store, clock, kiosk_id="test-kiosk-01", venue_id="cho-thu", max_stay_h=12)
    wall.advance(11 * HOUR)
    uptime.advance(11 * HOUR)
    assert auto.run() == 0
    wall.advance(2 * HOUR)
    uptime.advance(2 * HOUR)
    assert auto.run() == 1
    [v] = store.visits()
    assert v["check_out_type"] == "auto_check_out" and v["check_out_estimated"]
    expected = datetime.fromisoformat(visit.at).timestamp() + 12 * HOUR
    assert datetime.fromisoformat(v["check_out_at"]).timestamp() == expected
    [_, event] = kiosk_db.events(store)
    assert event["type"] == "auto_check_out" and event["estimated"] is True and event["method"] is None
    assert event["at"] == v["check_out_at"]
    assert auto.run() == 0


def test_closing_time_closes_everyone_still_inside_at_that_time(store):
    # 2026-09-21 10:00 local
    wall = ManualTime(datetime.fromisoformat("2026-09-21T10:00:00+07:00").timestamp())
    uptime = ManualTime(50.0)
    clock = Clock("Asia/Ho_Chi_Minh", wall=wall, monotonic=uptime, synced=lambda w: True)
    desk = CheckinDesk(store, clock, kiosk_id="k", venue_id="cho")
    for n in range(3):
        desk.present(recognise(cccd_payload(n)))
    desk.present(recognise(cccd_payload(0)))   # one left properly
    auto = AutoCheckout(store, clock, kiosk_id="k", venue_id="cho", max_stay_h=12, closing_time="18:00")
    wall.advance(7 * HOUR)
    uptime.advance(7 * HOUR)
    assert auto.run() == 0                      # 17:00
    wall.advance(1.5 * HOUR)
    uptime.advance(1.5 * HOUR)
    assert auto.run() == 2                      # 18:30
    closed = [v for v in store.visits() if v["check_out_type"] == "auto_check_out"]
    assert {v["check_out_at"] for v in closed} == {"2026-09-21T18:00:00.000+07:00"}


def test_a_visit_begun_after_closing_closes_at_the_next_closing(store):
    wall = ManualTime(datetime.fromisoformat("2026-09-21T19:00:00+07:00").timestamp())
    uptime = ManualTime(50.0)
    clock = Clock("Asia/Ho_Chi_Minh", wall=wall, monotonic=uptime, synced=lambda w: True)
    CheckinDesk(store, clock, kiosk_id="k", venue_id="cho").present(recognise(CCCD_MAU))
    auto = AutoCheckout(store, clock, kiosk_id="k", venue_id="cho", max_stay_h=48, closing_time="18:00")
    wall.advance(2 * HOUR)
    uptime.advance(2 * HOUR)
    assert auto.run() == 0
    wall.advance(22 * HOUR)
    uptime.advance(22 * HOUR)
    assert auto.run() == 1
    assert store.visits()[0]["check_out_at"] == "2026-09-22T18:00:00.000+07:00"


def test_a_wall_clock_jump_does_not_close_visits_early(store):
    # Checked in while the clock still said 1970 (no NTP yet); NTP then jumps it by 56 years.
    wall = ManualTime(1000.0)
    uptime = ManualTime(20.0)
    synced = {"now": False}
    clock = Clock("Asia/Ho_Chi_Minh", wall=wall, monotonic=uptime, synced=lambda w: synced["now"])
    CheckinDesk(store, clock, kiosk_id="k", venue_id="cho").present(recognise(CCCD_MAU))
    auto = AutoCheckout(store, clock, kiosk_id="k", venue_id="cho", max_stay_h=12, closing_time="18:00")
    wall.now = datetime.fromisoformat("2026-09-21T20:00:00+07:00").timestamp()
    synced["now"] = True
    uptime.advance(600)                      # ten minutes really passed
    assert auto.run() == 0                   # the uptime says 10 min: not 56 years, not past closing
    uptime.advance(12 * HOUR)
    assert auto.run() == 1


def test_after_a_reboot_with_an_unsynced_clock_nothing_is_closed_until_it_syncs(store):
    wall = ManualTime(datetime.fromisoformat("2026-09-21T08:00:00+07:00").timestamp())
    uptime = ManualTime(100.0)
    before = Clock("Asia/Ho_Chi_Minh", wall=wall, monotonic=uptime, synced=lambda w: True)
    CheckinDesk(store, before, kiosk_id="k", venue_id="cho").present(recognise(CCCD_MAU))
    synced = {"now": False}
    after = Clock("Asia/Ho_Chi_Minh", wall=ManualTime(5000.0), monotonic=ManualTime(30.0),
                  synced=lambda w: synced["now"])
    after.boot_id = "another-boot"
    auto = AutoCheckout(store, after, kiosk_id="k", venue_id="cho", max_stay_h=12)
    assert auto.run() == 0
    after._wall = ManualTime(datetime.fromisoformat("2026-09-22T08:00:00+07:00").timestamp())
    synced["now"] = True
    assert auto.run() == 1
    assert store.visits()[0]["check_out_at"] == "2026-09-21T20:00:00.000+07:00"


def test_an_auto_check_out_reckoned_from_an_unsynced_check_in_is_timed_by_the_uptime(store):
    """Checked in at 1970 (no NTP yet); the maximum stay passes in the same boot. The event must
    not claim a synced clock for "1970 + 12 h" (the centre refuses a synced time before the
    product existed): while unsynced it carries the end's uptime, so the centre corrects it like
    any unsynced event; once synced, the true time of the end."""
    from mqtt.wire.event import check_event

    for synced_at_end in (False, True):
        wall, uptime, synced = ManualTime(1000.0), ManualTime(20.0), {"now": False}
        clock = Clock("Asia/Ho_Chi_Minh", wall=wall, monotonic=uptime, synced=lambda w, s=synced: s["now"])
        clock.boot_id = f"boot-{synced_at_end}"
        visit = CheckinDesk(store, clock, kiosk_id="k", venue_id=f"cho-{int(synced_at_end)}").present(
            recognise(cccd_payload(int(synced_at_end))))
        uptime.advance(12 * HOUR + 600)                  # 12 h 10 min really passed
        if synced_at_end:
            wall.now = datetime.fromisoformat("2026-09-21T20:10:00+07:00").timestamp()
            synced["now"] = True
        else:
            wall.advance(12 * HOUR + 600)
        auto = AutoCheckout(store, clock, kiosk_id="k", venue_id=f"cho-{int(synced_at_end)}", max_stay_h=12)
        assert auto.run() == 1
        event = next(e for e in kiosk_db.events(store)
                     if e["visit_id"] == visit.visit_id and e["type"] == "auto_check_out")
        check_event(event)                      # what the collector will say
        assert event["clock"]["synced"] is synced_at_end
        assert event["clock"]["uptime_s"] == 20.0 + 12 * HOUR   # the end's reading, not the run's
        if synced_at_end:
            assert event["at"] == "2026-09-21T20:00:00.000+07:00"   # ten minutes before the run
        else:
            assert datetime.fromisoformat(event["at"]).timestamp() == 1000.0 + 12 * HOUR
