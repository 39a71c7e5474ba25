"""Running a real ``kiosk run --simulate`` process in a test, and reading its screen lines."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path


def write_config(tmp_path: Path, **rules) -> Path:
    rules_toml = "\n".join(f"{k} = {v}" for k, v in rules.items())
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f"""
[kiosk]
id = "test-kiosk-01"
venue_id = "cho-thu"
venue_name = "Chợ Thử"
data_dir = "{tmp_path / 'data'}"
[camera]
source = "dir:{tmp_path / 'camera'}"
fps = 0
presentation_s = 0.05
[web]
listen = "127.0.0.1:0"
[rules]
{rules_toml}
""")
    return cfg


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

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(10)
        finally:
            self.proc.kill()
