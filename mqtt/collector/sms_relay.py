"""The centre's SMS relay: a kiosk without a modem asks (``kiosks/<id>/sms/send``,
:mod:`mqtt.wire.sms`) and the collector texts through its own backend (``[sms]`` in
collector.toml: Gammu's SMS daemon with the centre's modem, an HTTP SMS gateway, or the
contract's file SMS), answering on ``kiosks/<id>/sms/state``: ``queued`` when the backend took it
and its fate is not known yet, then ``sent`` or ``failed`` with a reason.

The kiosk id is the topic's, which the broker's ACL vouches for; the answer goes to that kiosk
only. The relay keeps its own limits whatever a kiosk claims of its own (a kiosk that lies, or a
stolen one, cannot run up the centre's bill): at most :data:`PER_PHONE` texts to one phone and
:data:`PER_KIOSK` from one kiosk in :data:`WINDOW_S`; with a fleet registry, only for the kiosks
it lists. A request seen again (QoS 1 delivers at least once) is answered again, never sent twice.

Texts are sent on a thread of their own, so the writer never waits on a modem or a gateway. The
relay remembers no number: a phone is counted under an HMAC with a key made at start, and the
log says the kiosk and the outcome, never the number or the text.

>>> import tempfile
>>> from mqtt.plumbing.sms import open_sms
>>> from mqtt.wire.sms import SmsRequest, decode_state
>>> with tempfile.TemporaryDirectory() as folder:
...     answers = []
...     relay = SmsRelay(open_sms("file", folder=folder), publish=answers.extend)
...     relay.handle("k-001", SmsRequest("0b6e4a52-8d2f-4c1e-9a0e-3f5b7c9d1e2a", "0912345678", "Mã: 123456"))
...     [(topic, decode_state(payload).state) for topic, payload in answers]
[('kiosks/k-001/sms/state', 'sent')]
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from ..plumbing.sms import Sms, SmsError
from ..wire.sms import SmsRequest, encode_state
from ..wire.topics import SMS_STATE, topic

log = logging.getLogger("mqtt.collector")

PER_PHONE, PER_KIOSK = 3, 40
WINDOW_S = 15 * 60
#: A text the backend still holds is asked about this often, and given up on after this long.
POLL_S, GIVE_UP_S = 2.0, 600.0
#: Requests remembered (with their answer), the oldest forgotten first.
MAX_REMEMBERED = 10_000

Publish = Callable[[list[tuple[str, bytes]]], None]


class SmsRelay:
    """sms: the backend (None: no relay here, every request is answered ``no_relay``); publish:
    sends ``[(topic, payload)]`` (the collector's receiver); knows: whether a kiosk id may use the
    relay (the fleet registry; None: any)."""

    def __init__(self, sms: Sms | None, publish: Publish, *, knows: Callable[[str], bool] | None = None,
                 monotonic=time.monotonic):
        self.sms, self.publish, self.knows, self.monotonic = sms, publish, knows, monotonic
        self._key = secrets.token_bytes(32)
        self._sent: dict[str, deque[float]] = {}            # "k:<kiosk>" / "p:<hmac>" -> send times
        self._answers: OrderedDict[str, tuple[str, str, str | None]] = OrderedDict()   # request -> kiosk, state
        self._waiting: dict[str, tuple[str, str, float]] = {}    # request -> kiosk, ticket, since
        self._queue: queue.SimpleQueue[tuple[str, SmsRequest] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    # -- the thread ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="collector-sms", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)

    def take(self, kiosk_id: str, request: SmsRequest) -> None:
        """Queue ``request`` of ``kiosk_id`` for the relay's thread (the writer goes on at once)."""
        self._queue.put((kiosk_id, request))

    def _loop(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=POLL_S if self._waiting else None)
            except queue.Empty:
                item = ()
            if item is None:
                return
            try:
                if item:
                    self.handle(*item)
                self.poll()
            except Exception:
                log.exception("collector: the SMS relay failed on a request; carrying on")

    # -- requests -----------------------------------------------------------------------------

    def handle(self, kiosk_id: str, request: SmsRequest) -> None:
        """Send ``request`` for ``kiosk_id`` (or answer why not), and publish the answer."""
        known = self._answers.get(request.request_id)
        if known is not None:
            if known[0] == kiosk_id:             # a redelivery: the same answer again
                self._answer(kiosk_id, request.request_id, known[1], known[2], log_it=False)
            return                                # another kiosk's id: never answered to this one
        if self.sms is None:
            return self._answer(kiosk_id, request.request_id, "failed", "no_relay")
        if self.knows is not None and not self.knows(kiosk_id):
            return self._answer(kiosk_id, request.request_id, "failed", "unknown_kiosk")
        phone_key = "p:" + hmac.new(self._key, request.to.encode(), hashlib.sha256).hexdigest()
        if not self._admit((f"k:{kiosk_id}", PER_KIOSK), (phone_key, PER_PHONE)):
            return self._answer(kiosk_id, request.request_id, "failed", "rate_limited")
        try:
            ticket = self.sms.send(request.to, request.text)
            state = self.sms.state(ticket)
        except SmsError as exc:
            log.warning("collector: a text for kiosk %s could not be handed over: %s", kiosk_id, exc)
            return self._answer(kiosk_id, request.request_id, "failed", "send_failed")
        if state == "queued":
            self._waiting[request.request_id] = (kiosk_id, ticket, self.monotonic())
        self._answer(kiosk_id, request.request_id, state, "not_delivered" if state == "failed" else None)

    def poll(self) -> None:
        """Answer what became of the texts the backend held."""
        for request_id, (kiosk_id, ticket, since) in list(self._waiting.items()):
            try:
                state = self.sms.state(ticket)
            except SmsError as exc:
                log.warning("collector: the fate of a text for kiosk %s cannot be read: %s", kiosk_id, exc)
                state = "queued"
            if state == "queued" and self.monotonic() - since < GIVE_UP_S:
                continue
            del self._waiting[request_id]
            self._answer(kiosk_id, request_id, "sent" if state == "sent" else "failed",
                         None if state == "sent" else "not_delivered")

    def _admit(self, *limits: tuple[str, int]) -> bool:
        """Whether each ``(key, limit)`` has had fewer than ``limit`` texts in the window; if so, one more each."""
        now = self.monotonic()
        counted = []
        for key, limit in limits:
            times = self._sent.setdefault(key, deque())
            while times and now - times[0] >= WINDOW_S:
                times.popleft()
            if len(times) >= limit:
                return False
            counted.append(times)
        for times in counted:
            times.append(now)
        if len(self._sent) > 4 * MAX_REMEMBERED:
            for stale in [k for k, t in self._sent.items() if not t or now - t[-1] >= WINDOW_S]:
                del self._sent[stale]
        return True

    def _answer(self, kiosk_id: str, request_id: str, state: str, reason: str | None, *, log_it: bool = True) -> None:
        self._answers[request_id] = (kiosk_id, state, reason)
        self._answers.move_to_end(request_id)
        while len(self._answers) > MAX_REMEMBERED:
            self._answers.popitem(last=False)
        if log_it:
            log.info("collector: text for kiosk %s: %s%s", kiosk_id, state, f" ({reason})" if reason else "")
        self.publish([(topic(kiosk_id, SMS_STATE), encode_state(request_id, state, reason))])
