"""Keeps a frame source to its frame rate without drifting."""

from __future__ import annotations

import time


class Pacer:
    """Sleep until the next frame is due.

    >>> pacer = Pacer(15.0)
    >>> start = time.monotonic()
    >>> for _ in range(4):
    ...     pacer.wait()    # the first returns at once, each next one 1/15 s after the last
    >>> time.monotonic() - start > 0.19
    True
    >>> Pacer(0).interval   # fps 0: never sleeps
    0.0
    """

    def __init__(self, fps: float):
        self.interval = 1.0 / fps if fps > 0 else 0.0
        self._next = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
            self._next += self.interval
        else:
            # Late (slow decode): start counting again from now rather than bursting to catch up.
            self._next = now + self.interval
