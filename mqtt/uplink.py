"""The kiosk's uplink: drains the outbox to the broker and takes acks and commands back.

One thread owns the paho client and runs its network loop itself, so publishing, PUBACKs, acks
and outbox updates happen in order without locks. The door never waits for it: the scan loop
only writes outbox rows, and this thread reads them.

Usage (``outbox``: the kiosk's, :class:`Outbox`; a broker at the URL)::

    uplink = Uplink(outbox, UplinkSettings(url="mqtt://127.0.0.1:1883", kiosk_id="k1"), health=lambda: {})
    uplink.start()          # a daemon thread; uplink.stop() disconnects cleanly
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from . import endpoint
from .commands import Commands
from .refusal_inference import GUESS, NOT_AUTHORIZED, RefusalInference, Verdict
from .wire.acks import decode_ack
from .wire.presence import OFFLINE, ONLINE
from .wire.topics import ACKS, CMD, acks_topic, cmd_topic, events_topic, health_topic, parse_topic, status_topic, topic

log = logging.getLogger(__name__)



class Outbox(Protocol):
    """What the uplink needs from the kiosk's store (``kiosk.centre.outbox.KioskOutbox``)."""

    def pending(self, *, after_seq: int = 0, limit: int = 100) -> list[tuple[int, str, bytes]]: ...
    def mark_sent(self, seqs: list[int]) -> None: ...
    def mark_delivered(self, event_ids: list[str]) -> int: ...
    def quarantine(self, seq: int, reason: str) -> None: ...
    def quarantine_pending(self, reason: str) -> int: ...
    def quarantined(self, *, reason_prefix: str, limit: int = 1) -> list[tuple[int, str, bytes]]: ...
    def requeue_quarantined(self, reason_prefix: str) -> int: ...
    def quarantine_refused(self, refused: list[tuple[str, str]]) -> int: ...
    def requeue_sent(self) -> int: ...
    def resend_unacknowledged(self, older_than_s: float) -> int: ...
    def depth(self) -> dict: ...


@dataclass(frozen=True)
class UplinkSettings:
    """url: ``mqtt://host:port`` or ``mqtts://host:port``; kiosk_id: also the client id.
    tls_ca/tls_cert/tls_key: PEM paths for mqtts (the certificate's CN is the kiosk id).
    window: PUBLISHes awaiting PUBACK at once; health_interval_s: retained health period;
    resend_after_s: a sent event the collector has not acked by then is published again;
    session_expiry_s: how long the broker keeps the session (acks, commands) while offline;
    backoff_s: reconnect delay range, doubled per failure, with ±50 % jitter (the upper end keeps
    a kiosk back within about 20 s of a broker's return);
    idle_retry_s: when nothing holds the events (PUBACK 16: no collector session at all), publishing
    pauses this long, doubling up to the upper end, and one event tries again;
    denied_retry_s: events set aside on a guess (the broker seems to refuse them, or the whole events
    topic, by closing the connection) are tested again after this long, one event alone, doubling
    up to the upper end while the guess holds.
    """

    url: str
    kiosk_id: str
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    window: int = 50
    health_interval_s: float = 60.0
    resend_after_s: float = 120.0
    session_expiry_s: int = 7 * 24 * 3600
    keepalive_s: int = 30
    backoff_s: tuple[float, float] = (1.0, 15.0)
    idle_retry_s: tuple[float, float] = (0.5, 5.0)
    denied_retry_s: tuple[float, float] = (60.0, 3600.0)


