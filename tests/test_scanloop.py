"""The path of one scan on real decoding, a real store and gpiozero mock pins."""

from __future__ import annotations

import sqlite3
import threading
import time

import numpy as np
import pytest

import kiosk_db
from codes import CCCD_MAU, ManualTime, cccd_payload, qr_frame
from fault_support import SmallDisk
from hardware.decoders import open_decoder
from hardware.frames import CameraError
from hardware.symbols import Symbol
from kiosk.clock import Clock
from kiosk.credentials import recognise
from kiosk.door.autocheckout import AutoCheckout
from kiosk.door.checkin import CheckinDesk
from kiosk.door.cooldown import Cooldown
from kiosk.door.scanloop import PROBE_EVERY_S, ScanLoop
from kiosk.store import StoreUnavailable, VisitStore


class FramesFromMemory:
    """A frame source that shows given frames in order (the test's camera), then an empty scene."""

    name = "memory"

    def __init__(self, frames):
        self.frames = list(frames)
        self.empty = np.full((480, 640), 170, np.uint8)

    def read(self):
        return self.frames.pop(0) if self.frames else self.empty

    def process(self, fn):
        return fn(self.read())

    def close(self):
        pass


class RecordingScreen:
    def __init__(self):
        self.outcomes, self.statuses = [], []

    def show(self, outcome):
        self.outcomes.append(outcome)

    def status(self, code):
        self.statuses.append(code)


@pytest.fixture
def monotonic():
    return ManualTime(100.0)


@pytest.fixture
def make_loop(desk, signals, monotonic):
    def make(frames, **kw):
        screen = RecordingScreen()
        loop = ScanLoop(camera=FramesFromMemory(frames), decoder=open_decoder("zxing"), desk=desk,
                        signals=signals, listeners=[screen], cooldown=Cooldown(10.0, clock=monotonic), **kw)
        return loop, screen
    return make


def test_a_code_becomes_a_check_in_and_later_a_check_out(make_loop, store, monotonic):
    frame = qr_frame(CCCD_MAU)
    loop, screen = make_loop([frame, frame, frame])
    assert [o.kind for o in loop.step()] == ["check_in"]
    assert loop.step() == []                      # held up: same presentation
    monotonic.advance(30)
    assert [o.kind for o in loop.step()] == ["check_out"]
    assert [o.kind for o in screen.outcomes] == ["check_in", "check_out"]
    [visit] = store.visits()
    assert visit["check_out_type"] == "check_out"


def test_cooldown_holds_while_the_code_stays_in_view(make_loop, monotonic):
    frame = qr_frame(CCCD_MAU)
    loop, _ = make_loop([frame] * 6)
    kinds = []
    for _ in range(6):
        kinds += [o.kind for o in loop.step()]
        monotonic.advance(4)      # each sighting 4 s after the last: never 10 s apart
    assert kinds == ["check_in"]


def test_a_refused_code_is_counted_not_stored_and_beeps_once(make_loop, store, monotonic):
    payment = qr_frame("00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN6304ABCD")
    loop, screen = make_loop([payment, payment])
    [outcome] = loop.step()
    assert (outcome.kind, outcome.reason) == ("refused", "payment_qr")
    assert loop.step() == []
    assert store.visits() == [] and kiosk_db.events(store) == []
    assert kiosk_db.refusal_counts(store) == {"payment_qr": 1}
    # The count holds no payload: nothing of the code is stored.
    assert store.db.execute("SELECT * FROM refusals").fetchall()[0][2] == "payment_qr"


def test_two_people_in_one_frame_are_both_recorded(make_loop, store):
    a, b = qr_frame(cccd_payload(1)), qr_frame(cccd_payload(2))
    both = np.concatenate([a[:, 100:420], b[:, 100:420]], axis=1)
    loop, _ = make_loop([both])
    assert sorted(o.kind for o in loop.step()) == ["check_in", "check_in"]
    assert len(store.visits()) == 2


