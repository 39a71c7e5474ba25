"""The self-test's checks of the kiosk's own parts: each looks at one part and returns a
:class:`Result` (pass, warn, fail or skip, a sentence key and its values, and figures).

A check never raises for a broken part: what breaks is what it reports.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from hardware.frames import CameraError, FrameSource
from hardware.printers import PrinterError, open_printer

from ..config import Config
from ..store import StoreUnavailable, VisitStore

#: The checks' names, in the order they run and are shown.
NAMES = ("config", "certificates", "storage", "staff", "clock", "printer", "sms", "signals", "camera", "test_code",
         "broker")

#: Below this the kiosk is about to stop recording; below the warning, a technician should look.
DISK_FAIL_BYTES = 100 * 2**20
DISK_WARN_BYTES = 1024 * 2**20
#: A certificate that runs out within this many days is reported (it must be reissued on a visit).
CERT_WARN_DAYS = 30
#: How long the camera is read to measure its frame rate.
FPS_WINDOW_S = 2.0
#: How long each light, the buzzer and the relay stay on while cycling them.
SIGNAL_ON_S = 0.4


@dataclass
class Result:
    name: str
    status: str                       # pass | warn | fail | skip
    key: str                          # its sentence: kiosk.messages "selftest_<key>" (report.detail)
    values: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


# -- configuration and identity ----------------------------------------------------------------

def certificates(config: Config, *, now: datetime, kiosk_hardware: bool) -> Result:
    """The TLS identity: CA, certificate and key readable, the certificate issued by that CA to
    this kiosk id, matching the key, and valid now and for a while yet."""
    from ..enrolment.identity_check import common_names, identity_problem, load_pem

    m = config.mqtt
    url = urlsplit(m.url)
    if url.scheme != "mqtts":
        # A loopback broker (development, simulation) is fine; a kiosk at a door should not send
        # names in clear text.
        return Result("certificates", "warn" if kiosk_hardware else "skip",
                      "certs_plain_kiosk" if kiosk_hardware else "certs_plain", {"url": m.url})
    files = {"CA": ("ca", m.tls_ca), "certificate": ("cert", m.tls_cert), "key": ("key", m.tls_key)}
    loaded = {}
    for what, (part, path) in files.items():
        if not path or not Path(path).is_file():
            return Result("certificates", "fail", "certs_missing", {"what": what, "path": path or "(not set)"})
        try:
            loaded[part] = load_pem(part, Path(path).read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            return Result("certificates", "fail", "certs_unreadable",
                          {"what": what, "path": path, "error": str(exc).splitlines()[0][:120]})
    cert = loaded["cert"]
    cn = next(iter(common_names(cert)), "")
    until = cert.not_valid_after_utc
    days = (until - now).days
    figures = {"cn": cn, "not_after": until.isoformat(), "days_left": days}
    problem = identity_problem(loaded["ca"], cert, loaded["key"], config.kiosk.id)
    if problem == "wrong_cn":
        return Result("certificates", "fail", "certs_wrong_cn", {"cn": cn, "kiosk": config.kiosk.id}, figures)
    if problem:
        return Result("certificates", "fail", f"certs_{problem}", figures=figures)
    if now < cert.not_valid_before_utc:
        return Result("certificates", "fail", "certs_not_yet",
                      {"since": f"{cert.not_valid_before_utc:%Y-%m-%d}"}, figures)
    values = {"until": f"{until:%Y-%m-%d}", "days": days, "cn": cn}
    if until <= now:
        return Result("certificates", "fail", "certs_expired", values, figures)
    if days < CERT_WARN_DAYS:
        return Result("certificates", "warn", "certs_soon", values, figures)
    return Result("certificates", "pass", "certs_ok", values, figures)


def storage(data_dir: Path) -> Result:
    """The data directory takes writes, the database is sound, and the disk has room."""
    try:
        store = VisitStore.open(data_dir / "kiosk.db")
        try:
            store.probe()
            verdict = store.reader().quick_check()
        finally:
            store.close()
        if verdict != "ok":
            return Result("storage", "fail", "storage_bad",
                          {"path": data_dir, "error": f"database damaged: {verdict[:100]}"})
        free = shutil.disk_usage(data_dir).free
    except (StoreUnavailable, OSError, sqlite3.Error) as exc:
        return Result("storage", "fail", "storage_bad", {"path": data_dir, "error": str(exc)[:160]})
    values, figures = {"path": data_dir, "free": _size(free)}, {"disk_free_bytes": free}
    if free < DISK_FAIL_BYTES:
        return Result("storage", "fail", "storage_low", values, figures)
    if free < DISK_WARN_BYTES:
        return Result("storage", "warn", "storage_low", values, figures)
    return Result("storage", "pass", "storage_ok", values, figures)


def staff(data_dir: Path) -> Result:
    """The kiosk has a staff account (a kiosk is provisioned without one unless asked: then nobody
    can use its staff pages), and how many are locked out."""
    from ..staff.accounts import StaffAccounts

    try:
        store = VisitStore.open(data_dir / "kiosk.db")
        try:
            accounts = StaffAccounts(store).list()
        finally:
            store.close()
    except (StoreUnavailable, OSError, sqlite3.Error):
        return Result("staff", "skip", "staff_unreadable")
    locked = sum(a["locked"] for a in accounts)
    figures = {"accounts": len(accounts), "locked": locked}
    if not accounts:
        return Result("staff", "warn", "staff_none", figures=figures)
    return Result("staff", "pass", "staff_ok", {"n": len(accounts), "locked": locked}, figures)


def clock(stamp, *, simulated: bool) -> Result:
    """Wall time is NTP-synchronised (events carry it; an unsynced clock is corrected centrally,
    but only from a later synced event of the same boot)."""
    values, figures = {"now": f"{stamp.at:%Y-%m-%d %H:%M:%S %z}"}, {"synced": stamp.synced}
    if stamp.synced:
        return Result("clock", "pass", "clock_ok", values, figures)
    if simulated:
        return Result("clock", "warn", "clock_unsynced_sim", values, figures)
    return Result("clock", "fail", "clock_unsynced", values, figures)


# -- devices -----------------------------------------------------------------------------------

def printer(config: Config, page) -> Result:
    """Print the test page (``page``: a callable giving the image for a width)."""
    p = config.printer
    if p.kind == "none":
        return Result("printer", "skip", "printer_none")
    device = None
    try:
        device = open_printer(p.kind, width=p.width, profile=p.profile, **p.target)
        device.print_image(page(device.width))
        state = device.status() or "unknown"
    except (PrinterError, ValueError, OSError) as exc:
        return Result("printer", "fail", "printer_bad", {"kind": p.kind, "error": str(exc)[:160]})
    finally:
        if device is not None:
            device.close()
    return Result("printer", "warn" if state in ("paper_low", "no_paper") else "pass", "printer_ok",
                  {"kind": p.kind, "state": state}, {"state": state})


def sms(config: Config) -> Result:
    """Whether the one-time codes' text messages can be handed over, without sending one: the file
    SMS's folder writable; Gammu's daemon config readable, its tool installed, its outbox writable."""
    import os

    from mqtt.plumbing.sms import SmsError

    s = config.sms
    if s.kind == "none":
        return Result("sms", "skip", "sms_none")
    if s.kind == "centre":
        return Result("sms", "pass", "sms_centre")
    try:
        if s.kind == "file":
            where = Path(s.target["folder"])
            where.mkdir(parents=True, exist_ok=True)
        else:
            from mqtt.plumbing.sms.gammu import INJECT, GammuSms
            where = GammuSms(s.target["smsdrc"]).outbox
            if shutil.which(INJECT) is None:
                raise SmsError(f"{INJECT} is not installed (apt install gammu-smsd)")
        if not os.access(where, os.W_OK):
            raise SmsError(f"{where} is not writable by this user")
    except (SmsError, OSError) as exc:
        return Result("sms", "fail", "sms_bad", {"kind": s.kind, "error": str(exc)[:160]})
    return Result("sms", "pass", "sms_ok", {"kind": s.kind, "where": str(where)})


def signals(open_signals) -> Result:
    """Switch each light, the buzzer and the relay on and off, and read each back."""
    try:
        devices = open_signals()
    except Exception as exc:  # noqa: BLE001 - gpiozero raises many kinds when there is no GPIO
        return Result("signals", "fail", "signals_bad", {"error": f"{type(exc).__name__}: {exc}"[:160]})
    with devices:
        fitted = [(label, d) for label, d in (("green", devices.green), ("red", devices.red),
                                              ("buzzer", devices.buzzer), ("relay", devices.relay)) if d is not None]
        if not fitted:
            return Result("signals", "skip", "signals_none")
        for label, device in fitted:
            device.on()
            on = device.value
            time.sleep(SIGNAL_ON_S)
            device.off()
            if not on or device.value:
                return Result("signals", "fail", "signals_stuck", {"devices": [label]})
    labels = [label for label, _ in fitted]
    return Result("signals", "pass", "signals_ok", {"devices": labels}, {"devices": ", ".join(labels)})


def camera(source: str, open_camera, target_fps: float) -> tuple[Result, FrameSource | None]:
    """Open the camera and measure the frame rate; the open camera is returned for the test code."""
    try:
        cam = open_camera()
        start = time.monotonic()
        frames = 0
        while time.monotonic() - start < FPS_WINDOW_S:
            cam.read()
            frames += 1
        fps = round(frames / (time.monotonic() - start), 1)
    except (CameraError, OSError, ValueError) as exc:
        return Result("camera", "fail", "camera_bad", {"source": source, "error": str(exc)[:160]}), None
    values, figures = {"source": source, "fps": fps, "target": target_fps}, {"fps": fps}
    if fps < target_fps / 2:
        return Result("camera", "warn", "camera_slow", values, figures), cam
    return Result("camera", "pass", "camera_ok", values, figures), cam


def test_code(cam: FrameSource | None, decoder, token: str, timeout_s: float) -> Result:
    """Read frames until the test code ``token`` is decoded, or ``timeout_s``."""
    if cam is None:
        return Result("test_code", "skip", "code_no_camera")
    start = time.monotonic()
    wanted = token.encode()
    try:
        while (elapsed := time.monotonic() - start) < timeout_s:
            if any(s.data == wanted for s in cam.process(decoder.decode)):
                return Result("test_code", "pass", "code_ok", {"seconds": round(elapsed, 1)},
                              {"seconds": round(elapsed, 1)})
    except (CameraError, OSError) as exc:
        return Result("test_code", "fail", "camera_bad", {"source": "camera", "error": str(exc)[:160]})
    return Result("test_code", "fail", "code_missed", {"seconds": round(timeout_s)})
