"""What venue staff can do, apart from the web pages that show it: accounts and sessions, the
audit trail, people registered under a phone number, and check-ins on their behalf.

All of it lives in the kiosk's own SQLite file (see :mod:`kiosk.store.schema`), written through a
:class:`~kiosk.store.VisitStore` connection of its own.
"""
