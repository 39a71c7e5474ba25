"""The running collector: broker → central store, exactly once, then acks.

Exactly once, end to end:

1. paho runs with ``manual_ack=True``: a QoS 1 message is not PUBACKed when ``on_message``
   returns. The callback only queues it.
2. The writer thread takes the queue in batches (``batch_size`` messages or ``batch_ms``,
   whichever comes first), validates, and stores the batch in one transaction, de-duplicated by
   event_id.
3. Only after the commit: the event ids are acked to each kiosk (``kiosks/<id>/acks``, QoS 1), and
   the messages are PUBACKed to the broker.

A crash before the commit loses nothing: the broker still holds the un-PUBACKed messages in the
collector's persistent session (stable client id, ``clean_start=False``, session expiry) and
delivers them again; the kiosk also re-sends events that were never acked. Second copies are
de-duplicated, and acked again so the kiosk can mark them delivered.

>>> collector = Collector(load_config(path))
>>> collector.start(); collector.wait_ready(10)
>>> collector.stop()        # flushes the batch, acks, then disconnects
"""

from __future__ import annotations

import json
import logging
import queue
import ssl
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from .. import contract
from .config import Config
from .store import UTC, DeadLetter, FleetUpdate, IngestResult, Store, StoreError, open_store

log = logging.getLogger("mqtt.collector")

MAX_HEALTH_BYTES = 16 * 1024
STATUSES = (b"online", b"offline")


@dataclass
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    generation: int
    received_at: datetime


@dataclass
class CollectorCounters:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    acks_published: int = 0
    batches: int = 0
    late: int = 0
    store_errors: int = 0
    by_reason: dict = field(default_factory=lambda: defaultdict(int))


