"""Fetching the sealed bundle from the technician's laptop over plain HTTP (the seal protects it).

>>> import socket
>>> with socket.socket() as nobody:                 # a port of this machine where nothing listens
...     nobody.bind(("127.0.0.1", 0))
...     fetch(EnrolCode("127.0.0.1", nobody.getsockname()[1], bytes(32)), attempts=1)
Traceback (most recent call last):
...
kiosk.enrolment.fetch.FetchError: enrol_unreachable

The other refusals are ``enrol_not_found``, ``enrol_used``, ``enrol_expired`` and
``enrol_bad_response``; a bundle offered on loopback, fetched and opened, is the example of
:class:`provisioning.enrol.OfferServer`.
"""

from __future__ import annotations

import http.client
import logging
import time

from .bundle import MAX_SEALED_BYTES
from .payload import EnrolCode

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0
ATTEMPTS = 3
BACKOFF_S = 1.0
#: What the offer server says in a 410 body, and the message each one shows.
GONE = {"used": "enrol_used", "expired": "enrol_expired"}


class FetchError(Exception):
    """The bundle could not be fetched; ``code`` is the message code for the screen."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def fetch(code: EnrolCode, *, timeout: float = TIMEOUT_S, attempts: int = ATTEMPTS,
          backoff: float = BACKOFF_S) -> bytes:
    """The sealed bundle. Network failures are retried ``attempts`` times; answers are final."""
    for attempt in range(1, attempts + 1):
        try:
            return _get(code, timeout)
        except (OSError, http.client.HTTPException) as exc:
            # The address is the technician's laptop, not personal data; the path and key stay out.
            log.warning("enrolment: %s:%d not reachable (attempt %d of %d: %s)", code.host, code.port,
                        attempt, attempts, type(exc).__name__)
            if attempt < attempts:
                time.sleep(backoff * attempt)
    raise FetchError("enrol_unreachable")


def _get(code: EnrolCode, timeout: float) -> bytes:
    conn = http.client.HTTPConnection(code.host, code.port, timeout=timeout)
    try:
        conn.request("GET", code.path, headers={"Accept": "application/octet-stream", "Connection": "close"})
        response = conn.getresponse()
        if response.status == 404:
            raise FetchError("enrol_not_found")
        if response.status == 410:
            reason = response.read(64).decode("ascii", "replace").strip()
            raise FetchError(GONE.get(reason, "enrol_used"))
        if response.status != 200:
            raise FetchError("enrol_bad_response")
        length = response.getheader("Content-Length")
        if length is None or not length.isdigit() or int(length) > MAX_SEALED_BYTES:
            raise FetchError("enrol_bad_response")
        body = response.read(int(length))
        if len(body) != int(length):
            raise http.client.IncompleteRead(body, int(length) - len(body))
        return body
    finally:
        conn.close()
