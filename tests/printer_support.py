"""A network (port 9100) receipt printer on loopback, for tests."""

from __future__ import annotations

import socket
import threading

from hardware.escpos_raster import raster_blocks


class TcpPrinter:
    """A port-9100 printer on loopback: keeps each connection's bytes. ``hang_up_after``: read that
    many bytes, then close (a printer failing mid-job). ``answers``: replies to DLE EOT n queries."""

    def __init__(self, hang_up_after: int | None = None, answers: dict[bytes, bytes] | None = None,
                 port: int = 0):
        self.connections: list[bytes] = []
        self.hang_up_after = hang_up_after
        self.answers = answers or {}
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(0.05)
        self.port = self.server.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                self.connections.append(self._read(conn))

    def _read(self, conn: socket.socket) -> bytes:
        got = bytearray()
        conn.settimeout(5)
        while True:
            chunk = conn.recv(self.hang_up_after - len(got) if self.hang_up_after else 65536)
            if not chunk:
                return bytes(got)
            got += chunk
            if self.hang_up_after is not None and len(got) >= self.hang_up_after:
                return bytes(got)             # closes with the rest of the job unread
            for query, answer in self.answers.items():
                if got.endswith(query):
                    conn.sendall(answer)

    def jobs(self) -> list[bytes]:
        """The connections that carried a print job (a raster), not just a status query."""
        return [c for c in list(self.connections) if raster_blocks(c)]

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.server.close()
