"""What a presentation came to: the thing feedback, screen and printer are told about."""

from __future__ import annotations

from dataclasses import dataclass

from ..credentials import Credential

#: Outcome kinds. ``refused``: the code or the rules said no; ``error``: the kiosk could not
#: record (storage); the visitor sees both, with different messages; ``declare``: the venue needs
#: a health declaration of the day first (nothing recorded: the questions are asked).
KINDS = ("check_in", "check_out", "refused", "error", "declare")


@dataclass(frozen=True)
class Outcome:
    kind: str
    credential: Credential | None = None
    visit_id: str | None = None
    at: str | None = None              # ISO time of the recorded event
    reason: str | None = None          # refusal or error code (see kiosk.messages)
    occupancy: int | None = None
    capacity: int = 0
    seq: int | None = None
    #: Of a ``declare`` at the door: the token the screen's answers come back with.
    pending: str | None = None

    @property
    def accepted(self) -> bool:
        return self.kind in ("check_in", "check_out")
