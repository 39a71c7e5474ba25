"""Putting a kiosk together from its config: real hardware, or simulated where there is none."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hardware.decoders import open_decoder
from hardware.feedback import SignalPins, Signals
from hardware.frames import CameraError, CameraSettings, FrameSource, open_source
from hardware.printers import open_printer

from mqtt.plumbing import sdnotify
from mqtt.uplink import Uplink, UplinkSettings

from . import __version__, retention
from .autocheckout import AutoCheckout
from .checkin import CheckinDesk
from .clock import Clock
from .config import DB_NAME  # noqa: F401 - re-exported: the self-test and the bench import it from here
from .config import DEFAULT_DATA_DIR, SIMULATION_DATA_DIR, Config
from .cooldown import Cooldown
from .health import HealthReport
from .outbox import KioskOutbox
from .outcome import Outcome
from .scanloop import ScanLoop
from .printing.slips import SlipPolicy
from .printing.worker import PrintWorker
from .screen_console import ConsoleScreen
from .staff.services import StaffServices
from .status import KioskStatus
from .store import VisitStore
from .tokens import KEY_FILE, KioskTokens, venue_key
from .web import WebContext, create_app
from .web.live import LiveFeed, Watch, WebScreen
from .web.server import WebServer, web_server

log = logging.getLogger(__name__)
#: How often the screen's status marks and occupancy are read, and the mock GPIO devices (simulation).
STATUS_EVERY_S = 1.0
SIGNALS_EVERY_S = 0.05
#: How often systemd's STATUS= line is refreshed (when it changed).
SYSTEMD_STATUS_EVERY_S = 10.0


def simulation_config(config: Config) -> Config:
    """The config for a simulated kiosk: data under ./var (unless the file chose a data_dir),
    the image-folder camera (unless the file chose one), mock GPIO, the file printer (unless the
    file chose a printer). A provisioned kiosk.toml names the production data dir: a simulation on
    a laptop never writes there."""
    if not config.explicit_data_dir or config.kiosk.data_dir == DEFAULT_DATA_DIR:
        config = config.replace("kiosk", data_dir=SIMULATION_DATA_DIR)
    if not config.camera.source.startswith("dir:"):
        config = config.replace("camera", source=f"dir:{Path(config.kiosk.data_dir) / 'camera'}")
    if config.printer.kind == "none":
        # The contract's file printer: every check-in's slip lands in ./var/printer as ESC/POS + PNG.
        config = config.replace("printer", kind="file", path=str(Path(config.kiosk.data_dir) / "printer"),
                                slips="always")
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
    console: ConsoleScreen | None       # simulation: the terminal shows the screen too
    uplink: Uplink
    status: KioskStatus
    web: WebServer
    watches: list[Watch]
    staff: StaffServices
    printing: "Printing | None" = None

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        if threading.current_thread() is threading.main_thread():   # (tests run kiosks in threads)
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        log.info("kiosk %s running (%s)", self.config.kiosk.id, "simulated" if self.simulated else "hardware")
        self.uplink.start()
        if self.printing:
            self.printing.worker.start()
        screen_url = self._start_web()
        if self.console:
            source = self.config.camera.source
            self.console.idle(source[4:] if source.startswith("dir:") else None, screen_url)
        self.loop.heartbeat = self._systemd_heartbeat()
        try:
            self.loop.run(stop)
        finally:
            sdnotify.stopping("stopping")
            self.close()

    def _systemd_heartbeat(self):
        """The scan loop's heartbeat under systemd (None elsewhere: nothing to do): READY=1 after the
        loop's first step (the camera read or being retried, the web server started), WATCHDOG=1 from
        the loop's own thread, and a STATUS= line such as "scanning; 12 inside; broker connected"."""
        if not sdnotify.enabled():
            return None
        heartbeat = sdnotify.Heartbeat(every_s=SYSTEMD_STATUS_EVERY_S)

        def beat() -> None:
            if heartbeat.due():
                heartbeat.say(self._status_line())
            heartbeat.tick()
        return beat

    def _status_line(self) -> str:
        try:
            marks, inside = self.status(), self.status.occupancy()
        except Exception as exc:  # noqa: BLE001 - a status line must never stop the loop
            return f"scanning; status unreadable ({type(exc).__name__})"
        doing = f"error: {marks['error']}" if marks.get("error") else "scanning"
        people = f"{inside} inside" if inside is not None else "occupancy unknown"
        broker = "broker connected" if marks.get("broker_connected") else "broker not connected"
        outbox = f"; {marks['outbox']} unsent" if marks.get("outbox") else ""
        return f"{doing}; {people}; {broker}{outbox}"

    def _start_web(self) -> str | None:
        """The screen's URL; a screen that cannot start leaves the door working (lights, beeps)."""
        try:
            self.web.start()
        except OSError as exc:
            log.error("screen unavailable: %s", exc)
            return None
        for watch in self.watches:
            watch.start()
        if not self.console:            # in simulation the console says it, once
            log.info("screen: %s", self.web.url)
        for _, port in self.web.tls_bound[:1]:
            # The name its certificate carries (mDNS): what a staff phone bookmarks.
            log.info("staff pages for phones on the venue network: https://%s.local:%d/staff/",
                     self.config.kiosk.id, port)
        return self.web.url

    def close(self) -> None:
        self.web.stop()
        for watch in self.watches:
            watch.stop()
        self.uplink.stop()
        self.uplink.outbox.close()
        if self.loop.camera is not None:
            self.loop.camera.close()
        self.loop.decoder.close()
        self.loop.signals.close()
        self.status.close()
        self.staff.close()
        if self.printing:
            self.printing.close()
        self.store.close()


