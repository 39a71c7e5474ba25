"""The kiosk on a full data disk, as a real ``kiosk run --simulate`` process on a real small tmpfs.

The data directory is a tmpfs of a few MB (:class:`fault_support.SmallDisk`) filled to ENOSPC by a
file; codes reach the kiosk through the image-folder camera, each file shown for about a second
(hundreds of frames here: the test kiosk's camera is unpaced). What the kiosk tells is read where a
visitor and a technician see it: the screen's console lines, the screen's live stream (status marks
and, in simulation, the mock red light) and the kiosk database.
"""

from __future__ import annotations

import signal
import sqlite3

import pytest

from broker import free_port
from codes import cccd_payload, write_qr
from fault_support import SmallDisk
from kiosk_process import KioskProcess, ScreenEvents, write_config
from waiting import wait_for

pytestmark = pytest.mark.slow

RECORDED = "✔ VÀO"
NOT_RECORDED = "⚠ LỖI"               # an "error" outcome: the presentation was not recorded
REFUSED = "✘ TỪ CHỐI"
WORKING = "✔ Máy hoạt động bình thường"
DISK_FULL = "hết dung lượng), chưa ghi được"     # the disk_full sentence: "… (disk full), not recorded"
PAYMENT_QR = "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN6304ABCD"


@pytest.fixture
def disk(tmp_path):
    """The kiosk's data directory (``tmp_path/data`` in the test config) is a 4 MB tmpfs."""
    with SmallDisk(tmp_path / "data", size=4 * 2**20) as d:
        yield d


def _config(tmp_path):
    cfg = write_config(tmp_path, presentation_s=1.0, cooldown_s=10)
    # No broker: the outbox waits (the uplink must not matter here).
    cfg.write_text(cfg.read_text() + f'[mqtt]\nurl = "mqtt://127.0.0.1:{free_port()}"\n')
    return cfg


def _show(tmp_path, name: str, payload: str) -> None:
    (tmp_path / "camera").mkdir(exist_ok=True)
    write_qr(tmp_path / "camera" / name, payload)


def _shown(tmp_path, name: str) -> None:
    """Until the camera has finished showing the file (it leaves the camera folder)."""
    wait_for(lambda: not (tmp_path / "camera" / name).exists(), 20, f"the presentation of {name} to end")


def _db(tmp_path):
    return sqlite3.connect(f"file:{tmp_path / 'data' / 'kiosk.db'}?mode=ro", uri=True, timeout=10)


def _recorded_people(tmp_path) -> list[str]:
    db = _db(tmp_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs = [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1)), f"seq gap: {seqs}"
        return [r[0] for r in db.execute("SELECT person_key FROM visits ORDER BY rowid")]
    finally:
        db.close()


def _red_blinks(screen: ScreenEvents) -> None:
    """The red light blinks by itself (the error state), with no presentation going on."""
    screen.wait_for(lambda e, d: e == "signals" and d["red"] is True)
    screen.wait_for(lambda e, d: e == "signals" and d["red"] is False)
    screen.wait_for(lambda e, d: e == "signals" and d["red"] is True)


def _lines_until(kiosk: KioskProcess, marker: str, timeout: float = 30) -> list[str]:
    return kiosk.wait_for(lambda line: marker in line, timeout)


def test_a_kiosk_started_on_a_full_disk_says_not_recorded_and_recovers_when_space_frees(tmp_path, disk):
    cfg = _config(tmp_path)
    # A kiosk that has run before: one visit on disk, stopped cleanly (its WAL index file removed).
    kiosk = KioskProcess(cfg)
    try:
        _show(tmp_path, "0-before.png", cccd_payload(1))
        _lines_until(kiosk, RECORDED)
        _shown(tmp_path, "0-before.png")
    finally:
        assert kiosk.stop() == 0
    disk.fill()

    kiosk = KioskProcess(cfg)                      # systemd restarts it on the full disk
    screen = None
    try:
        url = kiosk.screen_url()                   # it started: its screen is up
        assert kiosk.proc.poll() is None, kiosk.stderr[-5:]
        screen = ScreenEvents(url)
        screen.wait_state("status", lambda d: d["error"] == "disk_full")
        _red_blinks(screen)
        _lines_until(kiosk, DISK_FULL)             # the status line on the (simulated) screen

        # A visitor now: told "not recorded", once.
        _show(tmp_path, "1-a.png", cccd_payload(2))
        _show(tmp_path, "2-refused.png", PAYMENT_QR)         # the next presentation, as a marker
        lines = _lines_until(kiosk, REFUSED)
        assert sum(NOT_RECORDED in line for line in lines) == 1, lines
        assert not any(WORKING in line for line in lines), lines

        disk.free()                                # space comes back: no restart
        _lines_until(kiosk, WORKING)
        screen.wait_state("status", lambda d: d["error"] is None)
        screen.wait_state("signals", lambda d: d["red"] is False)
        _show(tmp_path, "3-a-again.png", cccd_payload(2))    # the same visitor tries again at once
        _lines_until(kiosk, RECORDED)
        assert kiosk.proc.poll() is None
    finally:
        if screen:
            screen.close()
        assert kiosk.stop() == 0, kiosk.stderr[-10:]
    assert _recorded_people(tmp_path) == ["cccd:079190000001", "cccd:079190000002"]


