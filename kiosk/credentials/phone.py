"""Vietnamese mobile numbers: one canonical form (``0`` + 9 digits) and a masked form for slips.

>>> normalise_phone("+84 912.345.678")
'0912345678'
>>> mask_phone("0912345678")
'0912***678'
"""

from __future__ import annotations

import re

from mqtt.wire.event import canonical_phone

# Separators people type or print; they carry no meaning (the contract's, for telling what is wrong).
_SEPARATORS = re.compile(r"[\s.\-()]")
# National significant number (the 9 digits after the 0). Deliberately permissive (all of 09x,
# 081-089) so that new allocations keep working; see formats.md §5.1.
_MOBILE = re.compile(r"(?:3[2-9]|5[25689]|7[06-9]|8[1-9]|9[0-9])[0-9]{7}")
# How a Vietnamese number may begin (0084 begins with 0), to say so when it does not.
_STARTS = ("0", "+84", "84")

# The 2018 conversion of 11-digit mobiles (QĐ 798/QĐ-BTTTT), so the error can say what to dial now.
_OLD_PREFIXES = {
    "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
    "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
    "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37", "168": "38", "169": "39",
    "186": "56", "188": "58", "199": "59",
}


class PhoneError(ValueError):
    """Not a Vietnamese mobile number: an English sentence (without the number) and a ``code`` for
    :mod:`kiosk.messages` (``phone_prefix``, ``phone_chars``, ``phone_landline``, ``phone_old``,
    ``phone_length``, ``phone_unknown``); ``values`` fill the sentence (the old and new prefix)."""

    def __init__(self, code: str, sentence: str, **values: str):
        super().__init__(sentence)
        self.code = code
        self.values = values


def normalise_phone(text: str) -> str:
    """The canonical form ``0`` + 9 digits of a Vietnamese mobile number.

    Accepts ``0…``, ``+84…``, ``84…`` and ``0084…`` (also with the national ``0`` kept after the
    country code: ``+84 0912…``), ignoring spaces, dots, dashes and parentheses: the form is the
    event contract's (:func:`mqtt.wire.event.canonical_phone`, the collector's too); which numbers
    are mobiles is the kiosk's rule.
    Raises :class:`PhoneError` for anything else, including landlines (``02x``) and pre-2018
    11-digit mobiles.
    """
    if not isinstance(text, str):
        raise PhoneError("phone_chars", "A phone number must be text.")
    try:
        phone = canonical_phone(text)
    except ValueError:
        raise _why_not(text) from None
    if not _MOBILE.fullmatch(phone[1:]):
        raise PhoneError("phone_unknown", "This is not a Vietnamese mobile number (unknown prefix).")
    return phone


def _why_not(text: str) -> PhoneError:
    """Why the contract's form refuses ``text``, in the words the person who typed it needs."""
    compact = _SEPARATORS.sub("", text)
    if not compact.startswith(_STARTS):
        return PhoneError("phone_prefix", "A Vietnamese mobile number starts with 0 or +84.")
    digits = compact.removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):
        return PhoneError("phone_chars",
                          "A phone number may contain only digits, spaces, dots, dashes and parentheses.")
    try:
        # One digit more than the form takes: a landline (02x) or a pre-2018 11-digit mobile?
        national = canonical_phone(compact[:-1])[1:] + compact[-1]
    except ValueError:
        national = ""
    if national[:1] == "2":
        return PhoneError("phone_landline",
                          "This is a landline number; it cannot receive text messages. Give a mobile number.")
    if national[:3] in _OLD_PREFIXES:
        new = "0" + _OLD_PREFIXES[national[:3]]
        old = "0" + national[:3]
        return PhoneError("phone_old", f"This is an old 11-digit mobile number; since 2018 its prefix {old} is {new}.",
                          old=old, new=new)
    return PhoneError("phone_length", "A Vietnamese mobile number has 10 digits (0 and 9 more).")


def mask_phone(text: str) -> str:
    """Hide the middle digits for printing: ``0912345678`` -> ``0912***678``.

    The input may be in any form :func:`normalise_phone` accepts; ValueError otherwise.
    """
    phone = normalise_phone(text)
    return phone[:4] + "***" + phone[-3:]
