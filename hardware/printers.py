"""Receipt printers: where check-in slips and personal cards go.

One interface, backends chosen by config ``[printer] kind`` (python-escpos underneath); the
printer's address comes as the backend's arguments, read from ``[printer] path`` by the kiosk's
config (:func:`kiosk.config.printer_target`: this package imports nothing of the kiosk).

A USB printer (the kiosk's usual one)::

    printer = open_printer("usb", vendor=0x04B8, product=0x0E15, width=576)
    printer.status()          # best effort: "ok", "paper_low", "no_paper", "offline" or None
    printer.print_image(image)   # mode "1", exactly printer.width dots wide; raises PrinterError

The contract's file printer, which writes each job's ESC/POS bytes and a PNG preview:

>>> import tempfile
>>> from pathlib import Path
>>> from PIL import Image
>>> with tempfile.TemporaryDirectory() as folder:
...     printer = open_printer("file", folder=folder, width=384)
...     printer.status()
...     printer.print_image(Image.new("1", (384, 40), 1))
...     sorted(p.suffix for p in Path(folder).iterdir())
'ok'
['.bin', '.png']

``usb``      ``vendor``, ``product`` (USB ids; both None: the first USB printer-class device)
``serial``   ``device`` (e.g. ``"/dev/ttyUSB0"``), ``baud``
``network``  ``host``, ``port`` (raw TCP, 9100 on most printers)
``file``     ``folder``: each job becomes one ``.bin`` of the raw ESC/POS bytes plus a ``.png``
             preview (the contract's file printer, for simulation and tests)
``none``     no printer: :func:`open_printer` returns None

Everything is printed as a raster image (``GS v 0``), never as printer text: Vietnamese
diacritics then print right on any printer whatever its code pages, and no text — a hostile
name included — can ever reach the printer as commands. Connections open lazily, so a kiosk
starts without its printer and reports it offline until it is back.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PIL import Image

#: The printers opened here, by ``[printer] kind``: (module of this package, class), imported when
#: one is opened (python-escpos and pyusb only for a printer that needs them). ``none``: no printer.
BACKENDS = {"usb": ("printer_escpos", "UsbPrinter"), "serial": ("printer_escpos", "SerialPrinter"),
            "network": ("printer_escpos", "NetworkPrinter"), "file": ("printer_file", "FilePrinter")}


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

    def print_image(self, image: Image.Image, *, cut: bool = True) -> None:
        """Print ``image`` (mode "1", exactly ``width`` dots wide), then feed and cut when ``cut``.

        Sends only the job (no status query in between). Raises :class:`PrinterError`.
        """

    def status(self) -> str | None:
        """Best effort: ``"ok"``, ``"paper_low"``, ``"no_paper"``, ``"offline"``, or None when the
        printer cannot tell (write-only connection, no answer)."""

    def close(self) -> None: ...


def open_printer(kind: str, *, width: int = 576, profile: str | None = None, **target) -> Printer | None:
    """The printer of config ``[printer]``; None for ``"none"``. ``target``: where it is, the
    backend's arguments (the table above).

    Nothing is opened yet: an absent printer shows as ``status() == "offline"`` and
    ``PrinterError("offline")`` when printing. An unknown ``kind``, a width that is not a positive
    number of dots, an unknown ``profile`` or a width the profile's printer cannot print raise
    ValueError.
    """
    if kind != "none" and kind not in BACKENDS:
        raise ValueError(f"printer kind must be one of {(*BACKENDS, 'none')}, got {kind!r}")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"printer width must be a positive number of dots, got {width!r}")
    if profile is not None:
        check_profile(profile, width)
    if kind == "none":
        return None
    module, name = BACKENDS[kind]
    backend = getattr(importlib.import_module(f".{module}", __package__), name)
    return backend(**target, width=width, profile=profile)


def check_profile(profile: str, width: int) -> None:
    """ValueError unless ``profile`` is a python-escpos printer profile that can print ``width`` dots."""
    from .escpos_job import profile_width, profiles
    known = profiles()
    if profile not in known:
        raise ValueError(f"unknown python-escpos printer profile (known: {', '.join(sorted(known))})")
    most = profile_width(profile)
    if most is not None and most < width:
        raise ValueError(f"the {profile} prints at most {most} dots per line: set [printer] width = 384")
