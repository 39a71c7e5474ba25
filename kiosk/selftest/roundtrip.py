"""The self-test's broker check: the kiosk's own uplink (its TLS identity, its broker session)
sends the report to ``kiosks/<id>/selftest`` and waits for the collector's ack of it.

The uplink is the one ``kiosk run`` uses, so the session is resumed as the kiosk would: acks for
the kiosk's own events that the broker held while it was stopped are written to its outbox, and
anything still undelivered in the outbox is sent on the way. Nothing of the kiosk's is lost or
duplicated by a self-test.
"""

from __future__ import annotations

import time

from mqtt.uplink import Uplink
from mqtt.wire.topics import selftest_topic

from .checks import Result


def broker(uplink: Uplink, payload: bytes, report_id: str, timeout_s: float) -> Result:
    host = f"{uplink.host}:{uplink.port}"
    start = time.monotonic()
    acked = uplink.post(selftest_topic(uplink.settings.kiosk_id), payload, report_id)
    uplink.start()
    try:
        if acked.wait(timeout_s):
            seconds = round(time.monotonic() - start, 1)
            return Result("broker", "pass", "broker_ok", {"host": host, "seconds": seconds}, {"ack_s": seconds})
    finally:
        uplink.stop()
    if uplink.accepted:
        return Result("broker", "fail", "broker_no_ack", {"host": host, "seconds": round(timeout_s)})
    return Result("broker", "fail", "broker_down", {"host": host, "error": (uplink.last_error or "no answer")[:160]})
