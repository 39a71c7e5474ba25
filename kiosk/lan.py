r"""The kiosk on the venue LAN: what ``lan`` means in a listen address, the staff pages' HTTPS port,
and the names staff phones reach the kiosk by.

On a kiosk whose default route is on wlan0, at 192.168.1.20, ``resolve_listen([("lan", 8443),
("localhost", 8080)])`` is ``[('192.168.1.20', 8443), ('127.0.0.1', 8080)]``. Here the route
table is a file whose default route is on ``lo``, and then one with no default route:

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     table = Path(tmp, "route")                     # as /proc/net/route says it
...     _ = table.write_text("Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT\n"
...                          "lo 00000000 0100007F 0003 0 0 0 00000000 0 0 0\n")
...     resolve_listen([("lan", 8443), ("localhost", 8080)], route_table=table)
...     _ = table.write_text("Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT\n")
...     resolve_listen([("lan", 8443), ("localhost", 8080)], route_table=table)      # lan left out, logged
[('127.0.0.1', 8443), ('127.0.0.1', 8080)]
[('127.0.0.1', 8080)]
>>> web_names("ninhthuan-cho-phanrang-01")             # what the kiosk's web certificate is for
['ninhthuan-cho-phanrang-01.local', 'ninhthuan-cho-phanrang-01']

``lan`` is the IPv4 address of the interface that carries the default route (``/proc/net/route``),
looked up when it is resolved, so a kiosk moved to another network listens on its new address.
The kiosk's web server resolves ``[web] listen`` and ``tls_listen`` with it, and
``kiosk-provision enrol-qr --listen lan:PORT`` the technician laptop's address by the same rule.
Standard library only: provisioning imports this without the kiosk's web server.
"""

from __future__ import annotations

import fcntl
import logging
import socket
import struct
from pathlib import Path

from mqtt.plumbing.throttle import LOOPBACK, client_key

log = logging.getLogger(__name__)

ROUTE_TABLE = Path("/proc/net/route")
#: The staff pages' HTTPS port on the venue LAN (``[web] tls_listen = "lan:8443"`` as provisioned).
STAFF_HTTPS_PORT = 8443
_SIOCGIFADDR = 0x8915
_RTF_UP = 0x1


def web_names(kiosk_id: str) -> list[str]:
    """The names the kiosk's web certificate is for: ``<id>.local``, how a staff phone on the venue
    LAN reaches it (mDNS: the kiosk's hostname is its id), and the bare id (a venue router's DNS).
    No IP address: the kiosk's LAN address is not known when it is provisioned, and it changes."""
    return [f"{kiosk_id}.local", kiosk_id]


def default_route_interface(route_table: Path = ROUTE_TABLE) -> str | None:
    """The interface of the IPv4 default route (lowest metric), or None."""
    try:
        lines = route_table.read_text().splitlines()[1:]
    except OSError:
        return None
    routes = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000" and int(fields[3], 16) & _RTF_UP:
            routes.append((int(fields[6]), fields[0]))
    return min(routes)[1] if routes else None


def interface_address(interface: str) -> str | None:
    """The IPv4 address of ``interface``, or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", interface.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def resolve_listen(addresses: list[tuple[str, int]], route_table: Path = ROUTE_TABLE) -> list[tuple[str, int]]:
    """``[web] listen`` pairs with ``lan`` and ``localhost`` made addresses; a ``lan`` with no
    default route is left out with a warning. Duplicates are dropped."""
    resolved = []
    for host, port in addresses:
        if host == "localhost":
            host = "127.0.0.1"
        elif host == "lan":
            interface = default_route_interface(route_table)
            address = interface_address(interface) if interface else None
            if address is None:
                log.warning("web: no LAN address (no default route%s): not listening on lan:%d",
                            f" address on {interface}" if interface else "", port)
                continue
            host = address
        if (host, port) not in resolved:
            resolved.append((host, port))
    return resolved


def is_kiosk_screen(address: str | None) -> bool:
    """The request comes from the kiosk's own screen (its browser on loopback), not from the LAN."""
    return client_key(address) == LOOPBACK