class Collector:
    """One collector process: a paho client (network thread) and a writer thread.

    config: the collector's :class:`~mqtt.collector.config.Config`; store: an open store (default:
    opened from ``config.store.url`` and closed by :meth:`stop`).
    """

    def __init__(self, config: Config, store: Store | None = None):
        self.config = config
        self._own_store = store is None
        self.store = store if store is not None else open_store(config.store.url)
        self.counters = CollectorCounters()
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._conn_lock = threading.Lock()
        self._generation = 0
        self._connected = False
        self._writer: threading.Thread | None = None
        self._next_purge = 0.0
        self.events_filter = (contract.shared(config.mqtt.shared_group, contract.EVENTS_FILTER)
                              if config.mqtt.shared_group else contract.EVENTS_FILTER)
        self._client = self._make_client()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._writer = threading.Thread(target=self._write_loop, name="collector-writer", daemon=True)
        self._writer.start()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.mqtt.session_expiry_s
        # The broker sends at most this many un-PUBACKed messages; above a batch, so batches fill.
        props.ReceiveMaximum = min(65535, max(100, self.config.store.batch_size * 4))
        # connect_async + loop_start: the first connection is retried like any reconnect.
        self._client.connect_async(self._host, self._port, keepalive=self.config.mqtt.keepalive_s,
                                   clean_start=False, properties=props)
        self._client.loop_start()
        log.info("collector %s: connecting to %s:%s, events from %s", self.config.mqtt.client_id,
                 self._host, self._port, self.events_filter)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once connected and subscribed."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking messages, store and ack what was taken, then disconnect (the session stays)."""
        self._stopping.set()
        if self._writer:
            self._writer.join(timeout)
            if self._writer.is_alive():
                log.warning("collector: the writer did not finish in %.0f s; unstored messages stay with the broker",
                            timeout)
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()
        if self._own_store:
            self.store.close()
        c = self.counters
        log.info("collector stopped: %d received, %d stored, %d duplicate(s), %d dead letter(s); "
                 "%d batch(es), %d ack(s) published, %d store error(s)",
                 c.received, c.stored, c.duplicates, c.dead_letters, c.batches, c.acks_published, c.store_errors)

    # -- MQTT -------------------------------------------------------------------------------

    def _make_client(self) -> paho.Client:
        m = self.config.mqtt
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=m.client_id,
                             protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=60)
        url = urlsplit(m.url)
        if url.scheme == "mqtts":
            context = ssl.create_default_context(cafile=m.tls_ca)
            if m.tls_cert:
                context.load_cert_chain(m.tls_cert, m.tls_key)
            client.tls_set_context(context)
        self._host, self._port = url.hostname, url.port or (8883 if url.scheme == "mqtts" else 1883)
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("collector: the broker refused the connection: %s", reason_code)
            return
        with self._conn_lock:
            self._generation += 1
            self._connected = True
        log.info("collector connected (session %s)", "resumed" if flags.session_present else "new")
        opts = SubscribeOptions(qos=1)
        # Status and health are never shared: every collector keeps the whole fleet.
        client.subscribe([(self.events_filter, opts), (contract.STATUS_FILTER, opts),
                          (contract.HEALTH_FILTER, opts)])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("collector: subscription refused: %s", ", ".join(failed))
            return
        self._ready.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._conn_lock:
            self._connected = False
        self._ready.clear()
        if not self._stopping.is_set():
            log.warning("collector disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        if self._stopping.is_set():
            return  # not PUBACKed: the broker keeps it for our next session
        self._queue.put(_Message(message.topic, bytes(message.payload), message.mid, message.qos, message.retain,
                                 self._generation, datetime.now(UTC)))

    # -- the writer -------------------------------------------------------------------------

    def _write_loop(self) -> None:
        size, wait_s = self.config.store.batch_size, self.config.store.batch_ms / 1000
        while True:
            self._housekeeping()
            try:
                first = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                continue
            batch = [first]
            deadline = time.monotonic() + wait_s
            while len(batch) < size:
                left = deadline - time.monotonic()
                try:
                    batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            self._handle(batch)

    def _handle(self, batch: list[_Message]) -> None:
        self.counters.received += len(batch)
        events: list[dict] = []
        letters: list[DeadLetter] = []
        fleet: list[FleetUpdate] = []
        for msg in batch:
            self._classify(msg, events, letters, fleet)
        result = self._store(events, letters, fleet)
        if result is None:
            return  # stopping while the store is down: nothing is PUBACKed, the broker redelivers
        self._ack_kiosks(events, result.held)
        self._puback(batch)
        c = self.counters
        c.batches += 1
        c.stored += result.inserted
        c.duplicates += result.duplicates
        c.late += len(result.late)
        c.dead_letters += len(letters)
        for d in letters:
            c.by_reason[d.reason] += 1
        if result.late:
            log.info("collector: %d late event(s) filled seq gaps", len(result.late))
        if result.seq_conflicts:
            log.warning("collector: %d event(s) reuse a seq already held (kiosk %s reset?)",
                        len(result.seq_conflicts), result.seq_conflicts[0][0])

    def _classify(self, msg: _Message, events: list, letters: list, fleet: list) -> None:
        parsed = contract.parse_topic(msg.topic)
        kiosk_id, leaf = parsed if parsed else (None, None)

        def dead(reason: str, detail: str) -> None:
            # The reason and the kiosk only: the payload may carry someone's name.
            log.warning("collector: dead letter from %s: %s", kiosk_id or "?", reason)
            letters.append(DeadLetter(msg.topic, kiosk_id, reason, detail, msg.payload, msg.received_at))

        if leaf == "events":
            try:
                events.append(contract.validate_event(msg.payload, topic_kiosk_id=kiosk_id))
            except contract.InvalidEvent as exc:
                dead(exc.reason, exc.detail)
        elif leaf == "status":
            if msg.payload in STATUSES:
                fleet.append(FleetUpdate(kiosk_id, msg.received_at, status=msg.payload.decode(), retained=msg.retain))
            elif msg.payload:   # an empty retained message clears the topic: nothing to record
                dead("status", "status must be 'online' or 'offline'")
        elif leaf == "health":
            if not msg.payload:
                return
            try:
                if len(msg.payload) > MAX_HEALTH_BYTES:
                    raise ValueError(f"{len(msg.payload)} bytes, limit {MAX_HEALTH_BYTES}")
                if b"\\u0000" in msg.payload:
                    raise ValueError("NUL characters")     # PostgreSQL's jsonb cannot hold them
                health = json.loads(msg.payload)
                if not isinstance(health, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, UnicodeDecodeError) as exc:
                dead("health", f"health must be a JSON object ({str(exc)[:80]})")
            else:
                fleet.append(FleetUpdate(kiosk_id, msg.received_at, health=health))
        else:
            dead("topic", "not a kiosks/<id>/events|status|health topic")

    def _store(self, events: list[dict], letters: list[DeadLetter], fleet: list[FleetUpdate]) -> IngestResult | None:
        """Commit everything. The store being down is retried (with backoff) until it works or
        we stop; anything else means one message is poison, so the batch is retried message by
        message and what still fails becomes a dead letter: one bad event never blocks the rest."""
        delay, one_by_one = 0.5, False
        while True:
            try:
                if one_by_one:
                    return self._store_one_by_one(events, letters, fleet)
                result = self.store.ingest(events)
                self.store.add_dead_letters(letters)
                self.store.update_fleet(fleet)
                return result
            except StoreError as exc:
                self.counters.store_errors += 1
                log.error("collector: central store unavailable (%s); retrying in %.1f s", exc, delay)
            except Exception as exc:  # noqa: BLE001 - keep running whatever the batch holds
                self.counters.store_errors += 1
                if not one_by_one:
                    log.error("collector: the store refused a batch (%s); storing it message by message",
                              type(exc).__name__)
                    one_by_one = True
                    continue
                log.exception("collector: storing a batch failed; retrying in %.1f s", delay)
            if self._stopping.wait(delay):
                return None
            delay = min(delay * 2, 30.0)

    def _store_one_by_one(self, events, letters, fleet) -> IngestResult:
        result, letters = IngestResult(), list(letters)
        for event in events:
            try:
                one = self.store.ingest([event])
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001
                letters.append(DeadLetter(contract.events_topic(event["kiosk_id"]), event["kiosk_id"], "store_rejected",
                                          f"the store refused it ({type(exc).__name__})", contract.encode_event(event)))
                self.counters.by_reason["store_rejected"] += 1
                log.warning("collector: dead letter from %s: store_rejected", event["kiosk_id"])
                continue
            result.held += one.held
            result.inserted += one.inserted
            result.duplicates += one.duplicates
            result.late += one.late
            result.seq_conflicts += one.seq_conflicts
        self._one_by_one(fleet, self.store.update_fleet, "fleet update")
        self._one_by_one(letters, self.store.add_dead_letters, "dead letter")
        return result

    @staticmethod
    def _one_by_one(items: list, write, what: str) -> None:
        """Write each item alone, so one the store rejects (not a store outage) loses only itself."""
        for item in items:
            try:
                write([item])
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("collector: %s from %s not kept (%s)", what, item.kiosk_id, type(exc).__name__)

    def _ack_kiosks(self, events: list[dict], held: list[str]) -> None:
        kiosk_of = {e["event_id"]: e["kiosk_id"] for e in events}
        per_kiosk: dict[str, list[str]] = defaultdict(list)
        for event_id in held:
            per_kiosk[kiosk_of[event_id]].append(event_id)
        for kiosk_id, ids in per_kiosk.items():
            for i in range(0, len(ids), contract.MAX_ACK_IDS):
                chunk = ids[i:i + contract.MAX_ACK_IDS]
                self._client.publish(contract.acks_topic(kiosk_id), contract.encode_ack(chunk), qos=1)
                self.counters.acks_published += 1

    def _puback(self, batch: list[_Message]) -> None:
        with self._conn_lock:
            if not self._connected:
                return   # the broker redelivers them in the resumed session; they are held already
            for msg in batch:
                # A message from an earlier connection was (or will be) delivered again under
                # this one; acking its old packet id could ack a different message.
                if msg.qos > 0 and msg.generation == self._generation:
                    self._client.ack(msg.mid, msg.qos)

    def _housekeeping(self) -> None:
        """The retention purge, every few hours, between batches."""
        every_h = self.config.store.purge_every_h
        if not every_h or time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + every_h * 3600
        try:
            counts = self.store.purge(self.config.store.retention_days)
            log.info("collector: retention purge (%d days): %s", self.config.store.retention_days, counts)
        except Exception as exc:  # noqa: BLE001 - try again next time
            log.error("collector: retention purge failed: %s", exc)


def run(config: Config, stop: threading.Event) -> int:
    """Run until ``stop`` is set (the CLI sets it on SIGTERM/SIGINT); 0 on a clean stop."""
    collector = Collector(config)
    collector.start()
    try:
        stop.wait()
    finally:
        collector.stop()
    return 0
