"""The collector's MQTT side, in a process of its own.

Receiving costs about as much CPU per message as storing it (paho is pure Python), and one
interpreter runs one thread at a time; so the paho client lives in a child process and the
collector's writer in the parent, each on its own core. They talk over one pipe, in the
messages of :mod:`mqtt.collector.pipe`: bursts of received messages and the connection's ups and
downs one way; after each commit the acks to publish and the PUBACKs to send (only now does the
broker forget those messages), and "hold" and "quit" when stopping, the other.

A message is PUBACKed only under the connection it came from (``generation``): after a reconnect
the broker delivers it again under a new packet id, and the old id may by then name another
message. If the parent dies, the pipe closes and the child exits without a DISCONNECT; the broker
keeps the persistent session and redelivers whatever was not PUBACKed.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from .. import endpoint
from ..plumbing.logs import setup_logging
from ..wire.topics import HEALTH_FILTER, SELFTEST_FILTER, STATUS_FILTER
from .config import MqttSection
from .pipe import Connected, Disconnected, Done, Hold, Messages, Quit, Received

log = logging.getLogger("mqtt.collector")

#: The sender waits this long after the first message of a burst, to pass on the rest with it.
GATHER_S = 0.001
#: Longest wait between reconnection tries. One collector (or a few) trying every 5 s costs the
#: broker nothing, and the events queued while it was gone reach the store soon after its return.
RECONNECT_MAX_S = 5


@dataclass(frozen=True)
class ReceiverSettings:
    mqtt: MqttSection
    events_filter: str
    #: The texts kiosks ask the centre to send: shared like the events, so one collector sends each.
    sms_filter: str
    receive_maximum: int
    log_level: int


def spawn(settings: ReceiverSettings) -> tuple[subprocess.Popen, Connection]:
    """Start the receiver process; returns it and the parent's end of the pipe.

    A fresh interpreter (``python -m mqtt.collector.receiver FD``) rather than multiprocessing:
    no fork of a threaded parent, and no re-import of the parent's ``__main__``."""
    parent_sock, child_sock = socket.socketpair()
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    with child_sock:
        process = subprocess.Popen([sys.executable, "-m", __name__, str(child_sock.fileno())],
                                   pass_fds=[child_sock.fileno()], env=env, stdin=subprocess.DEVNULL)
    conn = Connection(parent_sock.detach())
    conn.send(settings)
    return process, conn


def main(argv: list[str]) -> None:
    # systemd's stop and a terminal's Ctrl-C signal the whole group: the writer decides when
    # this process ends ("quit", or the pipe closing), after its last commit's PUBACKs.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(argv[0]))
    settings: ReceiverSettings = conn.recv()
    setup_logging(settings.log_level)
    Receiver(conn, settings).serve()


class Receiver:
    """The paho client (its network thread), a sender thread, and the command loop (main thread)."""

    def __init__(self, conn: Connection, settings: ReceiverSettings):
        self.conn = conn
        self.settings = settings
        self._out: queue.SimpleQueue = queue.SimpleQueue()
        self._holding = threading.Event()
        self._lock = threading.Lock()           # generation and connected, vs the command loop
        self._generation = 0
        self._connected = False
        self._client = self._make_client()

    def serve(self) -> None:
        m = self.settings.mqtt
        threading.Thread(target=self._send_loop, name="receiver-send", daemon=True).start()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = m.session_expiry_s
        props.ReceiveMaximum = self.settings.receive_maximum
        # connect_async + loop_start: the first connection is retried like any reconnect.
        self._client.connect_async(self._host, self._port, keepalive=m.keepalive_s, clean_start=False,
                                   properties=props)
        self._client.loop_start()
        log.info("collector %s: connecting to %s:%s, events from %s", m.client_id, self._host, self._port,
                 self.settings.events_filter)
        try:
            self._commands()
        finally:
            self._client.loop_stop()

    # -- commands from the writer -----------------------------------------------------------

    def _commands(self) -> None:
        while True:
            try:
                command = self.conn.recv()
            except (EOFError, OSError):
                log.error("collector receiver: the writer is gone; leaving the session to the broker")
                return
            match command:
                case Done(acks, pubacks):
                    self._done(acks, pubacks)
                case Hold():
                    self._holding.set()
                case Quit():
                    self._client.disconnect()
                    return

    def _done(self, acks: list[tuple[str, bytes]], pubacks: list[tuple[int, int, int]]) -> None:
        for topic, payload in acks:
            self._client.publish(topic, payload, qos=1)
        with self._lock:
            if not self._connected:
                return   # the broker redelivers them in the resumed session; they are held already
            for mid, qos, generation in pubacks:
                if qos > 0 and generation == self._generation:
                    self._client.ack(mid, qos)

    # -- to the writer ----------------------------------------------------------------------

    def _send_loop(self) -> None:
        """One send per burst, not per message: each send costs about as much as receiving."""
        while True:
            item = self._out.get()
            time.sleep(GATHER_S)
            msgs, notices = [], []
            while item is not None:
                (msgs if isinstance(item, Received) else notices).append(item)
                try:
                    item = self._out.get_nowait()
                except queue.Empty:
                    item = None
            try:
                if msgs:
                    self.conn.send(Messages(msgs))
                for notice in notices:
                    self.conn.send(notice)
            except (OSError, ValueError):
                return      # the writer is gone; _commands sees it too

    # -- MQTT -------------------------------------------------------------------------------

    def _make_client(self) -> paho.Client:
        m = self.settings.mqtt
        client, self._host, self._port = endpoint.make_client(m.client_id, m.url, tls_ca=m.tls_ca,
                                                              tls_cert=m.tls_cert, tls_key=m.tls_key,
                                                              manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=RECONNECT_MAX_S)
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("collector: the broker refused the connection: %s", reason_code)
            return
        with self._lock:
            self._generation += 1
            self._connected = True
        log.info("collector connected (session %s)", "resumed" if flags.session_present else "new")
        opts = SubscribeOptions(qos=1)
        # On every connection, not only the first: a broker that lost its state (killed between
        # autosaves) comes back without our session and its subscriptions, and a resumed session
        # keeps them anyway. Status, health and self-test reports are never shared: every
        # collector keeps the whole fleet (each stores a report and acks it; the kiosk takes the
        # first ack).
        client.subscribe([(self.settings.events_filter, opts), (STATUS_FILTER, opts),
                          (HEALTH_FILTER, opts), (SELFTEST_FILTER, opts), (self.settings.sms_filter, opts)])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("collector: subscription refused: %s", ", ".join(failed))
            return
        log.info("collector subscribed to %s", self.settings.events_filter)
        self._out.put(Connected())

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            self._connected = False
        self._out.put(Disconnected())
        if not self._holding.is_set():
            log.warning("collector disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        if self._holding.is_set():
            return  # not PUBACKed: the broker keeps it for our next session
        self._out.put(Received(message.topic, bytes(message.payload), message.mid, message.qos, message.retain,
                               self._generation, time.time()))


if __name__ == "__main__":
    main(sys.argv[1:])
