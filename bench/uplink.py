"""Outbox drain vs raw paho QoS 1 publishing, to the same loopback Mosquitto, with the same payloads.

Raw: one paho client (MQTT v5, the uplink's in-flight window) publishes the events as fast as it
can and waits for every PUBACK. Uplink: the kiosk's Uplink drains the same events from a real
kiosk database (synchronous=FULL) until every row is marked sent (PUBACKed). Neither waits for a
collector, so the figure is the kiosk side alone: an offline collector session holds what each
publishes (PUBACK 0), as the broker does for a collector that is away. With no subscriber at all
the broker answers PUBACK 16 (nothing holds the event) and the uplink keeps such events pending.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kiosk.centre.outbox import KioskOutbox
from kiosk.clock import Clock
from kiosk.credentials import recognise
from kiosk.door.checkin import CheckinDesk
from kiosk.store import VisitStore
from mqtt.uplink import Uplink, UplinkSettings
from mqtt.wire.topics import events_topic

from .report import median


def kiosk_db_with_events(path: Path, n: int, kiosk_id: str) -> list[bytes]:
    """A kiosk database holding ``n`` check-in events; returns their payloads."""
    store = VisitStore.open(path)
    desk = CheckinDesk(store, Clock(), kiosk_id=kiosk_id, venue_id="cho-bench")
    for i in range(n):
        desk.present(recognise(f"079190{i:06d}||Người Thử {_letters(i)}|01011990|Nữ|Phường Mẫu|15072021"))
    payloads = [e.encode() for (e,) in store.db.execute("SELECT body FROM events ORDER BY seq").fetchall()]
    store.close()
    return payloads


@contextmanager
def offline_collector(url: str, topic: str, client_id: str) -> Iterator[None]:
    """A persistent session subscribed to ``topic`` (QoS 1), offline while the block runs; removed after."""
    host, port = url.removeprefix("mqtt://").split(":")

    def session(expiry_s: int, subscribe: bool) -> None:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
        done = threading.Event()
        client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, 1) if subscribe else done.set()
        client.on_subscribe = lambda c, u, mid, rcs, p: done.set()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = expiry_s
        client.connect(host, int(port), clean_start=not subscribe, properties=props)
        client.loop_start()
        if not done.wait(10):
            raise RuntimeError(f"the broker did not answer {client_id}")
        client.disconnect()
        client.loop_stop()

    session(600, subscribe=True)
    try:
        yield
    finally:
        session(0, subscribe=False)          # a clean start with no expiry drops the session and its queue


def raw_publish_rate(url: str, payloads: list[bytes], window: int) -> float:
    host, port = url.removeprefix("mqtt://").split(":")
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=MQTTProtocolVersion.MQTTv5)
    client.max_inflight_messages_set(window)
    acked = 0

    def on_publish(c, u, mid, rc, props):
        nonlocal acked
        acked += 1

    client.on_publish = on_publish
    client.connect(host, int(port))
    client.loop_start()
    topic = events_topic("bench-raw")
    started = time.perf_counter()
    for p in payloads:
        client.publish(topic, p, qos=1)
    while acked < len(payloads):
        time.sleep(0.001)
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    return len(payloads) / elapsed


def uplink_drain_rate(url: str, db: Path, n: int, kiosk_id: str) -> float:
    outbox = KioskOutbox(db)
    uplink = Uplink(outbox, UplinkSettings(url=url, kiosk_id=kiosk_id, health_interval_s=3600), health=dict)
    # A cheap probe (one count on the outbox_state index): KioskOutbox.depth() also joins every
    # undelivered row to its event, and every 2 ms that took CPU from the uplink being measured.
    probe = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    started = time.perf_counter()
    uplink.start()
    while probe.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0] < n:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    uplink.stop()
    outbox.close()
    probe.close()
    return n / elapsed


def drain(broker_url: str, workdir: Path, n: int, repeats: int) -> dict:
    raw, ours = [], []
    window = UplinkSettings(url=broker_url, kiosk_id="x").window
    for r in range(repeats):
        kiosk_id = f"bench-{r}"
        db = workdir / f"kiosk-{r}.db"
        payloads = kiosk_db_with_events(db, n, kiosk_id)
        with offline_collector(broker_url, events_topic("bench-raw"), f"bench-holder-raw-{r}"):
            raw.append(raw_publish_rate(broker_url, payloads, window))
        with offline_collector(broker_url, events_topic(kiosk_id), f"bench-holder-{r}"):
            ours.append(uplink_drain_rate(broker_url, db, n, kiosk_id))
    return {"events": n, "repeats": repeats, "window": window, "raw_msgs_per_s": median(raw),
            "uplink_msgs_per_s": median(ours), "ratio": median(ours) / median(raw)}


def _letters(i: int) -> str:
    """A distinct name part per person (names hold letters only)."""
    return "".join("ABCDEGHIKLMNOPQRSTUVXY"[int(d) * 2] for d in f"{i:06d}")
