"""What the collector's receiver process and its writer say to each other over their pipe (see
:mod:`mqtt.collector.receiver`), one named type per message.

receiver → writer: :class:`Messages` (a burst of :class:`Received`), :class:`Connected` once
connected and subscribed, :class:`Disconnected` when the connection drops.

writer → receiver: :class:`Done` after a commit (publish the acks, then PUBACK what was stored),
:class:`Hold` (take no more messages: stopping), :class:`Quit` (disconnect and exit).

NamedTuples: they cross the pipe pickled, a burst of hundreds at a time, and a named tuple
pickles as little more than the tuple it is.
"""

from __future__ import annotations

from typing import NamedTuple


class Received(NamedTuple):
    """One message from the broker. ``generation``: the connection it came under (a PUBACK is
    valid only on that one); ``at``: when it arrived (seconds since the epoch)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    generation: int
    at: float


class Messages(NamedTuple):
    items: list[Received]


class Connected(NamedTuple):
    pass


class Disconnected(NamedTuple):
    pass


class Done(NamedTuple):
    """``acks``: ``(topic, payload)`` to publish (QoS 1); ``pubacks``: ``(mid, qos, generation)``
    of the messages now stored: only now does the broker forget them."""

    acks: list[tuple[str, bytes]]
    pubacks: list[tuple[int, int, int]]


class Hold(NamedTuple):
    pass


class Quit(NamedTuple):
    pass
