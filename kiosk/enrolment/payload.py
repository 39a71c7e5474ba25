"""The enrolment code's payload (``CKE1``): where the sealed identity waits, and the key that opens it.

>>> code = EnrolCode("192.168.1.20", 8470, bytes(range(32)))       # a real key is 32 random bytes
>>> code.text()                                                     # 52 base32 characters of key
'CKE1.192.168.1.20:8470.AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPQ'
>>> parse(code.text()) == code, code                                # the key is never in a repr
(True, EnrolCode(host='192.168.1.20', port=8470))
>>> parse("CKE1.192.168.1.20:8470.AAAQ")
Traceback (most recent call last):
...
kiosk.enrolment.payload.PayloadError: the key is not 52 base32 characters

Every character is in the QR alphanumeric set (upper case, digits, ``.`` and ``:``), so a code of
about 80 characters fits a version 4 QR at error correction M: large modules, read at a glance
by a 640x480 camera (see bench section ``enrol``). The key never leaves the QR: the offer's HTTP
path is derived from it (:func:`path_for`), so only a holder of the QR can ask for the sealed
bundle, and only the key opens it.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field

PREFIX = "CKE1."
KEY_BYTES = 32
#: Longer than any code this format can make (a 253-character host name): anything longer is not one.
MAX_TEXT = 330
_HOST = re.compile(r"(?=.{1,253}\Z)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_KEY = re.compile(r"[A-Z2-7]{52}")


class PayloadError(ValueError):
    """Not a well-formed enrolment code; ``reason`` says what is wrong (never the code's content)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class EnrolCode:
    host: str           # IPv4 address or DNS name, lower case
    port: int
    key: bytes = field(repr=False)    # 32 bytes, AES-256-GCM; never in a repr or a log line

    def __post_init__(self):
        if len(self.key) != KEY_BYTES:
            raise PayloadError(f"the key must be {KEY_BYTES} bytes")
        if not 1 <= self.port <= 65535:
            raise PayloadError("the port must be 1-65535")
        if not _valid_host(self.host):
            raise PayloadError("the host must be an IPv4 address or a DNS name")

    def text(self) -> str:
        """The QR's content (alphanumeric-mode characters only)."""
        key = base64.b32encode(self.key).decode("ascii").rstrip("=")
        return f"{PREFIX}{self.host.upper()}:{self.port}.{key}"

    @property
    def path(self) -> str:
        return path_for(self.key)


def path_for(key: bytes) -> str:
    """The HTTP path of the offer sealed with ``key``: unguessable without the key, and not the key."""
    digest = hashlib.sha256(b"checkin-kiosk enrolment path\0" + key).digest()[:20]
    return "/cke1/" + base64.b32encode(digest).decode("ascii").lower()


def looks_like_enrolment(data: bytes | str) -> bool:
    """Whether a scanned code claims to be an enrolment code (it may still be malformed)."""
    prefix = PREFIX if isinstance(data, str) else PREFIX.encode("ascii")
    return data[:len(prefix)].upper() == prefix


def parse(data: bytes | str) -> EnrolCode:
    """The code in a scanned payload. Raises :class:`PayloadError` (only) for anything else."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("ascii")
        except UnicodeDecodeError:
            raise PayloadError("not ASCII") from None
    if not isinstance(data, str):
        raise PayloadError("not text")
    if len(data) > MAX_TEXT:
        raise PayloadError("too long")
    if not data.isascii():
        raise PayloadError("not ASCII")
    if not data.startswith(PREFIX):
        raise PayloadError("not an enrolment code")
    address, dot, key = data[len(PREFIX):].rpartition(".")
    host, colon, port = address.rpartition(":")
    if not dot or not colon:
        raise PayloadError("expected CKE1.HOST:PORT.KEY")
    if not _KEY.fullmatch(key):
        raise PayloadError("the key is not 52 base32 characters")
    if not _PORT.fullmatch(port) or int(port) > 65535:
        raise PayloadError("the port is not 1-65535")
    host = host.lower()
    if not _valid_host(host):
        raise PayloadError("the host is not an IPv4 address or a DNS name")
    return EnrolCode(host, int(port), base64.b32decode(key + "====", casefold=False))


def _valid_host(host: str) -> bool:
    if not isinstance(host, str) or not host.isascii():
        return False
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    return bool(_HOST.fullmatch(host))
