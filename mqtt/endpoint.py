"""Where a broker URL points, the TLS a client needs for it, and the one paho client factory:
shared by the kiosk's uplink, the collector's receiver and the self-test.

>>> address("mqtts://broker.example")
('broker.example', 8883)
"""

from __future__ import annotations

import os
import ssl
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def address(url: str) -> tuple[str, int]:
    """(host, port) of ``mqtt://`` or ``mqtts://`` URL, with the scheme's default port."""
    parts = urlsplit(url)
    return parts.hostname, parts.port or (8883 if parts.scheme == "mqtts" else 1883)


class TlsSetupError(ValueError):
    """The files an ``mqtts://`` URL needs are missing or unusable; the message names the
    config key and the file (``[mqtt] tls_ca = /etc/checkin-kiosk/ca.crt: no such file``)."""


def make_client(client_id: str, url: str, *, tls_ca: str | None = None, tls_cert: str | None = None,
                tls_key: str | None = None, manual_ack: bool = False) -> tuple[paho.Client, str, int]:
    """A paho client as both ends use one: callback API v2, MQTT 5, and for an ``mqtts://`` URL
    TLS with the CA (and the client certificate when there is one); with the (host, port) to
    connect to. ``manual_ack``: a received message is PUBACKed only when the caller says so
    (once what it carries is on disk). Raises :class:`TlsSetupError`."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5,
                         manual_ack=manual_ack)
    if urlsplit(url).scheme == "mqtts":
        client.tls_set_context(tls_context(tls_ca or None, tls_cert or None, tls_key or None))
    host, port = address(url)
    return client, host, port


def tls_context(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext:
    """A client context trusting ``ca`` (None: the system's CAs), presenting ``cert``/``key``."""
    for name, path in (("tls_ca", ca), ("tls_cert", cert), ("tls_key", key)):
        if path and not os.path.isfile(path):
            raise TlsSetupError(f"[mqtt] {name} = {path}: no such file")
        if path and not os.access(path, os.R_OK):
            raise TlsSetupError(f"[mqtt] {name} = {path}: not readable by this user")
    try:
        context = ssl.create_default_context(cafile=ca)
    except (ssl.SSLError, OSError) as exc:
        raise TlsSetupError(f"[mqtt] tls_ca = {ca}: not a PEM certificate ({_reason(exc)})") from exc
    if cert:
        try:
            context.load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as exc:
            raise TlsSetupError(f"[mqtt] tls_cert = {cert}, tls_key = {key}: not a PEM certificate and its "
                                f"private key ({_reason(exc)})") from exc
    return context


def _reason(exc: Exception) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
