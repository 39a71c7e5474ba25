"""``kiosk enrol``: put the enrolment together from the config, run it, say how it ended.

    kiosk enrol [--config PATH] [--simulate] [--timeout S] [--etc-dir DIR] [--data-dir DIR]

Exit status: 0 enrolled; 1 timed out or stopped; 2 refused (already enrolled, bad arguments).
Targets: /etc/checkin-kiosk and /var/lib/checkin-kiosk; with ``--simulate`` (image-folder
camera, ``dir:./var/camera`` unless the config names one) ./var/enrolled/etc/checkin-kiosk and
./var/enrolled/var/lib/checkin-kiosk, so a development machine's own files are never touched, and
the files keep their creator as owner (as root without ``--simulate``: root:kiosk and kiosk:kiosk).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

from hardware.frames import CameraError, open_source
from mqtt.plumbing.terminal import echo

from ..config import Config, listen_addresses
from ..lan import resolve_listen
from ..web.server import WebServer
from .install import InstallError, Owners, Targets
from .screen import EnrolScreen
from .session import AlreadyEnrolled, Enrolment
from .web import create_app

log = logging.getLogger(__name__)


def targets_for(config: Config, simulate: bool, etc_dir: Path | None = None, data_dir: Path | None = None) -> Targets:
    default = Targets.under(config.data_path / "enrolled" if simulate else Path("/"))
    return Targets(etc_dir or default.etc, data_dir or default.data)


def enrol(config: Config, *, simulate: bool = False, etc_dir: Path | None = None, data_dir: Path | None = None,
          timeout_s: float | None = None, stop: threading.Event | None = None, out: TextIO | None = None,
          fetch_attempts: int | None = None) -> int:
    """Run an enrolment to its end; the exit status."""
    from ..config import simulation_config
    from ..config.parts import camera_settings, decoder_from_config

    out = out if out is not None else sys.stdout
    if simulate:
        config = simulation_config(config)
    targets = targets_for(config, simulate, etc_dir, data_dir)
    screen = EnrolScreen(out)
    existing = targets.existing()
    if existing:
        screen.show("enrol_already_enrolled")
        print(f"kiosk: enrol: this kiosk has an identity already ({', '.join(map(str, existing))}); "
              "nothing was changed", file=sys.stderr)
        return 2
    try:
        # A simulation installs for the developer running it, whoever that is: no chown.
        owners = Owners(None, None) if simulate else Owners.for_this_process()
    except InstallError as exc:
        echo(f"kiosk: enrol: {exc.detail}", file=sys.stderr)
        return 2
    settings = camera_settings(config)
    spec = config.camera.source
    try:
        camera = open_source(spec, settings)
    except CameraError as exc:
        log.error("enrolment: camera unavailable: %s (retrying)", exc)
        camera = None
    options = {} if fetch_attempts is None else {"fetch_attempts": fetch_attempts}
    enrolment = Enrolment(camera, decoder_from_config(config), screen, targets, owners=owners,
                          open_camera=lambda: open_source(spec, settings), **options)
    web = WebServer(create_app(screen), resolve_listen(listen_addresses(config.web.listen)))
    try:
        web.start()
        log.info("enrolment screen: %s", web.url)
    except OSError as exc:
        log.error("enrolment screen unavailable: %s", exc)
    if simulate and spec.startswith("dir:"):
        print(f"(simulated camera: put the enrolment code's image into {spec[4:]})", file=out, flush=True)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    try:
        kiosk_id = enrolment.run(stop, timeout_s)
    except AlreadyEnrolled:
        print("kiosk: enrol: this kiosk has an identity already; nothing was changed", file=sys.stderr)
        return 2
    finally:
        enrolment.close()
        web.stop()
    if kiosk_id is None:
        if not stop.is_set():
            screen.show("enrol_timed_out")
        return 1
    print(f"kiosk: enrolled as {kiosk_id}: {targets.etc}, {targets.data}", file=out, flush=True)
    return 0


def run(args, config: Config) -> int:
    """The CLI's entry point (kiosk/cli.py)."""
    if args.timeout is not None and args.timeout <= 0:
        print("kiosk: enrol: --timeout must be more than 0 seconds", file=sys.stderr)
        return 2
    return enrol(config, simulate=args.simulate, etc_dir=args.etc_dir, data_dir=args.data_dir,
                 timeout_s=args.timeout)
