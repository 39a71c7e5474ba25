"""The kiosk's own codes: printed slips (``slip``) and reusable personal cards (``kiosk_card``).

Envelope, ASCII in the QR alphanumeric charset so that codes stay small::

    CK1.<T>.<BODY>.<SIG>     T = S (slip) or C (kiosk_card); BODY, SIG = unpadded base32 (A-Z2-7)

This module only checks the envelope. Whether BODY and SIG belong together, and what BODY says, is
the job of a :class:`TokenVerifier` (the signing scheme comes later). Without one, well-formed
tokens are refused as ``token_unverifiable``.

>>> env = parse_envelope(envelope("slip", b"visit-1", b"sig"))
>>> env.kind, decode_b32(env.body)
('slip', b'visit-1')
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Protocol

from .model import Credential, Refused
from .normalise import check_controls, collapse, to_text
from .phone import normalise_phone

PREFIX = "CK1."
MAX_BODY_CHARS = 64
MAX_SIGNATURE_CHARS = 128
_TYPES = {"S": "slip", "C": "kiosk_card"}
_LETTERS = {kind: letter for letter, kind in _TYPES.items()}
_ENVELOPE = re.compile(
    rf"CK1\.([SC])\.([A-Z2-7]{{1,{MAX_BODY_CHARS}}})\.([A-Z2-7]{{1,{MAX_SIGNATURE_CHARS}}})"
)
_MAX_ID_CHARS = 64


class TokenVerifier(Protocol):
    """Checks a token's signature and returns its claims.

    ``kind`` is ``"slip"`` or ``"kiosk_card"``; ``body`` and ``signature`` are the base32 text of the
    envelope (:func:`decode_b32` gives the bytes). Returns the claims: a dict with at least ``"id"``
    and possibly ``"visit_id"``, ``"venue_id"``, ``"name"``, ``"phone"``… Raises :class:`Refused`
    (``token_forged``, ``token_expired``, ``token_revoked``, ``token_other_venue``…) otherwise.
    """

    def verify(self, kind: str, body: str, signature: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Envelope:
    kind: str  # "slip" or "kiosk_card"
    body: str  # base32 text
    signature: str  # base32 text


def is_token(text: str) -> bool:
    """True if ``text`` claims to be one of our tokens (it may still be malformed)."""
    return text[: len(PREFIX)].upper() == PREFIX


def parse_envelope(text: str) -> Envelope:
    """The parts of ``CK1.<T>.<BODY>.<SIG>``, or ``Refused("malformed_token")``."""
    m = _ENVELOPE.fullmatch(text)
    if not m:
        raise Refused("malformed_token", "not CK1.<S|C>.<base32 body>.<base32 signature> within size limits")
    letter, body, signature = m.groups()
    for part, what in ((body, "body"), (signature, "signature")):
        try:
            decode_b32(part)
        except ValueError:
            raise Refused("malformed_token", f"token {what} is not canonical base32") from None
    return Envelope(_TYPES[letter], body, signature)


def envelope(kind: str, body: bytes, signature: bytes) -> str:
    """The token text for ``kind`` (``slip`` or ``kiosk_card``) with these body and signature bytes."""
    return f"{PREFIX}{_LETTERS[kind]}.{encode_b32(body)}.{encode_b32(signature)}"


def encode_b32(raw: bytes) -> str:
    """RFC 4648 base32 without padding."""
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def decode_b32(text: str) -> bytes:
    """Inverse of :func:`encode_b32`; ValueError unless ``text`` is exactly what it would produce.

    Strict so that one token has one spelling (no padding, no lower case, no stray trailing bits).
    """
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("not base32") from None
    if not raw or encode_b32(raw) != text:
        raise ValueError("not canonical base32")
    return raw


def parse(data: bytes | str, *, verifier: TokenVerifier | None = None) -> Credential:
    """A ``slip`` or ``kiosk_card`` credential from a token that ``verifier`` accepts."""
    env = parse_envelope(to_text(data))
    if verifier is None:
        raise Refused("token_unverifiable", "this kiosk has no token key yet")
    try:
        claims = verifier.verify(env.kind, env.body, env.signature)
    except Refused:
        raise
    except Exception as exc:  # a verifier bug must not crash the scan loop
        raise Refused("token_unverifiable", f"the token verifier failed ({type(exc).__name__})") from None
    return _credential(env.kind, claims)


def _credential(kind: str, claims: Any) -> Credential:
    token_id = claims.get("id") if isinstance(claims, dict) else None
    if not (isinstance(token_id, str) and 0 < len(token_id) <= _MAX_ID_CHARS):
        raise Refused("token_unverifiable", "the token verifier returned no usable id")
    check_controls(token_id, "token id")
    name = claims.get("name")
    name = (collapse(check_controls(name, "token name")) or None) if isinstance(name, str) else None
    warnings = []
    phone = claims.get("phone")
    if phone is not None:
        try:
            phone = normalise_phone(phone)
        except ValueError:
            phone = None
            warnings.append("phone_invalid")
    return Credential(kind=kind, id=token_id, name=name, phone=phone, details=dict(claims),
                      warnings=tuple(warnings))
