"""When a check-in slip is printed (``[printer] slips``): ``always`` (every check-in),
``on_request`` (the kiosk's button just after a check-in, or staff from the "Inside" page), or
``never``. It only asks for the job (``enqueue(kind, subject)``: the print worker's ``request``,
which writes it on the worker's thread, so the scan thread never waits on a disk write for it).

Told of every outcome like a screen (``show``), after the visitor has had their answer.
"""

from __future__ import annotations

import time

from typing import Callable

from ..outcome import Outcome

#: The button prints the slip of a check-in at most this long ago.
BUTTON_WINDOW_S = 120.0


class SlipPolicy:
    def __init__(self, enqueue: Callable[[str, str], object], mode: str, *, monotonic=time.monotonic):
        self.enqueue = enqueue
        self.mode = mode
        self.monotonic = monotonic
        self._last: tuple[str, float] | None = None

    def show(self, outcome: Outcome) -> None:
        if outcome.kind != "check_in" or outcome.visit_id is None:
            return
        self._last = (outcome.visit_id, self.monotonic())
        if self.mode == "always":
            self.enqueue("slip", outcome.visit_id)

    def status(self, code) -> None:
        pass

    def button(self) -> bool:
        """The button was pressed: the slip of the check-in just made, if there is one."""
        if self.mode == "never" or self._last is None:
            return False
        visit_id, at = self._last
        if self.monotonic() - at > BUTTON_WINDOW_S:
            return False
        self._last = None            # one press, one slip
        self.enqueue("slip", visit_id)
        return True
