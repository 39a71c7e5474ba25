"""The staff side of a running kiosk, on a database connection of its own (the web server's
threads), serialised by one lock: accounts, the audit trail, the people registry, the print
queue and the staff desk.

>>> services = StaffServices.open(config, clock, on_outcome=slips.staff_show)   # never the visitor screen
>>> services.accounts.login("Lan", "480215")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..checkin import CheckinDesk
from ..clock import Clock
from ..config import Config
from ..printqueue import PrintQueue
from ..store import StoreUnavailable, VisitStore
from .accounts import StaffAccounts
from .audit import Audit
from .desk import StaffDesk
from .people import People


@dataclass
class StaffServices:
    store: VisitStore
    accounts: StaffAccounts
    audit: Audit
    desk: StaffDesk

    @classmethod
    def open(cls, config: Config, clock: Clock, *, on_outcome=None, on_queued=None) -> "StaffServices":
        """on_outcome: see :class:`StaffDesk`; on_queued: a print job was queued."""
        store = VisitStore.deferred(config.db_path)     # a kiosk starts on a full disk
        lock = threading.RLock()
        s = config.staff
        def epoch() -> float:
            return clock.now().timestamp()

        audit = Audit(store, lock=lock, clock=epoch)
        # Lockouts and sessions are in the database: wall time. The throttle is in memory: the
        # kiosk's uptime, which an NTP step back does not move.
        accounts = StaffAccounts(store, lock=lock, max_failures=s.max_failures, lockout_s=s.lockout_min * 60,
                                 session_idle_s=s.session_idle_min * 60, clock=epoch, monotonic=clock.uptime,
                                 audit=audit)
        desk = StaffDesk(
            CheckinDesk(store, clock, kiosk_id=config.kiosk.id, venue_id=config.kiosk.venue_id,
                        mode=config.kiosk.mode, capacity=config.rules.capacity),
            People(store, lock=lock, max_per_phone=s.max_per_phone, now=clock.now), audit,
            PrintQueue(store, lock=lock, on_queued=on_queued), lock=lock, on_outcome=on_outcome)
        return cls(store, accounts, audit, desk)

    def close(self) -> None:
        try:
            self.accounts.flush()           # the failed-login counts not written yet
        except StoreUnavailable:
            pass                            # a full disk: the counts are all that is lost
        self.store.close()
