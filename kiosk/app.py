"""Putting a kiosk together from its config: real hardware, or simulated where there is none."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from hardware.decoders import open_decoder
from hardware.feedback import SignalPins, Signals
from hardware.frames import CameraError, CameraSettings, FrameSource, open_source

from mqtt.uplink import Uplink, UplinkSettings

from . import __version__
from .autocheckout import AutoCheckout
from .checkin import CheckinDesk
from .clock import Clock
from .config import SIMULATION_DATA_DIR, Config
from .cooldown import Cooldown
from .health import HealthReport
from .outbox import KioskOutbox
from .scanloop import ScanLoop
from .screen_console import ConsoleScreen
from .store import VisitStore

log = logging.getLogger(__name__)
DB_NAME = "kiosk.db"


def simulation_config(config: Config) -> Config:
    """The config for a simulated kiosk: data under ./var (unless the file chose a data_dir),
    the image-folder camera (unless the file chose one), mock GPIO."""
    if not config.explicit_data_dir:
        config = config.replace("kiosk", data_dir=SIMULATION_DATA_DIR)
    if not config.camera.source.startswith("dir:"):
        config = config.replace("camera", source=f"dir:{Path(config.kiosk.data_dir) / 'camera'}")
    return config


def camera_settings(config: Config) -> CameraSettings:
    c = config.camera
    return CameraSettings(width=c.width, height=c.height, fps=c.fps, lens_position=c.lens_position,
                          autofocus=c.autofocus, exposure_us=c.exposure_us, analogue_gain=c.analogue_gain,
                          presentation_s=c.presentation_s)


def signal_pins(config: Config) -> SignalPins:
    g = config.gpio
    return SignalPins(green_led=g.green_led, red_led=g.red_led, buzzer=g.buzzer, relay=g.relay,
                      relay_active_high=g.relay_active_high, relay_pulse_s=g.relay_pulse_s, button=g.button)


def decoder_from_config(config: Config, backend: str | None = None):
    """The decoder the config asks for (``backend`` overrides the config's choice)."""
    backend = backend or config.decoder.backend
    options = ({"try_downscale": config.decoder.try_downscale, "try_invert": config.decoder.try_invert}
               if backend == "zxing" else {})
    return open_decoder(backend, symbologies=config.decoder.symbologies, **options)


def mock_pin_factory():
    from gpiozero.pins.mock import MockFactory
    return MockFactory()


@dataclass
class Kiosk:
    config: Config
    simulated: bool
    store: VisitStore
    loop: ScanLoop
    screen: ConsoleScreen | None
    uplink: Uplink

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if self.screen:
            self.screen.idle(self.config.camera.source[4:] if self.config.camera.source.startswith("dir:") else None)
        log.info("kiosk %s running (%s)", self.config.kiosk.id, "simulated" if self.simulated else "hardware")
        self.uplink.start()
        try:
            self.loop.run(stop)
        finally:
            self.close()

    def close(self) -> None:
        self.uplink.stop()
        self.uplink.outbox.close()
        if self.loop.camera is not None:
            self.loop.camera.close()
        self.loop.decoder.close()
        self.loop.signals.close()
        self.store.close()


def build_kiosk(config: Config, *, simulate: bool = False, screen_out=None) -> Kiosk:
    """Assemble a kiosk. Without ``simulate``, falls back to simulation when the config file did
    not name a camera and none is found (a development machine); a configured camera that is
    missing is an error state the kiosk reports and retries, never a silent switch."""
    camera: FrameSource | None = None
    if not simulate:
        try:
            camera = open_source(config.camera.source, camera_settings(config))
        except CameraError as exc:
            if config.source is None:
                log.warning("no camera found (%s): running simulated", exc)
                simulate = True
            else:
                log.error("camera unavailable: %s (retrying)", exc)
    if simulate:
        config = simulation_config(config)
        camera = open_source(config.camera.source, camera_settings(config))
    settings = camera_settings(config)

    store = VisitStore.open(config.data_path / DB_NAME)
    clock = Clock(config.kiosk.timezone)
    desk = CheckinDesk(store, clock, kiosk_id=config.kiosk.id, venue_id=config.kiosk.venue_id,
                       mode=config.kiosk.mode, capacity=config.rules.capacity)
    decoder = decoder_from_config(config)
    signals = _signals(config, simulate)
    screen = ConsoleScreen(language=config.kiosk.language, venue_name=config.kiosk.venue_name,
                           relay=config.gpio.relay is not None, out=screen_out, tz=clock.tz) if simulate else None
    loop = ScanLoop(
        camera=camera, decoder=decoder, desk=desk, signals=signals, screen=screen or _NoScreen(),
        cooldown=Cooldown(config.rules.cooldown_s),
        autocheckout=AutoCheckout(store, clock, kiosk_id=config.kiosk.id, venue_id=config.kiosk.venue_id,
                                  max_stay_h=config.rules.max_stay_h, closing_time=config.rules.closing_time),
        open_camera=lambda: open_source(config.camera.source, settings),
        purge=lambda: store.purge(clock=clock, days=config.kiosk.retention_days))
    return Kiosk(config, simulate, store, loop, screen, _uplink(config, clock, loop))


def _uplink(config: Config, clock: Clock, loop: ScanLoop) -> Uplink:
    m = config.mqtt
    outbox = KioskOutbox(config.data_path / DB_NAME, retention_days=config.kiosk.retention_days, clock=clock)
    settings = UplinkSettings(url=m.url, kiosk_id=config.kiosk.id, tls_ca=m.tls_ca or None,
                              tls_cert=m.tls_cert or None, tls_key=m.tls_key or None,
                              health_interval_s=m.health_interval_s, resend_after_s=m.resend_after_s)
    return Uplink(outbox, settings, health=HealthReport(loop, clock, config.data_path), version=__version__)



def _signals(config: Config, simulate: bool) -> Signals:
    if simulate:
        return Signals(signal_pins(config), pin_factory=mock_pin_factory())
    try:
        return Signals(signal_pins(config))
    except Exception as exc:  # noqa: BLE001 - gpiozero raises many kinds when there is no GPIO
        log.error("GPIO unavailable (%s): lights and buzzer are simulated", exc)
        return Signals(signal_pins(config), pin_factory=mock_pin_factory())


class _NoScreen:
    """Until the kiosk screen (web) exists on hardware, outcomes go to the lights and beeper only."""

    def show(self, outcome) -> None:
        pass

    def status(self, code) -> None:
        pass
