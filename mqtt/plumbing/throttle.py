"""Login throttling per client device: a few logins are free, then each one waits a delay that
doubles, up to a cap. A client that has to wait is answered at once ("try again in N s"),
before any name is looked up or PIN hashed: no server thread ever sleeps for it, and the answer
says nothing about the name that was typed.

A client is the address the web server saw (no proxy header is trusted): an IPv4 address, an
IPv6 /64 (a device on the LAN can take any address of its /64), and one ``loopback`` (the
kiosk's own screen; the console's server itself). Used by the kiosk's staff pages and the
tracing console. An attempt is charged when it is let through, before its PIN is checked,
so parallel requests cannot share one free slot; a successful login clears the client's count,
and a client quiet for ``forget_s`` starts afresh.

>>> throttle = LoginThrottle(free=3)
>>> [throttle.admit("192.168.1.50") > 0 for _ in range(5)]     # three at once, then a 1 s wait
[False, False, False, True, True]
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass

LOOPBACK = "loopback"
UNKNOWN = "unknown"
IPV6_PREFIX = 64


def client_key(address: str | None) -> str:
    """The throttle's (and the audit trail's) name for the client at ``address``.

    >>> client_key("::ffff:192.168.1.50"), client_key("2001:db8:1:2:aaaa::5"), client_key("127.0.0.1")
    ('192.168.1.50', '2001:db8:1:2::/64', 'loopback')
    """
    if not isinstance(address, str) or not address:
        return UNKNOWN
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])        # fe80::1%eth0: the zone is not the device
    except ValueError:
        return UNKNOWN
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return LOOPBACK
    if ip.version == 4:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))


@dataclass
class _Client:
    attempts: int = 0          # let through and not (yet) followed by a success
    last: float = 0.0          # when the last one was let through
    retry_at: float = 0.0


class LoginThrottle:
    """free: attempts a client makes before it has to wait; first_wait_s, doubled for each
    further attempt up to max_wait_s; forget_s: a client quiet this long starts afresh;
    max_clients: records kept (the oldest go first); clock: monotonic seconds (kept in memory
    only: a wall clock stepped back by NTP would lengthen every wait by the step)."""

    def __init__(self, *, free: int = 3, first_wait_s: float = 1.0, max_wait_s: float = 900.0,
                 forget_s: float = 3600.0, max_clients: int = 4096, clock=time.monotonic):
        self.free = free
        self.first_wait_s = first_wait_s
        self.max_wait_s = max_wait_s
        self.forget_s = forget_s
        self.max_clients = max_clients
        self.clock = clock
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()

    def delay(self, attempts: int) -> float:
        """The wait after ``attempts`` attempts."""
        extra = attempts - self.free
        if extra < 0:
            return 0.0
        return min(self.max_wait_s, self.first_wait_s * 2.0 ** min(extra, 64))

    def admit(self, client: str) -> float:
        """0 when ``client`` may try now (the attempt is counted); else the seconds it must still wait."""
        now = self.clock()
        with self._lock:
            record = self._clients.get(client)
            if record is None or now - record.last >= self.forget_s:
                record = self._clients[client] = _Client(last=now)
                self._bound(now)
            if record.retry_at > now:
                return record.retry_at - now
            record.attempts += 1
            record.last = now
            record.retry_at = now + self.delay(record.attempts)
            return 0.0

    def wait(self, client: str) -> float:
        """Seconds before ``client`` may try again (0: now); counts nothing."""
        now = self.clock()
        with self._lock:
            record = self._clients.get(client)
            if record is None or now - record.last >= self.forget_s:
                return 0.0
            return max(0.0, record.retry_at - now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def __len__(self) -> int:
        return len(self._clients)

    def _bound(self, now: float) -> None:
        if len(self._clients) <= self.max_clients:
            return
        for key in [k for k, r in self._clients.items() if now - r.last >= self.forget_s]:
            del self._clients[key]
        while len(self._clients) > self.max_clients:
            del self._clients[min(self._clients, key=lambda k: self._clients[k].last)]
