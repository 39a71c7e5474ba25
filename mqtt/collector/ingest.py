"""The running collector: broker → central store, exactly once, then acks.

Exactly once, end to end:

1. The receiver process (:mod:`.receiver`) runs paho with ``manual_ack=True``: a QoS 1 message
   is not PUBACKed when ``on_message`` returns. It is passed on to this process.
2. The writer thread takes the messages in batches (what queued up meanwhile, at most
   ``batch_size`` messages or ``batch_ms`` of gathering), validates, and stores the batch in one
   transaction, de-duplicated by event_id.
3. Only after the commit: the receiver acks the event ids to each kiosk (``kiosks/<id>/acks``,
   QoS 1), and PUBACKs the messages to the broker.

A crash before the commit loses nothing: the broker still holds the un-PUBACKed messages in the
collector's persistent session (stable client id, ``clean_start=False``, session expiry) and
delivers them again; the kiosk also re-sends events that were never acked. Second copies are
de-duplicated, and acked again so the kiosk can mark them delivered.

A store that cannot write (disk full, database down: :class:`~.store.StoreError`) is a store
that is down, not a bad message: the batch is kept, nothing is PUBACKed or acked, the broker
holds the rest (at most ReceiveMaximum messages are in flight to us), and the batch is retried
with a growing delay (at most :data:`MAX_RETRY_S`) until it commits; the log, systemd's status
line and the status file (``kiosk-collector fleet``) say so meanwhile. Only an error that one
message causes makes that message a ``store_rejected`` dead letter.

With a fleet registry (``[fleet] kiosks``, :mod:`.registry`), an event of a kiosk not in it, or
for a venue the kiosk is not provisioned for, is dead-lettered (``unknown_kiosk``,
``venue_mismatch``) and not acked; the store refuses an event whose visit another kiosk opened
(``visit_of_other_kiosk``).

A refusal that can never come right (the contract's, ``visit_of_other_kiosk``,
``store_rejected``: the dead letter is *final*) is named in the kiosk's next ack (``refused``)
once its dead letter is written, so the kiosk sets the event aside instead of re-sending it for
ever. The registry's refusals are not final: the kiosk keeps re-sending those events until the
registry lists it at that venue. A message the collector cannot make sense of at all (an error
of ours) is a dead letter too, never a stopped collector.

Usage (a broker at ``[mqtt] url``; ``load_config`` from :mod:`.config`)::

    collector = Collector(load_config(path))
    collector.start()
    collector.wait_ready(10)    # True once connected and subscribed
    collector.stop()            # flushes the batch, acks, then disconnects
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import threading
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

from ..plumbing import sdnotify
from ..plumbing.sms import Deferred
from ..wire import presence
from ..wire.acks import encode_acks
from ..wire.event import encode_event, event_id_of, validate_event
from ..wire.fields import InvalidEvent
from ..wire.selftest_report import validate_selftest
from ..wire.sms import SmsRequest, decode_request
from ..wire.topics import (
    EVENTS,
    EVENTS_FILTER,
    HEALTH,
    SELFTEST,
    SMS_SEND,
    SMS_SEND_FILTER,
    STATUS,
    acks_topic,
    events_topic,
    parse_topic,
    shared,
)
from . import receiver
from .config import Config
from .pipe import Connected, Disconnected, Done, Hold, Messages, Quit
from .registry import Registry
from .sms_relay import SmsRelay
from .status import write_status
from .store import UTC, DeadLetter, FleetUpdate, IngestResult, Store, StoreError, open_store

log = logging.getLogger("mqtt.collector")

BURST_GAP_S = 0.005
#: Under systemd, READY=1 is sent after this long even when the broker is not reachable yet.
READY_WAIT_S = 10.0
STATUS_EVERY_S = 5.0
#: A store that is down is tried again after 0.5 s, then twice as long each time, at most this.
MAX_RETRY_S = 10.0


@dataclass
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    generation: int
    received_at: datetime
    #: What :meth:`Collector._classify` made of it: an event, a fleet update, a dead letter, a
    #: text to send, or None (nothing to keep).
    content: dict | FleetUpdate | DeadLetter | SmsAsk | None = None


@dataclass(frozen=True)
class SmsAsk:
    """A kiosk's request for a text (the kiosk id is the topic's)."""

    kiosk_id: str
    request: SmsRequest


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
    refused: int = 0
    by_reason: dict = field(default_factory=lambda: defaultdict(int))


class Collector:
    """One collector: a receiver process (the MQTT client) and, here, a writer thread.

    config: the collector's :class:`~mqtt.collector.config.Config`; store: an open store (default:
    opened from ``config.store.url`` and closed by :meth:`stop`).
    """

    def __init__(self, config: Config, store: Store | None = None):
        self.config = config
        self._own_store = store is None
        self.store = store if store is not None else open_store(config.store.url)
        #: The fleet registry (kiosk → venue), or None: any kiosk may file events at any venue.
        self.registry = Registry(Path(config.fleet.kiosks)) if config.fleet.kiosks else None
        self.counters = CollectorCounters()
        #: While the store cannot write: since when (wall time), and why.
        self.store_down_since: datetime | None = None
        self.store_error = ""
        #: Messages taken from the broker and not stored yet (neither acked nor PUBACKed).
        self._taken = 0
        self._queue: queue.SimpleQueue[_Message] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._send_lock = threading.Lock()
        #: Set when the receiver process ended without being asked to (the CLI then exits non-zero).
        self.failed = threading.Event()
        self._writer: threading.Thread | None = None
        self._inbox: threading.Thread | None = None
        self._next_purge = 0.0
        #: The registry version whose [venues] the store holds (0: none copied yet).
        self._venues_copied = 0
        #: When the writer last went round its loop (its heartbeat, for systemd's watchdog).
        self.last_pass = time.monotonic()
        #: The collector's routing: a topic's leaf name (the contract's) -> the reader of its messages.
        self._readers = {EVENTS: self._read_event, STATUS: self._read_status, HEALTH: self._read_health,
                         SELFTEST: self._read_selftest, SMS_SEND: self._read_sms}
        group = config.mqtt.shared_group
        self.events_filter = shared(group, EVENTS_FILTER) if group else EVENTS_FILTER
        self.sms_filter = shared(group, SMS_SEND_FILTER) if group else SMS_SEND_FILTER
        #: The SMS relay for kiosks without a modem; its backend is opened when the collector starts.
        self.sms_relay: SmsRelay | None = None
        self.receiver: subprocess.Popen | None = None
        self._pipe: Connection | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        sms = self.config.sms
        # A backend that cannot be opened (the daemon's config missing) is a relay that answers
        # send_failed to every request, each time trying again: the collector still stores events.
        backend = None if sms.kind == "none" else Deferred(sms.kind, **sms.options)
        self.sms_relay = SmsRelay(backend, publish=lambda messages: self._tell(Done(messages, [])),
                                  knows=(lambda kiosk_id: self.registry.venue_of(kiosk_id) is not None)
                                  if self.registry is not None else None)
        self.sms_relay.start()
        settings = receiver.ReceiverSettings(
            mqtt=self.config.mqtt, events_filter=self.events_filter, sms_filter=self.sms_filter,
            # The broker sends at most this many un-PUBACKed messages; above a batch, so batches fill.
            receive_maximum=min(65535, max(100, self.config.store.batch_size * 4)),
            log_level=log.getEffectiveLevel())
        self.receiver, self._pipe = receiver.spawn(settings)
        self._inbox = threading.Thread(target=self._inbox_loop, name="collector-inbox", daemon=True)
        self._inbox.start()
        self._writer = threading.Thread(target=self._write_loop, name="collector-writer", daemon=True)
        self._writer.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once connected and subscribed."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking messages, store and ack what was taken, then disconnect (the session stays)."""
        self._stopping.set()
        self._tell(Hold())
        if self._writer:
            self._writer.join(timeout)
            if self._writer.is_alive():
                log.warning("collector: the writer did not finish in %.0f s; unstored messages stay with the broker",
                            timeout)
        if self.sms_relay is not None:
            self.sms_relay.stop()
        self._tell(Quit())
        if self.receiver:
            try:
                self.receiver.wait(timeout)
            except subprocess.TimeoutExpired:
                self.receiver.kill()
                self.receiver.wait()
            self._inbox.join(timeout)
            self._pipe.close()
        if self._own_store:
            self.store.close()
        c = self.counters
        log.info("collector stopped: %d received, %d stored, %d duplicate(s), %d dead letter(s); "
                 "%d batch(es), %d ack(s) published, %d store error(s)",
                 c.received, c.stored, c.duplicates, c.dead_letters, c.batches, c.acks_published, c.store_errors)

    # -- the receiver process ---------------------------------------------------------------

    def _tell(self, command: Done | Hold | Quit) -> bool:
        try:
            with self._send_lock:
                self._pipe.send(command)
            return True
        except (OSError, ValueError, AttributeError):
            return False    # the receiver is gone: the broker redelivers what it did not PUBACK

    def _inbox_loop(self) -> None:
        try:
            self._read_inbox()
        except Exception:  # an error of ours: say so, and systemd restarts the collector
            log.exception("collector: the inbox stopped")
            self._ready.clear()
            self.failed.set()

    def _read_inbox(self) -> None:
        while True:
            try:
                item = self._pipe.recv()
            except (EOFError, OSError):
                break
            match item:
                case Messages(received):
                    # Validated here, while the writer waits on the database.
                    for topic, payload, mid, qos, retain, generation, at in received:
                        msg = _Message(topic, payload, mid, qos, retain, generation, datetime.fromtimestamp(at, UTC))
                        msg.content = self._classify_safely(msg)
                        self._queue.put(msg)
                case Connected():
                    self._ready.set()
                case Disconnected():
                    self._ready.clear()
        self._ready.clear()
        if not self._stopping.is_set():
            log.error("collector: the receiver process ended (exit code %s)",
                      self.receiver.wait() if self.receiver else None)
            self.failed.set()

    # -- the writer -------------------------------------------------------------------------

    def _write_loop(self) -> None:
        size, wait_s = self.config.store.batch_size, self.config.store.batch_ms / 1000
        while True:
            self.last_pass = time.monotonic()
            self._housekeeping()
            try:
                first = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                continue
            # Group commit: the batch is what queued up while the last one was being stored,
            # topped up while messages keep coming (a pause of BURST_GAP_S ends a burst), for at
            # most batch_ms. A lone message is stored at once instead of waiting for company.
            batch = [first]
            deadline = time.monotonic() + wait_s
            while len(batch) < size:
                left = min(deadline - time.monotonic(), BURST_GAP_S)
                try:
                    batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            self._handle(batch)

    def _handle(self, batch: list[_Message]) -> None:
        self.counters.received += len(batch)
        events = [m.content for m in batch if isinstance(m.content, dict)]
        letters = [m.content for m in batch if isinstance(m.content, DeadLetter)]
        fleet = [m.content for m in batch if isinstance(m.content, FleetUpdate)]
        for ask in (m.content for m in batch if isinstance(m.content, SmsAsk)):
            self.sms_relay.take(ask.kiosk_id, ask.request)
        self._taken = len(batch)
        stored = self._store(events, letters, fleet)
        if stored is None:
            return  # stopping while the store is down: nothing is PUBACKed, the broker redelivers
        result, written = stored
        # Final refusals now held as dead letters: their kiosks are told (the store's own are
        # written in the ingest transaction).
        refused = [(d.kiosk_id, d.event_id, d.reason) for d in written if d.final and d.event_id and d.kiosk_id]
        refused += result.refused
        self._done(batch, events, fleet, result.held, refused)
        self._taken = 0
        c = self.counters
        c.batches += 1
        c.stored += result.inserted
        c.duplicates += result.duplicates
        c.late += len(result.late)
        c.dead_letters += len(written) + len(result.refused)
        c.refused += len(refused)
        for d in written:
            c.by_reason[d.reason] += 1
        for kiosk_id, _, reason in result.refused:
            c.by_reason[reason] += 1
            log.warning("collector: dead letter from %s: %s", kiosk_id, reason)
        if result.late:
            log.info("collector: %d late event(s) filled seq gaps", len(result.late))
        if result.seq_conflicts:
            log.warning("collector: %d event(s) reuse a seq already held (kiosk %s reset?)",
                        len(result.seq_conflicts), result.seq_conflicts[0][0])

    def _classify_safely(self, msg: _Message) -> dict | FleetUpdate | DeadLetter | SmsAsk | None:
        """:meth:`_classify`, and a dead letter (``unreadable``, not final) for a message it fails
        on: whatever one message holds, the collector goes on with the next."""
        try:
            return self._classify(msg)
        except Exception as exc:  # noqa: BLE001 - an error of ours must not stop central ingest
            parsed = parse_topic(msg.topic)
            kiosk_id = parsed[0] if parsed else None
            # Where it failed, not the exception's text: that may quote the payload (someone's name).
            where = traceback.extract_tb(exc.__traceback__)[-1]
            log.error("collector: dead letter from %s: unreadable (%s at %s:%d, a collector bug)", kiosk_id or "?",
                      type(exc).__name__, Path(where.filename).name, where.lineno)
            try:
                event_id = event_id_of(msg.payload) if parsed and parsed[1] == EVENTS else None
            except Exception:  # noqa: BLE001 - the id is a courtesy; the letter is kept without it
                event_id = None
            return DeadLetter(msg.topic, kiosk_id, "unreadable", f"the collector could not read it "
                              f"({type(exc).__name__})", msg.payload, msg.received_at, event_id=event_id)

    def _classify(self, msg: _Message) -> dict | FleetUpdate | DeadLetter | SmsAsk | None:
        """What ``msg`` is, by its topic's leaf (the routing table ``_readers``): an event, a fleet update, a dead
        letter, or None (nothing to keep)."""
        parsed = parse_topic(msg.topic)
        kiosk_id, leaf = parsed if parsed else (None, None)
        read = self._readers.get(leaf)
        if read is None:
            return self._dead(msg, kiosk_id, "topic", "not a kiosks/<id>/" + "|".join(self._readers) + " topic")
        return read(msg, kiosk_id)

    def _dead(self, msg: _Message, kiosk_id: str | None, reason: str, detail: str, event_id: str | None = None,
              final: bool = False) -> DeadLetter:
        # The reason and the kiosk only: the payload may carry someone's name.
        log.warning("collector: dead letter from %s: %s", kiosk_id or "?", reason)
        return DeadLetter(msg.topic, kiosk_id, reason, detail, msg.payload, msg.received_at, event_id=event_id,
                          final=final)

    def _read_event(self, msg: _Message, kiosk_id: str) -> dict | DeadLetter:
        try:
            # The plausible time window is reckoned from when the message arrived.
            event = validate_event(msg.payload, topic_kiosk_id=kiosk_id, now=msg.received_at)
        except InvalidEvent as exc:
            # The same bytes are refused the same way however often they come: final.
            return self._dead(msg, kiosk_id, exc.reason, exc.detail, event_id_of(msg.payload), final=True)
        refusal = self.registry.refusal(event) if self.registry is not None else None
        if refusal:
            # Not final: held until the registry lists the kiosk at that venue.
            return self._dead(msg, kiosk_id, *refusal, event_id=event["event_id"])
        return event

    def _read_status(self, msg: _Message, kiosk_id: str) -> FleetUpdate | DeadLetter | None:
        if not msg.payload:
            return None         # an empty retained message clears the topic: nothing to record
        try:
            return FleetUpdate(kiosk_id, msg.received_at, status=presence.read_status(msg.payload),
                               retained=msg.retain)
        except ValueError as exc:
            return self._dead(msg, kiosk_id, "status", str(exc))

    def _read_health(self, msg: _Message, kiosk_id: str) -> FleetUpdate | DeadLetter | None:
        if not msg.payload:
            return None
        try:
            health = presence.read_health(msg.payload)
        except ValueError as exc:
            return self._dead(msg, kiosk_id, "health", f"health must be a JSON object ({str(exc)[:80]})")
        return FleetUpdate(kiosk_id, msg.received_at, health=health)

    def _read_selftest(self, msg: _Message, kiosk_id: str) -> FleetUpdate | DeadLetter:
        try:
            report = validate_selftest(msg.payload, topic_kiosk_id=kiosk_id)
        except InvalidEvent as exc:
            return self._dead(msg, kiosk_id, "selftest", f"{exc.reason}: {exc.detail}")
        return FleetUpdate(kiosk_id, msg.received_at, selftest=report)

    def _read_sms(self, msg: _Message, kiosk_id: str) -> SmsAsk | None:
        try:
            return SmsAsk(kiosk_id, decode_request(msg.payload))
        except InvalidEvent as exc:
            # Not kept: it holds a phone number and is no event; the kiosk's request times out.
            log.warning("collector: a text request from %s was refused: %s", kiosk_id, exc.reason)
            return None

    def _store(self, events: list[dict], letters: list[DeadLetter],
               fleet: list[FleetUpdate]) -> tuple[IngestResult, list[DeadLetter]] | None:
        """Commit everything; what was stored, and the dead letters written. The store being
        down (:class:`StoreError`: disk full, database gone) is retried (with backoff) until it
        works or we stop, holding every message of the batch; anything else means one message is
        poison, so the batch is retried message by message and what still fails becomes a dead
        letter: one bad event never blocks the rest. Each of the three writes is done once: a
        retry goes on from the first not committed."""
        delay, one_by_one = 0.5, False
        result, written = None, None
        while True:
            try:
                if one_by_one:
                    result, kept = self._store_one_by_one(events, [] if written is not None else letters, fleet,
                                                          result)
                    written = kept if written is None else written + kept
                else:
                    if result is None:
                        result = self.store.ingest(events)
                    if written is None:
                        self.store.add_dead_letters(letters)
                        written = list(letters)
                    self.store.update_fleet(fleet)
                    result.held += _report_ids(fleet)
                self._store_up()
                return result, written
            except StoreError as exc:
                self.counters.store_errors += 1
                self._store_down(exc, delay)
            except Exception as exc:
                self.counters.store_errors += 1
                if not one_by_one:
                    log.error("collector: the store refused a batch (%s); storing it message by message",
                              type(exc).__name__)
                    one_by_one = True
                    continue
                log.exception("collector: storing a batch failed; retrying in %.1f s", delay)
            if self._pause(delay):
                return None
            delay = min(delay * 2, MAX_RETRY_S)

    def _store_down(self, exc: StoreError, delay: float) -> None:
        if self.store_down_since is None:
            self.store_down_since = datetime.now(UTC)
            log.error("collector: CENTRAL STORE DOWN: %s. Nothing is acknowledged until it can write again; "
                      "%d message(s) held, the rest wait at the broker; retrying by itself", exc, self.waiting())
        else:
            log.error("collector: central store still down (%s); %d message(s) held; retrying in %.1f s",
                      exc, self.waiting(), delay)
        self.store_error = str(exc)[:300]

    def _store_up(self) -> None:
        if self.store_down_since is not None:
            down_s = (datetime.now(UTC) - self.store_down_since).total_seconds()
            log.warning("collector: central store writes again after %.0f s down; storing and acknowledging "
                        "what was held", down_s)
            self.store_down_since, self.store_error = None, ""

    def waiting(self) -> int:
        """Messages taken from the broker and not yet stored (nothing of them is acked or PUBACKed)."""
        return self._taken + self._queue.qsize()

    def state(self) -> dict:
        """What the collector says about itself (the status file, systemd's status line)."""
        c = self.counters
        return collector_state(self.config, connected=self.wait_ready(0), down_since=self.store_down_since,
                               store_error=self.store_error, waiting=self.waiting(), stored=c.stored,
                               dead_letters=c.dead_letters, store_errors=c.store_errors)

    def _pause(self, seconds: float) -> bool:
        """Wait out a retry delay while still showing signs of life (the watchdog: retrying a
        store that is down is the writer working, not hanging). True when stopping."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.last_pass = time.monotonic()
            if self._stopping.wait(min(1.0, left)):
                return True
        return False

    def writing(self, within: float) -> bool:
        """The writer thread is alive and went round its loop (or a retry) within ``within`` seconds."""
        return (self._writer is not None and self._writer.is_alive()
                and time.monotonic() - self.last_pass < within)

    def _store_one_by_one(self, events, letters, fleet,
                          done: IngestResult | None = None) -> tuple[IngestResult, list[DeadLetter]]:
        """What was stored, and the dead letters written (``letters``, and a ``store_rejected``
        one for each event the store refuses). ``done``: the batch's events were stored already (a
        later write refused the batch)."""
        if done is not None:
            events, result = [], done
        else:
            result = IngestResult()
        letters = list(letters)
        for event in events:
            try:
                one = self.store.ingest([event])
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001
                letters.append(DeadLetter(events_topic(event["kiosk_id"]), event["kiosk_id"], "store_rejected",
                                          f"the store refused it ({type(exc).__name__})", encode_event(event),
                                          event_id=event["event_id"], final=True))
                log.warning("collector: dead letter from %s: store_rejected", event["kiosk_id"])
                continue
            result.held += one.held
            result.inserted += one.inserted
            result.duplicates += one.duplicates
            result.late += one.late
            result.seq_conflicts += one.seq_conflicts
            result.refused += one.refused
        result.held += _report_ids(self._one_by_one(fleet, self.store.update_fleet, "fleet update"))
        return result, self._one_by_one(letters, self.store.add_dead_letters, "dead letter")

    @staticmethod
    def _one_by_one(items: list, write, what: str) -> list:
        """Write each item alone, so one the store rejects (not a store outage) loses only itself;
        what was written."""
        kept = []
        for item in items:
            try:
                write([item])
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("collector: %s from %s not kept (%s)", what, item.kiosk_id, type(exc).__name__)
            else:
                kept.append(item)
        return kept

    def _done(self, batch: list[_Message], events: list[dict], fleet: list[FleetUpdate], held: list[str],
              refused: list[tuple[str, str, str]]) -> None:
        """After the commit: the receiver acks to their kiosks the held ids (events, self-test
        reports) and ``refused`` (``(kiosk_id, event_id, reason)``: final refusals whose dead
        letters are written), then PUBACKs the batch's messages."""
        kiosk_of = {e["event_id"]: e["kiosk_id"] for e in events}
        kiosk_of.update((u.selftest["report_id"], u.kiosk_id) for u in fleet if u.selftest is not None)
        per_kiosk: dict[str, tuple[list[str], list[tuple[str, str]]]] = defaultdict(lambda: ([], []))
        for held_id in held:
            per_kiosk[kiosk_of[held_id]][0].append(held_id)
        for kiosk_id, event_id, reason in refused:
            per_kiosk[kiosk_id][1].append((event_id, reason))
        acks = [(acks_topic(kiosk_id), payload) for kiosk_id, (ids, refusals) in per_kiosk.items()
                for payload in encode_acks(ids, refusals)]
        if self._tell(Done(acks, [(m.mid, m.qos, m.generation) for m in batch])):
            self.counters.acks_published += len(acks)

    def _housekeeping(self) -> None:
        """Between batches: the registry's venues into the store when they changed; the retention
        purge, every few hours."""
        if self.registry is not None and self.registry.current().version != self._venues_copied:
            try:
                changed = self.store.set_venues(self.registry.venues.values())
                self._venues_copied = self.registry.version
                if changed:
                    log.info("collector: %d venue(s) placed from the fleet registry", changed)
            except Exception as exc:  # noqa: BLE001 - the store is down: try again next pass
                log.error("collector: the registry's venues could not be stored: %s", exc)
        every_h = self.config.store.purge_every_h
        if not every_h or time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + every_h * 3600
        try:
            counts = self.store.purge(self.config.store.retention_days)
            log.info("collector: retention purge (%d days): %s", self.config.store.retention_days, counts)
        except Exception as exc:  # noqa: BLE001 - try again next time
            log.error("collector: retention purge failed: %s", exc)


