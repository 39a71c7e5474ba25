"""From what the decoder returned (bytes or text) to clean text, and small text rules shared by the parsers.

>>> to_text(b"079190000001|000000001|...\\x00\\x00\\r\\n")
'079190000001|000000001|...'
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import unicodedata

from mqtt.wire.event import MAX_NAME_CHARS as EVENT_NAME_CHARS
from mqtt.wire.event import PERSON_ID, PERSON_KINDS, check_person
from mqtt.wire.fields import InvalidEvent, has_controls

from .model import Credential, Refused

#: A CCCD QR is about 150 bytes and a BHYT QR about 600; anything much larger is not one of ours.
MAX_PAYLOAD_BYTES = 1536

# Cc control, Cf format (bidi overrides, zero-width characters), Cs lone surrogates, Co private use:
# none of them belongs in a name or a number, and some can make text display as something it is not.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
# Decoders and keyboard-wedge scanners append line ends; they are noise, not content.
_LINE_ENDS = str.maketrans("", "", "\r\n")
_WHITESPACE = re.compile(r"\s+")


def to_text(data: bytes | bytearray | memoryview | str, *, cut_at_nul: bool = False) -> str:
    """Decode and clean a payload, or raise :class:`Refused`.

    Refusal codes: ``oversize`` (over :data:`MAX_PAYLOAD_BYTES`), ``binary`` (not UTF-8, or not bytes
    or text at all), ``control_chars``, ``empty``. NUL, CR and LF are removed; with ``cut_at_nul``
    everything after the first NUL is dropped instead (still checked for control characters).
    The result is NFC without surrounding whitespace.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise Refused("oversize", f"payload is over {MAX_PAYLOAD_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("binary", "payload is not valid UTF-8 text") from None
    elif isinstance(data, str):
        # surrogatepass: a lone surrogate must reach the control-character check, not crash here.
        if len(data.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
            raise Refused("oversize", f"payload is over {MAX_PAYLOAD_BYTES} bytes")
        text = data
    else:
        raise Refused("binary", "payload is neither bytes nor text")

    # A leading byte-order mark only says "this is UTF-8" (some generators add one, and zbar's
    # binary mode passes it through); it is not part of the payload.
    text = text.removeprefix("\ufeff").translate(_LINE_ENDS)
    check_controls(text.replace("\x00", ""), "payload")
    text = text.split("\x00", 1)[0] if cut_at_nul else text.replace("\x00", "")
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        raise Refused("empty", "payload is empty")
    return text


def check_controls(text: str, where: str) -> str:
    """Raise ``Refused("control_chars")`` if ``text`` has a Cc/Cf/Cs/Co character; else return it.

    ``where`` names the place for the technician ("payload", "field 1"), never the content.
    """
    for ch in text:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise Refused("control_chars", f"{where} contains U+{ord(ch):04X}")
    return text


def collapse(text: str) -> str:
    """NFC, single spaces, no surrounding whitespace: ``" Trần  Văn\u00a0Thử "`` -> ``"Trần Văn Thử"``."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


#: Characters allowed in a name besides letters: space, apostrophes, hyphen, dot.
NAME_PUNCTUATION = frozenset(" '\u2019-.")
MAX_NAME_CHARS = 100


def name_problem(name: str) -> str | None:
    """Why ``name`` (already collapsed) is not a plausible person's name, or None if it is.

    Letters of any script (Vietnamese diacritics included), spaces, apostrophes, hyphens and dots;
    at least one letter; at most :data:`MAX_NAME_CHARS` characters.
    """
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_CHARS:
        return f"is longer than {MAX_NAME_CHARS} characters"
    if not any(ch.isalpha() for ch in name):
        return "has no letters"
    if not all(ch.isalpha() or ch in NAME_PUNCTUATION for ch in name):
        return "has characters other than letters, spaces, apostrophes, hyphens and dots"
    return None


def is_ascii_digits(text: str, length: int | None = None) -> bool:
    """True for ``0``-``9`` only (``str.isdigit`` also accepts other scripts' digits)."""
    return text.isascii() and text.isdigit() and (length is None or len(text) == length)


def make_date(year: str, month: str, day: str) -> datetime.date | None:
    """The date from ASCII digit strings, or None if they are not digits or not a calendar date."""
    if not (is_ascii_digits(year, 4) and is_ascii_digits(month, 2) and is_ascii_digits(day, 2)):
        return None
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        return None


def birth_in_future(birth_date: str | None, today: datetime.date) -> bool:
    """True if a ``YYYY-MM-DD`` or ``YYYY`` birth date lies after ``today``."""
    if not birth_date:
        return False
    if len(birth_date) == 4:
        return int(birth_date) > today.year
    return birth_date > today.isoformat()


def fit_to_contract(credential: Credential) -> Credential:
    """``credential`` as the event contract carries it, so the centre takes every event the kiosk
    records (the rules are :mod:`mqtt.wire.event`'s, the ones the collector applies).

    What can be fitted is fitted and said in ``warnings``: a name longer than
    :data:`mqtt.wire.event.MAX_NAME_CHARS` is shortened at a word boundary (``name_shortened``: the
    person is identified by ``kind:id``, not by the name); a birth date, sex or phone the contract
    cannot carry is left out (``birth_date_dropped``, ``sex_dropped``, ``phone_dropped``). A kind or
    id it cannot carry, or a name with control characters, is refused (``malformed_<kind>``, or
    ``malformed_token`` for a slip or card): nobody could be traced by it.
    """
    refusal = _FIT_REFUSALS.get(credential.kind, "malformed_token")
    if "via" in credential.details:
        refusal = "malformed_token"
    if credential.kind not in PERSON_KINDS:
        raise Refused(refusal, "not a kind of person the event contract knows")
    if not (isinstance(credential.id, str) and PERSON_ID.fullmatch(credential.id)):
        raise Refused(refusal, "the id is not 1-64 ASCII letters, digits, '*' or '-'")
    warnings = list(credential.warnings)
    changes: dict = {}
    name = credential.name
    if name is not None:
        if not isinstance(name, str) or has_controls(name):
            raise Refused(refusal, "the name is not text without control characters")
        name = collapse(name) or None
        if name and len(name) > EVENT_NAME_CHARS:
            name = _shorten(name, EVENT_NAME_CHARS)
            warnings.append("name_shortened")
        if name != credential.name:
            changes["name"] = name
    for key, dropped in (("birth_date", "birth_date_dropped"), ("sex", "sex_dropped"), ("phone", "phone_dropped")):
        value = getattr(credential, key)
        if value is None:
            continue
        try:
            check_person({**_PLACEHOLDER, key: value})
        except InvalidEvent:
            changes[key] = None
            warnings.append(dropped)
    if not changes:
        return credential
    return dataclasses.replace(credential, **changes, warnings=tuple(warnings))


_FIT_REFUSALS = {"cccd": "malformed_cccd", "bhyt": "malformed_bhyt", "national_qr": "malformed_national_qr"}
#: A valid person, to check one field at a time against the contract.
_PLACEHOLDER = {"kind": "cccd", "id": "0", "name": None, "birth_date": None, "sex": None, "phone": None}


def _shorten(name: str, limit: int) -> str:
    """``name`` cut to at most ``limit`` characters, at the last space if there is one."""
    cut = name[:limit]
    if name[limit:limit + 1] != " " and not cut.endswith(" ") and " " in cut:
        cut = cut[:cut.rindex(" ")]     # the word the limit falls in is left out whole
    return cut.strip()
