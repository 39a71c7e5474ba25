"""A Mosquitto on loopback for simulation, the demo stack and benchmarks.

The configuration is written when the broker is made, so it can be read (or added to) first:

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as workdir:
...     broker = LoopbackBroker(Path(workdir), port=1883)
...     broker.url, "listener 1883 127.0.0.1" in broker.conf.read_text()
('mqtt://127.0.0.1:1883', True)

Running it needs ``mosquitto`` (apt)::

    with LoopbackBroker(Path("var/broker"), port=1883) as broker:   # started; stopped (SIGTERM) on exit
        ...
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from ..broker import render


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


def listening(port: int, tables=("/proc/net/tcp", "/proc/net/tcp6")) -> bool:
    """Whether some socket listens on ``port``, read from the kernel's tables: unlike a probe
    connection, this leaves nothing in the broker's log (a TLS listener logs a connection that
    closes before its handshake as an OpenSSL error)."""
    for table in tables:
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:    # 0A: LISTEN
                return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackBroker:
    """Runs ``mosquitto`` with the loopback template (anonymous, 127.0.0.1 only, persistence in
    ``workdir``). The config is written to ``workdir/mosquitto.conf`` at once, so a caller may add
    lines before :meth:`start`; the broker logs to ``workdir/mosquitto.log``. ``stop()`` is a clean
    SIGTERM, so mosquitto saves its persistence file."""

    def __init__(self, workdir: Path, *, port: int | None = None):
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        # As root mosquitto would switch to 'mosquitto', who cannot write here.
        root = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(root + self.config_text())
        self.proc: subprocess.Popen | None = None

    def config_text(self) -> str:
        return render("mosquitto-loopback.conf", port=self.port, persistence_location=f"{self.workdir}/")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> LoopbackBroker:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(exe):
            raise FileNotFoundError("mosquitto is not installed (apt install mosquitto)")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=log, stderr=log,
                                         start_new_session=True)
        end = time.monotonic() + timeout
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError(f"mosquitto did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
