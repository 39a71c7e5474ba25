"""Collector ingest vs a raw paho subscriber, from the same loopback Mosquitto, same messages.

The events are real kiosk payloads (CheckinDesk on kiosk databases, several kiosks, check-ins
and check-outs), interleaved as the kiosks would send them, plus ~5 % re-sent copies (a kiosk
that missed an ack). Every subscriber's persistent session (MQTT v5, ``clean_start=False``,
session expiry, QoS 1) is made first and left offline; the events are then published once, so the
broker queues the same messages for each. Each subscriber then connects and drains its queue:

* raw: a paho client (same ReceiveMaximum as the collector) that only counts messages; paho
  PUBACKs each one as ``on_message`` returns. Time until all messages arrived.
* collector: the real :class:`~mqtt.collector.ingest.Collector` (its default batching) on a fresh
  store: it receives, validates, stores in one durable transaction per batch (SQLite
  ``synchronous=FULL`` / PostgreSQL with fsync), de-duplicates, publishes the kiosk acks and only
  then PUBACKs (its receiver process does the MQTT side, its writer thread the store). Time until
  every unique event is stored and every message (copies included) is
  handled, read from its counters, which move only after commit + acks + PUBACKs; the store's
  counts are checked afterwards.

rate = unique events / time, for both.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kiosk.clock import Clock
from kiosk.credentials import recognise
from kiosk.door.checkin import CheckinDesk
from kiosk.store import VisitStore
from mqtt.collector.config import Config
from mqtt.collector.ingest import Collector
from mqtt.collector.store import open_store
from mqtt.wire.event import validate_event
from mqtt.wire.topics import EVENTS_FILTER, events_topic, parse_topic

from .report import median
from .uplink import _letters

KIOSKS = 5
DUPLICATE_SHARE = 0.05
BLOCK = 50            # persons checked in together, then out together
SESSION_EXPIRY_S = 3600
TIMEOUT_S = 300


def receive_maximum(config: Config) -> int:
    """What ``Collector.start`` announces as ReceiveMaximum (mqtt/collector/ingest.py)."""
    return min(65535, max(100, config.store.batch_size * 4))


def kiosk_messages(workdir: Path, n: int, kiosks: int = KIOSKS, seed: int = 5) -> tuple[list[tuple[str, bytes]], int]:
    """``n`` events from ``kiosks`` kiosk databases, round-robin, with re-sent copies mixed in.
    Returns (topic, payload) pairs and the number of visits they make."""
    per_kiosk: list[list[tuple[str, bytes]]] = []
    visits = 0
    workdir = workdir / f"kiosks-{n}"
    workdir.mkdir(parents=True, exist_ok=True)
    for j in range(kiosks):
        count = n // kiosks + (1 if j < n % kiosks else 0)
        kiosk_id = f"bench-c{j}"
        db = workdir / f"kiosk-c{j}.db"
        for old in workdir.glob(f"{db.name}*"):
            old.unlink()
        store = VisitStore.open(db)
        desk = CheckinDesk(store, Clock(), kiosk_id=kiosk_id, venue_id=f"cho-bench-{j}")
        persons = (count + 1) // 2
        made = 0
        for start in range(0, persons, BLOCK):
            block = range(start, min(start + BLOCK, persons))
            for _ in range(2):                          # in, then out
                for i in block:
                    if made < count:
                        desk.present(recognise(f"0791{j:02d}{i:06d}||Người Thử {_letters(i)}|01011990|Nữ|"
                                               "Phường Mẫu|15072021"))
                        made += 1
        visits += persons
        topic = events_topic(kiosk_id)
        per_kiosk.append([(topic, body.encode()) for (body,) in
                          store.db.execute("SELECT body FROM events ORDER BY seq").fetchall()])
        store.close()
    merged = [m for i in range(max(map(len, per_kiosk))) for k in per_kiosk if i < len(k) for m in [k[i]]]
    rng = random.Random(seed)
    keyed = [((i, 0), m) for i, m in enumerate(merged)]
    for i in rng.sample(range(len(merged)), int(len(merged) * DUPLICATE_SHARE)):
        keyed.append(((i + rng.randint(1, 300), 1), merged[i]))   # re-sent a little later
    keyed.sort(key=lambda km: km[0])
    return [m for _, m in keyed], visits


def _hostport(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("mqtt://").rstrip("/").split(":")
    return host, int(port)


def _connect_props(expiry: int, receive_max: int | None = None) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry
    if receive_max:
        props.ReceiveMaximum = receive_max
    return props


def _client(client_id: str) -> paho.Client:
    return paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)


def raw_session(url: str, client_id: str, receive_max: int) -> None:
    """A fresh persistent session subscribed to the events, left offline."""
    client = _client(client_id)
    done = threading.Event()
    client.on_subscribe = lambda *a: done.set()
    client.connect(*_hostport(url), clean_start=True, properties=_connect_props(SESSION_EXPIRY_S, receive_max))
    client.loop_start()
    client.subscribe(EVENTS_FILTER, qos=1)
    if not done.wait(10):
        raise RuntimeError("raw subscriber: no SUBACK")
    client.disconnect()
    client.loop_stop()


def drop_session(url: str, client_id: str) -> None:
    """End a persistent session (clean start, expiry 0), so later runs do not queue for it."""
    client = _client(client_id)
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect(*_hostport(url), clean_start=True, properties=_connect_props(0))
    client.loop_start()
    connected.wait(10)
    client.disconnect()
    client.loop_stop()


def publish_all(url: str, messages: list[tuple[str, bytes]]) -> None:
    client = _client("bench-kiosks")
    client.max_inflight_messages_set(500)
    acked = 0
    lock = threading.Lock()

    def on_publish(c, u, mid, rc, props):
        nonlocal acked
        with lock:
            acked += 1

    client.on_publish = on_publish
    client.connect(*_hostport(url))
    client.loop_start()
    for topic, payload in messages:
        client.publish(topic, payload, qos=1)
    end = time.monotonic() + TIMEOUT_S
    while acked < len(messages):
        if time.monotonic() > end:
            raise RuntimeError(f"publisher: {acked}/{len(messages)} PUBACKed")
        time.sleep(0.005)
    client.disconnect()
    client.loop_stop()


def raw_receive(url: str, client_id: str, receive_max: int, expected: int) -> dict:
    """Seconds from connecting until ``expected`` queued messages have arrived (and this process's
    CPU seconds meanwhile)."""
    client = _client(client_id)
    got = 0
    done = threading.Event()

    def on_message(c, u, message):
        nonlocal got
        got += 1
        if got >= expected:
            done.set()

    client.on_message = on_message
    cpu = time.process_time()
    started = time.perf_counter()
    client.connect(*_hostport(url), clean_start=False, properties=_connect_props(SESSION_EXPIRY_S, receive_max))
    client.loop_start()
    if not done.wait(TIMEOUT_S):
        raise RuntimeError(f"raw subscriber: {got}/{expected} messages")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    client.disconnect()
    client.loop_stop()
    return {"s": elapsed, "cpu_s": cpu}


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def collector_config(url: str, client_id: str, store_url: str) -> Config:
    """The default config (batch size and time, session expiry, purge) with this broker and store."""
    return Config().replace("mqtt", url=url, client_id=client_id).replace("store", url=store_url)


def collector_session(config: Config) -> None:
    c = Collector(config)
    c.start()
    if not c.wait_ready(10):
        c.stop()
        raise RuntimeError("collector: not subscribed")
    c.stop()


def collector_receive(config: Config, unique: int, total: int) -> dict:
    """Seconds from ``start()`` until all ``unique`` events are stored and all ``total`` messages
    handled (committed, kiosk acks published, PUBACKed); then the store's counts."""
    collector = Collector(config)          # the store is opened (and migrated) before the clock starts
    c = collector.counters
    cpu = time.process_time()
    started = time.perf_counter()
    collector.start()
    end = time.monotonic() + TIMEOUT_S
    try:
        while c.stored < unique or c.stored + c.duplicates + c.dead_letters < total:
            if time.monotonic() > end:
                raise RuntimeError(f"collector: {c.stored}/{unique} stored, {c.duplicates} duplicates, "
                                   f"{c.dead_letters} dead letters")
            time.sleep(0.002)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu + process_cpu_s(collector.receiver.pid)
    finally:
        collector.stop()
    with open_store(config.store.url) as store:
        counts = store.counts()
    return {"s": elapsed, "cpu_s": cpu, "stored": c.stored, "duplicates": c.duplicates, "dead_letters": c.dead_letters,
            "batches": c.batches, "acks_published": c.acks_published, "counts": counts}


