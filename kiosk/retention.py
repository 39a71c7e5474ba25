"""Deleting personal data the kiosk no longer needs: delivered events and closed visits past
retention (with the health declaration a visit kept), people staff registered who have not come
back for as long (the statements: :mod:`kiosk.store.retention`), and the health declarations of
the days before today.

Only what the central store holds (delivered) is deleted; open visits, undelivered and
quarantined events stay whatever their age.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .health.declarations import day_of
from .store import VisitStore

DEFAULT_RETENTION_DAYS = 21


def purge(store: VisitStore, *, clock=None, days: float = DEFAULT_RETENTION_DAYS) -> dict[str, int]:
    """Delete what is older than ``days`` and safe to delete; returns counts.

    ``store``: the kiosk store (any connection to it); ``clock`` a :class:`~kiosk.clock.Clock`
    (None: the system clock, taken as synced). Nothing is purged while the clock is not synced:
    "21 days ago" means nothing on a clock that may be years off. Runs in one write transaction;
    raises :class:`~kiosk.store.StoreUnavailable`.
    """
    if clock is None:
        now = datetime.now().astimezone()
    else:
        stamp = clock.stamp()
        if not stamp.synced:
            return {}
        now = stamp.at
    cutoff = now - timedelta(days=days)
    with store.transaction() as tx:
        counts = tx.purge_expired(cutoff.isoformat(timespec="milliseconds"),
                                  cutoff.astimezone(UTC).isoformat(timespec="seconds"))
        counts["declarations"] = tx.purge_declarations(day_of(now))
        return counts
