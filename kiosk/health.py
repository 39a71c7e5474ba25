"""The kiosk's health figures, for the retained health message (and later the screen)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from . import __version__


class HealthReport:
    """Builds the health dict from the scan loop's counters.

    Usage (the running kiosk's, for the uplink; see :func:`kiosk.app.build_kiosk`)::

        report = HealthReport(loop, clock, config.data_path, printer_state)
        report()["camera_fps"]          # 14.9

    Rates (fps, decode ms) are over the time since the previous report. printer_state: as
    :class:`~kiosk.status.KioskStatus` gets it (None: no printer, reported as ``"none"``).
    """

    def __init__(self, loop, clock, data_dir: Path, printer_state=lambda: None):
        self.loop = loop
        self.clock = clock
        self.data_dir = data_dir
        self.printer_state = printer_state
        self._last = (time.monotonic(), 0, 0.0)

    def __call__(self) -> dict:
        now = time.monotonic()
        stats = self.loop.stats
        then, frames, decode_s = self._last
        self._last = (now, stats.frames, stats.decode_s)
        n = stats.frames - frames
        try:
            disk_free = shutil.disk_usage(self.data_dir).free
        except OSError:
            disk_free = None
        stamp = self.clock.stamp()
        return {
            "kiosk_version": __version__,
            "uptime_s": round(stamp.uptime_s, 1),
            "boot_id": stamp.boot_id,
            "clock_synced": stamp.synced,
            "camera_fps": round(n / (now - then), 1) if now > then else None,
            "decode_ms": round((stats.decode_s - decode_s) / n * 1000, 2) if n else None,
            "camera_error": self.loop.camera_error,
            "store_error": self.loop.store_error,
            "printer": self.printer_state() or "none",
            "disk_free_bytes": disk_free,
            "outcomes": dict(stats.outcomes),
        }