def ingest(broker_url: str, workdir: Path, n: int, repeats: int, stores: dict, log=print) -> dict:
    """stores: label -> callable(repeat) returning a fresh store URL (e.g. {"sqlite": ..., "postgresql": ...})."""
    messages, visits = kiosk_messages(workdir, n)
    rm = receive_maximum(Config())
    raw: list[dict] = []
    ours: dict[str, list[dict]] = {label: [] for label in stores}
    for r in range(repeats):
        sessions = {"raw": f"bench-raw-sub-{r}"}
        configs = {}
        for label, fresh in stores.items():
            sessions[label] = f"bench-collector-{label}-{r}"
            configs[label] = collector_config(broker_url, sessions[label], fresh(r))
        raw_session(broker_url, sessions["raw"], rm)
        for cfg in configs.values():
            collector_session(cfg)
        publish_all(broker_url, messages)
        order = ["raw"] + list(stores) if r % 2 == 0 else list(stores) + ["raw"]
        for who in order:
            log(f"  ingest round {r + 1}/{repeats}: {who} …")
            if who == "raw":
                raw.append(raw_receive(broker_url, sessions["raw"], rm, len(messages)))
            else:
                ours[who].append(collector_receive(configs[who], n, len(messages)))
        for client_id in sessions.values():
            drop_session(broker_url, client_id)
    fresh = {label: make(repeats) for label, make in stores.items()}
    costs = offline_costs(messages, n, fresh, Config().store.batch_size)
    raw_rate = n / median([x["s"] for x in raw])
    out = {"events": n, "messages": len(messages), "duplicates_sent": len(messages) - n, "visits": visits,
           "kiosks": KIOSKS, "repeats": repeats, "receive_maximum": rm, "batch_size": Config().store.batch_size,
           "batch_ms": Config().store.batch_ms, "raw_msgs_per_s": raw_rate,
           "raw_cpu_share": median([x["cpu_s"] / x["s"] for x in raw]),
           "raw_cpu_us_per_msg": median([x["cpu_s"] for x in raw]) / len(messages) * 1e6, "raw_runs": raw,
           "offline_us": costs, "stores": {}}
    for label, runs in ours.items():
        rate = n / median([x["s"] for x in runs])
        out["stores"][label] = {"msgs_per_s": rate, "ratio": rate / raw_rate,
                                "cpu_share": median([x["cpu_s"] / x["s"] for x in runs]),
                                "cpu_us_per_event": median([x["cpu_s"] for x in runs]) / n * 1e6,
                                "wall_us_per_event": median([x["s"] for x in runs]) / n * 1e6, "runs": runs}
    return out


