"""The simulated kiosk as a user runs it: images into the camera folder, visits out."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from codes import BHYT_NEW, CCCD_MAU, NATIONAL_QR_MASKED, write_qr
from kiosk_process import KioskProcess, write_config

pytestmark = pytest.mark.slow


def visits(cfg):
    out = subprocess.run([sys.executable, "-m", "kiosk", "visits", "--json", "--config", str(cfg)],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_drop_codes_check_in_then_check_out(tmp_path):
    cfg = write_config(tmp_path, cooldown_s=1.0)
    kiosk = KioskProcess(cfg)
    try:
        kiosk.wait_for(lambda line: "camera" in line)          # the idle screen names the folder
        cam = tmp_path / "camera"
        for name, payload in (("cccd", CCCD_MAU), ("bhyt", BHYT_NEW), ("pcc", NATIONAL_QR_MASKED)):
            write_qr(cam / f"{name}.png", payload)
            line = kiosk.wait_for(lambda line: "VÀO" in line)[-1]
            assert "đèn xanh" in line and "bíp ×1" in line
        # A payment QR is refused on screen, with red light and long beep.
        write_qr(cam / "pay.png", "00020101021238570010A000000727")
        line = kiosk.wait_for(lambda line: "TỪ CHỐI" in line)[-1]
        assert "thanh toán" in line and "đèn đỏ" in line
        # Names on the screen are masked.
        time.sleep(1.2)
        write_qr(cam / "again.png", CCCD_MAU)
        line = kiosk.wait_for(lambda line: "RA" in line)[-1]
        assert "Tạm biệt Nguyễn T. M." in line and "Thị Mẫu" not in line
    finally:
        assert kiosk.stop() == 0                         # SIGTERM: a clean stop
    rows = visits(cfg)
    assert len(rows) == 3
    by_kind = {v["person"]["kind"]: v for v in rows}
    assert by_kind["cccd"]["check_out_type"] == "check_out"
    assert by_kind["bhyt"]["person"]["name"] == "Trần Văn Thử" and by_kind["bhyt"]["check_out_at"] is None
    assert by_kind["national_qr"]["person"]["id"] == "100000000000000001"
    assert sorted((tmp_path / "camera" / "done").iterdir())
    assert not any("Mẫu" in line or "079190000001" in line for line in kiosk.stderr)  # nothing personal logged
    # the screen's address is said once, by the console (not again in the log), and log lines
    # carry the venue's local time with its offset
    assert not any("http://127.0.0.1:" in line for line in kiosk.stderr)
    assert not any("cannot read the kiosk database" in line for line in kiosk.stderr), kiosk.stderr
    assert any(line[:29].endswith("+07:00") for line in kiosk.stderr), kiosk.stderr[:3]


def test_visits_open_filter_and_human_output(tmp_path):
    cfg = write_config(tmp_path, cooldown_s=1.0)
    kiosk = KioskProcess(cfg)
    try:
        kiosk.wait_for(lambda line: "camera" in line)
        write_qr(tmp_path / "camera" / "a.png", CCCD_MAU)
        kiosk.wait_for(lambda line: "VÀO" in line)
    finally:
        kiosk.stop()
    out = subprocess.run([sys.executable, "-m", "kiosk", "visits", "--open", "--config", str(cfg)],
                         capture_output=True, text=True, check=True).stdout
    assert "Nguyễn T. M." in out and "*********001" in out and "079190000001" not in out


def test_a_bad_config_stops_with_a_message_naming_the_key(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[kiosk]\nmode = "sideways"\n')
    r = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "line 2: [kiosk] mode = 'sideways'" in r.stderr
