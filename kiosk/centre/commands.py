"""The commands a kiosk answers from the centre (``kiosks/<id>/cmd/<name>``; the dispatcher is
:class:`mqtt.commands.Commands`, the replies go out in the health message):

- ``ping``: ``"pong"``, to see that the kiosk reads its commands;
- ``purge``: the retention purge now (:func:`kiosk.retention.purge`), with its counts.

Handlers run on the uplink's thread, so they use the outbox's database connection, which that
thread owns.
"""

from __future__ import annotations

from mqtt.commands import Commands

from .. import retention
from .outbox import KioskOutbox


def kiosk_commands(outbox: KioskOutbox, *, clock=None, retention_days: float = retention.DEFAULT_RETENTION_DAYS
                   ) -> Commands:
    """The kiosk's commands over ``outbox``'s connection; ``clock``: the kiosk's (None: the
    system clock, taken as synced)."""
    commands = Commands()
    commands.register("ping", lambda: "pong")
    commands.register("purge", lambda: retention.purge(outbox.store, clock=clock, days=retention_days))
    return commands
