"""The running kiosk's state, in one place.

- :class:`LoopState`: what the scan loop knows of itself (frames read, decode time, outcomes by
  kind, the store's and the camera's errors) and the one rule that makes those the kiosk's error;
- :class:`KioskStatus`: the marks the screen shows (broker, outbox, printer, clock, error) and the
  occupancy;
- :class:`HealthReport`: the figures of the retained ``health`` message the uplink publishes.

The scan loop writes its :class:`LoopState` from its own thread; the screen's and the uplink's
threads only read it. :class:`KioskStatus` reads the database on a connection of its own: the
scan loop's and the uplink's connections belong to their threads. Reads only; a failing read
gives None ("unknown") instead of an error page.

Usage (see :func:`kiosk.app.build_kiosk`)::

    state = LoopState()                         # handed to the ScanLoop, which keeps it current
    status = KioskStatus(config.db_path, venue_id=config.kiosk.venue_id, clock=clock,
                         uplink=uplink, state=state, printer_state=printer_state)
    status()        # {'broker_connected': True, 'outbox': 0, 'printer': None, 'clock_synced': True, 'error': None}
    status.occupancy()      # 12
    HealthReport(state, clock, config.data_path, printer_state)()["camera_fps"]       # 14.9

>>> state = LoopState(store_error="disk_full", camera_error="no frames")
>>> state.error                 # nothing can be recorded: that first
'disk_full'
>>> LoopState(camera_error="no frames").error, LoopState().error
('camera_error', None)
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .store import StoreConnection, StoreUnavailable, VisitStore

log = logging.getLogger(__name__)


@dataclass
class LoopState:
    """The scan loop's figures and errors (see the module's docstring)."""

    frames: int = 0
    decode_s: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    #: Why check-ins cannot be recorded (a :class:`~kiosk.store.StoreUnavailable` reason), or None.
    store_error: str | None = None
    #: What the camera said when it failed, or None while it delivers frames.
    camera_error: str | None = None

    @property
    def error(self) -> str | None:
        """The kiosk's error code (:mod:`kiosk.messages`) while it cannot record or has no
        camera, else None: the store's first (nothing can be recorded), then the camera's."""
        return self.store_error or ("camera_error" if self.camera_error else None)

    def count(self, kind: str) -> None:
        self.outcomes[kind] = self.outcomes.get(kind, 0) + 1



class KioskStatus:
    """``status()`` → the marks; ``occupancy()`` → people inside now.

    uplink: has ``connected``; state: the scan loop's :class:`LoopState`;
    printer_state: returns None (no printer), ``"ok"``, or a word naming the printer's problem.
    """

    def __init__(self, db_path: Path, *, venue_id: str, clock, uplink, state: LoopState,
                 printer_state: Callable[[], str | None] = lambda: None):
        self.venue_id = venue_id
        self.clock = clock
        self.uplink = uplink
        self.state = state
        self.printer_state = printer_state
        # Opened when first read (see StoreConnection), without migrating: the scan loop's does.
        self._store = VisitStore(StoreConnection(db_path, migrate=False))
        self._lock = threading.Lock()
        self._failing: str | None = None

    def __call__(self) -> dict:
        """``broker_connected``; ``outbox``: events not yet acknowledged by the central store (None:
        unreadable); ``printer``; ``clock_synced``; ``error``: the kiosk's error code
        (:mod:`kiosk.messages`) while it cannot record or has no camera, else None."""
        return {"broker_connected": bool(self.uplink.connected), "outbox": self._read(self._outbox),
                "printer": self.printer_state(), "clock_synced": self.clock.stamp().synced,
                "error": self.state.error}

    def occupancy(self) -> int | None:
        return self._read(lambda: self._store.reader().occupancy(self.venue_id))

    def close(self) -> None:
        self._store.close()

    def _outbox(self) -> int:
        return self._store.reader().undelivered()

    def _read(self, query: Callable[[], int]) -> int | None:
        with self._lock:
            try:
                value = query()
            except (sqlite3.Error, StoreUnavailable) as exc:
                # Said once per outage: the screen reads every second, and a full disk lasts.
                if self._failing is None:
                    log.warning("screen status: cannot read the kiosk database (%s)", exc)
                self._failing = str(exc)
                return None
            if self._failing is not None:
                log.info("screen status: the kiosk database reads again")
                self._failing = None
            return value


class HealthReport:
    """Builds the health dict from the scan loop's :class:`LoopState`. Rates (fps, decode ms)
    are over the time since the previous report. printer_state: as :class:`KioskStatus` gets it
    (None: no printer, reported as ``"none"``)."""

    def __init__(self, state: LoopState, clock, data_dir: Path, printer_state=lambda: None):
        self.state = state
        self.clock = clock
        self.data_dir = data_dir
        self.printer_state = printer_state
        self._last = (time.monotonic(), 0, 0.0)

    def __call__(self) -> dict:
        now = time.monotonic()
        stats = self.state
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
            "camera_error": stats.camera_error,
            "store_error": stats.store_error,
            "printer": self.printer_state() or "none",
            "disk_free_bytes": disk_free,
            "outcomes": dict(stats.outcomes),
        }
