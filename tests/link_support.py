"""A flapping link between a kiosk and a real broker: a loopback TCP relay that, when told to,
drops the connection just as the kiosk publishes an event, before the broker could answer.

From the kiosk's side this is what a mobile link that keeps dropping, or a broker in a restart
loop, looks like: the connection ends right after an event was published alone, the same answer
Mosquitto 2.0.11 gives to a PUBLISH it denies. It is exact where killing a broker is not (a local
broker PUBACKs within a millisecond, before any kill lands).
"""

from __future__ import annotations

import socket
import threading

from broker import free_port

PUBLISH = 3


def _packets(buffer: bytearray):
    """Split whole MQTT packets off the front of ``buffer``: yields (packet type, packet bytes)."""
    while len(buffer) >= 2:
        length, multiplier, i = 0, 1, 1
        while True:
            if i >= len(buffer):
                return                          # the length is not all here yet
            byte = buffer[i]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            i += 1
            if not byte & 0x80:
                break
        if len(buffer) < i + length:
            return
        packet = bytes(buffer[:i + length])
        del buffer[:i + length]
        yield packet[0] >> 4, packet


def _topic(packet: bytes) -> str:
    """The topic of a PUBLISH packet."""
    i = 1
    while packet[i] & 0x80:
        i += 1
    i += 1
    size = int.from_bytes(packet[i:i + 2], "big")
    return packet[i + 2:i + 2 + size].decode("utf-8", "replace")


class FlakyLink:
    """Relays ``127.0.0.1:<port>`` to the broker at ``broker_port``.

    >>> link = FlakyLink(broker.port)
    >>> link.drop_on_events(3)     # the next 3 event PUBLISHes each end their connection, unsent
    >>> link.url                   # give this to the kiosk
    'mqtt://127.0.0.1:40123'
    """

    def __init__(self, broker_port: int):
        self.broker_port = broker_port
        self.port = free_port()
        self.drops_left = 0
        self.dropped = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, name="flaky-link", daemon=True).start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def drop_on_events(self, n: int) -> None:
        """The next ``n`` PUBLISHes on an events topic are not passed on, and each ends its connection."""
        with self._lock:
            self.drops_left = n

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                kiosk, _ = self._listener.accept()
            except OSError:
                return
            try:
                broker = socket.create_connection(("127.0.0.1", self.broker_port))
            except OSError:
                kiosk.close()
                continue
            threading.Thread(target=self._kiosk_to_broker, args=(kiosk, broker), daemon=True).start()
            threading.Thread(target=self._relay, args=(broker, kiosk), daemon=True).start()

    def _take_drop(self) -> bool:
        with self._lock:
            if self.drops_left <= 0:
                return False
            self.drops_left -= 1
            self.dropped += 1
            return True

    def _kiosk_to_broker(self, kiosk: socket.socket, broker: socket.socket) -> None:
        buffer = bytearray()
        try:
            while data := kiosk.recv(65536):
                buffer += data
                for kind, packet in _packets(buffer):
                    if kind == PUBLISH and _topic(packet).endswith("/events") and self._take_drop():
                        return                  # the link goes down with this event
                    broker.sendall(packet)
        except OSError:
            pass
        finally:
            _close(kiosk, broker)

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source, sink)


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
