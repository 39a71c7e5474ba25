"""Where a broker URL points, and the TLS a client needs for it: shared by the kiosk's uplink,
the collector's receiver and the self-test.

>>> address("mqtts://broker.example")
('broker.example', 8883)
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import paho.mqtt.client as paho


def address(url: str) -> tuple[str, int]:
    """(host, port) of ``mqtt://`` or ``mqtts://`` URL, with the scheme's default port."""
    parts = urlsplit(url)
    return parts.hostname, parts.port or (8883 if parts.scheme == "mqtts" else 1883)


def prepare(client: paho.Client, url: str, *, tls_ca: str | None, tls_cert: str | None,
            tls_key: str | None) -> tuple[str, int]:
    """Give ``client`` TLS (the CA, and the client certificate when there is one) for an
    ``mqtts://`` URL; the (host, port) to connect to."""
    if urlsplit(url).scheme == "mqtts":
        context = ssl.create_default_context(cafile=tls_ca)
        if tls_cert:
            context.load_cert_chain(tls_cert, tls_key)
        client.tls_set_context(context)
    return address(url)
