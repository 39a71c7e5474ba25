"""The staff side of a running kiosk, on a database connection of its own (the web server's
threads), serialised by one lock: accounts, the audit trail, the people registry, the print
queue, the one-time codes to a citizen's phone and the staff desk.

>>> import tempfile
>>> from kiosk.config import load_config
>>> from kiosk.staff.people import parse_declaration
>>> with tempfile.TemporaryDirectory() as tmp:
...     config = load_config(None).replace("kiosk", data_dir=tmp)        # on a kiosk /var/lib/checkin-kiosk
...     services = StaffServices.open(config, Clock("Asia/Ho_Chi_Minh"),
...                                   on_outcome=lambda outcome: print(outcome.kind))   # never the visitor screen
...     staff = services.accounts.login("Lan", services.accounts.add("Lan")).staff
...     declaration = parse_declaration({"name": "Trần Văn Thử", "phone": "0912345678"})
...     _, _, result = services.desk.declare(staff, declaration)       # registered and checked in
...     result.code, [visit["name"] for visit in services.desk.inside()]
...     services.close()
check_in
('check_in', ['Trần V. T.'])

The kiosk (:func:`kiosk.app.build_kiosk`) tells each staff outcome to the slip policy
(``staff_show``) and, in simulation, to the terminal.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from mqtt.plumbing.sms import Deferred, Sms

from ..clock import Clock
from ..config import CENTRE_SMS, Config
from ..door.checkin import CheckinDesk
from ..health.declarations import health_policy
from ..keys import key_file
from ..printing.queue import PrintQueue
from ..store import StoreUnavailable, VisitStore
from .accounts import StaffAccounts
from .audit import Audit
from .desk import StaffDesk
from .people import People
from .phone_codes import PhoneCodes

#: The phone codes' HMAC key, in the data folder (0600, made on first use).
CODES_KEY_FILE = "phone-codes.key"


@dataclass
class StaffServices:
    store: VisitStore
    accounts: StaffAccounts
    audit: Audit
    desk: StaffDesk
    codes: PhoneCodes

    @classmethod
    def open(cls, config: Config, clock: Clock, *, on_outcome=None, on_queued=None,
             centre_sms: Sms | None = None) -> StaffServices:
        """on_outcome: see :class:`StaffDesk`; on_queued: a print job was queued; centre_sms: the
        texts through the centre (:class:`kiosk.centre.sms.CentreSms`), for ``[sms] kind = "centre"``."""
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
                        health=health_policy(config.declaration),
                        mode=config.kiosk.mode, capacity=config.rules.capacity),
            People(store, lock=lock, max_per_phone=s.max_per_phone, now=clock.now), audit,
            PrintQueue(store, lock=lock, on_queued=on_queued), lock=lock, on_outcome=on_outcome)
        if config.sms.kind == CENTRE_SMS:
            if centre_sms is None:
                raise ValueError('[sms] kind = "centre" needs the uplink\'s texts (centre_sms)')
            sms: Sms | None = centre_sms
        else:
            sms = None if config.sms.kind == "none" else Deferred(config.sms.kind, **config.sms.target)
        codes = PhoneCodes(store, sms, key_file(config.data_path / CODES_KEY_FILE), audit,
                           venue_name=config.kiosk.venue_name, clock=epoch, language=config.kiosk.language,
                           lock=lock)
        return cls(store, accounts, audit, desk, codes)

    def close(self) -> None:
        try:
            self.accounts.flush()           # the failed-login counts not written yet
        except StoreUnavailable:
            pass                            # a full disk: the counts are all that is lost
        self.store.close()
