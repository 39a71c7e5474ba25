"""The codes a kiosk prints — check-in slips and personal QR cards — signed with the venue's key.

Every kiosk of a venue holds the same key (given at provisioning), and so can the central side,
so a slip printed at one door is checked at another and a code typed up by hand is refused: only
a photocopy of someone's real slip would pass, and a slip works once.

Token text, ASCII in the QR alphanumeric set so the code stays small::

    CK1.<T>.<BODY>.<SIG>         T: S (slip) or C (card); BODY, SIG: unpadded base32 (A-Z2-7)

    slip BODY = venue tag (4) | visit reference (16) | issued, minutes since 1970 (4)
    card BODY = venue tag (4) | person id (10, ASCII) | issued, days since 1970 (2)
    SIG       = HMAC-SHA256(venue key, "CK1." T "." BODY)[:10]

The venue tag (4 bytes of SHA-256 of the venue id) is in clear so a code from another venue is
told apart from a forged one. 80 bits of MAC are far beyond what guessing at a door can reach.

The visit reference is the visit id (the UUID's 16 bytes) encrypted with AES-128 under a key
derived from the venue key (HMAC-SHA256(venue key, "CK1 slip visit id")[:16]; one block, a
permutation of a random UUID): a photographed or scanned slip does not show the visit id, so
it cannot be used to address the visit anywhere else (e.g. in an event published to the centre).
Only a holder of the venue's key (its kiosks, the centre's ``kiosk-collector token``) reads it.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     key = VenueKey.create(Path(tmp, "venue.key"))       # 0600, 64 hex digits
>>> issued = datetime(2026, 11, 21, 1, 31, tzinfo=UTC)
>>> token = sign_slip(key, "cho-phanrang", "0b6e4a52-8d2f-4c1e-9a0e-3f5b7c9d1e2a", issued=issued)
>>> open_token(key, "cho-phanrang", token)
SlipClaims(visit_id='0b6e4a52-8d2f-4c1e-9a0e-3f5b7c9d1e2a',
           issued=datetime.datetime(2026, 11, 21, 1, 31, tzinfo=datetime.timezone.utc))
>>> open_token(key, "cho-thu", token)
Traceback (most recent call last):
mqtt.wire.slip_codes.TokenRefused: token_other_venue: signed for another venue
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..plumbing.files import create_new

PREFIX = "CK1."
KEY_BYTES = 32
MAC_BYTES = 10
MAX_BODY_CHARS = 64
MAX_SIGNATURE_CHARS = 128
LETTERS = {"slip": "S", "kiosk_card": "C"}
CODE_TYPES = {letter: code_type for code_type, letter in LETTERS.items()}
ENVELOPE = re.compile(rf"CK1\.([SC])\.([A-Z2-7]{{1,{MAX_BODY_CHARS}}})\.([A-Z2-7]{{1,{MAX_SIGNATURE_CHARS}}})")
_SLIP = struct.Struct(">4s16sI")
_CARD = struct.Struct(">4s10sH")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TokenRefused(Exception):
    """``code``: ``malformed_token``, ``token_other_venue`` or ``token_forged``."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class VenueKey:
    secret: bytes

    @classmethod
    def parse(cls, text: str) -> VenueKey:
        """The key written as ``text`` (64 hex digits, surrounding whitespace ignored); ValueError
        when it is not one."""
        try:
            secret = bytes.fromhex(text.strip())
        except ValueError:
            secret = b""
        if len(secret) != KEY_BYTES:
            raise ValueError(f"not a venue token key ({KEY_BYTES * 2} hex digits)")
        return cls(secret)

    @classmethod
    def load(cls, path: Path) -> VenueKey:
        """The key in ``path`` (64 hex digits); ValueError when it is not one."""
        text = Path(path).read_text()
        try:
            return cls.parse(text)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    @classmethod
    def create(cls, path: Path) -> VenueKey:
        """A new random key written to ``path`` (0600, never over an existing file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_bytes(KEY_BYTES)
        create_new(path, (secret.hex() + "\n").encode("ascii"))
        return cls(secret)

    def mac(self, letter: str, body: str) -> bytes:
        return hmac.new(self.secret, f"{PREFIX}{letter}.{body}".encode("ascii"), hashlib.sha256).digest()[:MAC_BYTES]

    def _visit_cipher(self) -> Cipher:
        key = hmac.new(self.secret, b"CK1 slip visit id", hashlib.sha256).digest()[:16]
        return Cipher(algorithms.AES(key), modes.ECB())   # one 16-byte block: no chaining involved

    def hide_visit(self, visit_id: str) -> bytes:
        """The slip's visit reference: the visit id's 16 bytes, encrypted."""
        enc = self._visit_cipher().encryptor()
        return enc.update(uuid.UUID(visit_id).bytes) + enc.finalize()

    def reveal_visit(self, reference: bytes) -> str:
        """The visit id a slip's reference stands for (:meth:`hide_visit` undone)."""
        dec = self._visit_cipher().decryptor()
        return str(uuid.UUID(bytes=dec.update(reference) + dec.finalize()))


