"""systemd's notify protocol (``sd_notify(3)``) without a dependency.

Under a ``Type=notify`` unit, systemd sets ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the
abstract namespace) and, with ``WatchdogSec=``, ``$WATCHDOG_USEC``. Each message is one
datagram of ``KEY=value`` lines. Outside systemd every call is a no-op that returns False.

Used by both the kiosk and the collector (so it lives here: ``mqtt`` never imports ``kiosk``),
each through one :class:`Heartbeat`: READY=1 with the first status line, STATUS= when the line
changes, WATCHDOG=1 from the thread whose hang should restart the service.

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

__all__ = ["Heartbeat", "Watchdog", "enabled", "notify", "ready", "status", "stopping", "watchdog", "watchdog_interval"]


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


class Heartbeat:
    """A daemon's side of ``Type=notify``: :meth:`say` a status line (READY=1 with the first,
    STATUS= afterwards when it changed, at most every ``every_s`` seconds unless ``urgent``), and
    :meth:`tick` the watchdog from the thread that must not hang.

    >>> sent = []
    >>> beat = Heartbeat(every_s=5.0, clock=lambda: 0.0, send=lambda *fields: sent.append(fields))
    >>> beat.say("starting"); beat.say("scanning"); beat.say("STORE DOWN", urgent=True)
    >>> sent
    [('READY=1', 'STATUS=starting'), ('STATUS=STORE DOWN',)]
    """

    def __init__(self, *, every_s: float, interval: float | None = None, clock=time.monotonic, send=None):
        self.every_s = every_s
        self.watchdog = Watchdog(interval, clock=clock)
        self.ready = False
        self.shown: str | None = None
        self._clock = clock
        self._send = send or notify
        self._next = 0.0

    def due(self) -> bool:
        """Whether :meth:`say` would look at a line now (a line costly to make is made only then)."""
        return not self.ready or self._clock() >= self._next

    def say(self, line: str, *, urgent: bool = False) -> None:
        """READY=1 with ``line`` the first time; after that STATUS=``line`` when it differs from the
        last one shown and it is due (or ``urgent``: a change the operator must see at once)."""
        if not urgent and not self.due():
            return
        self._next = self._clock() + self.every_s
        if not self.ready:
            self.ready = True
            self._send("READY=1", f"STATUS={line}")
        elif line != self.shown:
            self._send(f"STATUS={line}")
        self.shown = line

    def tick(self) -> bool:
        """WATCHDOG=1 when due (see :class:`Watchdog`)."""
        return self.watchdog.tick()
