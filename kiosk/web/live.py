"""What the screen hears at once: a publish/subscribe feed for Server-Sent Events, and its publishers.

The scan thread must never wait on the web: :meth:`LiveFeed.publish` only appends to bounded
per-subscriber buffers, and a subscriber whose buffer is full (a slow or dead browser) is dropped
rather than waited for. Everything published is a view model safe to show anyone who can see
the screen: masked names only, never an ID number or a phone.

>>> from zoneinfo import ZoneInfo
>>> from kiosk.credentials import recognise
>>> feed = LiveFeed()
>>> stream = feed.subscribe()                    # one open /events stream
>>> screen = WebScreen(feed, venue_name="Chợ Phan Rang", tz=ZoneInfo("Asia/Ho_Chi_Minh"))
>>> card = recognise("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1|15072021")
>>> screen.show(Outcome("check_in", card, "3f2a9c1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
...                     "2026-08-19T08:31:02.153+07:00", occupancy=12))
>>> message = stream.next(timeout=1.0)
>>> message.event, json.loads(message.data)["values"], message.sse().splitlines()[:2]
('outcome', {'name': 'Nguyễn T. M.', 'time': '08:31'}, ['id: 1', 'event: outcome'])

The events (``data`` is one JSON object; each has ``published_at``, wall time in seconds):

- ``outcome`` (:class:`WebScreen`): ``kind``, ``code``, ``values``, ``occupancy``, ``capacity``, ``venue``;
- ``status`` (:class:`ChangePoller`, on change; :meth:`WebScreen.status` sends ``error`` alone at once):
  ``broker_connected``, ``outbox``, ``printer``, ``clock_synced``, ``error``;
- ``occupancy`` (:class:`ChangePoller`, on change): ``occupancy``, ``capacity``;
- ``signals`` (simulation, :class:`ChangePoller` every 50 ms, on change): ``green``, ``red``, ``buzzer``,
  ``relay`` (true/false, null when not fitted).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from mqtt.wire.masking import mask_name

from ..door.outcome import Outcome
from ..health.questions import QuestionSet

log = logging.getLogger(__name__)

#: Open /events streams at once: the kiosk's own Chromium and a few more. Each holds a server thread.
MAX_SUBSCRIBERS = 4
#: Messages a subscriber may have waiting; more means it is not reading, and it is dropped.
QUEUE_LIMIT = 64


@dataclass(frozen=True)
class Message:
    """One published event, serialised once for every subscriber."""

    id: int
    event: str
    data: str           # JSON

    def sse(self) -> str:
        return f"id: {self.id}\nevent: {self.event}\ndata: {self.data}\n\n"


class StreamUnavailable(Exception):
    """:meth:`LiveFeed.subscribe` beyond the limit, or once the feed is closed (the web answers 503)."""


class Subscription:
    """One reader's bounded buffer. ``next(timeout)`` gives a :class:`Message`, None when nothing came
    within ``timeout`` (time for a heartbeat), or raises :class:`EOFError` once the feed dropped it."""

    def __init__(self, feed: LiveFeed, limit: int):
        self._feed = feed
        self._limit = limit
        self._items: deque[Message] = deque()
        self._cond = threading.Condition()
        self.closed = False

    def offer(self, message: Message) -> bool:
        """Called by the publisher: never blocks beyond this buffer's own short lock."""
        with self._cond:
            if self.closed:
                return False
            if len(self._items) >= self._limit:
                self.closed = True      # not reading: drop it instead of waiting or growing
                self._items.clear()
            else:
                self._items.append(message)
            self._cond.notify()
            return not self.closed

    def next(self, timeout: float) -> Message | None:
        with self._cond:
            if not self._items and not self.closed:
                self._cond.wait(timeout)
            if self._items:
                return self._items.popleft()
            if self.closed:
                raise EOFError("subscription closed")
            return None

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._items.clear()
            self._cond.notify()
        self._feed._remove(self)