class Screens:
    """Tells several screens the same thing (simulation: the web page and the terminal)."""

    def __init__(self, *screens):
        self.screens = screens

    def show(self, outcome: Outcome) -> None:
        for screen in self.screens:
            screen.show(outcome)

    def status(self, code: str | None) -> None:
        for screen in self.screens:
            screen.status(code)


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

    # Opened when first used (and again after a failed open): a kiosk starts on a full disk.
    store = VisitStore.deferred(config.db_path)
    clock = Clock(config.kiosk.timezone)
    desk = CheckinDesk(store, clock, kiosk_id=config.kiosk.id, venue_id=config.kiosk.venue_id,
                       mode=config.kiosk.mode, capacity=config.rules.capacity)
    decoder = decoder_from_config(config)
    signals = _signals(config, simulate)
    feed = LiveFeed()
    screen = WebScreen(feed, venue_name=config.kiosk.venue_name, tz=clock.tz)
    console = ConsoleScreen(language=config.kiosk.language, venue_name=config.kiosk.venue_name,
                            relay=config.gpio.relay is not None, out=screen_out, tz=clock.tz) if simulate else None
    loop = ScanLoop(
        camera=camera, decoder=decoder, desk=desk, signals=signals,
        screen=Screens(screen, console) if console else screen,
        cooldown=Cooldown(config.rules.cooldown_s),
        autocheckout=AutoCheckout(store, clock, kiosk_id=config.kiosk.id, venue_id=config.kiosk.venue_id,
                                  max_stay_h=config.rules.max_stay_h, closing_time=config.rules.closing_time),
        open_camera=lambda: open_source(config.camera.source, settings),
        purge=lambda: retention.purge(store, clock=clock, days=config.kiosk.retention_days))
    tokens, printing = _tokens_and_printing(config, store, clock, simulate)
    loop.verifier = tokens
    if printing is not None:
        # After the visitor's answer: queue the slip (the worker prints it); the button asks for one.
        loop.screen = Screens(loop.screen, printing.policy)
        signals.set_button(printing.policy.button)
    printer_state = printing.worker.state if printing else lambda: None
    uplink = _uplink(config, clock, loop, printer_state)
    status = KioskStatus(config.db_path, venue_id=config.kiosk.venue_id, clock=clock,
                         uplink=uplink, loop=loop, printer_state=printer_state)
    # What staff do is said on the staff page, never on the visitor screen nor by the lights and
    # beeps (the occupancy follows by the status watch): a staff check-in gets its slip in "always"
    # mode (never the door button's: see SlipPolicy.staff_show), and the simulator's terminal
    # prints a staff line.
    staff_told = [tell for tell in (printing.policy.staff_show if printing else None,
                                    console.show_staff if console else None) if tell]
    staff = StaffServices.open(config, clock, on_outcome=lambda outcome: [tell(outcome) for tell in staff_told],
                               on_queued=printing.worker.wake if printing else None)
    ctx = WebContext(config=config, feed=feed, status=status, occupancy=status.occupancy, simulated=simulate,
                     camera_dir=Path(config.camera.source[4:]) if simulate else None, signals=signals, staff=staff,
                     printer=printer_state)
    web = web_server(create_app(ctx), config, feed=feed)
    return Kiosk(config, simulate, store, loop, console, uplink, status, web, _watches(ctx), staff, printing)


