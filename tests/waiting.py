"""Waiting for something another thread or process does: the tests' one polling loop.

A test that waits names what it waits for, so a time-out says which step never came; without
``what`` the failure quotes the line that waited.

>>> wait_for(lambda: 42, what="the answer")
42
>>> wait_for(lambda: [], timeout=0.1, what="an empty list to fill")
Traceback (most recent call last):
...
AssertionError: timed out after 0.1 s waiting for an empty list to fill (last value [])
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable


def wait_for(predicate: Callable, timeout: float = 60.0, what: str | None = None, interval: float = 0.05):
    """Poll ``predicate()`` every ``interval`` seconds; return its first truthy value.

    The default timeout is long because it only bounds a failure: a wait that succeeds returns as
    soon as the value is there, and a loaded CI machine can be slow.
    """
    end = time.monotonic() + timeout
    value = None
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what or _source(predicate)} "
                         f"(last value {value!r})")


def _source(predicate: Callable) -> str:
    """The line that passed ``predicate`` (a lambda, usually), to say what was waited for."""
    try:
        return " ".join(inspect.getsource(predicate).split())
    except (OSError, TypeError):        # defined at a prompt, or a builtin: no source to quote
        return repr(predicate)
