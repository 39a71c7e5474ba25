"""The health declaration's questions (tờ khai y tế): the Ministry of Health's domestic declaration
of the period by default, or the venue's own set in a TOML file (``[declaration] questions`` in
kiosk.toml), so a venue adds or drops questions without code::

    # /etc/checkin-kiosk/declaration.toml
    [[question]]
    id = "fever"                          # [a-z][a-z0-9_]{0,31}, unique: what the event carries
    vi = "Trong 14 ngày qua, anh/chị có bị sốt không?"
    en = "In the last 14 days, have you had a fever?"

    [[question]]
    id = "vaccinated"
    vi = "Anh/chị đã tiêm vắc-xin COVID-19 chưa?"
    en = "Have you been vaccinated against COVID-19?"
    flags = false                         # a "yes" here flags nobody (default: true)

Every question is answered yes or no. A "yes" to a question that ``flags`` flags the visitor (the
venue's policy then refuses or admits them flagged: :mod:`kiosk.health.declarations`).

>>> questions = default_questions()
>>> [q.id for q in questions][:3], questions.text("fever", "en")
(['fever', 'cough', 'breathing'], 'In the last 14 days, have you had a fever?')
>>> questions.answers({"fever": "no", "cough": "yes", **{q.id: "no" for q in questions[2:]}})["cough"]
True
>>> questions.flagged(dict.fromkeys(questions.ids, False))
False
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mqtt.plumbing.tomlconfig import ConfigError, load_toml, read_text
from mqtt.wire.event import MAX_QUESTIONS, QUESTION_ID
from mqtt.wire.fields import has_controls

MAX_TEXT_CHARS = 200
_KEYS = {"id", "vi", "en", "flags"}
#: What a form or a screen sends for an answer.
YES, NO = "yes", "no"


@dataclass(frozen=True)
class Question:
    id: str
    vi: str
    en: str
    #: A "yes" flags the visitor (false for a question asked for the record, such as vaccination).
    flags: bool = True

    def text(self, language: str) -> str:
        return self.en if language == "en" else self.vi


class Unanswered(ValueError):
    """Answers that leave out questions (``missing``: their ids, in order) or answer them with
    anything but yes or no."""

    def __init__(self, missing: list[str]):
        super().__init__(f"unanswered: {', '.join(missing)}")
        self.missing = missing


class QuestionSet(tuple):
    """The questions, in the order they are asked."""

    @property
    def ids(self) -> list[str]:
        return [q.id for q in self]

    def text(self, question_id: str, language: str) -> str:
        return next(q for q in self if q.id == question_id).text(language)

    def answers(self, given: Mapping[str, object]) -> dict[str, bool]:
        """Every question's answer from ``given`` (``"yes"``/``"no"`` as a form sends them, or true/false
        as the screen's JSON does); :class:`Unanswered` names those left out or answered otherwise."""
        answers, missing = {}, []
        for q in self:
            value = given.get(q.id)
            if value is True or value == YES:
                answers[q.id] = True
            elif value is False or value == NO:
                answers[q.id] = False
            else:
                missing.append(q.id)
        if missing:
            raise Unanswered(missing)
        return answers

    def flagged(self, answers: Mapping[str, bool]) -> bool:
        """Whether a "yes" to a question that flags is among ``answers``."""
        return any(answers.get(q.id) is True and q.flags for q in self)


# The Ministry of Health's domestic declaration of the period (symptoms in the last 14 days,
# contact with a case, coming from an area with community transmission).
_DEFAULT = (
    ("fever", "Trong 14 ngày qua, anh/chị có bị sốt không?", "In the last 14 days, have you had a fever?"),
    ("cough", "Trong 14 ngày qua, anh/chị có bị ho không?", "In the last 14 days, have you had a cough?"),
    ("breathing", "Trong 14 ngày qua, anh/chị có bị khó thở không?",
     "In the last 14 days, have you had difficulty breathing?"),
    ("sore_throat", "Trong 14 ngày qua, anh/chị có bị đau họng không?",
     "In the last 14 days, have you had a sore throat?"),
    ("taste_smell", "Trong 14 ngày qua, anh/chị có bị mất vị giác hoặc khứu giác không?",
     "In the last 14 days, have you lost your sense of taste or smell?"),
    ("tiredness", "Trong 14 ngày qua, anh/chị có bị mệt mỏi bất thường không?",
     "In the last 14 days, have you felt unusually tired?"),
    ("contact", "Trong 14 ngày qua, anh/chị có tiếp xúc với người mắc hoặc nghi mắc COVID-19 không?",
     "In the last 14 days, have you been in contact with a confirmed or suspected COVID-19 case?"),
    ("from_area", "Trong 14 ngày qua, anh/chị có đến từ hoặc đi qua vùng có dịch lây nhiễm trong cộng đồng không?",
     "In the last 14 days, have you come from or passed through an area with community transmission?"),
)


def default_questions() -> QuestionSet:
    return QuestionSet(Question(qid, vi, en) for qid, vi, en in _DEFAULT)


def load_questions(path: str | Path | None) -> QuestionSet:
    """The set in the TOML file ``path`` (None or "": :func:`default_questions`); a
    :class:`~mqtt.plumbing.tomlconfig.ConfigError` names the file and what is wrong."""
    if not path:
        return default_questions()
    return parse_questions(read_text(Path(path)), str(path))


def parse_questions(text: str, where: str = "questions") -> QuestionSet:
    raw = load_toml(text, where)
    if set(raw) != {"question"} or not isinstance(raw["question"], list):
        raise ConfigError(f"{where}: must hold [[question]] tables only (id, vi, en, and flags)")
    entries = raw["question"]
    if not 1 <= len(entries) <= MAX_QUESTIONS:
        raise ConfigError(f"{where}: 1 to {MAX_QUESTIONS} questions, not {len(entries)}")
    questions, seen = [], set()
    for n, entry in enumerate(entries, 1):
        at = f"{where}: question {n}"
        unknown = set(entry) - _KEYS
        if unknown:
            raise ConfigError(f"{at}: unknown key {sorted(unknown)[0]!r} (known: id, vi, en, flags)")
        qid = entry.get("id")
        if not isinstance(qid, str) or not QUESTION_ID.fullmatch(qid):
            raise ConfigError(f"{at}: id must be a-z, 0-9 and _ (at most 32, starting with a letter)")
        if qid in seen:
            raise ConfigError(f"{at}: id {qid!r} is used twice")
        seen.add(qid)
        for language in ("vi", "en"):
            value = entry.get(language)
            if not isinstance(value, str) or not 1 <= len(value.strip()) <= MAX_TEXT_CHARS or has_controls(value):
                raise ConfigError(f"{at} ({qid}): {language} must be the question, 1-{MAX_TEXT_CHARS} characters")
        flags = entry.get("flags", True)
        if not isinstance(flags, bool):
            raise ConfigError(f"{at} ({qid}): flags must be true or false")
        questions.append(Question(qid, entry["vi"].strip(), entry["en"].strip(), flags))
    return QuestionSet(questions)
