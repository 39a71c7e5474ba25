"""Receipt printers: where check-in slips and personal cards go.

One interface, backends chosen by config ``[printer] kind`` (python-escpos underneath):

>>> from hardware.printers import open_printer
>>> printer = open_printer("usb", "04b8:0e15", width=576)
>>> printer.status()                  # best effort: "ok", "paper_low", "no_paper", "offline" or None
'ok'
>>> printer.print_image(image)        # mode "1", exactly printer.width dots wide; raises PrinterError

``usb``      ``path = "VID:PID"`` (hex, e.g. ``"04b8:0e15"``), or ``""`` for the first USB printer-class device
``serial``   ``path = "/dev/ttyUSB0"`` or ``"/dev/ttyUSB0:115200"`` (baud rate; default 9600)
``network``  ``path = "host[:port]"`` (port 9100 unless given)
``file``     ``path = DIR``: each job becomes one ``.bin`` of the raw ESC/POS bytes plus a ``.png``
             preview (the contract's file printer, for simulation and tests)
``none``     no printer: :func:`open_printer` returns None

Everything is printed as a raster image (``GS v 0``), never as printer text: Vietnamese
diacritics then print right on any printer whatever its code pages, and no text — a hostile
name included — can ever reach the printer as commands. Connections open lazily, so a kiosk
starts without its printer and reports it offline until it is back.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PIL import Image

KINDS = ("usb", "serial", "network", "file", "none")
#: Dots per line: 58 mm paper (384) and 80 mm paper (576) at 203 dpi.
WIDTHS = (384, 576)
DEFAULT_NETWORK_PORT = 9100
DEFAULT_BAUD = 9600
BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)


class PrinterError(Exception):
    """A job could not be printed. ``state`` says whether waiting can help:

    ``offline``   not reachable now (unplugged, switched off, connection refused or dropped,
                  folder not writable): the job should wait and be tried again;
    ``no_paper``  the printer says its paper is out;
    ``error``     this job cannot be printed as it is (wrong image size, unexpected failure).
    """

    def __init__(self, state: str, detail: str = ""):
        super().__init__(f"{state}: {detail}" if detail else state)
        self.state = state
        self.detail = detail


class Printer(Protocol):
    width: int  # dots per line: 384 (58 mm) or 576 (80 mm)

    def print_image(self, image: "Image.Image", *, cut: bool = True) -> None:
        """Print ``image`` (mode "1", exactly ``width`` dots wide), then feed and cut when ``cut``.

        Sends only the job (no status query in between). Raises :class:`PrinterError`.
        """

    def status(self) -> str | None:
        """Best effort: ``"ok"``, ``"paper_low"``, ``"no_paper"``, ``"offline"``, or None when the
        printer cannot tell (write-only connection, no answer)."""

    def close(self) -> None: ...


def open_printer(kind: str, path: str = "", *, width: int = 576, profile: str | None = None) -> Printer | None:
    """The printer named by config ``[printer]``; None for ``"none"``.

    Nothing is opened yet: an absent printer shows as ``status() == "offline"`` and
    ``PrinterError("offline")`` when printing. A malformed ``path``, an unknown ``profile`` or a
    width the profile's printer cannot print raise ValueError.
    """
    target = parse_target(kind, path)
    if width not in WIDTHS:
        raise ValueError(f"printer width must be one of {WIDTHS} dots, got {width!r}")
    if profile is not None:
        check_profile(profile, width)
    if kind == "none":
        return None
    if kind == "file":
        from .printer_file import FilePrinter
        return FilePrinter(target["folder"], width=width, profile=profile)
    from . import printer_escpos
    backend = {"usb": printer_escpos.UsbPrinter, "serial": printer_escpos.SerialPrinter,
               "network": printer_escpos.NetworkPrinter}[kind]
    return backend(**target, width=width, profile=profile)


def parse_target(kind: str, path: str) -> dict:
    """``[printer] path`` read for ``kind``, as the backend's arguments; ValueError says what it must be."""
    if kind == "none":
        return {}
    if kind == "usb":
        if path == "":
            return {"vendor": None, "product": None}
        m = re.fullmatch(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})", path)
        if not m:
            raise ValueError('for kind = "usb" must be "VID:PID" in hex (e.g. "04b8:0e15", see lsusb), '
                             'or "" for the first USB printer')
        return {"vendor": int(m.group(1), 16), "product": int(m.group(2), 16)}
    if kind == "serial":
        m = re.fullmatch(r"(/dev/[^\s:]+)(?::(\d+))?", path)
        if not m or (m.group(2) and int(m.group(2)) not in BAUD_RATES):
            raise ValueError('for kind = "serial" must be a device such as "/dev/ttyUSB0", optionally with '
                             f'":BAUD" ({", ".join(map(str, BAUD_RATES))})')
        return {"device": m.group(1), "baud": int(m.group(2) or DEFAULT_BAUD)}
    if kind == "network":
        m = re.fullmatch(r"([A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))(?::(\d{1,5}))?", path)
        if not m or not 0 < int(m.group(2) or DEFAULT_NETWORK_PORT) < 65536:
            raise ValueError('for kind = "network" must be "HOST" or "HOST:PORT" (an IPv4 address or a host '
                             f'name; port {DEFAULT_NETWORK_PORT} unless given)')
        return {"host": m.group(1), "port": int(m.group(2) or DEFAULT_NETWORK_PORT)}
    if kind == "file":
        if not path.strip() or re.search(r"[\x00-\x1f\x7f]", path):
            raise ValueError('for kind = "file" must name the folder that receives the print jobs')
        return {"folder": path}
    raise ValueError(f"printer kind must be one of {KINDS}, got {kind!r}")


def check_profile(profile: str, width: int) -> None:
    """ValueError unless ``profile`` is a python-escpos printer profile that can print ``width`` dots."""
    from .escpos_job import profile_width, profiles
    known = profiles()
    if profile not in known:
        raise ValueError(f"unknown python-escpos printer profile (known: {', '.join(sorted(known))})")
    most = profile_width(profile)
    if most is not None and most < width:
        raise ValueError(f"the {profile} prints at most {most} dots per line: set [printer] width = 384")
