"""From the kiosk's door to the central store on real parts (issue 10, items 1 and 5): a code is
decoded from a camera frame by zxing-cpp, recorded by the real scan loop and desk in a real kiosk
database, sent by the real uplink through a real Mosquitto, and stored by the real collector."""

from __future__ import annotations

import time

from codes import CCCD_MAU, ManualTime, bhyt_payload, qr_frame
from fault_support import delivered, in_process_uplink, outbox_states
from hardware.decoders import open_decoder
from kiosk.clock import Clock
from kiosk.credentials import recognise
from kiosk.door.checkin import CheckinDesk
from kiosk.door.cooldown import Cooldown
from kiosk.door.scanloop import ScanLoop
from mqtt.wire.event import MAX_NAME_CHARS
from test_collector_ingest import collector as central  # noqa: F401 - fixture: a live collector on SQLite
from test_scanloop import FramesFromMemory, RecordingScreen
from waiting import wait_for

KIOSK_ID = "k-door-01"


def present_at_the_door(store, signals, payload: str):
    """The kiosk's scan loop shown one camera frame of ``payload`` (NTP-synced clock, now)."""
    desk = CheckinDesk(store, Clock("Asia/Ho_Chi_Minh", synced=lambda wall: True), kiosk_id=KIOSK_ID,
                       venue_id="cho-thu")
    screen = RecordingScreen()
    loop = ScanLoop(camera=FramesFromMemory([qr_frame(payload, size=(960, 720))]), decoder=open_decoder("zxing"),
                    desk=desk, signals=signals, listeners=[screen], cooldown=Cooldown(10.0, clock=ManualTime(100.0)))
    return loop.step()


def test_an_over_long_bhyt_name_is_checked_in_and_the_event_reaches_the_central_store(
        store, signals, central, mosquitto):
    # 320 characters: the collector's limit is 200 (before the fix: checked in at the door, then
    # dead-lettered centrally, never acked, re-sent every two minutes, a permanent seq gap).
    name = "Nguyễn " + " ".join(["Thị Mẫu Thử"] * 28)
    assert len(name) > MAX_NAME_CHARS
    [outcome] = present_at_the_door(store, signals, bhyt_payload(name=name))
    assert outcome.kind == "check_in"
    shortened = outcome.credential.name
    assert len(shortened) <= MAX_NAME_CHARS and name.startswith(shortened)
    assert "name_shortened" in outcome.credential.warnings
    assert store.visits()[0]["person"]["name"] == shortened          # the kiosk's own record agrees

    uplink = in_process_uplink(store.path, mosquitto.url, kiosk_id=KIOSK_ID)
    uplink.start()
    try:
        wait_for(lambda: delivered(store.path) == 1, 30, "the event acked by the collector")
    finally:
        uplink.stop()
    [visit] = central.store.visit_rows()
    assert visit["person"] == {"kind": "bhyt", "id": "7999999901", "name": shortened, "birth_date": "1995-02-02",
                               "sex": "male", "phone": None}
    assert visit["visit_id"] == outcome.visit_id and visit["check_out_at"] is None
    assert central.store.dead_letter_rows() == []
    assert central.store.seq_state(KIOSK_ID) == (1, [])               # no seq gap
    assert outbox_states(store.path) == {"delivered": 1}


def test_an_event_the_centre_refuses_is_set_aside_at_the_kiosk_not_sent_again(store, signals, central, mosquitto):
    """Field fix 5: a kiosk whose clock claims to be synced but runs three days ahead (a broken
    NTP source) makes events the collector refuses as implausible_time. The collector names them
    in an ack's "refused"; the kiosk keeps them aside (quarantined, nothing lost, shown in its
    health), instead of re-sending them every two minutes for ever."""
    ahead = Clock("Asia/Ho_Chi_Minh", wall=lambda: time.time() + 3 * 86400, synced=lambda wall: True)
    desk = CheckinDesk(store, ahead, kiosk_id=KIOSK_ID, venue_id="cho-thu")
    assert desk.present(recognise(CCCD_MAU)).kind == "check_in"
    uplink = in_process_uplink(store.path, mosquitto.url, kiosk_id=KIOSK_ID)
    uplink.start()
    try:
        wait_for(lambda: outbox_states(store.path) == {"quarantined": 1}, 30, "the refused event set aside")
    finally:
        uplink.stop()
    # Read once its thread is done: it counts an event set aside just after writing it so.
    assert uplink.quarantined == 1
    [letter] = central.store.dead_letter_rows()
    assert letter["reason"] == "implausible_time" and letter["kiosk_id"] == KIOSK_ID
    assert central.store.counts()["events"] == 0
    assert uplink.outbox.resend_unacknowledged(0) == 0        # nothing left to send again
    [visit] = store.visits()                                   # the kiosk's own record is kept
    assert visit["person"]["id"] == "079190000001"
