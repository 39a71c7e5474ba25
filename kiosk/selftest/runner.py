"""``kiosk selftest``: check every part of a kiosk in the order a technician would, print the
report, and send it to the central side.

    configuration → certificates → storage → staff accounts → clock → printer (test page with a test code)
    → lights/buzzer/relay → camera (frame rate) → the test code read by the camera
    → broker (the report sent with the kiosk's identity, acked by the collector)

Run it with the kiosk service stopped (it holds the same lock as ``kiosk run``). Exit status 0
when nothing failed (warnings allowed), 1 when a check failed, 2 when it could not run.
"""

from __future__ import annotations

import re
import secrets
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import segno
from PIL import Image

from hardware.feedback import FeedbackDevices
from hardware.frames import open_source
from mqtt.plumbing.terminal import echo
from mqtt.uplink import Uplink

from .. import __version__
from ..centre.outbox import KioskOutbox
from ..clock import Clock
from ..config import DB_NAME, DEFAULT_KIOSK_ID, Config, ConfigError, simulation_config
from ..config.parts import camera_settings, decoder_from_config, mock_pin_factory, signal_pins, uplink_settings
from ..instance import AlreadyRunning, single_instance
from ..messages import text
from ..printing.layout import Line, qr_image, render
from ..store import StoreUnavailable
from . import checks
from .checks import NAMES, Result
from .report import central_report, encode, passed, text_report
from .roundtrip import broker

#: Where a kiosk leaves the test code's image for the technician (also shown in the terminal).
CODE_IMAGE = "selftest-code.png"


def selftest_kiosk_id(host: str | None = None) -> str:
    """The id a simulated self-test with no kiosk id of its own reports as: ``selftest-<host>``.

    >>> selftest_kiosk_id("Lan's-Laptop.local")
    'selftest-lan-s-laptop'
    """
    label = re.sub(r"[^a-z0-9]+", "-", (host or socket.gethostname()).split(".")[0].lower()).strip("-")
    return f"selftest-{label}"[:63].rstrip("-") if label else "selftest"


def run_selftest(config: Config | ConfigError, *, simulate: bool = False, language: str | None = None,
                 code_timeout_s: float = 30.0, broker_timeout_s: float = 20.0, publish: bool = True,
                 clock: Clock | None = None, out=None) -> int:
    out = out or sys.stdout
    if isinstance(config, ConfigError):
        lang = language or "vi"
        results = [Result("config", "fail", "config_bad", {"error": str(config)})]
        results += [Result(n, "skip", "needs_config") for n in NAMES if n != "config"]
        _report(text_report(results, kiosk_id="?", venue="?", at=datetime.now().astimezone(), language=lang), out)
        return 1
    if simulate:
        config = simulation_config(config)
        if config.kiosk.id == DEFAULT_KIOSK_ID:
            # The simulated kiosk of `bootstrap.sh run` has that id: the broker would take this
            # connection for it (and drop it), and the centre would file this report under it.
            config = config.replace("kiosk", id=selftest_kiosk_id())
    lang = language or config.kiosk.language
    clock = clock or Clock(config.kiosk.timezone)
    try:
        with single_instance(config.data_path):
            results = _check(config, simulate, clock, code_timeout_s, out, lang)
            results.append(_send(config, results, clock, broker_timeout_s) if publish
                           else Result("broker", "skip", "broker_skipped"))
    except AlreadyRunning as exc:
        echo(f"kiosk selftest: {exc}", file=sys.stderr)
        return 2
    _report(text_report(results, kiosk_id=config.kiosk.id, venue=config.kiosk.venue_name, at=clock.now(),
                        language=lang), out)
    return 0 if passed(results) else 1


def _report(text: str, out) -> None:
    """The report, line by line, escaped for the terminal (its details quote brokers, files, devices)."""
    for line in text.splitlines():
        echo(line, file=out)


