"""Texts through the centre (``[sms] kind = "centre"``): a kiosk without a modem asks the
collector to send (``kiosks/<id>/sms/send``, :mod:`mqtt.wire.sms`) over the uplink's connection,
and reads what became of each text on ``kiosks/<id>/sms/state``.

The door never waits on it: a kiosk that is not connected to the broker at that moment cannot
send (:class:`~mqtt.plumbing.sms.SmsError` at once, and staff let the household in unverified);
a request the centre has not answered within :data:`ANSWER_WITHIN_S` counts as failed; one the
centre took is ``queued`` until it says ``sent`` or ``failed``. What the centre refused, and why,
is logged (the reason, never the number).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from mqtt.plumbing.sms import SmsError, check_message
from mqtt.uplink import Uplink
from mqtt.wire.sms import decode_state, encode_request
from mqtt.wire.topics import SMS_SEND, SMS_STATE, topic

log = logging.getLogger(__name__)

#: The centre answers a request within seconds (``queued`` at least); none by then: failed.
ANSWER_WITHIN_S = 30.0
#: Texts remembered, the oldest forgotten first (a kiosk sends a few codes an hour).
MAX_TICKETS = 1000


@dataclass
class _Ticket:
    asked_at: float
    state: str = "queued"
    answered: bool = False
    reason: str | None = None


class CentreSms:
    """The :class:`~mqtt.plumbing.sms.Sms` of a kiosk whose texts the centre sends, over ``uplink``
    (call before the uplink starts: it subscribes to the answers)."""

    def __init__(self, uplink: Uplink, *, monotonic=time.monotonic):
        self.uplink, self.monotonic = uplink, monotonic
        self._topic = topic(uplink.settings.kiosk_id, SMS_SEND)
        self._tickets: OrderedDict[str, _Ticket] = OrderedDict()
        self._lock = threading.Lock()
        uplink.listen(SMS_STATE, self._answered)

    def send(self, phone: str, text: str) -> str:
        check_message(phone, text)
        if not self.uplink.online:
            raise SmsError("the centre cannot be reached now (no connection to the broker)")
        request_id = str(uuid.uuid4())
        payload = encode_request(request_id, phone, text)
        with self._lock:
            self._tickets[request_id] = _Ticket(self.monotonic())
            while len(self._tickets) > MAX_TICKETS:
                self._tickets.popitem(last=False)
        self.uplink.post(self._topic, payload)
        return request_id

    def state(self, ticket: str) -> str:
        with self._lock:
            known = self._tickets.get(ticket)
            if known is None:
                return "failed"
            if not known.answered and self.monotonic() - known.asked_at > ANSWER_WITHIN_S:
                return "failed"
            return known.state

    def why(self, ticket: str) -> str | None:
        """Why the centre did not send it (a ``checkin.sms-state/1`` reason), or None."""
        with self._lock:
            known = self._tickets.get(ticket)
            return known.reason if known is not None else None

    def _answered(self, payload: bytes) -> None:
        """An answer from the centre (on the uplink's thread)."""
        try:
            answer = decode_state(payload)
        except ValueError as exc:
            log.warning("sms: ignored a malformed answer from the centre (%s)", exc)
            return
        with self._lock:
            ticket = self._tickets.get(answer.request_id)
            if ticket is None:
                return
            ticket.state, ticket.answered, ticket.reason = answer.state, True, answer.reason
        if answer.reason:
            log.warning("sms: the centre did not send a code (%s)", answer.reason)
