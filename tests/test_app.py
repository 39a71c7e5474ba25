"""How a kiosk is put together (kiosk.app): what only the assembled kiosk shows."""

from __future__ import annotations

from kiosk.app import systemd_heartbeat
from kiosk.state import HealthReport, LoopState
from web_support import kiosk_running


def test_the_health_message_and_the_screen_say_the_same_of_the_printer(tmp_path, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with kiosk_running(tmp_path) as kiosk:                       # simulation: the file printer
        assert kiosk.printing.worker.state() == "ok"
        assert kiosk.uplink.health()["printer"] == kiosk.status()["printer"] == "ok"
        assert kiosk.loop.heartbeat is None                      # not under systemd: no per-step work
        assert systemd_heartbeat(kiosk.status) is None
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        assert callable(systemd_heartbeat(kiosk.status))


def test_a_kiosk_without_a_printer_reports_none(tmp_path, clock):
    state = LoopState()
    assert HealthReport(state, clock, tmp_path)()["printer"] == "none"
    assert HealthReport(state, clock, tmp_path, lambda: None)()["printer"] == "none"
    assert HealthReport(state, clock, tmp_path, lambda: "no_paper")()["printer"] == "no_paper"
