"""How a sentence is looked up in a catalogue of ``{code: {"vi": …, "en": …}}``: the one rule the
kiosk's sentences (:mod:`kiosk.messages`) and the tracing console's
(:mod:`mqtt.collector.console.messages`) both follow.

>>> table = {"hello": {"vi": "Xin chào {name}", "en": "Hello {name}"}, "unknown": {"vi": "Không rõ", "en": "Unknown"}}
>>> sentence(table, "hello", "en", fallback="unknown", name="Lan"), sentence(table, "nope", "ja", fallback="unknown")
('Hello Lan', 'Không rõ')
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


def sentence(catalogue: Mapping[str, Mapping[str, str]], code: str, language: str = DEFAULT_LANGUAGE, *,
             fallback: str, **values) -> str:
    """The sentence for ``code`` in ``language``, its ``{placeholders}`` filled from ``values``.

    One fallback rule: an unknown code reads as ``fallback``'s sentence, a language the sentence
    lacks as Vietnamese. One placeholder rule: ``str.format`` with ``values``; given none, the
    sentence comes back as written (a page's script may fill it in the browser)."""
    entry = catalogue.get(code) or catalogue[fallback]
    words = entry.get(language, entry[DEFAULT_LANGUAGE])
    return words.format(**values) if values else words
