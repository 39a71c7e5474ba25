"""Commands from the centre to a kiosk (``kiosks/<id>/cmd/<name>``, QoS 1), dispatched to handlers
the kiosk's app registers, as Frigate's ``comms/dispatcher.py`` does: the uplink only carries
them, and what a command does lives with what it acts on (``kiosk/commands.py`` registers
``ping`` and ``purge``; later commands are registered the same way).

The reply goes out in the next retained health message, at once (``"replies"``): the command's
name, the request's ``id`` (a JSON body ``{"id": "..."}``, optional) and either the handler's
``result`` or an ``error``. A handler that fails answers with an error; the uplink carries on.

>>> commands = Commands()
>>> commands.register("ping", lambda: "pong")
>>> commands.handle("ping", b'{"id": "req-1"}')
{'command': 'ping', 'id': 'req-1', 'result': 'pong'}
>>> commands.handle("reboot", b"")
{'command': 'reboot', 'id': None, 'error': 'unknown command (known: ping)'}
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .wire.fields import load_json

log = logging.getLogger(__name__)

#: A larger request body is not read (the reply still names the command).
MAX_COMMAND_BYTES = 1024


class Commands:
    """Named handlers: each takes no argument and returns the reply's ``result`` (JSON-able)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[[], object]] = {}

    def register(self, name: str, handler: Callable[[], object]) -> None:
        if name in self._handlers:
            raise ValueError(f"command {name!r} is registered already")
        self._handlers[name] = handler

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    def handle(self, name: str, payload: bytes) -> dict:
        """The reply to command ``name`` with request body ``payload``."""
        reply: dict = {"command": name[:32], "id": _request_id(payload)}
        handler = self._handlers.get(name)
        if handler is None:
            reply["error"] = f"unknown command (known: {', '.join(self.names)})"
            return reply
        try:
            reply["result"] = handler()
        except Exception as exc:  # a failing command is answered, never the uplink's end
            log.exception("command %s failed", name[:32])
            reply["error"] = f"{name[:32]} failed ({type(exc).__name__})"
        else:
            log.info("command %s: %s", name[:32], reply["result"])
        return reply


def _request_id(payload: bytes) -> str | None:
    if not payload or len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        body = load_json(payload)       # the one reader of the wire
    except ValueError:
        return None
    return str(body.get("id"))[:64] if isinstance(body, dict) and "id" in body else None