def collector_state(config: Config, *, connected: bool, down_since: datetime | None, store_error: str = "",
                    waiting: int = 0, stored: int = 0, dead_letters: int = 0, store_errors: int = 0,
                    opened: bool = True) -> dict:
    """The collector's state as the status file holds it, with ``line`` (systemd's status line):
    while it runs (:meth:`Collector.state`), or (``opened`` False) while its store cannot even be
    opened, when it takes nothing from the broker."""
    line = (f"{'connected' if connected else 'waiting for the broker'}; {stored} stored, "
            f"{dead_letters} dead letter(s){'; store errors: ' + str(store_errors) if store_errors else ''}")
    if down_since is not None:
        held = f"nothing acked, {waiting} message(s) held" if opened else "not taking messages until it opens"
        line = f"STORE DOWN since {down_since:%H:%M:%S} UTC ({store_error}); {held}; {line}"
    return {"client_id": config.mqtt.client_id, "pid": os.getpid(),
            "at": datetime.now(UTC).isoformat(timespec="seconds"), "connected": connected,
            "store": "down" if down_since is not None else "up",
            "store_down_since": down_since.isoformat(timespec="seconds") if down_since is not None else None,
            "store_error": store_error or None, "waiting": waiting, "stored": stored,
            "dead_letters": dead_letters, "line": line}


