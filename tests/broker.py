"""A real Mosquitto broker for tests: started on a free loopback port, stopped, restarted.

The product's :class:`~mqtt.broker.loopback.LoopbackBroker` with a test config: persistence
saved every second, no queue limit, and any listener block a test needs (TLS, ACLs).
"""

from __future__ import annotations

from pathlib import Path

from mqtt.broker.loopback import LoopbackBroker, free_port

__all__ = ["Mosquitto", "free_port"]


class Mosquitto(LoopbackBroker):
    """One broker process with persistence in ``workdir``.

    >>> broker = Mosquitto(tmp_path).start()
    >>> broker.url
    'mqtt://127.0.0.1:41234'

    config: mosquitto.conf lines for the listeners (TLS, ACLs); by default one anonymous plain
    listener on the port, loopback only.
    """

    def __init__(self, workdir: Path, *, port: int | None = None, config: str | None = None):
        self._listeners = config
        super().__init__(workdir, port=port)

    def config_text(self) -> str:
        listeners = (self._listeners if self._listeners is not None
                     else f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        return (f"persistence true\npersistence_location {self.workdir}/\nautosave_interval 1\n"
                "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
                f"max_queued_messages 0\n{listeners}")
