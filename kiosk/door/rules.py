"""The visit rules: what a presentation means, given the kiosk's mode and who is inside.

Pure functions of their inputs; the check-in desk applies them inside the store's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("entry", "exit", "toggle")


@dataclass(frozen=True)
class Decision:
    """action: ``check_in``, ``check_out``, ``reopen`` (close a stale visit, then check in) or
    ``refuse``; reason: the refusal code when refused."""

    action: str
    reason: str | None = None


def decide(mode: str, *, inside: bool, occupancy: int, capacity: int) -> Decision:
    """What a presentation of a person does.

    mode: ``entry``, ``exit`` or ``toggle`` (the kiosk's config).
    inside: the person has an open visit at this venue.
    occupancy: open visits at this venue now; capacity: the limit (0 = none).

    >>> decide("toggle", inside=True, occupancy=10, capacity=0)
    Decision(action='check_out', reason=None)
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if mode == "exit" or (mode == "toggle" and inside):
        return Decision("check_out") if inside else Decision("refuse", "not_inside")
    # An entry kiosk seeing someone "inside" means they left by a door without a kiosk: their
    # old visit is closed (estimated) and a new one begins, rather than keeping them at the door.
    full = capacity and occupancy - (1 if inside else 0) >= capacity
    if full:
        return Decision("refuse", "venue_full")
    return Decision("reopen" if inside else "check_in")