@dataclass(frozen=True)
class SlipClaims:
    visit_id: str
    issued: datetime


@dataclass(frozen=True)
class CardClaims:
    person_id: str
    issued: datetime


def venue_tag(venue_id: str) -> bytes:
    return hashlib.sha256(venue_id.encode("utf-8")).digest()[:4]


def sign_slip(key: VenueKey, venue_id: str, visit_id: str, *, issued: datetime) -> str:
    minutes = int((issued - _EPOCH).total_seconds() // 60)
    return _seal(key, "slip", _SLIP.pack(venue_tag(venue_id), key.hide_visit(visit_id), minutes))


def sign_card(key: VenueKey, venue_id: str, person_id: str, *, issued: datetime) -> str:
    raw = person_id.encode("ascii")
    if len(raw) != 10:
        raise ValueError("a card's person id has 10 characters")
    return _seal(key, "kiosk_card", _CARD.pack(venue_tag(venue_id), raw, (issued - _EPOCH).days))


def _seal(key: VenueKey, code_type: str, body: bytes) -> str:
    letter = LETTERS[code_type]
    text = encode_b32(body)
    return f"{PREFIX}{letter}.{text}.{encode_b32(key.mac(letter, text))}"


def open_token(key: VenueKey, venue_id: str, token: str) -> SlipClaims | CardClaims:
    """The claims of a token signed for this venue with this key; :class:`TokenRefused` otherwise."""
    m = ENVELOPE.fullmatch(token)
    if not m:
        raise TokenRefused("malformed_token", "not CK1.<S|C>.<base32 body>.<base32 signature> within size limits")
    return open_parts(key, venue_id, CODE_TYPES[m[1]], m[2], m[3])


def open_parts(key: VenueKey, venue_id: str, code_type: str, body: str, signature: str) -> SlipClaims | CardClaims:
    """As :func:`open_token`, from an envelope already split."""
    try:
        raw, mac = decode_b32(body), decode_b32(signature)
    except ValueError:
        raise TokenRefused("malformed_token", "not canonical base32") from None
    layout = _SLIP if code_type == "slip" else _CARD
    if len(raw) != layout.size:
        raise TokenRefused("malformed_token", f"a {code_type} body has {layout.size} bytes")
    fields = layout.unpack(raw)
    if fields[0] != venue_tag(venue_id):
        raise TokenRefused("token_other_venue", "signed for another venue")
    if not hmac.compare_digest(mac, key.mac(LETTERS[code_type], body)):
        raise TokenRefused("token_forged", "the signature does not match")
    if code_type == "slip":
        return SlipClaims(key.reveal_visit(fields[1]), _EPOCH + timedelta(minutes=fields[2]))
    try:
        person_id = fields[1].decode("ascii")
    except UnicodeDecodeError:
        raise TokenRefused("malformed_token", "a card's person id is ASCII") from None
    return CardClaims(person_id, _EPOCH + timedelta(days=fields[2]))


def encode_b32(raw: bytes) -> str:
    """RFC 4648 base32 without padding."""
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def decode_b32(text: str) -> bytes:
    """Inverse of :func:`encode_b32`; ValueError unless ``text`` is exactly what it would produce
    (one token, one spelling: no padding, no lower case, no stray trailing bits)."""
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("not base32") from None
    if not raw or encode_b32(raw) != text:
        raise ValueError("not canonical base32")
    return raw
