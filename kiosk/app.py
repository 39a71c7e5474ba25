"""Putting a kiosk together from its config: real hardware, or simulated where there is none."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from hardware.feedback import FeedbackDevices
from hardware.frames import CameraError, FrameSource, open_source
from hardware.printers import open_printer
from mqtt.plumbing import sdnotify
from mqtt.uplink import Uplink

from . import __version__, retention
from .centre.commands import kiosk_commands
from .centre.outbox import KioskOutbox
from .centre.sms import CentreSms
from .clock import Clock
from .config import CENTRE_SMS, Config, simulation_config
from .config.parts import camera_settings, decoder_from_config, mock_pin_factory, signal_pins, uplink_settings
from .door.autocheckout import AutoCheckout
from .door.checkin import CheckinDesk
from .door.console_screen import ConsoleScreen
from .door.cooldown import Cooldown
from .door.declaring import PendingDeclaration
from .door.scanloop import ScanLoop
from .health.declarations import HealthPolicy, health_policy
from .printing.codes import KEY_FILE, KioskTokens, venue_key
from .printing.slips import SlipPolicy
from .printing.worker import PrintWorker
from .staff.services import StaffServices
from .state import HealthReport, KioskStatus, LoopState
from .store import VisitStore
from .web import WebContext, create_app
from .web.live import ChangePoller, LiveFeed, WebScreen
from .web.server import WebServer, web_server

log = logging.getLogger(__name__)
#: How often the screen's status marks and occupancy are read, and the mock GPIO devices (simulation).
STATUS_EVERY_S = 1.0
SIGNALS_EVERY_S = 0.05
#: How often systemd's STATUS= line is refreshed (when it changed).
SYSTEMD_STATUS_EVERY_S = 10.0


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
    watches: list[ChangePoller]
    staff: StaffServices
    printing: SlipPrinting | None = None

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
        try:
            self.loop.run(stop)
        finally:
            sdnotify.stopping("stopping")
            self.close()

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


def build_kiosk(config: Config, *, simulate: bool = False, screen_out=None) -> Kiosk:
    """Assemble a kiosk. Without ``simulate``, falls back to simulation when the config file did
    not name a camera and none is found (a development machine); a configured camera that is
    missing is an error state the kiosk reports and retries, never a silent switch."""
    camera, config, simulate = open_camera(config, simulate)
    # Opened when first used (and again after a failed open): a kiosk starts on a full disk.
    store = VisitStore.deferred(config.db_path)
    clock = Clock(config.kiosk.timezone)
    signals = build_signals(config, simulate)
    feed = LiveFeed()
    health = health_policy(config.declaration)
    # The screen asks a visitor without a declaration today its questions, where the venue requires one.
    declaring = build_declaring(config, health)
    screen = WebScreen(feed, venue_name=config.kiosk.venue_name, tz=clock.tz, questions=health.questions,
                       answer_s=config.declaration.answer_s)
    console = ConsoleScreen(language=config.kiosk.language, venue_name=config.kiosk.venue_name,
                            relay=config.gpio.relay is not None, out=screen_out, tz=clock.tz) if simulate else None
    tokens = build_tokens(config, store, clock, simulate)
    printing = build_printing(config, tokens, clock)
    if printing is not None:
        signals.set_button(printing.policy.button)      # the door button asks for a slip
    printer_state = printing.worker.state if printing else lambda: None
    state = LoopState()
    uplink = build_uplink(config, clock, state, printer_state)
    status = build_status(config, clock, uplink, state, printer_state)
    # After the visitor's answer: the screens, then the slip (queued; the worker prints it).
    listeners = [screen, *([console] if console else []), *([printing.policy] if printing else [])]
    loop = build_scan_loop(config, store, clock, camera=camera, signals=signals, listeners=listeners,
                           verifier=tokens, state=state, heartbeat=systemd_heartbeat(status),
                           desk=build_desk(config, store, clock, health), declaring=declaring)
    # What staff do is said on the staff page, never on the visitor screen nor by the lights and
    # beeps (the occupancy follows by the status watch): a staff check-in gets its slip in "always"
    # mode (never the door button's: see SlipPolicy.staff_show), and the simulator's terminal
    # prints a staff line.
    staff_told = [tell for tell in (printing.policy.staff_show if printing else None,
                                    console.show_staff if console else None) if tell]
    staff = StaffServices.open(config, clock, on_outcome=lambda outcome: [tell(outcome) for tell in staff_told],
                               on_queued=printing.worker.wake if printing else None,
                               centre_sms=CentreSms(uplink) if config.sms.kind == CENTRE_SMS else None)
    ctx = WebContext(config=config, feed=feed, status=status, occupancy=status.occupancy, simulated=simulate,
                     camera_dir=Path(config.camera.source[4:]) if simulate else None, signals=signals, staff=staff,
                     declaring=declaring,
                     printer=printer_state)
    web = web_server(create_app(ctx), config, feed=feed)
    return Kiosk(config, simulate, store, loop, console, uplink, status, web, _watches(ctx), staff, printing)


# -- the builders: each makes one part from the config (the tests' and the bench's kiosks use them too)

def open_camera(config: Config, simulate: bool) -> tuple[FrameSource | None, Config, bool]:
    """The camera, the config and whether the kiosk is simulated. Without ``simulate``, a missing
    camera the config did not name makes a simulated kiosk; one it named is None (the loop says
    so and retries)."""
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
    return camera, config, simulate


def build_desk(config: Config, store: VisitStore, clock: Clock, health: HealthPolicy | None = None) -> CheckinDesk:
    """The check-in desk, with the venue's health declaration policy (``health``: one read already)."""
    return CheckinDesk(store, clock, kiosk_id=config.kiosk.id, venue_id=config.kiosk.venue_id,
                       health=health or health_policy(config.declaration),
                       mode=config.kiosk.mode, capacity=config.rules.capacity)


