"""The venue's health declaration policy (``[declaration]`` in kiosk.toml): the questions, whether
a check-in needs a declaration made today (``required``), and what a "yes" to a question that
flags does (``on_yes``): ``refuse`` (the visitor is sent to the medical desk) or ``flag`` (admitted,
and the staff page shows them flagged at once).

A declaration is what the event carries (``declaration`` in the contract): when it was made, where
(``screen`` or ``staff``), each answer, and whether it flagged the visitor. One a visitor made today
(the venue's day) holds for every check-in of theirs that day, at the screen or through staff,
and is not asked again; the check-in's visit keeps a copy, and goes with it at the retention purge.

>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> from kiosk.health.questions import default_questions
>>> policy = HealthPolicy(default_questions(), required=True, on_yes="refuse")
>>> made = datetime(2026, 12, 4, 7, 12, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
>>> answers = {q: q == "cough" for q in policy.questions.ids}
>>> declaration = policy.declaration(answers, via="screen", at=made)
>>> declaration["flagged"], declaration["made_at"], policy.refuses(declaration)
(True, '2026-12-04T07:12:00+07:00', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mqtt.wire.event import check_declaration

from .questions import QuestionSet, load_questions

ON_YES = ("refuse", "flag")
#: The refusal (a :mod:`kiosk.messages` code) of a visitor whose declaration flagged them at a
#: venue that refuses them: it says to go to the medical desk.
DECLARATION_REFUSED = "declaration_refused"


@dataclass(frozen=True)
class HealthPolicy:
    questions: QuestionSet
    required: bool = False
    on_yes: str = "refuse"

    def __post_init__(self):
        if self.on_yes not in ON_YES:
            raise ValueError(f"on_yes must be one of {ON_YES}")

    def declaration(self, answers: Mapping[str, bool], *, via: str, at: datetime) -> dict:
        """The event's ``declaration`` of ``answers`` (every question's, see
        :meth:`~kiosk.health.questions.QuestionSet.answers`), made ``via`` the screen or staff at ``at``."""
        declaration = {"made_at": at.isoformat(timespec="seconds"), "via": via,
                       "answers": {qid: bool(answers[qid]) for qid in self.questions.ids},
                       "flagged": self.questions.flagged(answers)}
        check_declaration(declaration)
        return declaration

    def refuses(self, declaration: Mapping) -> bool:
        """Whether the venue turns away a visitor with ``declaration``."""
        return bool(declaration["flagged"]) and self.on_yes == "refuse"


def health_policy(section) -> HealthPolicy:
    """The policy of a kiosk.toml's ``[declaration]`` section (its question set read from its
    file: a :class:`~mqtt.plumbing.tomlconfig.ConfigError` names the file and what is wrong)."""
    return HealthPolicy(load_questions(section.questions), required=section.required, on_yes=section.on_yes)


def day_of(at: datetime) -> str:
    """The venue's day of ``at`` (a local time), as declarations are kept by."""
    return at.date().isoformat()
