"""The QR of the health-insurance card (thẻ BHYT, also shown by VssID); formats.md §2.2.

``card|hex(name)|dd/mm/yyyy|sex|hex(address)|PP - FFF|from|to|issued|ref|guardian|area|5y|check``
then, on new cards, ``|level|hex(place)``, and always ``|$``.

Old cards (15-character number) have 15 tokens, new cards (10-digit number) 17; shorter variants
with at least 10 tokens are accepted and read as far as they go.

>>> c = parse("7999999901|5472e1baa76e2056c4836e205468e1bbad|02/02/1995|1|-|01 - 999|01/01/2024|-|"
...           "15/01/2024|01997999999901|-|4| 01/01/2029|fedcba9876543210-0000|4|4de1baab75|$")
>>> c.id, c.name, c.sex, c.details["facility"], c.details["issue_place"]
('7999999901', 'Trần Văn Thử', 'male', '01999', 'Mẫu')
"""

from __future__ import annotations

import datetime
import re
from typing import NoReturn

from mqtt.wire.fields import has_controls

from .model import Credential, Refused
from .normalise import (
    birth_in_future,
    check_controls,
    collapse,
    is_ascii_digits,
    make_date,
    to_text,
)

KIND = "bhyt"
MIN_TOKENS = 10
# 15 characters (QĐ 1351; lenient after the level digit, as some real cards have letters there),
# the 10-digit social-insurance number (QĐ 1666), or the 12-digit personal ID (expected from 2025).
CARD_NUMBER = re.compile(r"[A-Z]{2}[1-5][0-9A-Z]{12}|[0-9]{10}|[0-9]{12}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
# Field 13: 16 hex digits, or 15 on some cards (the leading 0 dropped?), "-", 4 hex digits.
_CHECK = re.compile(r"[0-9A-Fa-f]{15,16}-[0-9A-Fa-f]{4}")
# Living-area codes as VNPT-HIS maps field 11.
_AREA = {"5": "K1", "6": "K2", "7": "K3"}
_SEX = {"1": "male", "2": "female"}
_LAYOUTS = {15: "old", 17: "new"}


def parse(data: bytes | str, *, today: datetime.date | None = None) -> Credential:
    """A BHYT credential, or ``Refused("malformed_bhyt")`` naming the bad field."""
    today = today or datetime.date.today()
    # A public parser cuts at the first NUL: some decoders pad the payload with NULs.
    tokens = to_text(data, cut_at_nul=True).split("|")
    if len(tokens) < MIN_TOKENS or tokens[-1].strip() != "$":
        _malformed(f"{len(tokens)} tokens; at least {MIN_TOKENS} ending with '$' expected")
    fields = tokens[:-1]

    def field(i: int) -> str:
        return fields[i].strip() if i < len(fields) else ""

    card = field(0)
    if not CARD_NUMBER.fullmatch(card):
        _malformed("field 0 (card number) is not 15 characters, 10 digits or 12 digits")
    name = _text(field(1), 1)
    if not name:
        _malformed("field 1 (name) is empty")
    birth_date = _birth(field(2))
    if birth_date is None:
        _malformed("field 2 (birth date) is not dd/mm/yyyy or yyyy")
    sex = _SEX.get(field(3))
    if sex is None:
        _malformed("field 3 (sex) is not 1 or 2")

    warnings: list[str] = []

    def date(i: int) -> str | None:
        raw = field(i)
        if raw in ("", "-"):
            return None
        parsed = _dmy(raw)
        if parsed is None:
            if "bhyt_date_unreadable" not in warnings:
                warnings.append("bhyt_date_unreadable")
            return None
        return parsed.isoformat()

    details = {
        "layout": _LAYOUTS.get(len(tokens), "other"),
        "address": _text(field(4), 4),
        # "79 - 999" -> "79999", the facility code (MA_DKBD) hospitals use; en dashes occur too.
        "facility": re.sub(r"[\s\-\u2013]", "", field(5)) or None,
        "valid_from": date(6),
        "valid_to": date(7),
        "issue_date": date(8),
        "reference": field(9) or None,
        "guardian": _text(field(10), 10),
        "area": _AREA.get(field(11)),
        "five_year_date": date(12),
        # The check value's algorithm is not public (formats.md §2.2): stored, never verified.
        "check": fields[13] if len(fields) > 13 else None,
    }
    if len(fields) > 14:
        details["benefit_level_hint"] = field(14) or None
    if len(fields) > 15:
        details["issue_place"] = _text(field(15), 15)

    check = field(13)
    if check and not _CHECK.fullmatch(check):
        warnings.append("bhyt_check_unreadable")
    if not _reference_agrees(card, field(9)):
        warnings.append("bhyt_reference_mismatch")
    if details["valid_to"] and details["valid_to"] < today.isoformat():
        warnings.append("bhyt_expired")
    if birth_in_future(birth_date, today):
        warnings.append("birth_date_in_future")
    return Credential(kind=KIND, id=card, name=name, birth_date=birth_date, sex=sex,
                      phone=None, details=details, warnings=tuple(warnings))


def _text(raw: str, index: int) -> str | None:
    """A hex-of-UTF-8 field decoded (plain text if it is not hex); ``-`` or empty is None.

    Plain text occurs (field 10, the guardian or contact, is often written plain); plain digits
    that happen to be hex, such as a contact's phone number, decode to control characters
    (``09…`` is a TAB) and are kept as the digits they are.
    """
    if raw in ("", "-"):
        return None
    text = raw
    if _HEX.fullmatch(raw):
        try:
            decoded = bytes.fromhex(raw).decode("utf-8")
        except UnicodeDecodeError:
            decoded = None  # hex-looking plain text, e.g. a short name
        if decoded is not None and not (is_ascii_digits(raw) and has_controls(decoded)):
            # Hex hides what it carries from the payload check; check the decoded text again.
            text = check_controls(decoded, f"field {index}")
    return collapse(text) or None


def _reference_agrees(card: str, reference: str) -> bool:
    """Field 9 (14 digits) is the province (2), the managing office (2), then the card's 10-digit
    social-insurance number; a 15-character card number carries the same province and number.
    Other shapes (no field 9, 12-digit cards) are not checked."""
    if not is_ascii_digits(reference, 14):
        return True
    if len(card) == 15:
        return reference[:2] == card[3:5] and reference[4:] == card[5:]
    if len(card) == 10:
        return reference[4:] == card
    return True


def _birth(raw: str) -> str | None:
    if is_ascii_digits(raw, 4):
        return raw if raw != "0000" else None  # only the year is known
    parsed = _dmy(raw)
    return parsed.isoformat() if parsed else None


def _dmy(raw: str) -> datetime.date | None:
    parts = raw.split("/")
    return make_date(parts[2], parts[1], parts[0]) if len(parts) == 3 else None


def _malformed(detail: str) -> NoReturn:
    raise Refused("malformed_bhyt", detail)
