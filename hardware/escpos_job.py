"""One print job in ESC/POS, as python-escpos writes it — the same bytes whatever carries them.

Every backend sends a job with :func:`write_job` on its python-escpos printer object; the file
printer runs it on python-escpos's ``Dummy`` (:func:`job_bytes`), so a ``.bin`` in its folder is
byte for byte what a USB, serial or network printer receives::

    ESC @                 initialise (clears modes a previous job may have left)
    GS v 0 …              the image as raster, in python-escpos's fragments of ≤ 960 rows
    ESC d 6, GS V 0       feed past the cutter and cut (when cut)

python-escpos is imported on first use: its import reads its printer database (~0.3 s).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading

from .printers import PrinterError

_PICKLE_DIR = "ESCPOS_CAPABILITIES_PICKLE_DIR"
_import_lock = threading.Lock()
_imported = False


def escpos_package():
    """The ``escpos`` package, imported on first use, with two of its habits tamed.

    Its import caches its printer database as a pickle in a new ``mkdtemp()`` folder that is
    never removed (one per process): a private folder removed at exit is used instead. It logs
    every connection opened and closed at INFO on the root logger (a network printer opens one
    per job): those records are dropped; its warnings and errors still reach the log.
    """
    global _imported
    with _import_lock:
        if not _imported:
            ours = _PICKLE_DIR not in os.environ
            if ours:
                folder = tempfile.mkdtemp(prefix="kiosk-escpos-")
                atexit.register(shutil.rmtree, folder, ignore_errors=True)
                os.environ[_PICKLE_DIR] = folder
            try:
                import escpos.capabilities
                import escpos.constants
                import escpos.exceptions
                import escpos.printer
            finally:
                if ours:
                    del os.environ[_PICKLE_DIR]   # read at import only; child processes need not see it
            logging.getLogger().addFilter(_quiet_escpos_info)
            _imported = True
    import escpos
    return escpos


def _quiet_escpos_info(record: logging.LogRecord) -> bool:
    return record.levelno > logging.INFO or f"{os.sep}escpos{os.sep}" not in record.pathname


def profiles() -> set[str]:
    """Names of python-escpos's printer profiles."""
    return set(escpos_package().capabilities.CAPABILITIES["profiles"])


def profile_width(name: str | None) -> int | None:
    """Dots per line of profile ``name`` (None: the default profile), or None when it does not say."""
    pixels = escpos_package().capabilities.get_profile(name).profile_data["media"]["width"].get("pixels")
    return pixels if isinstance(pixels, int) else None


def use_profile(printer, name: str | None, width: int) -> None:
    """Give python-escpos ``printer`` the profile ``name`` with a paper width of ``width`` dots.

    Profiles that do not know their paper width (the default among them) make python-escpos
    print a warning to stdout on every image; with the width set it checks images against it.
    """
    printer.profile = escpos_package().capabilities.get_profile(name)
    data = printer.profile.profile_data
    if profile_width(name) is None:
        media = {**data["media"], "width": {**data["media"]["width"], "pixels": width}}
        printer.profile.profile_data = {**data, "media": media}   # this instance only


def check_image(image, width: int) -> None:
    """PrinterError("error") unless ``image`` is what printers take: mode "1", ``width`` dots wide."""
    if image.mode != "1" or image.width != width or image.height < 1:
        raise PrinterError("error", f"expected a mode '1' image {width} dots wide, got mode {image.mode!r} "
                                    f"{image.width}x{image.height}")


def write_job(printer, image, *, cut: bool = True) -> None:
    """Send one job to python-escpos ``printer``: initialise, the image as ``GS v 0`` raster, cut."""
    printer.hw("INIT")
    printer.image(image, impl="bitImageRaster")
    if cut:
        printer.cut()


def job_bytes(image, *, cut: bool = True, width: int, profile: str | None = None) -> bytes:
    """The ESC/POS bytes of one job, exactly as python-escpos sends them (its ``Dummy`` printer)."""
    check_image(image, width)
    dummy = escpos_package().printer.Dummy()
    use_profile(dummy, profile, width)
    write_job(dummy, image, cut=cut)
    return dummy.output
