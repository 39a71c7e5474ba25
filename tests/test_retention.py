"""Retention on the kiosk: delivered, closed visits past the period go; everything else stays."""

from __future__ import annotations

from datetime import timedelta

import kiosk_db
from codes import ManualTime, cccd_payload
from kiosk.centre.commands import kiosk_commands
from kiosk.centre.outbox import KioskOutbox
from kiosk.clock import Clock
from kiosk.credentials import recognise
from kiosk.door.checkin import CheckinDesk
from kiosk.retention import purge

DAY = 86400.0


def test_purge_takes_only_delivered_closed_visits_older_than_retention(store, clock, wall, uptime):
    desk = CheckinDesk(store, clock, kiosk_id="k", venue_id="v")
    people = [recognise(cccd_payload(n)) for n in range(4)]
    for p in people:
        desk.present(p)
    for p in people[:3]:
        desk.present(p)                               # 0, 1, 2 leave; 3 stays inside
    outbox = KioskOutbox(store.path)
    commands = kiosk_commands(outbox, clock=clock, retention_days=21)      # the centre's purge command
    delivered = [e["event_id"] for e in kiosk_db.events(store) if e["person"]["id"] != people[1].id]
    outbox.mark_delivered(delivered)                  # person 1's events never reached the centre
    outbox.quarantine(1, "test")                      # ...and person 0's check-in is quarantined

    wall.advance(20 * DAY)
    assert commands.handle("purge", b"")["result"] == {"visits": 0, "events": 0, "outbox": 0, "refusals": 0,
                                                       "people": 0, "declarations": 0}
    wall.advance(2 * DAY)
    assert commands.handle("purge", b"")["result"]["visits"] == 1     # only person 2: closed, delivered, old
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
    outbox = KioskOutbox(store.path)
    outbox.mark_delivered([e["event_id"] for e in kiosk_db.events(store)])
    wall.advance(100 * DAY)
    synced["now"] = False
    assert purge(store, clock=clock) == {}
    assert len(store.visits()) == 1
    synced["now"] = True
    assert purge(store, clock=clock)["visits"] == 1


def test_refusal_counts_expire_too(store, clock, wall):
    store.count_refusal((clock.now() - timedelta(days=30)).isoformat(), "payment_qr")
    store.count_refusal(clock.now().isoformat(), "url")
    assert purge(store, clock=clock, days=21)["refusals"] == 1
    assert kiosk_db.refusal_counts(store) == {"url": 1}


def test_registered_people_go_when_not_seen_for_the_retention_unless_inside(store, clock, wall):
    from kiosk.staff.people import People, parse_declaration
    people = People(store, now=clock.now)
    away, _ = people.register(parse_declaration({"name": "Người Đi Xa", "phone": "0912345678"}), staff_id=None)
    inside, _ = people.register(parse_declaration({"name": "Người Ở Lại", "phone": "0912345678"}), staff_id=None)
    back, _ = people.register(parse_declaration({"name": "Người Quay Lại", "phone": "0912345678"}), staff_id=None)
    desk = CheckinDesk(store, clock, kiosk_id="k", venue_id="v")
    desk.present(inside.credential())
    wall.advance(20 * DAY)
    desk.present(back.credential())                   # back for a while (in, then out), not inside now
    desk.present(back.credential())
    wall.advance(2 * DAY)
    assert purge(store, clock=clock, days=21)["people"] == 1
    assert [p.name for p in people.by_phone("0912345678")] == ["Người Ở Lại", "Người Quay Lại"]


def test_people_who_come_at_the_camera_with_their_card_or_id_card_stay_registered(store, clock, wall, tmp_path):
    """Their visits say they keep coming, whoever recorded them: a staff check-in is not needed."""
    from kiosk.printing.codes import KioskTokens
    from kiosk.staff.people import People, parse_declaration
    from mqtt.wire.slip_codes import VenueKey
    people = People(store, now=clock.now)
    carded, _ = people.register(parse_declaration({"name": "Người Có Thẻ", "phone": "0912345678"}), staff_id=None)
    with_id, _ = people.register(parse_declaration({"name": "Người Có CCCD", "phone": "0912345678",
                                                     "id_number": "079190000001"}), staff_id=None)
    tokens = KioskTokens(VenueKey.create(tmp_path / "venue-token.key"), venue_id="v", store=store, clock=clock)
    card = tokens.card(carded.person_id, issued=clock.now())
    camera = CheckinDesk(store, clock, kiosk_id="k", venue_id="v", mode="toggle")
    for _ in range(30):                               # every day: in and out at the camera, then the purge
        for code in (card.encode(), cccd_payload(1)):
            assert camera.present(recognise(code, verifier=tokens), method="camera").kind == "check_in"
        wall.advance(DAY / 4)
        for code in (card.encode(), cccd_payload(1)):
            assert camera.present(recognise(code, verifier=tokens), method="camera").kind == "check_out"
        wall.advance(3 * DAY / 4)
        assert purge(store, clock=clock, days=21)["people"] == 0
    assert {p.person_id for p in people.by_phone("0912345678")} == {carded.person_id, with_id.person_id}
    assert recognise(card.encode(), verifier=tokens).key == carded.key      # the card still works
    wall.advance(22 * DAY)                            # then they stop coming: gone after the retention
    assert purge(store, clock=clock, days=21)["people"] == 2