class Uplink:
    """Outbox → broker, acks and commands ← broker.

    outbox: see :class:`Outbox`; health: returns the kiosk's health figures (camera fps, decode
    ms, printer, clock, disk, …) for the retained health message; commands: the handlers of the
    commands the centre sends (:class:`~mqtt.commands.Commands`; None: every command is
    unknown); on_alert: called with a sentence when the broker refuses the kiosk's events (not
    authorised).

    What the broker's answers teach it:

    - CONNACK without a session (``session_present`` false) while rows are ``sent``: the broker
      lost what it held for the collector, and the acks it held for us (a broker killed between
      autosaves comes back empty). Every sent row goes back to pending and is published at once.
    - PUBACK 16 (no subscriber): nothing holds the event; it stays pending and publishing pauses
      briefly (``idle_retry_s``) before one event tries again, so a collector that subscribes
      after us gets the events within seconds, not at the re-send timer.
    - A connection lost with events in flight: the next connection publishes one event at a time
      until one is accepted, so a broker that closes the connection after a refused event shows
      which one. Each connection uses a fresh paho client: paho would otherwise re-send every
      event in flight by itself, and the suspect could never be published alone.
    - PUBACK 135 on a connection the broker keeps: the event is quarantined for good. An event
      published alone twice and each time followed by the broker closing the connection, or two
      refusals in a row that each cost the connection (the whole events topic refused: every
      pending event at once, a fixed number of reconnects for any number of events): quarantined
      on a guess, since a flapping link or a broker in a restart loop looks the same. A guess is
      tested again after ``denied_retry_s`` (one event alone, doubling while it holds), and the
      first event the broker accepts then sends every guessed event back to pending
      (:mod:`mqtt.refusal_inference` reads the answers).
    """

    def __init__(self, outbox: Outbox, settings: UplinkSettings, *, health: Callable[[], dict],
                 commands: Commands | None = None, on_alert: Callable[[str], None] | None = None,
                 version: str = ""):
        self.outbox = outbox
        self.settings = settings
        self.health = health
        self.commands = commands if commands is not None else Commands()
        self.on_alert = on_alert
        self.version = version
        self.connected = False
        #: How many times the broker accepted the connection (CONNACK success) in this run.
        self.accepted = 0
        #: Events set aside in this run (one released and set aside again counts again).
        self.quarantined = 0
        #: Events published in this run (each attempt counts).
        self.published = 0
        self.last_error: str | None = None
        self._started = time.monotonic()
        self._inflight: dict[int, tuple[int, float]] = {}   # mid -> (seq, published at)
        self._posts_inflight: dict[int, tuple[str, bytes]] = {}  # mid -> post, until PUBACKed
        self._sent: list[int] = []
        self._delivered: list[str] = []
        self._refused: list[tuple[str, str]] = []          # (event_id, reason) the collector refused
        self._to_confirm: list[tuple[int, int]] = []        # (mid, qos) of ack messages
        self._replies: list[dict] = []
        self._posts: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._awaiting: dict[str, threading.Event] = {}     # ack id -> set when acked
        self._listeners: dict[str, Callable[[bytes], None]] = {}   # leaf -> reader of its messages
        self._failures = 0
        self._next_connect = 0.0
        self._next_health = 0.0
        self._next_resend = 0.0
        self._connack_deadline = 0.0
        self._requeue_sent = False                          # the broker came back without our session
        self._release = False                               # guessed rows back to pending (next _record)
        self.inference = RefusalInference(retry_s=self.settings.denied_retry_s, idle_retry_s=self.settings.idle_retry_s)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.host, self.port = endpoint.address(self.settings.url)
        # Each connection makes its client: TLS files that are missing or unusable are then one
        # more reason the broker is not reached (last_error names them), not a kiosk that cannot
        # start and so cannot record anyone at the door.
        self._client: paho.Client | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name="uplink", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def post(self, topic: str, payload: bytes, ack_id: str | None = None) -> threading.Event:
        """Publish ``payload`` once on ``topic`` (QoS 1, as soon as connected); the returned event
        is set when the collector acks ``ack_id`` (a self-test report's id; None: nothing is acked)."""
        acked = threading.Event()
        if ack_id is not None:
            self._awaiting[ack_id] = acked
        self._posts.put((topic, payload))
        return acked

    def listen(self, leaf: str, reader: Callable[[bytes], None]) -> None:
        """Subscribe to this kiosk's ``kiosks/<id>/<leaf>`` (before :meth:`start`) and hand each
        message's payload to ``reader``, on the uplink's thread (it must be quick)."""
        if leaf in self._listeners or leaf == ACKS or leaf.startswith(CMD + "/"):
            raise ValueError(f"the uplink reads {leaf!r} already")
        self._listeners[leaf] = reader

    @property
    def online(self) -> bool:
        """Connected, and the broker accepted the connection (a post goes out now)."""
        client = self._client
        return self.connected and client is not None and client.is_connected()

    def run(self, stop: threading.Event) -> None:
        failing_since = None        # a failure that repeats (the outbox on a full disk) is told once
        try:
            while not stop.is_set():
                try:
                    self.step()
                except Exception as exc:  # the uplink must outlive any one failure
                    if failing_since is None:
                        log.exception("uplink step failed; carrying on (retried every second, said once)")
                        failing_since = time.monotonic()
                    self.last_error = type(exc).__name__     # (its text may quote an event)
                    stop.wait(1.0)
                    continue
                if failing_since is not None:
                    log.warning("uplink: working again after %.0f s of failing steps",
                                time.monotonic() - failing_since)
                    failing_since = None
        finally:
            self._goodbye()

    def step(self) -> None:
        """One turn: connect if due, move network traffic, record results, publish more."""
        if not self.connected:
            if time.monotonic() < self._next_connect:
                self._stop.wait(min(0.2, self._next_connect - time.monotonic()))
                return
            self._connect()
            return
        rc = self._client.loop(timeout=0.05)
        if rc != paho.MQTT_ERR_SUCCESS:
            self._lost(f"network loop: {paho.error_string(rc)}")
            return
        self._record()
        if self._client.is_connected():
            if self._requeue_sent:
                again = self.outbox.requeue_sent()
                self._requeue_sent = False
                if again:
                    log.warning("uplink: the broker came back without this kiosk's session: %d event(s) it "
                                "had taken but the collector has not acked are published again", again)
            # Events last: a refused event is then the last thing the broker reads, so its answer
            # (PUBACK 135, or closing the connection) is not lost in a reset of unread data.
            self._send_posts()
            self._housekeeping()
            self._fill_window()
        elif time.monotonic() > self._connack_deadline:
            self._lost("the broker did not answer CONNECT")

    # -- connection -------------------------------------------------------------------------

    def _make_client(self) -> paho.Client:
        # manual_ack: an ack message is PUBACKed to the broker only once its "delivered" is
        # written; a kiosk killed in between gets it again from its session instead of waiting
        # for the re-send timer.
        s = self.settings
        client, self.host, self.port = endpoint.make_client(s.kiosk_id, s.url, tls_ca=s.tls_ca, tls_cert=s.tls_cert,
                                                            tls_key=s.tls_key, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.max_inflight_messages_set(self.settings.window)
        # Retained "offline" when the kiosk vanishes without saying goodbye (power cut, network).
        client.will_set(status_topic(self.settings.kiosk_id), OFFLINE, qos=1, retain=True)
        return client

    def _connect(self) -> None:
        # A fresh client per connection: the old one would re-send its events in flight itself, so
        # a suspect event could never be published alone.
        try:
            client = self._make_client()
        except endpoint.TlsSetupError as exc:             # the text names the config key and file
            self._lost(str(exc))
            return
        self._client = client
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        try:
            # clean_start=False: the broker keeps our subscriptions and queued acks/commands.
            self._client.connect(self.host, self.port, keepalive=self.settings.keepalive_s,
                                 clean_start=False, properties=props)
        except (OSError, ssl.SSLError) as exc:
            self._lost(f"cannot connect to {self.host}:{self.port}: {exc}")
            return
        self.connected = True
        self._connack_deadline = time.monotonic() + 10

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._lost(f"broker refused the connection: {reason_code}")
            if reason_code.value == NOT_AUTHORIZED:
                self._alert("the broker does not accept this kiosk's identity: check its certificate")
            return
        self._failures = 0
        self.last_error = None
        self.accepted += 1
        log.info("uplink connected to %s:%s (session %s)", self.host, self.port,
                 "resumed" if flags.session_present else "new")
        # A new session: whatever the broker held for us and for the collector may be gone.
        self._requeue_sent = not flags.session_present
        self.inference.connected()
        client.subscribe([(acks_topic(self.settings.kiosk_id), 1),
                          (cmd_topic(self.settings.kiosk_id, "#"), 1),
                          *((topic(self.settings.kiosk_id, leaf), 1) for leaf in self._listeners)])
        client.publish(status_topic(self.settings.kiosk_id), ONLINE, qos=1, retain=True)
        self._next_health = 0.0

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self._stop.is_set():
            self._lost(f"disconnected: {reason_code}")

    def _lost(self, why: str) -> None:
        if self.connected or self._failures == 0:
            log.warning("uplink: %s", why)
        was_connected = self.connected
        self.connected = False
        self.last_error = why
        self._failures += 1
        low, high = self.settings.backoff_s
        delay = min(high, low * 2 ** min(self._failures - 1, 16)) * random.uniform(0.5, 1.5)
        self._next_connect = time.monotonic() + delay
        if was_connected:
            self._learn_from_close(why)
        client = self._client
        if client is None:                                # never made (unusable TLS files)
            return
        client.on_disconnect = None                       # this client is done with
        with contextlib.suppress(Exception):           # the socket may already be gone
            client.disconnect()
        sock = client.socket()
        if sock is not None:
            sock.close()

    def _learn_from_close(self, why: str) -> None:
        """The connection ended: what the events in flight and the refusals just before say."""
        self._inflight.clear()
        # Messages of this connection: the broker redelivers un-PUBACKed acks in the resumed
        # session, under new packet ids; self-test reports not PUBACKed are published again.
        self._to_confirm.clear()
        for post in self._posts_inflight.values():
            self._posts.put(post)
        self._posts_inflight.clear()
        self._apply(self.inference.closed(time.monotonic(), why))

    def _goodbye(self) -> None:
        """A clean stop says "offline" itself (a clean DISCONNECT does not fire the Last Will)."""
        if self.connected and self._client.is_connected():
            info = self._client.publish(status_topic(self.settings.kiosk_id), OFFLINE, qos=1, retain=True)
            end = time.monotonic() + 2
            while not info.is_published() and time.monotonic() < end:
                self._client.loop(timeout=0.05)
            self._record()
            self._client.disconnect()
        self.connected = False

    # -- publishing -------------------------------------------------------------------------

    def _fill_window(self) -> None:
        now = time.monotonic()
        # A PUBLISH without PUBACK for long (lost in a reconnect) is given up on and sent again.
        for mid, (seq, at) in list(self._inflight.items()):
            if now - at > 30:
                del self._inflight[mid]
                self.inference.gave_up(seq, now)
        if self.inference.test_due(now):
            self._publish_test(now)
            return
        room = self.inference.room(self.settings.window, now)
        if room <= 0:
            return
        busy = {seq for seq, _ in self._inflight.values()}
        for seq, _event_id, payload in self.outbox.pending(after_seq=0, limit=room + len(busy)):
            if seq in busy:
                continue
            if not self._publish_event(seq, payload, now):
                break
            room -= 1
            if room == 0:
                break

    def _publish_test(self, now: float) -> None:
        """Test the guesses: one event set aside on a guess (or, while the whole events topic is
        taken as refused and none is left, one pending event), published alone."""
        rows = self.outbox.quarantined(reason_prefix=GUESS, limit=1)
        if not rows and self.inference.topic_denied:
            rows = self.outbox.pending(after_seq=0, limit=1)
        if not rows:
            self.inference.nothing_to_test(now)
            return
        seq, _event_id, payload = rows[0]
        self._publish_event(seq, payload, now, test=True)

    def _publish_event(self, seq: int, payload: bytes, now: float, *, test: bool = False) -> bool:
        info = self._client.publish(events_topic(self.settings.kiosk_id), payload, qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return False
        self._inflight[info.mid] = (seq, now)
        self.inference.published(seq, now, test=test)
        self.published += 1
        return True

    def _send_posts(self) -> None:
        while not self._posts.empty():
            post = self._posts.get()
            info = self._client.publish(*post, qos=1)
            self._posts_inflight[info.mid] = post

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        entry = self._inflight.pop(mid, None)
        if entry is None:
            self._posts_inflight.pop(mid, None)
            return  # status, health or a post
        seq = entry[0]
        if reason_code.is_failure and reason_code.value != NOT_AUTHORIZED:
            log.warning("uplink: event seq %d refused (%s); will retry", seq, reason_code)
        self._apply(self.inference.answered(seq, reason_code.value, failure=reason_code.is_failure,
                                            now=time.monotonic()), seq)

    def _apply(self, verdict: Verdict, seq: int | None = None) -> None:
        """Write to the outbox what the broker's answer to event ``seq`` (or a close) says."""
        if verdict.release:
            self._release = True                          # in _record, before rows are marked sent
        for aside, reason in verdict.set_aside:
            self.outbox.quarantine(aside, reason)
            self.quarantined += 1
            if reason.startswith(GUESS):
                self._alert(f"event seq {aside} seems refused (not authorised?): the broker closed the connection "
                            "each time it was published alone; it is kept aside (quarantined) and tried again later")
            else:
                self._alert(f"the broker refused event seq {aside} as not authorised; it is kept aside (quarantined)")
        if verdict.set_aside_pending:
            self.quarantined += self.outbox.quarantine_pending(verdict.set_aside_pending)
            for refused in verdict.relabel:               # refused just before: part of the topic's refusal
                self.outbox.quarantine(refused, verdict.set_aside_pending)
            if verdict.denied:
                self._alert("the broker refuses all of this kiosk's events (not authorised): they are kept aside "
                            "(quarantined) and published again once it accepts one; check the broker's ACL for "
                            "this kiosk")
        if verdict.sent and seq is not None:
            self._sent.append(seq)

    def _on_message(self, client, userdata, message) -> None:
        parsed = parse_topic(message.topic)
        leaf = parsed[1] if parsed and parsed[0] == self.settings.kiosk_id else None
        if leaf == ACKS:
            try:
                ids, refused = decode_ack(message.payload)
                self._refused.extend(refused)
                self._delivered.extend(ids)
                for acked in [self._awaiting.pop(i) for i in ids if i in self._awaiting]:
                    acked.set()
            except ValueError as exc:
                log.warning("uplink: ignored a malformed ack (%s)", exc)
            else:
                self._to_confirm.append((message.mid, message.qos))
                return
        elif leaf is not None and leaf.startswith(CMD + "/"):
            # Answered in the next health message, at once.
            self._replies.append(self.commands.handle(leaf[len(CMD) + 1:], message.payload))
        elif leaf in self._listeners:
            try:
                self._listeners[leaf](message.payload)
            except Exception:  # a reader's failure is its own, never the uplink's end
                log.exception("uplink: the reader of %s failed", leaf)
        if message.qos:
            client.ack(message.mid, message.qos)   # nothing to write first

    def _record(self) -> None:
        """Write what the callbacks learnt to the outbox, in batches (one transaction each)."""
        # On a failed write the lists stay as they are, for the next turn (and the ack messages
        # stay unconfirmed, so the broker still holds them).
        if self._release:
            # The broker accepts the kiosk's events again: the guesses were wrong (or are out of date).
            again = self.outbox.requeue_quarantined(GUESS)
            self._release = False
            if again:
                log.warning("uplink: the broker accepts this kiosk's events again: %d event(s) set aside on a "
                            "guess are published again", again)
        if self._sent:
            self.outbox.mark_sent(self._sent)
            self._sent = []
        if self._delivered:
            self.outbox.mark_delivered(self._delivered)
            self._delivered = []
        if self._refused:
            # Refused for good by the collector (it holds them as dead letters): set aside, not
            # re-sent every few minutes for ever; kept for a technician.
            kept = self.outbox.quarantine_refused(self._refused)
            self._refused = []
            if kept:
                self.quarantined += kept
                self._alert(f"the collector refused {kept} event(s) (kiosk-collector dead-letters says why); "
                            "they are kept aside (quarantined)")
        if self._to_confirm:
            confirm, self._to_confirm = self._to_confirm, []
            for mid, qos in confirm:
                if qos:
                    self._client.ack(mid, qos)

    # -- health and commands ----------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self._next_resend:
            self._next_resend = now + min(30.0, self.settings.resend_after_s)
            again = self.outbox.resend_unacknowledged(self.settings.resend_after_s)
            if again:
                log.info("uplink: %d event(s) not acked by the collector are sent again", again)
        if now >= self._next_health or self._replies:
            self._next_health = now + self.settings.health_interval_s
            self.publish_health()

    def publish_health(self) -> None:
        report = {**self.health(), "version": self.version,
                  "uplink_uptime_s": round(time.monotonic() - self._started, 1),
                  "outbox": self.outbox.depth(), "quarantined_this_run": self.quarantined,
                  "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if self._replies:
            report["replies"], self._replies = self._replies, []
        self._client.publish(health_topic(self.settings.kiosk_id),
                             json.dumps(report, separators=(",", ":")), qos=1, retain=True)

    def _alert(self, sentence: str) -> None:
        log.error("uplink: %s", sentence)
        self.last_error = sentence
        if self.on_alert:
            self.on_alert(sentence)
