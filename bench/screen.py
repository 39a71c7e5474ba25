"""Commit-to-screen latency over Server-Sent Events, and the kiosk page's transfer size.

ours: a simulated kiosk as ``kiosk run --simulate`` builds it, its web server (waitress) on a
loopback port, and an SSE client reading ``/events``. Each presentation is a distinct synthetic
CCCD code handed to ``ScanLoop.handle`` — recognise, the rules, the durable commit
(``synchronous=FULL``), the mock lights, then the screen event — and timed from just before
``handle`` (so the commit is inside the figure) to the moment the client has read the event;
the part after ``handle`` returned is the web's own.

raw: Flask + waitress with the same server settings, one route streaming ``text/event-stream``
from a ``queue.Queue``; timed from ``queue.put`` of the same JSON to the client's read. What ours
adds is the commit, the feed and the view model.

transfer: the bytes a browser fetches to show the kiosk page (HTML plus every file it links).
"""

from __future__ import annotations

import http.client
import json
import queue
import re
import threading
import time
from pathlib import Path

from .harness import served_kiosk
from .report import percentile

PRESENTATIONS = 200


class SseReader:
    """Reads an event stream on its own thread; ``arrivals`` gets (perf_counter, event, data)."""

    def __init__(self, host: str, port: int, path: str = "/events"):
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream"})
        self.response = self.conn.getresponse()
        if self.response.status != 200:
            raise RuntimeError(f"{path}: HTTP {self.response.status}")
        self.arrivals: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True, name="sse-reader")
        self._thread.start()

    def _read(self) -> None:
        event, data = "message", []
        try:
            while True:
                line = self.response.fp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if not line:
                    if data:
                        self.arrivals.put((time.perf_counter(), event, "\n".join(data)))
                    event, data = "message", []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
        except (OSError, ValueError):
            return

    def wait_for(self, event: str, timeout: float = 10.0) -> tuple[float, str]:
        end = time.monotonic() + timeout
        while True:
            at, name, data = self.arrivals.get(timeout=max(0.01, end - time.monotonic()))
            if name == event:
                return at, data

    def close(self) -> None:
        self.conn.close()


def ours(workdir: Path, n: int = PRESENTATIONS) -> dict:
    from hardware.symbols import Symbol

    kiosk, (host, port) = served_kiosk(workdir, "bench-screen")
    reader = SseReader(host, port)
    latencies, handles, after = [], [], []
    try:
        time.sleep(0.2)                       # the stream's first snapshot
        for i in range(n):
            payload = (f"0791{90 + i // 1_000_000:02d}{i % 1_000_000:06d}"
                       "||Người Thử Bench|01011990|Nữ|Phường Mẫu|15072021")
            symbol = Symbol.from_bytes("qr_code", payload.encode())
            started = time.perf_counter()
            outcome = kiosk.loop.handle(symbol)
            handled = time.perf_counter()
            at, data = reader.wait_for("outcome")
            if outcome is None or outcome.kind != "check_in" or json.loads(data)["kind"] != "check_in":
                raise RuntimeError(f"presentation {i}: {outcome}")
            latencies.append((at - started) * 1000)
            handles.append((handled - started) * 1000)
            after.append((at - handled) * 1000)
            time.sleep(0.005)
        size = page_transfer(host, port)
    finally:
        reader.close()
        kiosk.close()
    return {"ms": latencies, "handle_ms": handles, "after_ms": after, "transfer": size}


def raw(n: int = PRESENTATIONS) -> dict:
    """Flask + waitress alone: a queue streamed as SSE, with the web server's own settings."""
    from flask import Flask, Response
    from waitress.server import create_server

    from kiosk.web.server import THREADS

    q: queue.Queue = queue.Queue()
    app = Flask("raw-sse")

    @app.get("/events")
    def events():
        def stream():
            yield ": open\n\n"
            while True:
                yield f"event: outcome\ndata: {q.get()}\n\n"
        return Response(stream(), mimetype="text/event-stream")

    server = create_server(app, host="127.0.0.1", port=0, threads=THREADS, ident="", connection_limit=50)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    reader = SseReader("127.0.0.1", server.effective_port)
    body = json.dumps({"kind": "check_in", "code": "check_in", "name": "Người T. B.", "time": "08:31",
                       "occupancy": 1, "capacity": 0}, ensure_ascii=False)
    latencies = []
    try:
        time.sleep(0.2)
        for _ in range(n):
            started = time.perf_counter()
            q.put(body)
            at, _ = reader.wait_for("outcome")
            latencies.append((at - started) * 1000)
            time.sleep(0.005)
    finally:
        reader.close()
        server.close()
    return {"ms": latencies}


def page_transfer(host: str, port: int) -> dict:
    """Bytes of the kiosk page and each file it links (what Chromium fetches to show it)."""
    def get(path: str) -> bytes:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        return body

    html = get("/")
    files = {"/": len(html)}
    for path in dict.fromkeys(re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)):
        files[path.decode()] = len(get(path.decode()))
    return {"files": files, "bytes": sum(files.values())}


def run(workdir: Path, n: int = PRESENTATIONS) -> dict:
    mine, base = ours(workdir, n), raw(n)
    out = {"presentations": n, "transfer": mine["transfer"]}
    for label, data in (("ours", mine["ms"]), ("raw", base["ms"]), ("handle", mine["handle_ms"]),
                        ("after_handle", mine["after_ms"])):
        out[label] = {"p50_ms": percentile(data, 50), "p99_ms": percentile(data, 99), "max_ms": max(data)}
    # The web's own part (handle returned → client read) against raw Flask + waitress.
    out["ratio_p50"] = out["after_handle"]["p50_ms"] / out["raw"]["p50_ms"]
    return out
