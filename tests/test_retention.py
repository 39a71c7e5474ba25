"""Retention on the kiosk: delivered, closed visits past the period go; everything else stays."""

from __future__ import annotations

from datetime import timedelta

from kiosk.checkin import CheckinDesk
from kiosk.clock import Clock
from kiosk.credentials import recognise
from kiosk.outbox import KioskOutbox

from codes import ManualTime, cccd_payload

DAY = 86400.0


def test_purge_takes_only_delivered_closed_visits_older_than_retention(store, clock, wall, uptime):
    desk = CheckinDesk(store, clock, kiosk_id="k", venue_id="v")
    people = [recognise(cccd_payload(n)) for n in range(4)]
    for p in people:
        desk.present(p)
    for p in people[:3]:
        desk.present(p)                               # 0, 1, 2 leave; 3 stays inside
    outbox = KioskOutbox(store.path, retention_days=21, clock=clock)
    delivered = [e["event_id"] for e in store.events() if e["person"]["id"] != people[1].id]
    outbox.mark_delivered(delivered)                  # person 1's events never reached the centre
    outbox.quarantine(1, "test")                      # ...and person 0's check-in is quarantined

    wall.advance(20 * DAY)
    assert outbox.purge() == {"visits": 0, "events": 0, "outbox": 0, "refusals": 0, "people": 0}
    wall.advance(2 * DAY)
    assert outbox.purge()["visits"] == 1              # only person 2: closed, delivered, old
    left = {v["person"]["id"] for v in store.visits()}
    assert left == {people[0].id, people[1].id, people[3].id}
    assert store.db.execute("SELECT count(*) FROM events e LEFT JOIN visits v USING (visit_id) "
                            "WHERE v.visit_id IS NULL").fetchone()[0] == 0   # no orphan events


def test_nothing_is_purged_on_an_unsynced_clock(store):
    wall = ManualTime(1_790_000_000.0)
    synced = {"now": True}
    clock = Clock("Asia/Ho_Chi_Minh", wall=wall, monotonic=ManualTime(1.0), synced=lambda w: synced["now"])
    desk = CheckinDesk(store, clock, kiosk_id="k", venue_id="v")
    desk.present(recognise(cccd_payload(1)))
    desk.present(recognise(cccd_payload(1)))
    outbox = KioskOutbox(store.path, clock=clock)
    outbox.mark_delivered([e["event_id"] for e in store.events()])
    wall.advance(100 * DAY)
    synced["now"] = False
    assert outbox.purge() == {}
    assert len(store.visits()) == 1
    synced["now"] = True
    assert outbox.purge()["visits"] == 1


def test_refusal_counts_expire_too(store, clock, wall):
    store.count_refusal((clock.now() - timedelta(days=30)).isoformat(), "payment_qr")
    store.count_refusal(clock.now().isoformat(), "url")
    assert store.purge(clock=clock, days=21)["refusals"] == 1
    assert store.refusal_counts() == {"url": 1}


def test_registered_people_go_when_not_seen_for_the_retention_unless_inside(store, clock, wall):
    from kiosk.staff.people import People, parse_declaration
    people = People(store, now=clock.now)
    away, _ = people.register(parse_declaration({"name": "Người Đi Xa", "phone": "0912345678"}), staff_id=None)
    inside, _ = people.register(parse_declaration({"name": "Người Ở Lại", "phone": "0912345678"}), staff_id=None)
    back, _ = people.register(parse_declaration({"name": "Người Quay Lại", "phone": "0912345678"}), staff_id=None)
    CheckinDesk(store, clock, kiosk_id="k", venue_id="v").present(inside.credential())
    wall.advance(20 * DAY)
    people.seen([back.person_id])
    wall.advance(2 * DAY)
    assert store.purge(clock=clock, days=21)["people"] == 1
    assert [p.name for p in people.by_phone("0912345678")] == ["Người Ở Lại", "Người Quay Lại"]
