"""Printing for people without a phone: a check-in slip to show on the way out, or a personal QR
card staff print once for someone who comes often. ``layout`` draws them as 1-bit images for the
thermal printer (:mod:`hardware.printers`); the print worker takes queued jobs to the printer so
the door never waits for paper.
"""

from __future__ import annotations

from hardware.printers import check_profile as _check_profile

from ..config import Config, ConfigError


def check_profile(config: Config) -> None:
    """ConfigError unless ``[printer] profile`` (when set) is a python-escpos printer profile that
    prints ``[printer] width`` dots.

    The config's schema cannot say (python-escpos's printer database is the hardware's, and
    kiosk.config loads none of it: the technician's laptop reads kiosk.toml with it too), so the
    kiosk checks it where it takes a config as its own: the ``kiosk`` commands, and an enrolment's
    identity before it is installed."""
    p = config.printer
    if p.profile is None:
        return
    try:
        _check_profile(p.profile, p.width)
    except ValueError as exc:
        raise ConfigError(f"[printer] profile = {p.profile!r}: {exc}") from None