def _check(config: Config, simulate: bool, clock: Clock, code_timeout_s: float, out, lang: str) -> list[Result]:
    results = [Result("config", "pass", "config_ok" if config.source else "config_defaults",
                      {"path": config.source})]
    results.append(checks.certificates(config, now=datetime.now(UTC), kiosk_hardware=not simulate))
    results.append(checks.storage(config.data_path))
    results.append(checks.staff(config.data_path))
    results.append(checks.clock(clock.stamp(), simulated=simulate))
    token = f"CKTEST.{secrets.token_hex(5).upper()}"
    results.append(checks.printer(config, lambda width: _test_page(config, clock, token, width)))
    results.append(checks.sms(config))
    results.append(checks.signals(
        lambda: FeedbackDevices(signal_pins(config), pin_factory=mock_pin_factory() if simulate else None)))
    source = config.camera.source
    result, cam = checks.camera(source, lambda: open_source(source, camera_settings(config)), config.camera.fps)
    results.append(result)
    decoder = decoder_from_config(config)
    try:
        if cam is not None:
            _show_code(config, token, simulate, out, lang)
        results.append(checks.test_code(cam, decoder, token, code_timeout_s))
    finally:
        decoder.close()
        if cam is not None:
            cam.close()
        if cam is not None and simulate and source.startswith("dir:"):
            # Taken back, so the kiosk does not show it to itself again on its next run.
            for leftover in (Path(source[4:]) / CODE_IMAGE, Path(source[4:]) / "done" / CODE_IMAGE):
                leftover.unlink(missing_ok=True)
    return results


def _test_page(config: Config, clock: Clock, token: str, width: int) -> Image.Image:
    lang = config.kiosk.language
    lines = [Line("title", text("selftest_page_title", lang)),
             Line("body", config.kiosk.venue_name or config.kiosk.venue_id),
             Line("body", text("selftest_page_kiosk", lang, kiosk=config.kiosk.id)),
             Line("body", f"{clock.now():%d/%m/%Y %H:%M}"), Line("rule"),
             Line("body", text("selftest_page_fonts", lang)),
             Line("qr"), Line("note", text("selftest_page_note", lang))]
    return render(lines, token, width)


def _show_code(config: Config, token: str, simulate: bool, out, lang: str) -> None:
    """Put the test code where the camera can see it: in simulation, as a card held up to the
    image-folder camera; on a kiosk, as an image file and in the technician's terminal (the
    printed test page carries it too)."""
    code = qr_image(token, 240).convert("L")
    if simulate and config.camera.source.startswith("dir:"):
        folder = Path(config.camera.source[4:])
        scene = Image.fromarray(np.full((480, 640), 200, np.uint8))
        scene.paste(code, ((640 - code.width) // 2, (480 - code.height) // 2))
        partial = folder / f".{CODE_IMAGE}"
        scene.save(partial)
        partial.rename(folder / CODE_IMAGE)         # the camera ignores dot files: never half a file
        return
    try:
        code.save(config.data_path / CODE_IMAGE)
    except OSError:
        pass                                         # the terminal still shows it
    print(text("selftest_code_show", lang), file=out)
    segno.make_qr(token, error="m").terminal(out=out, compact=True)
    out.flush()


def _send(config: Config, results: list[Result], clock: Clock, timeout_s: float) -> Result:
    report = central_report(results, kiosk_id=config.kiosk.id, venue_id=config.kiosk.venue_id, at=clock.now())
    try:
        outbox = KioskOutbox(config.data_path / DB_NAME)
    except (StoreUnavailable, OSError) as exc:
        return Result("broker", "fail", "broker_down", {"host": config.mqtt.url, "error": f"outbox: {exc}"[:160]})
    stamp = clock.stamp()
    figures = {r.name: r.figures for r in results if r.figures}

    def health() -> dict:
        return {"kiosk_version": __version__, "selftest": True, "uptime_s": round(stamp.uptime_s, 1),
                "clock_synced": stamp.synced, "camera_fps": figures.get("camera", {}).get("fps"),
                "disk_free_bytes": figures.get("storage", {}).get("disk_free_bytes")}

    try:
        uplink = Uplink(outbox, uplink_settings(config), health=health, version=__version__)
        return broker(uplink, encode(report), report["report_id"], timeout_s)
    except (OSError, ValueError) as exc:          # unreadable TLS files, a malformed URL
        return Result("broker", "fail", "broker_down", {"host": config.mqtt.url, "error": str(exc)[:160]})
    finally:
        outbox.close()
