"""Helpers for uplink tests: a kiosk store with check-ins, and a raw-paho stand-in for the collector."""

from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from codes import cccd_payload
from kiosk.clock import Clock
from kiosk.credentials import recognise
from kiosk.door.checkin import CheckinDesk
from mqtt.wire.acks import encode_ack
from mqtt.wire.topics import acks_topic


def record_check_ins(store, n: int, *, start: int = 0, kiosk_id: str = "k-001", clock=None) -> None:
    desk = CheckinDesk(store, clock or Clock(), kiosk_id=kiosk_id, venue_id="cho-thu")
    for i in range(start, start + n):
        desk.present(recognise(cccd_payload(i)))


class RawClient:
    """A raw paho v2 client on its own loop thread, collecting what it receives."""

    def __init__(self, url: str, client_id: str, subscribe=(), on_message=None):
        host, port = url.removeprefix("mqtt://").split(":")
        self.messages: list[paho.MQTTMessage] = []
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
        self._extra = on_message
        self.client.on_message = self._on_message
        self.client.connect(host, int(port))
        for topic in subscribe:
            self.client.subscribe(topic, 1)
        self.client.loop_start()
        time.sleep(0.2)

    def _on_message(self, client, userdata, message):
        with self.lock:
            self.messages.append(message)
        if self._extra:
            self._extra(client, message)

    def on(self, topic: str) -> list[paho.MQTTMessage]:
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def acking_collector(url: str, client_id: str = "test-acker") -> RawClient:
    """Acks every event at once (what the collector does after its commit)."""
    def ack(client, message):
        if message.topic.endswith("/events"):
            event = json.loads(message.payload)
            client.publish(acks_topic(event["kiosk_id"]), encode_ack([event["event_id"]]), qos=1)
    return RawClient(url, client_id, subscribe=["kiosks/+/events"], on_message=ack)


def publish_packet_size(topic: str, payload: bytes) -> int:
    """Bytes of an MQTT 5 QoS 1 PUBLISH of ``payload`` on ``topic``, without properties."""
    remaining = 2 + len(topic.encode("utf-8")) + 2 + 1 + len(payload)
    length_bytes = 1 if remaining < 128 else 2 if remaining < 16384 else 3
    return 1 + length_bytes + remaining


