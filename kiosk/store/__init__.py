"""The kiosk's local store: one SQLite file (WAL, synchronous=FULL) through sqlite-utils.

>>> store = VisitStore.open(Path("./var/kiosk.db"))
>>> with store.transaction() as tx:
...     tx.open_visit("cho-phanrang", "cccd:079190000001")
"""

from .database import StoreUnavailable, open_database
from .visits import OpenVisit, Transaction, VisitStore

__all__ = ["OpenVisit", "StoreUnavailable", "Transaction", "VisitStore", "open_database"]