def run(config: Config, stop: threading.Event) -> int:
    """Run until ``stop`` is set (the CLI sets it on SIGTERM/SIGINT); 0 on a clean stop, 1 when
    the receiver process died (systemd restarts the service; the broker kept the session).

    Under systemd (``Type=notify``): READY=1 once connected and subscribed, or after
    ``READY_WAIT_S`` with the broker unreachable (the receiver keeps reconnecting by itself: a
    restart would not help, and holding READY back would only get the start timed out and
    retried); WATCHDOG=1 only while the writer thread goes round its loop (or is deliberately
    retrying a central store that is down), so a hung writer gets the collector restarted;
    STOPPING=1 on the way out. A store that cannot be opened (a new one on a full disk, a
    migration that cannot write, PostgreSQL unreachable) is waited for the same way, READY=1 and
    status "STORE DOWN …" meanwhile: a restart would not help either."""
    heartbeat = sdnotify.Heartbeat(every_s=STATUS_EVERY_S)
    interval = heartbeat.watchdog.interval
    status_file = Path(config.collector.status_file) if config.collector.status_file else None
    store = _open_store(config, stop, heartbeat, status_file)
    if store is None:
        sdnotify.stopping("stopping")
        return 0
    collector = Collector(config, store=store)
    collector.start()
    started = time.monotonic()
    written, next_write, warned = None, 0.0, False
    try:
        while not stop.wait(0.5 if not interval else min(0.5, interval / 2)):
            if collector.failed.is_set():
                return 1
            state = collector.state()
            connected, line, down = state["connected"], state["line"], state["store"] == "down"
            if heartbeat.ready or connected or time.monotonic() - started >= READY_WAIT_S:
                # At once when the store goes down or comes back.
                heartbeat.say(line, urgent=down != (heartbeat.shown or "").startswith("STORE DOWN"))
            if status_file is not None:
                key = (state["connected"], state["store"])
                if key != written or time.monotonic() >= next_write:
                    if write_status(status_file, state):
                        written, next_write = key, time.monotonic() + STATUS_EVERY_S
                    elif not warned:
                        warned = True
                        log.warning("collector: cannot write the status file %s ([collector] status_file)",
                                    status_file)
            if collector.writing(within=interval or 1.0):
                heartbeat.tick()
    finally:
        sdnotify.stopping("stopping")
        collector.stop()
        store.close()
        if status_file is not None:
            write_status(status_file, {**collector.state(), "connected": False, "stopped": True,
                                       "line": "stopped"})
    return 0