class LiveFeed:
    """Thread-safe publish/subscribe with at most ``max_subscribers`` readers."""

    def __init__(self, *, max_subscribers: int = MAX_SUBSCRIBERS, queue_limit: int = QUEUE_LIMIT):
        self.max_subscribers = max_subscribers
        self.queue_limit = queue_limit
        self._subscribers: list[Subscription] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False

    def subscribe(self) -> Subscription:
        with self._lock:
            if self._closed:
                raise StreamUnavailable("the kiosk is stopping")
            if len(self._subscribers) >= self.max_subscribers:
                raise StreamUnavailable(f"{self.max_subscribers} streams are open already")
            sub = Subscription(self, self.queue_limit)
            self._subscribers.append(sub)
            return sub

    def publish(self, event: str, data: dict) -> None:
        message = Message(next(self._ids), event, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if not sub.offer(message):
                self._remove(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def close(self) -> None:
        """End every stream and take no new ones (before the server stops: an open stream holds a
        server thread, and a browser reconnects at once)."""
        with self._lock:
            self._closed = True
            subscribers, self._subscribers = self._subscribers, []
        for sub in subscribers:
            sub.close()

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)


class WebScreen:
    """The scan loop's screen (``show(outcome)``, ``status(code)``), told to the web page through the feed.

    Event ``outcome``: ``kind`` (check_in, check_out, refused, error), ``code`` (the sentence in
    :mod:`kiosk.messages`), ``values`` (``name``: masked, ``time``: local HH:MM; empty for a
    refusal), ``occupancy`` (None when the outcome does not tell), ``capacity``, ``venue``,
    ``published_at`` (wall time, seconds: the page measures its latency from it).
    Event ``status``: ``{"error": code or None}`` when the kiosk enters or leaves an error state.
    Event ``declare``: the health declaration's questions to ask, one at a time: ``token`` (the
    answers go back with it to ``POST /declaration``), ``questions``
    (``[{"id", "vi", "en"}]``, in order), ``answer_ms`` (back to waiting after this long without an
    answer), ``published_at``.
    """

    def __init__(self, feed: LiveFeed, *, venue_name: str, tz: tzinfo, questions: QuestionSet | None = None,
                 answer_s: float = 30.0):
        self.feed = feed
        self.venue_name = venue_name
        self.tz = tz
        self.questions = [{"id": q.id, "vi": q.vi, "en": q.en} for q in questions or ()]
        self.answer_ms = int(answer_s * 1000)

    def show(self, outcome: Outcome) -> None:
        if outcome.kind == "declare":
            self.feed.publish("declare", {
                "token": outcome.pending, "questions": self.questions, "answer_ms": self.answer_ms,
                "published_at": time.time()})
            return
        if outcome.accepted:
            code = outcome.kind
            values = {"name": mask_name(outcome.credential.name if outcome.credential else None),
                      "time": datetime.fromisoformat(outcome.at).astimezone(self.tz).strftime("%H:%M")}
        else:
            code, values = outcome.reason or "unknown_format", {}
        self.feed.publish("outcome", {
            "kind": outcome.kind, "code": code, "values": values, "occupancy": outcome.occupancy,
            "capacity": outcome.capacity, "venue": self.venue_name, "published_at": time.time()})

    def status(self, code: str | None) -> None:
        self.feed.publish("status", {"error": code, "published_at": time.time()})


def signal_states(signals) -> dict:
    """The mock lights, buzzer and relay as the simulated screen shows them (None: not fitted)."""
    return {name: None if device is None else bool(device.value)
            for name, device in (("green", signals.green), ("red", signals.red),
                                 ("buzzer", signals.buzzer), ("relay", signals.relay))}


class ChangePoller:
    """Polls ``sources`` ({event: read()}) every ``interval`` seconds in a thread of its own and
    publishes an event whenever what ``read()`` returns changes.

    For what has no event of its own: the mock GPIO devices (every 50 ms in simulation), the
    broker, outbox, printer and clock marks, occupancy changed by auto check-out or staff.
    """

    def __init__(self, feed: LiveFeed, sources: dict[str, Callable[[], dict]], interval: float, *, name: str):
        self.feed = feed
        self.sources = sources
        self.interval = interval
        self.name = name
        self._last: dict[str, dict] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"watch-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def poll(self) -> None:
        for event, read in self.sources.items():
            try:
                value = read()
            except Exception:
                log.debug("watch %s: %s failed", self.name, event, exc_info=True)
                continue
            if value != self._last.get(event):
                self._last[event] = value
                self.feed.publish(event, {**value, "published_at": time.time()})

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()
