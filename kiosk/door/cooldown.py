"""The same code seen again within the cooldown is the same presentation."""

from __future__ import annotations

import time
from collections.abc import Hashable


class Cooldown:
    """Remembers recently seen codes.

    >>> cd = Cooldown(10.0)
    >>> cd.fresh("cccd:079190000001")
    True
    >>> cd.fresh("cccd:079190000001")     # within 10 s: the same presentation
    False

    seconds: the cooldown (0 disables it); clock: monotonic time source.
    Keys are anything hashable: a person's ``kind:id``, or a code's raw bytes.
    A code held in front of the camera keeps renewing its entry, so it stays one presentation
    however long it is held.
    """

    def __init__(self, seconds: float, clock=time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._seen: dict[Hashable, float] = {}
        self._next_prune = 0.0

    def fresh(self, key: Hashable) -> bool:
        """True when ``key`` starts a new presentation (and remembers it)."""
        now = self._clock()
        last = self._seen.get(key)
        self._seen[key] = now
        if now >= self._next_prune:
            self._prune(now)
        return last is None or now - last >= self.seconds

    def seed(self, key: Hashable, age_s: float) -> None:
        """Remember ``key`` as last seen ``age_s`` seconds ago (an event recorded before a restart)."""
        now = self._clock()
        self._seen[key] = max(self._seen.get(key, now - age_s), now - age_s)

    def __contains__(self, key: Hashable) -> bool:
        """Whether ``key`` was seen within the cooldown (without renewing it)."""
        last = self._seen.get(key)
        return last is not None and self._clock() - last < self.seconds

    def forget(self, key: Hashable) -> None:
        """Let the next sighting count as new (after a presentation that could not be recorded)."""
        self._seen.pop(key, None)

    def _prune(self, now: float) -> None:
        # Bounded memory over days of traffic: drop entries past their cooldown.
        self._seen = {k: t for k, t in self._seen.items() if now - t < self.seconds}
        self._next_prune = now + max(self.seconds, 1.0)
