"""systemd's notify protocol (``sd_notify(3)``) without a dependency.

Under a ``Type=notify`` unit, systemd sets ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the
abstract namespace) and, with ``WatchdogSec=``, ``$WATCHDOG_USEC``. Each message is one
datagram of ``KEY=value`` lines. Outside systemd every call is a no-op that returns False.

Used by both the kiosk and the collector (so it lives here: ``mqtt`` never imports ``kiosk``).

Here a socket of our own stands in for systemd's:

>>> import tempfile
>>> from unittest import mock
>>> with tempfile.TemporaryDirectory() as tmp, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
...     manager.bind(f"{tmp}/notify")
...     with mock.patch.dict(os.environ, NOTIFY_SOCKET=f"{tmp}/notify"):
...         pinger = Watchdog(interval=10.0)   # default: half of $WATCHDOG_USEC
...         ready(status="scanning"), pinger.tick(), pinger.tick()     # tick: call it often
...     manager.recv(100), manager.recv(100)
(True, True, False)
(b'READY=1\\nSTATUS=scanning', b'WATCHDOG=1')
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)

__all__ = ["Watchdog", "enabled", "notify", "ready", "status", "stopping", "watchdog", "watchdog_interval"]


def _address() -> str | bytes | None:
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return None
    if path.startswith("@"):
        return b"\0" + path[1:].encode()       # the abstract namespace
    if not path.startswith("/"):
        return None                            # sd_notify(3) accepts only these two forms (and vsock)
    return path


def enabled() -> bool:
    """True when there is a notify socket to talk to."""
    return _address() is not None


def notify(*fields: str) -> bool:
    """Send ``fields`` (``"READY=1"``, ``"STATUS=…"``) as one datagram; False when not under systemd
    or the socket is gone (never raises: a service must not die because its manager went away)."""
    address = _address()
    if address is None:
        return False
    message = "\n".join(f.replace("\n", " ") for f in fields).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
        return True
    except OSError as exc:
        log.debug("sd_notify %r failed: %s", fields, exc)
        return False


def ready(status: str | None = None) -> bool:
    return notify("READY=1", *([f"STATUS={status}"] if status else []))


def watchdog() -> bool:
    return notify("WATCHDOG=1")


def stopping(status: str | None = None) -> bool:
    return notify("STOPPING=1", *([f"STATUS={status}"] if status else []))


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def watchdog_interval() -> float | None:
    """How often to ping, in seconds: half of ``$WATCHDOG_USEC`` (as ``sd_watchdog_enabled(3)``
    advises); None when there is no watchdog, or it is meant for another process (``$WATCHDOG_PID``)."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2 / 1_000_000 if value > 0 else None


class Watchdog:
    """Pings ``WATCHDOG=1`` at most every :func:`watchdog_interval` seconds, from whichever thread
    calls :meth:`tick` — so the thread that calls it is the one whose hang restarts the service."""

    def __init__(self, interval: float | None = None, *, clock=time.monotonic):
        self.interval = watchdog_interval() if interval is None else interval
        self._clock = clock
        self._next = 0.0

    def tick(self) -> bool:
        """Ping when due; True when a ping was sent."""
        if not self.interval:
            return False
        now = self._clock()
        if now < self._next:
            return False
        self._next = now + self.interval
        return watchdog()
