"""The kiosk's local store: one SQLite file (WAL, synchronous=FULL), and the only code of the
kiosk that holds SQL. Callers say what they want through named methods of a transaction or a
reader; every statement's failure of the file is :class:`StoreUnavailable`.

sqlite-utils: only its ``Migrations`` (:mod:`.schema`) and the ``Database`` they apply to. Its table
API reads no better here: the statements are guarded state changes, joins and RETURNING it cannot
say, and one ``table.insert()`` runs six statements (schema look-ups, a savepoint) where the door's
commit needs one. So each statement is SQL once, in a named method of the module that holds it.

>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as tmp:
...     store = VisitStore.open(Path(tmp, "kiosk.db"))      # on a kiosk /var/lib/checkin-kiosk/kiosk.db
...     with store.transaction() as tx:                     # BEGIN IMMEDIATE ... COMMIT
...         tx.open_visit("cho-phanrang", "cccd:079190000001") is None, tx.occupancy("cho-phanrang")
...     store.reader().outbox_counts()                      # reads outside any write transaction
...     store.close()
(True, 0)
{}
"""

from .access import Reader, Transaction, VisitStore
from .database import StoreConnection, StoreUnavailable, open_database
from .visits import OpenVisit, RecordedEvent

__all__ = ["OpenVisit", "Reader", "RecordedEvent", "StoreConnection", "StoreUnavailable", "Transaction",
           "VisitStore", "open_database"]