def build_declaring(config: Config, health: HealthPolicy) -> PendingDeclaration | None:
    """The screen's question rounds where the venue requires a declaration (None elsewhere): a
    round the visitor walked away from is forgotten once every question could have timed out."""
    if not health.required:
        return None
    return PendingDeclaration(health.questions, ttl_s=config.declaration.answer_s * (len(health.questions) + 1))


def build_scan_loop(config: Config, store: VisitStore, clock: Clock, *, camera: FrameSource | None,
                    signals: FeedbackDevices, listeners, verifier=None, state: LoopState | None = None, heartbeat=None,
                    desk: CheckinDesk | None = None, decoder=None, declaring: PendingDeclaration | None = None
                    ) -> ScanLoop:
    """The scan loop with the config's desk, decoder, cooldown, auto check-out and retention purge.
    ``desk``, ``decoder``: ones made already (the tests', the bench's)."""
    settings = camera_settings(config)
    return ScanLoop(
        camera=camera, decoder=decoder or decoder_from_config(config), desk=desk or build_desk(config, store, clock),
        signals=signals, listeners=listeners, cooldown=Cooldown(config.rules.cooldown_s),
        autocheckout=AutoCheckout(store, clock, kiosk_id=config.kiosk.id, venue_id=config.kiosk.venue_id,
                                  max_stay_h=config.rules.max_stay_h, closing_time=config.rules.closing_time),
        open_camera=lambda: open_source(config.camera.source, settings),
        purge=lambda: retention.purge(store, clock=clock, days=config.kiosk.retention_days),
        verifier=verifier, state=state, heartbeat=heartbeat, declaring=declaring)


def build_signals(config: Config, simulate: bool) -> FeedbackDevices:
    """The lights, buzzer and relay: gpiozero's mock pins in simulation, or where there is no GPIO."""
    if simulate:
        return FeedbackDevices(signal_pins(config), pin_factory=mock_pin_factory())
    try:
        return FeedbackDevices(signal_pins(config))
    except Exception as exc:  # noqa: BLE001 - gpiozero raises many kinds when there is no GPIO
        log.error("GPIO unavailable (%s): lights and buzzer are simulated", exc)
        return FeedbackDevices(signal_pins(config), pin_factory=mock_pin_factory())