def test_disk_full_gives_an_error_state_loses_nothing_recorded_and_recovers(make_loop, store, signals, monotonic):
    frames = [qr_frame(cccd_payload(n)) for n in range(200)]
    loop, screen = make_loop(frames)
    # Cap the file at its current size: SQLite reports SQLITE_FULL exactly as for a full disk once
    # the free room in its pages is used up.
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count={pages + 2}")
    recorded, failed = [], None
    for _ in range(len(frames)):
        [outcome] = loop.step()
        if outcome.kind == "error":
            failed = outcome
            break
        recorded.append(outcome.visit_id)
    assert failed is not None and failed.reason == "disk_full" and recorded
    assert loop.state.store_error == "disk_full" and signals.in_error and "disk_full" in screen.statuses
    # Everything the visitor was told "recorded" is there, with a gapless seq; nothing half-written.
    assert sorted(v["visit_id"] for v in store.visits()) == sorted(recorded)
    assert [e["seq"] for e in kiosk_db.events(store)] == list(range(1, len(recorded) + 1))
    # The disk is freed: the probe notices, the error clears, the same person can try again at once.
    store.db.execute("PRAGMA max_page_count=1073741823")
    loop.housekeeping(now=time.monotonic() + 10)
    assert loop.state.store_error is None and not signals.in_error and screen.statuses[-1] is None
    assert loop.handle(_symbol_of(failed)).kind == "check_in"
    assert len(store.visits()) == len(recorded) + 1


def _symbol_of(outcome):
    return Symbol.from_bytes("qr_code", cccd_payload(int(outcome.credential.id[6:])).encode())


def test_a_locked_database_is_an_error_state_then_recovers(make_loop, store, tmp_path, monotonic):
    import kiosk.store.database as database
    loop, screen = make_loop([qr_frame(CCCD_MAU), qr_frame(CCCD_MAU)])
    store.db.execute("PRAGMA busy_timeout=100")  # do not wait the full 2 s in a test
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        [failed] = loop.step()
        assert (failed.kind, failed.reason) == ("error", "locked")
    finally:
        other.execute("ROLLBACK")
        other.close()
    loop.housekeeping(now=time.monotonic() + 10)
    assert loop.state.store_error is None
    assert loop.step()[0].kind == "check_in"
    assert database.BUSY_TIMEOUT_MS >= 1000


def test_the_loop_survives_a_camera_failure_and_reopens_it(desk, signals, monotonic):
    class Broken:
        name = "broken"

        def process(self, fn):
            raise CameraError("unplugged")

        def close(self):
            pass

    frame = qr_frame(CCCD_MAU)
    opened = []

    def reopen():
        opened.append(1)
        return FramesFromMemory([frame])

    screen = RecordingScreen()
    loop = ScanLoop(camera=Broken(), decoder=open_decoder("zxing"), desk=desk, signals=signals, listeners=[screen],
                    cooldown=Cooldown(10.0, clock=monotonic), open_camera=reopen)
    assert loop.step() == []
    assert loop.camera is None and signals.in_error and screen.statuses[-1] == "camera_error"
    loop._next_camera_try = 0
    loop.step()                           # reopens
    assert opened and loop.camera is not None and not signals.in_error
    assert [o.kind for o in loop.step()] == ["check_in"]


def test_auto_check_out_runs_from_housekeeping(store, clock, desk, signals, wall, uptime, monotonic):
    desk.present(recognise(CCCD_MAU))
    auto = AutoCheckout(store, clock, kiosk_id="test-kiosk-01", venue_id="cho-thu", max_stay_h=12)
    loop = ScanLoop(camera=FramesFromMemory([]), decoder=open_decoder("zxing"), desk=desk, signals=signals,
                    listeners=[RecordingScreen()], cooldown=Cooldown(10.0, clock=monotonic), autocheckout=auto)
    wall.advance(13 * 3600)
    uptime.advance(13 * 3600)
    loop.housekeeping(now=1e9)
    [visit] = store.visits()
    assert visit["check_out_type"] == "auto_check_out" and visit["check_out_estimated"]