def _open_store(config: Config, stop: threading.Event, heartbeat: sdnotify.Heartbeat,
                status_file: Path | None) -> Store | None:
    """The central store, opened as soon as it can be (None when stopped first). Until then the
    broker keeps the collector's session: nothing is taken from it, so nothing is lost."""
    delay, since = 0.5, None
    while True:
        try:
            store = open_store(config.store.url)
        except StoreError as exc:
            first = since is None
            since = since or datetime.now(UTC)
            state = collector_state(config, connected=False, down_since=since, store_error=str(exc)[:300],
                                    opened=False)
            (log.error if first else log.warning)("collector: CENTRAL STORE DOWN: %s; the broker keeps the "
                                                  "messages; retrying in %.1f s", exc, delay)
            if status_file is not None:
                write_status(status_file, state)
            heartbeat.say(state["line"], urgent=True)
            end = time.monotonic() + delay
            while (left := end - time.monotonic()) > 0:
                heartbeat.tick()               # deliberately waiting, not hung
                if stop.wait(min(0.5, left)):
                    return None
            delay = min(delay * 2, MAX_RETRY_S)
            continue
        if since is not None:
            log.warning("collector: central store opened after %.0f s", (datetime.now(UTC) - since).total_seconds())
        return store


def _report_ids(updates: list[FleetUpdate]) -> list[str]:
    """The self-test reports among stored fleet updates: acked like events once held."""
    return [u.selftest["report_id"] for u in updates if u.selftest is not None]
