"""The kiosk's own codes: printed slips (``slip``) and reusable personal cards (``kiosk_card``).

Envelope, ASCII in the QR alphanumeric charset so that codes stay small::

    CK1.<T>.<BODY>.<SIG>     T = S (slip) or C (kiosk_card); BODY, SIG = unpadded base32 (A-Z2-7)

This module only checks the envelope (the scheme itself is :mod:`mqtt.wire.slip_codes`). Whether BODY and
SIG belong together, and whom BODY stands for, is the job of a :class:`TokenVerifier` (the kiosk's is
:class:`kiosk.printing.codes.KioskTokens`). Without one, well-formed tokens are refused as
``token_unverifiable``. An accepted code is the person it stands for, as their own identity.

>>> env = parse_envelope(envelope("slip", b"visit-1", b"sig"))
>>> env.code_type, decode_b32(env.body)
('slip', b'visit-1')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mqtt.wire.slip_codes import CODE_TYPES as _CODE_TYPES
from mqtt.wire.slip_codes import ENVELOPE as _ENVELOPE
from mqtt.wire.slip_codes import LETTERS as _LETTERS
from mqtt.wire.slip_codes import PREFIX, decode_b32, encode_b32

from .model import Credential, Refused
from .normalise import check_controls, to_text

_MAX_ID_CHARS = 64


class TokenVerifier(Protocol):
    """Checks a token's signature and returns its claims.

    ``code_type`` is ``"slip"`` or ``"kiosk_card"``; ``body`` and ``signature`` are the base32 text of the
    envelope (:func:`decode_b32` gives the bytes). Returns the claims: a dict with ``"person"`` (the
    event contract's person object the code stands for: a card's holder, a slip's visitor) and
    what else the code says (``"id"``, ``"visit_id"``…). Raises :class:`Refused` (``token_forged``,
    ``token_expired``, ``token_revoked``, ``token_other_venue``…) otherwise.
    """

    def verify(self, code_type: str, body: str, signature: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Envelope:
    code_type: str  # "slip" or "kiosk_card"
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
    return Envelope(_CODE_TYPES[letter], body, signature)


def envelope(code_type: str, body: bytes, signature: bytes) -> str:
    """The token text for ``code_type`` (``slip`` or ``kiosk_card``) with these body and signature bytes."""
    return f"{PREFIX}{_LETTERS[code_type]}.{encode_b32(body)}.{encode_b32(signature)}"


def parse(data: bytes | str, *, verifier: TokenVerifier | None = None) -> Credential:
    """The person a token that ``verifier`` accepts stands for (``details["via"]``: ``slip`` or ``kiosk_card``)."""
    env = parse_envelope(to_text(data))
    if verifier is None:
        raise Refused("token_unverifiable", "this kiosk has no token key yet")
    try:
        claims = verifier.verify(env.code_type, env.body, env.signature)
    except Refused:
        raise
    except Exception as exc:  # noqa: BLE001 - a verifier bug must not crash the scan loop
        raise Refused("token_unverifiable", f"the token verifier failed ({type(exc).__name__})") from None
    return _person_credential(env.code_type, claims)


def _person_credential(code_type: str, claims: Any) -> Credential:
    """The person a verified token stands for (a card's holder, a slip's visitor), as their own
    identity, so their visits join those of their ID card; ``details["via"]`` says it came by a
    slip or a card (and ``details["visit_id"]`` which visit a slip closes)."""
    person = claims.get("person") if isinstance(claims, dict) else None
    if not isinstance(person, dict):
        raise Refused("token_unverifiable", "the token verifier returned no person")
    kind, ident = person.get("kind"), person.get("id")
    if not (isinstance(kind, str) and isinstance(ident, str) and 0 < len(ident) <= _MAX_ID_CHARS):
        raise Refused("token_unverifiable", "the token verifier returned no usable person")
    for value, where in ((ident, "token id"), (person.get("name") or "", "token name")):
        check_controls(value, where)
    details = {key: value for key, value in claims.items() if key != "person"}
    return Credential(kind=kind, id=ident, name=person.get("name"), birth_date=person.get("birth_date"),
                      sex=person.get("sex"), phone=person.get("phone"), details={**details, "via": code_type})