PHASES = ("_track_seq", "_correct_clocks", "_rebuild_visits")


def offline_costs(messages: list[tuple[str, bytes]], unique: int, store_urls: dict, batch_size: int) -> dict:
    """Where the collector's time per event goes, without a broker: ``validate_event`` on
    every message, then ``store.ingest`` of the same batches on a fresh store of each kind, split
    into its phases (timed through the store instance's own methods). Microseconds per unique event."""
    started = time.perf_counter()
    events = [validate_event(p, topic_kiosk_id=parse_topic(t)[0]) for t, p in messages]
    out: dict = {"validate_us": (time.perf_counter() - started) / unique * 1e6, "stores": {}}
    for label, url in store_urls.items():
        store = open_store(url)
        spent = dict.fromkeys(PHASES + ("_ingest",), 0.0)

        def timed(name, fn, spent=spent):
            def wrapper(*args, **kwargs):
                t = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    spent[name] += time.perf_counter() - t
            return wrapper
        for name in spent:
            setattr(store, name, timed(name, getattr(store, name)))
        try:
            started = time.perf_counter()
            for i in range(0, len(events), batch_size):
                store.ingest(events[i:i + batch_size])
            total = time.perf_counter() - started
        finally:
            store.close()
        us = {k.strip("_"): v / unique * 1e6 for k, v in spent.items()}
        us["insert_events"] = us.pop("ingest") - sum(us[p.strip("_")] for p in PHASES)
        us["transaction"] = (total - spent["_ingest"]) / unique * 1e6
        us["total"] = total / unique * 1e6
        out["stores"][label] = us
    return out
