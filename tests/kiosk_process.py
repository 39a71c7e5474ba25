"""Running a real ``kiosk run --simulate`` process in a test, and reading its screen lines."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from configs import write_kiosk_config


def write_config(tmp_path: Path, *, presentation_s: float = 0.05, **rules) -> Path:
    """presentation_s: how long the image-folder camera shows each file (the contract's "about one
    second" when a test needs a code to stay in view); rules: the ``[rules]`` keys."""
    return write_kiosk_config(
        tmp_path / "kiosk.toml",
        kiosk={"id": "test-kiosk-01", "venue_id": "cho-thu", "venue_name": "Chợ Thử", "data_dir": tmp_path / "data"},
        camera={"source": f"dir:{tmp_path / 'camera'}", "fps": 0, "presentation_s": presentation_s},
        web={"listen": "127.0.0.1:0"},
        rules=rules)


_SCREEN_URL = re.compile(r"http://127\.0\.0\.1:\d+/")


class KioskProcess:
    """``python -m kiosk run --simulate --config CFG``; its stdout (the simulated screen) line by line."""

    def __init__(self, config: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--simulate", "--config", str(config)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink(line.rstrip("\n"))

    def wait_for(self, predicate, timeout=20.0) -> list[str]:
        """Lines up to and including the first that satisfies ``predicate``."""
        seen, end = [], time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            seen.append(line)
            if predicate(line):
                return seen
        raise AssertionError(f"no matching screen line; saw {seen[-5:]}, stderr {self.stderr[-5:]}")

    def screen_url(self, timeout=20.0) -> str:
        """The screen's address, from the line the kiosk prints when its screen is up."""
        found = []
        self.wait_for(lambda line: bool(m := _SCREEN_URL.search(line)) and not found.append(m.group(0)),
                      timeout)
        return found[0]

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(10)
        finally:
            self.proc.kill()


class ScreenEvents:
    """A running kiosk's screen stream (``GET /events``, Server-Sent Events) read in a thread, as the
    kiosk's own browser reads it: ``(event, data)`` pairs, e.g. ``("status", {"error": "disk_full",
    …})`` or, in simulation, ``("signals", {"red": True, …})`` for the mock lights."""

    def __init__(self, screen_url: str):
        self._response = urllib.request.urlopen(screen_url + "events", timeout=60)
        self.events: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.seen: list[tuple[str, dict]] = []
        #: The last data of each event name: what the screen shows now.
        self.latest: dict[str, dict] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        event = None
        try:
            for raw in self._response:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event:
                    data = json.loads(line[6:])
                    self.latest[event] = data
                    self.events.put((event, data))
                    event = None
        except (OSError, ValueError, AttributeError):
            pass            # the kiosk stopped, or the stream was closed (http.client drops its file)

    def wait_for(self, predicate, timeout=20.0) -> list[tuple[str, dict]]:
        """Events up to and including the first ``(event, data)`` that satisfies ``predicate``."""
        seen, end = [], time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                item = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.append(item)
            self.seen.append(item)
            if predicate(*item):
                return seen
        raise AssertionError(f"no matching screen event in {timeout:.0f} s; saw {seen[-5:]}")

    def wait_state(self, event: str, predicate, timeout=20.0) -> dict:
        """Until the screen's current ``event`` data (e.g. the status marks) satisfies ``predicate``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            data = self.latest.get(event)
            if data is not None and predicate(data):
                return data
            time.sleep(0.02)
        raise AssertionError(f"the screen's {event} never matched in {timeout:.0f} s; it is {self.latest.get(event)}")

    def drain(self) -> list[tuple[str, dict]]:
        """Every event received and not yet taken by :meth:`wait_for`."""
        items = []
        while True:
            try:
                items.append(self.events.get_nowait())
            except queue.Empty:
                self.seen += items
                return items

    def close(self) -> None:
        self._response.close()
