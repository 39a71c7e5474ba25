"""Everything the kiosk's web pages need from the running kiosk, handed to :func:`kiosk.web.create_app`.

The pages never reach into the kiosk's objects on their own: what they may use is listed here,
so tests can build a context from real parts without a running kiosk. Add a field (with a
default) when a page needs something new, e.g. the staff pages' services.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app

from ..config import Config
from .live import LiveFeed, signal_states

if TYPE_CHECKING:
    from hardware.feedback import FeedbackDevices

    from ..door.declaring import PendingDeclaration
    from ..staff.services import StaffServices

EXTENSION = "kiosk"


@dataclass
class WebContext:
    """config: the kiosk's (simulated: after :func:`kiosk.app.simulation_config`).
    feed: the live events for the screen.
    status: returns the status marks (see :class:`kiosk.state.KioskStatus`): ``broker_connected``,
        ``outbox``, ``printer`` (None: no printer; ``"ok"``; else the problem), ``clock_synced``, ``error``.
    occupancy: returns the people inside now (None: unknown).
    printer: returns the printer's state alone, as in the status marks (the staff pages show it).
    simulated: the simulator's panel and ``/sim/present`` exist only then.
    camera_dir: the image-folder camera's folder (simulation), where presented images go.
    signals: the lights, buzzer and relay (shown on the screen in simulation).
    staff: the staff pages' services (:class:`kiosk.staff.services.StaffServices`).
    declaring: the visitor the screen is asking the health declaration (None: the venue does not
        require one; ``POST /declaration`` is then 404).
    """

    config: Config
    feed: LiveFeed
    status: Callable[[], dict]
    occupancy: Callable[[], int | None]
    simulated: bool = False
    camera_dir: Path | None = None
    signals: FeedbackDevices | None = None
    #: The staff side (accounts, people, the staff desk); None: no staff pages.
    staff: StaffServices | None = None
    printer: Callable[[], str | None] = lambda: None
    declaring: PendingDeclaration | None = None

    @property
    def data_path(self) -> Path:
        return self.config.data_path

    def screen_sources(self) -> dict[str, Callable[[], dict]]:
        """What the screen learns by looking, by event name: the status marks, the occupancy, and in
        simulation the mock lights, buzzer and relay (the stream's first snapshot, then the watches)."""
        capacity = self.config.rules.capacity
        sources = {"status": self.status, "occupancy": lambda: {"occupancy": self.occupancy(), "capacity": capacity}}
        if self.simulated and self.signals is not None:
            sources["signals"] = lambda: signal_states(self.signals)
        return sources


def web_context() -> WebContext:
    """The context of the app handling the current request."""
    return current_app.extensions[EXTENSION]
