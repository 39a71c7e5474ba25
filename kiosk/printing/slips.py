"""When a check-in slip is printed (``[printer] slips``): ``always`` (every check-in),
``on_request`` (the kiosk's button just after a check-in, or staff from the "Inside" page), or
``never``. It only asks for the job (``enqueue(kind, subject)``: the print worker's ``request``,
which writes it on the worker's thread, so the scan thread never waits on a disk write for it).

Told of every outcome at the door like a screen (``show``), after the visitor has had their answer;
of staff check-ins by ``staff_show``. The button prints the slip of the door's last presentation
only: whoever presses it stands at the door, so a check-in staff made (on their page, for someone
perhaps far from the door) never becomes the button's slip, and neither does a check-in after the
door has answered someone else (their name and a code that checks them out are on the slip).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..door.outcome import Outcome

#: The button prints the slip of a check-in at most this long ago.
BUTTON_WINDOW_S = 120.0


class SlipPolicy:
    def __init__(self, enqueue: Callable[[str, str], object], mode: str, *, monotonic=time.monotonic):
        self.enqueue = enqueue
        self.mode = mode
        self.monotonic = monotonic
        self._last: tuple[str, float] | None = None

    def show(self, outcome: Outcome) -> None:
        """An outcome at the door: a check-in's slip (always) or the button's (on request); any
        other answer at the door ends the button's claim to the check-in before it."""
        if outcome.kind != "check_in" or outcome.visit_id is None:
            self._last = None
            return
        self._last = (outcome.visit_id, self.monotonic())
        if self.mode == "always":
            self.enqueue("slip", outcome.visit_id)

    def staff_show(self, outcome: Outcome) -> None:
        """A check-in staff made: its slip when every check-in gets one; on request, staff print it
        from the "Inside" page. Never the door button's: its "last slip" stays the door's."""
        if outcome.kind == "check_in" and outcome.visit_id is not None and self.mode == "always":
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