def build_tokens(config: Config, store: VisitStore, clock: Clock, simulate: bool) -> KioskTokens | None:
    """The checker of the venue's slips and cards, with the venue's key (simulation makes one);
    None without a key."""
    key_path = Path(config.kiosk.token_key) if config.kiosk.token_key else config.data_path / KEY_FILE
    key = venue_key(key_path, create=simulate)
    if key is None:
        return None
    return KioskTokens(key, venue_id=config.kiosk.venue_id, store=store, clock=clock,
                       slip_valid_h=config.rules.max_stay_h)


@dataclass
class SlipPrinting:
    """The print worker (a thread printing queued jobs) and the slip policy (which outcomes get
    a slip, and the door button's)."""

    worker: PrintWorker
    policy: SlipPolicy

    def close(self) -> None:
        self.worker.stop()


def build_printing(config: Config, tokens: KioskTokens | None, clock: Clock) -> SlipPrinting | None:
    """Slip printing when there is a printer and a venue key to sign slips with; else None."""
    if tokens is None:
        return None
    p = config.printer
    printer = open_printer(p.kind, width=p.width, profile=p.profile, **p.target)
    if printer is None:
        return None
    worker = PrintWorker(config.db_path, printer, tokens, venue_name=config.kiosk.venue_name, clock=clock,
                         language=config.kiosk.language)
    return SlipPrinting(worker, SlipPolicy(worker.request, p.slips))


def build_uplink(config: Config, clock: Clock, state: LoopState, printer_state=lambda: None) -> Uplink:
    """The uplink over the kiosk's outbox, publishing the health of ``state``; printer_state: the
    print worker's state (None: no printer)."""
    outbox = KioskOutbox(config.db_path)
    return Uplink(outbox, uplink_settings(config), health=HealthReport(state, clock, config.data_path, printer_state),
                  commands=kiosk_commands(outbox, clock=clock, retention_days=config.kiosk.retention_days),
                  version=__version__)


def build_status(config: Config, clock: Clock, uplink: Uplink, state: LoopState,
                 printer_state=lambda: None) -> KioskStatus:
    return KioskStatus(config.db_path, venue_id=config.kiosk.venue_id, clock=clock, uplink=uplink, state=state,
                       printer_state=printer_state)


def systemd_heartbeat(status: KioskStatus):
    """The scan loop's heartbeat under systemd (None elsewhere: nothing to do): READY=1 after the
    loop's first step (the camera read or being retried, the web server started), WATCHDOG=1 from
    the loop's own thread, and a STATUS= line such as "scanning; 12 inside; broker connected"."""
    if not sdnotify.enabled():
        return None
    heartbeat = sdnotify.Heartbeat(every_s=SYSTEMD_STATUS_EVERY_S)

    def beat() -> None:
        if heartbeat.due():
            heartbeat.say(status_line(status))
        heartbeat.tick()
    return beat


def status_line(status: KioskStatus) -> str:
    """The kiosk's state in one line (systemd's STATUS=)."""
    try:
        marks, inside = status(), status.occupancy()
    except Exception as exc:  # noqa: BLE001 - a status line must never stop the loop
        return f"scanning; status unreadable ({type(exc).__name__})"
    doing = f"error: {marks['error']}" if marks.get("error") else "scanning"
    people = f"{inside} inside" if inside is not None else "occupancy unknown"
    broker = "broker connected" if marks.get("broker_connected") else "broker not connected"
    outbox = f"; {marks['outbox']} unsent" if marks.get("outbox") else ""
    return f"{doing}; {people}; {broker}{outbox}"


def _watches(ctx: WebContext) -> list[ChangePoller]:
    """What the screen learns by looking: the status marks and occupancy, and in simulation the
    mock lights, buzzer and relay."""
    sources = ctx.screen_sources()
    signals = sources.pop("signals", None)
    watches = [ChangePoller(ctx.feed, sources, STATUS_EVERY_S, name="status")]
    if signals is not None:
        watches.append(ChangePoller(ctx.feed, {"signals": signals}, SIGNALS_EVERY_S, name="signals"))
    return watches