@dataclass
class Printing:
    worker: PrintWorker
    policy: SlipPolicy

    def close(self) -> None:
        self.worker.stop()


def _tokens_and_printing(config: Config, store: VisitStore, clock: Clock, simulate: bool):
    """The venue's token key (checking slips and cards; simulation makes one) and, when there is a
    printer and a key, the print worker and the slip policy."""
    key_path = Path(config.kiosk.token_key) if config.kiosk.token_key else config.data_path / KEY_FILE
    key = venue_key(key_path, create=simulate)
    if key is None:
        return None, None
    tokens = KioskTokens(key, venue_id=config.kiosk.venue_id, store=store, clock=clock,
                         slip_valid_h=config.rules.max_stay_h)
    p = config.printer
    printer = open_printer(p.kind, width=p.width, profile=p.profile, **p.target)
    if printer is None:
        return tokens, None
    worker = PrintWorker(config.db_path, printer, tokens, venue_name=config.kiosk.venue_name, clock=clock,
                         language=config.kiosk.language)
    return tokens, Printing(worker, SlipPolicy(worker.request, p.slips))


def _watches(ctx: WebContext) -> list[Watch]:
    """What the screen learns by looking: the status marks and occupancy, and in simulation the
    mock lights, buzzer and relay."""
    sources = ctx.screen_sources()
    signals = sources.pop("signals", None)
    watches = [Watch(ctx.feed, sources, STATUS_EVERY_S, name="status")]
    if signals is not None:
        watches.append(Watch(ctx.feed, {"signals": signals}, SIGNALS_EVERY_S, name="signals"))
    return watches


def uplink_settings(config: Config) -> UplinkSettings:
    m = config.mqtt
    return UplinkSettings(url=m.url, kiosk_id=config.kiosk.id, tls_ca=m.tls_ca or None,
                          tls_cert=m.tls_cert or None, tls_key=m.tls_key or None,
                          health_interval_s=m.health_interval_s, resend_after_s=m.resend_after_s)


def _uplink(config: Config, clock: Clock, loop: ScanLoop, printer_state) -> Uplink:
    """printer_state: the print worker's state (None: no printer)."""
    outbox = KioskOutbox(config.db_path, retention_days=config.kiosk.retention_days, clock=clock)
    return Uplink(outbox, uplink_settings(config), health=HealthReport(loop, clock, config.data_path, printer_state),
                  version=__version__)


def _signals(config: Config, simulate: bool) -> Signals:
    if simulate:
        return Signals(signal_pins(config), pin_factory=mock_pin_factory())
    try:
        return Signals(signal_pins(config))
    except Exception as exc:  # noqa: BLE001 - gpiozero raises many kinds when there is no GPIO
        log.error("GPIO unavailable (%s): lights and buzzer are simulated", exc)
        return Signals(signal_pins(config), pin_factory=mock_pin_factory())