def test_run_stops_when_asked(make_loop):
    loop, _ = make_loop([])
    stop = threading.Event()
    t = threading.Thread(target=loop.run, args=(stop,))
    t.start()
    time.sleep(0.2)
    stop.set()
    t.join(5)
    assert not t.is_alive() and loop.state.frames > 0


def test_one_person_showing_two_of_their_codes_is_one_presentation(make_loop, monotonic):
    masked = qr_frame("******000001|NGUYEN THI MAU|1990-**-**|0|100000000000000001|<2<GD4799999999901<0912345678")
    full = qr_frame("079190000001|NGUYEN THI MAU|1990-01-01|0|100000000000000001|<2<GD4799999999901<0912345678")
    loop, _ = make_loop([masked, full])
    assert [o.kind for o in loop.step()] == ["check_in"]
    monotonic.advance(3)
    assert loop.step() == []          # same QID: the same person, within the cooldown


def test_an_unexpected_error_in_one_step_does_not_stop_the_loop(make_loop, caplog):
    loop, _ = make_loop([qr_frame(CCCD_MAU)])
    calls = []
    real_decode = loop.decoder.decode

    def flaky(frame):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("decoder bug")
        return real_decode(frame)

    loop.decoder.decode = flaky
    stop = threading.Event()
    t = threading.Thread(target=loop.run, args=(stop,))
    t.start()
    time.sleep(0.8)
    stop.set()
    t.join(5)
    assert len(calls) > 1 and "scan step failed" in caplog.text


# -- a full disk (a real tmpfs, filled) ---------------------------------------------------------

@pytest.fixture
def full_disk_loop(tmp_path, clock, signals, monotonic):
    """A scan loop whose store is on a 4 MB tmpfs; one visit recorded before the disk is filled."""
    with SmallDisk(tmp_path / "disk", size=4 * 2**20) as disk:
        store = VisitStore.open(disk.path / "kiosk.db")
        desk = CheckinDesk(store, clock, kiosk_id="test-kiosk-01", venue_id="cho-thu")
        frames = [qr_frame(cccd_payload(1))] + [qr_frame(cccd_payload(2))] * 8
        screen = RecordingScreen()
        loop = ScanLoop(camera=FramesFromMemory(frames), decoder=open_decoder("zxing"), desk=desk, signals=signals,
                        listeners=[screen], cooldown=Cooldown(10.0, clock=monotonic))
        loop.housekeeping(now=0.0)
        assert [o.kind for o in loop.step()] == ["check_in"]
        disk.fill()
        try:
            yield loop, screen, disk
        finally:
            loop.decoder.close()
            store.close()


def test_the_probe_fails_while_the_disk_is_full_even_where_a_small_commit_fits(full_disk_loop):
    loop, _, disk = full_disk_loop
    store = loop.desk.store
    with pytest.raises(StoreUnavailable) as failed:     # a check-in does not fit ...
        loop.desk.present(recognise(cccd_payload(3)))
    assert failed.value.reason == "disk_full"
    with store.transaction():                            # ... while a one-row change still commits
        store.db.execute("UPDATE counters SET value = value + 0 WHERE name = 'next_seq'")
    with pytest.raises(StoreUnavailable) as probed:      # so the probe must not say "recording works"
        store.probe()
    assert probed.value.reason == "disk_full"
    disk.free()
    store.probe()


def test_one_presentation_on_a_full_disk_is_one_outcome_and_the_error_holds(full_disk_loop, signals, monotonic):
    loop, screen, disk = full_disk_loop
    outcomes = []
    for _ in range(8):                                   # one code in view for eight frames, probes between
        outcomes += loop.step()
        monotonic.advance(0.5)
        loop.housekeeping(now=time.monotonic() + PROBE_EVERY_S * (len(outcomes) + 2))
    assert [(o.kind, o.reason) for o in outcomes] == [("error", "disk_full")]
    assert loop.state.store_error == "disk_full" and signals.in_error and None not in screen.statuses
    disk.free()                                          # space comes back: the probe says so
    loop.housekeeping(now=time.monotonic() + 1e6)
    assert loop.state.store_error is None and not signals.in_error and screen.statuses[-1] is None
    # The visitor still holding the code up is recorded now, once.
    assert loop.handle(Symbol.from_bytes("qr_code", cccd_payload(2).encode())).kind == "check_in"
    assert loop.handle(Symbol.from_bytes("qr_code", cccd_payload(2).encode())) is None
    assert len(loop.desk.store.visits()) == 2