def test_one_presentation_on_a_full_disk_is_one_outcome_and_the_status_holds_until_space_frees(tmp_path, disk):
    kiosk = KioskProcess(_config(tmp_path))
    screen = None
    try:
        screen = ScreenEvents(kiosk.screen_url())
        _show(tmp_path, "0-before.png", cccd_payload(1))
        _lines_until(kiosk, RECORDED)
        _shown(tmp_path, "0-before.png")
        disk.fill()                                # the disk fills while the kiosk runs

        # Three visitors, one after the other, each code in view for about a second (hundreds of
        # frames): three "not recorded", and the status stays "disk full" over the probes between.
        for n in (2, 3, 4):
            _show(tmp_path, f"{n}-visitor.png", cccd_payload(n))
        _show(tmp_path, "5-refused.png", PAYMENT_QR)
        lines = _lines_until(kiosk, REFUSED)
        assert sum(NOT_RECORDED in line for line in lines) == 3, lines
        assert not any(WORKING in line for line in lines), lines
        statuses = [d["error"] for e, d in screen.drain() if e == "status"]
        assert "disk_full" in statuses, statuses
        assert None not in statuses[statuses.index("disk_full"):], f"the status flapped: {statuses}"

        disk.free()
        lines = _lines_until(kiosk, WORKING)
        assert not any(NOT_RECORDED in line for line in lines), lines
        screen.wait_state("status", lambda d: d["error"] is None)
        _show(tmp_path, "6-visitor-again.png", cccd_payload(3))
        _lines_until(kiosk, RECORDED)
    finally:
        if screen:
            screen.close()
        assert kiosk.stop() == 0, kiosk.stderr[-10:]
    assert _recorded_people(tmp_path) == ["cccd:079190000001", "cccd:079190000003"]


def test_a_kiosk_restarted_with_a_code_in_view_does_not_check_the_visitor_back_out(tmp_path):
    cfg = write_config(tmp_path, presentation_s=1.0, cooldown_s=30)
    cfg.write_text(cfg.read_text() + f'[mqtt]\nurl = "mqtt://127.0.0.1:{free_port()}"\n')
    code = tmp_path / "camera" / "0-visitor.png"
    kiosk = KioskProcess(cfg)
    try:
        _show(tmp_path, code.name, cccd_payload(1))
        _lines_until(kiosk, RECORDED)
        kiosk.proc.send_signal(signal.SIGKILL)     # the kiosk dies with the code in view
        kiosk.proc.wait(10)
    finally:
        kiosk.stop()
    if not code.exists():                          # its presentation had ended: still in view, for the camera
        _show(tmp_path, code.name, cccd_payload(1))
    kiosk = KioskProcess(cfg)                      # restarted well within the 30 s cooldown
    try:
        _show(tmp_path, "1-next.png", cccd_payload(2))       # the next visitor, after the code in view
        lines = _lines_until(kiosk, RECORDED)
        assert not any("✔ RA" in line for line in lines), lines
        _shown(tmp_path, code.name)
    finally:
        assert kiosk.stop() == 0, kiosk.stderr[-10:]
    db = _db(tmp_path)
    try:
        events = [r[0] for r in db.execute("SELECT type FROM events ORDER BY seq")]
    finally:
        db.close()
    assert events == ["check_in", "check_in"], events
