"""The visitor the kiosk's screen is asking the health declaration's questions (a ``declare``
outcome at the door), between the scan loop and the screen's page.

The loop opens a question round for the credential it read (:meth:`PendingDeclaration.open`: a
token the screen's answers come back with); the page asks the questions one at a time and sends
the answers (:meth:`answer`, on a web server thread); the loop takes them at its next step
(:meth:`take`) and presents the credential again with the declaration made. The door has one
screen: a new round replaces the one before, and a round the visitor walked away from is
forgotten after ``ttl_s``. Answers are kept here in memory only, for the moment between the
screen and the loop.

>>> from kiosk.health.questions import default_questions
>>> pending = PendingDeclaration(default_questions(), ttl_s=300)
>>> token = pending.open("credential of the visitor", "camera")
>>> answers = {q: "no" for q in default_questions().ids}
>>> pending.answer("stale", answers), pending.answer(token, answers), pending.answer(token, answers)
('unknown', 'ok', 'unknown')
>>> [(credential, method, answers["fever"]) for credential, method, answers in pending.take()]
[('credential of the visitor', 'camera', False)]
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..health.questions import QuestionSet


@dataclass
class _Round:
    token: str
    credential: Any
    method: str
    opened_at: float
    answers: dict[str, bool] | None = None


class PendingDeclaration:
    def __init__(self, questions: QuestionSet, *, ttl_s: float, monotonic=time.monotonic):
        self.questions = questions
        self.ttl_s = ttl_s
        self.monotonic = monotonic
        self._round: _Round | None = None
        self._lock = threading.Lock()

    def open(self, credential, method: str) -> str:
        """A new round for ``credential`` (read by ``method``), replacing any other; its token."""
        with self._lock:
            self._round = _Round(secrets.token_urlsafe(16), credential, method, self.monotonic())
            return self._round.token

    def answer(self, token: str, given: Mapping[str, object]) -> str:
        """``ok`` when ``given`` answers every question of the round ``token``; ``unknown`` when
        there is no such round (replaced, expired, answered already). Raises
        :class:`~kiosk.health.questions.Unanswered` for answers that leave questions out."""
        answers = self.questions.answers(given)
        if not isinstance(token, str) or not token.isascii():
            return "unknown"
        with self._lock:
            current = self._current()
            if current is None or current.answers is not None or not secrets.compare_digest(current.token, token):
                return "unknown"
            current.answers = answers
            return "ok"

    def take(self) -> list[tuple[Any, str, dict[str, bool]]]:
        """The answered round, as ``(credential, method, answers)`` (once), or nothing."""
        with self._lock:
            current = self._current()
            if current is None or current.answers is None:
                return []
            self._round = None
            return [(current.credential, current.method, current.answers)]

    def _current(self) -> _Round | None:
        if self._round is not None and self.monotonic() - self._round.opened_at > self.ttl_s:
            self._round = None
        return self._round
