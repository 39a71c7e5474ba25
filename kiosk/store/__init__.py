"""The kiosk's local store: one SQLite file (WAL, synchronous=FULL) through sqlite-utils.

>>> store = VisitStore.open(Path("./var/kiosk.db"))
>>> with store.transaction() as tx:
...     tx.open_visit("cho-phanrang", "cccd:079190000001")
"""

from .database import StoreConnection, StoreUnavailable, open_database
from .visits import OpenVisit, RecordedEvent, Transaction, VisitStore

__all__ = ["OpenVisit", "RecordedEvent", "StoreConnection", "StoreUnavailable", "Transaction", "VisitStore",
           "open_database"]
