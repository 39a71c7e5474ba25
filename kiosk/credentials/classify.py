"""Which parser a clean payload goes to, or why it is not a credential at all; formats.md §0 and §7.

>>> classify("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1|15072021")
'cccd'
>>> classify("https://example.invalid/")
Traceback (most recent call last):
...
kiosk.credentials.model.Refused: url: a web address, not an identity code

Classification is by shape only; the parser then checks the fields, so that a damaged CCCD is
refused as ``malformed_cccd`` rather than ``unknown_format``.
"""

from __future__ import annotations

import re

from .bhyt import MIN_TOKENS as _BHYT_MIN_TOKENS
from .kiosk_code import is_token
from .model import Refused

# Schemes with "//", the bare "www." people print, and URI schemes phones act on without "//".
_URL = re.compile(
    r"(?:[a-z][a-z0-9+.\-]*://|www\.|(?:mailto|tel|sms|smsto|geo|market|intent|data|javascript|file|urn):)",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"[0-9]+")
_SEX_WORDS = frozenset({"nam", "nữ", "nu"})


def classify(text: str) -> str:
    """One of ``cccd``, ``bhyt``, ``national_qr``, ``token`` for a payload from
    :func:`~kiosk.credentials.normalise.to_text`, or :class:`Refused` with ``payment_qr``, ``url``,
    ``vaccine_passport`` or ``unknown_format``."""
    # EMVCo TLV has no "|"; an ID number or document number in field 0 may also start with 000201.
    if text.startswith("000201") and "|" not in text:
        raise Refused("payment_qr", "an EMVCo/VietQR payment code, not an identity code")
    if text.startswith("HC1:"):
        raise Refused("vaccine_passport", "an EU DCC vaccine passport (HC1:), not supported")
    if _URL.match(text):
        raise Refused("url", "a web address, not an identity code")
    if is_token(text):
        return "token"

    fields = [f.strip() for f in text.split("|")]
    # MoMo's personal QR ("2|99|phone|name|email|0|0|amount|message|transfer_myqr"): a wallet's
    # code to receive money. Its phone and name are the payee's, not the visitor's identity.
    if fields[:2] == ["2", "99"] and len(fields) >= 3:
        raise Refused("payment_qr", "a MoMo wallet payment code, not an identity code")
    if len(fields) >= _BHYT_MIN_TOKENS and fields[-1] == "$":
        return "bhyt"
    if len(fields) == 6 and fields[3] in ("0", "1"):
        return "national_qr"
    if len(fields) >= 7 and (
        _digits(fields[0], 12) or _digits(fields[3], 8) or fields[4].casefold() in _SEX_WORDS
    ):
        return "cccd"
    raise Refused("unknown_format", f"not a known code ({len(fields)} '|'-separated fields)")


def _digits(text: str, length: int) -> bool:
    return len(text) == length and _DIGITS.fullmatch(text) is not None
