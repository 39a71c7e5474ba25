"""The kiosk's state as its screen shows it: occupancy, and the small status marks.

Read from the web's threads, so on a database connection of its own: the scan loop's and the
uplink's connections belong to their threads. Reads only; a failing read gives None ("unknown")
instead of an error page.

Usage (the running kiosk's uplink and scan loop; see :func:`kiosk.app.build_kiosk`)::

    status = KioskStatus(config.db_path, venue_id=config.kiosk.venue_id, clock=clock,
                         uplink=uplink, loop=loop, printer_state=printer_state)
    status()        # {'broker_connected': True, 'outbox': 0, 'printer': None, 'clock_synced': True, 'error': None}
    status.occupancy()      # 12
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Callable

from .store import StoreConnection, StoreUnavailable, VisitStore

log = logging.getLogger(__name__)


class KioskStatus:
    """``status()`` → the marks; ``occupancy()`` → people inside now.

    uplink: has ``connected``; loop: the scan loop (``store_error``, ``camera_error``);
    printer_state: returns None (no printer), ``"ok"``, or a word naming the printer's problem.
    """

    def __init__(self, db_path: Path, *, venue_id: str, clock, uplink, loop,
                 printer_state: Callable[[], str | None] = lambda: None):
        self.venue_id = venue_id
        self.clock = clock
        self.uplink = uplink
        self.loop = loop
        self.printer_state = printer_state
        # Opened when first read (see StoreConnection), without migrating: the scan loop's does.
        self._store = VisitStore(StoreConnection(db_path, migrate=False))
        self._lock = threading.Lock()
        self._failing: str | None = None

    def __call__(self) -> dict:
        """``broker_connected``; ``outbox``: events not yet acknowledged by the central store (None:
        unreadable); ``printer``; ``clock_synced``; ``error``: the kiosk's error code
        (:mod:`kiosk.messages`) while it cannot record or has no camera, else None."""
        loop = self.loop
        return {"broker_connected": bool(self.uplink.connected), "outbox": self._read(self._outbox),
                "printer": self.printer_state(), "clock_synced": self.clock.stamp().synced,
                "error": loop.store_error or ("camera_error" if loop.camera_error else None)}

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
