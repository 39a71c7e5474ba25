"""A real Mosquitto broker for tests: started on a free loopback port, stopped, restarted.

The product's :class:`~mqtt.loopback.mosquitto.LoopbackBroker` with a test config: persistence
saved every second, no queue limit, and any listener block a test needs (TLS, ACLs).
"""

from __future__ import annotations

import signal
from pathlib import Path

from mqtt.loopback.mosquitto import LoopbackBroker, free_port

__all__ = ["Mosquitto", "free_port"]


class Mosquitto(LoopbackBroker):
    """One broker process with persistence in ``workdir``.

    >>> broker = Mosquitto(tmp_path).start()
    >>> broker.url
    'mqtt://127.0.0.1:41234'

    config: mosquitto.conf lines for the listeners (TLS, ACLs); by default one anonymous plain
    listener on the port, loopback only. autosave_s: how often the broker saves its persistence
    file (a long one and :meth:`kill` lose what it held, as a power cut between autosaves does).
    """

    def __init__(self, workdir: Path, *, port: int | None = None, config: str | None = None, autosave_s: int = 1):
        self._listeners = config
        self._autosave_s = autosave_s
        super().__init__(workdir, port=port)

    def config_text(self) -> str:
        listeners = (self._listeners if self._listeners is not None
                     else f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        return (f"persistence true\npersistence_location {self.workdir}/\nautosave_interval {self._autosave_s}\n"
                "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
                f"max_queued_messages 0\n{listeners}")

    def kill(self) -> None:
        """SIGKILL: the broker saves nothing (what it held since its last autosave is gone)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
