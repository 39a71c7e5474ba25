"""A real Mosquitto broker for tests: started on a free loopback port, stopped, restarted, killed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from mqtt.broker.loopback import free_port

__all__ = ["Mosquitto", "free_port", "wait_for_port"]

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port}")


class Mosquitto:
    """One broker process with persistence in ``workdir``.

    >>> broker = Mosquitto(tmp_path).start()
    >>> broker.url
    'mqtt://127.0.0.1:41234'

    config: extra mosquitto.conf lines (TLS listeners, ACLs); by default one anonymous plain
    listener on the port, loopback only.
    """

    def __init__(self, workdir: Path, *, port: int | None = None, config: str | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        body = config if config is not None else f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
        root = "user root\n" if os.geteuid() == 0 else ""  # as root, mosquitto would drop to 'mosquitto'
        self.conf.write_text(
            f"{root}persistence true\npersistence_location {self.workdir}/\nautosave_interval 1\n"
            f"log_dest file {self.log}\nlog_type error\nlog_type warning\nlog_type notice\n"
            f"max_queued_messages 0\n{body}")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Mosquitto":
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.proc.kill()
            err = self.proc.stderr.read().decode(errors="replace")
            raise RuntimeError(f"mosquitto did not start: {err} {self.log.read_text() if self.log.exists() else ''}")
        return self

    def stop(self) -> None:
        """A clean stop (SIGTERM): mosquitto saves its persistence file on the way out."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