# -- a restart within the cooldown --------------------------------------------------------------

@pytest.mark.parametrize("boot", ["same boot", "after a reboot"])
def test_a_restarted_loop_takes_a_code_recorded_within_the_cooldown_as_the_same_presentation(
        store, desk, signals, wall, uptime, monotonic, boot):
    frame = qr_frame(CCCD_MAU)

    def started_loop(desk):
        """A new process: a new scan loop with an empty cooldown, over the same database."""
        return ScanLoop(camera=FramesFromMemory([frame]), decoder=open_decoder("zxing"), desk=desk, signals=signals,
                        listeners=[RecordingScreen()], cooldown=Cooldown(10.0, clock=monotonic))

    assert [o.kind for o in started_loop(desk).step()] == ["check_in"]
    wall.advance(4)
    uptime.advance(4)
    if boot == "same boot":
        wall.advance(3600)          # NTP set the clock meanwhile: within one boot the uptime tells
        later_uptime = uptime
    else:                           # another boot: its uptime starts again, the wall clock tells
        later_uptime = ManualTime(20.0)
        clock = Clock("Asia/Ho_Chi_Minh", wall=wall, monotonic=later_uptime, synced=lambda w: True)
        clock.boot_id = "another-boot"
        desk = CheckinDesk(store, clock, kiosk_id="test-kiosk-01", venue_id="cho-thu", mode="toggle")
    assert started_loop(desk).step() == []               # still in view: no check-out
    wall.advance(7)                                      # 11 s after the check-in
    later_uptime.advance(7)
    assert [o.kind for o in started_loop(desk).step()] == ["check_out"]
    assert [e["type"] for e in kiosk_db.events(store)] == ["check_in", "check_out"]


def test_a_visit_change_the_contract_cannot_carry_is_refused_at_the_door_and_nothing_is_recorded(
        make_loop, store, signals):
    """Review of issue 10, item 2: an event the contract cannot carry (``build_event`` raises
    ``InvalidEvent``) was a traceback with no answer at the door. A credential read at the door is
    fitted to the contract, but a check-out's event carries the person the store holds: here an
    open visit an earlier firmware recorded, before names were fitted to 200 characters."""
    long_name = " ".join(["Nguyễn Thị Mẫu"] * 20)                     # 299 characters
    with store.transaction() as tx:
        tx.insert_visit(visit_id="5d3ad0e4-8a7e-4c1b-9f4e-2b6f0c1d2e3f", venue_id="cho-thu", kiosk_id="test-kiosk-01",
                        person_key="cccd:079190000001",
                        person={"kind": "cccd", "id": "079190000001", "name": long_name, "birth_date": "1990-01-01",
                                "sex": "female", "phone": None},
                        check_in_at="2026-09-21T20:00:00.000+07:00", synced=True, boot_id="b", uptime_s=1.0,
                        method="camera", staff_id=None, warnings=())
    loop, screen = make_loop([qr_frame(CCCD_MAU)])
    [outcome] = loop.step()                                         # an answer, not a traceback
    assert (outcome.kind, outcome.reason) == ("refused", "event_invalid")
    assert screen.outcomes == [outcome]                             # told on the screen …
    from kiosk.messages import text
    from waiting import wait_for
    wait_for(lambda: signals.red.value, timeout=5)                  # … and by the red light (its own thread)
    assert text("event_invalid") != text("unknown_format")         # a sentence of its own, vi and en
    [visit] = store.visits()
    assert visit["check_out_at"] is None and kiosk_db.events(store) == []   # nothing recorded, rolled back whole
    assert store.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert kiosk_db.refusal_counts(store) == {"event_invalid": 1}
