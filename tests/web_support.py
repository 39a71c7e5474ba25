"""The kiosk's web app on real parts, for tests: a real store and desk, a scan loop that decodes
nothing but handles codes it is given, the real status reader, gpiozero mock pins.

    web = KioskWeb(tmp_path, desk, signals, simulated=True)
    web.present(CCCD_MAU)            # recognise, commit, tell the screen: as a scan would
    web.client.get("/")

and ``running_kiosk``: a whole simulated kiosk (``build_kiosk``) running in a thread, its web
server on a free loopback port (``kiosk.web.url``).
"""

from __future__ import annotations

import io
import re
import threading
from contextlib import contextmanager

import pytest

from configs import config_text
from hardware.decoders import open_decoder
from hardware.symbols import Symbol
from kiosk.app import build_kiosk, build_scan_loop, build_status, build_uplink
from kiosk.config import parse_config
from kiosk.web import WebContext, create_app
from kiosk.web.live import LiveFeed, WebScreen
from mqtt.loopback.mosquitto import free_port
from waiting import wait_for

VENUE = "Chợ Thử"


class KioskWeb:
    """extra_config: TOML appended after the [kiosk] section (e.g. "[web]\\nscreen_from_lan = true")."""

    def __init__(self, tmp_path, desk, signals, *, simulated: bool = False, extra_config: str = "",
                 max_subscribers: int = 4):
        self.config = parse_config(config_text(kiosk={"id": "test-kiosk-01", "venue_id": desk.venue_id,
                                                      "venue_name": VENUE, "data_dir": tmp_path}) + extra_config)
        self.feed = LiveFeed(max_subscribers=max_subscribers)
        self.screen = WebScreen(self.feed, venue_name=VENUE, tz=desk.clock.tz)
        self.loop = build_scan_loop(self.config, desk.store, desk.clock, camera=None, signals=signals,
                                    listeners=[self.screen], desk=desk, decoder=open_decoder("zxing"))
        self.uplink = build_uplink(self.config, desk.clock, self.loop.state)    # never started: "offline"
        self.status = build_status(self.config, desk.clock, self.uplink, self.loop.state)
        self.camera_dir = tmp_path / "camera"
        self.ctx = WebContext(self.config, self.feed, self.status, self.status.occupancy, simulated=simulated,
                              camera_dir=self.camera_dir if simulated else None, signals=signals)
        self.app = create_app(self.ctx)
        self.client = self.app.test_client()

    def present(self, payload: str):
        """A code as the camera would hand it over: recognised, recorded, told to the screen."""
        return self.loop.handle(Symbol.from_bytes("qr_code", payload.encode("utf-8")))

    def csrf_token(self, path: str = "/") -> str:
        html = self.client.get(path).get_data(as_text=True)
        # A form's field, or the screen's <body data-csrf> (its scripts send it in a header).
        return re.search(r'(?:name="csrf_token" value|data-csrf)="([^"]+)"', html).group(1)

    def close(self) -> None:
        self.feed.close()
        self.loop.decoder.close()
        self.status.close()
        self.uplink.outbox.close()


@contextmanager
def kiosk_running(tmp_path, extra_config: str = "", *, gpio: str = ""):
    """A simulated kiosk (``build_kiosk``) running in a thread: a door relay, a 1 s cooldown, its
    screen on a free loopback port. ``extra_config``: more TOML sections (e.g. ``[printer]``);
    ``gpio``: more keys of its ``[gpio]`` section (e.g. ``button = 5``: a mock pin)."""
    # ``gpio`` ends the [gpio] section; ``extra_config`` follows [web], so bare keys in it are [web]'s.
    config = parse_config(config_text(
        kiosk={"id": "test-kiosk-01", "venue_id": "cho-thu", "venue_name": "Chợ Thử Nghiệm Phan Rang",
               "data_dir": tmp_path / "data"},
        camera={"source": f"dir:{tmp_path / 'camera'}", "fps": 30, "presentation_s": 0.3},
        rules={"cooldown_s": 1, "capacity": 50},
        gpio={"relay": 23}) + f"{gpio}\n" + config_text(
        mqtt={"url": f"mqtt://127.0.0.1:{free_port()}", "health_interval_s": 3600},
        web={"listen": "127.0.0.1:0"}) + extra_config)
    kiosk = build_kiosk(config, simulate=True, screen_out=io.StringIO())
    stop = threading.Event()
    thread = threading.Thread(target=kiosk.run, args=(stop,), name="test-kiosk")
    thread.start()
    try:
        wait_for(lambda: kiosk.web.bound, timeout=10)
        kiosk.web.app.config["SCREEN_RESULT_S"] = 1.5     # the idle screen comes back sooner
        yield kiosk
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


@pytest.fixture
def running_kiosk(tmp_path):
    with kiosk_running(tmp_path) as kiosk:
        yield kiosk
