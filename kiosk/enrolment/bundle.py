"""The sealed bundle: a kiosk's provisioned files, packed, compressed and sealed with AES-256-GCM.

>>> key = os.urandom(32)                                 # the QR carries it (:mod:`.payload`)
>>> files = {name: b"..." for name in NAMES}             # kiosk.toml, the certificates, keys, kiosk.db
>>> blob = seal(pack(files), key)                        # the technician's laptop
>>> blob[:len(MAGIC)] == MAGIC, unpack(unseal(blob, key)) == files        # the kiosk
(True, True)
>>> unseal(blob, os.urandom(32))                         # another code's key
Traceback (most recent call last):
...
kiosk.enrolment.bundle.BundleError: enrol_bad_key: authentication failed

Sealed layout: ``MAGIC`` (8 bytes) | nonce (12 bytes) | AES-GCM ciphertext and tag, with
``MAGIC`` as associated data. The key (32 random bytes) travels only in the QR, so whoever
serves or carries the blob can neither read nor alter it unnoticed.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..config import DEFAULT_CONFIG_PATH, DEFAULT_DATA_DIR

MAGIC = b"CKE1\x00ENR"
NONCE_BYTES = 12
SCHEMA = "checkin.enrol/1"
#: A fresh kiosk's files are tens of kB; these bounds only stop a hostile or broken server.
MAX_SEALED_BYTES = 32 * 1024 * 1024
MAX_PLAIN_BYTES = 64 * 1024 * 1024


#: The kiosk's two folders, by the place name a :class:`FileSpec` gives.
PLACES = {"etc": PurePosixPath(DEFAULT_CONFIG_PATH.parent), "data": PurePosixPath(DEFAULT_DATA_DIR)}
#: Both folders: the kiosk service (user kiosk, group kiosk) reads the first and owns the second.
DIR_OWNERS = {"etc": "root:kiosk", "data": "kiosk:kiosk"}
DIR_MODE = 0o750


@dataclass(frozen=True)
class FileSpec:
    name: str
    place: str      # "etc" (the config folder) or "data" (the data folder)
    owner: str      # "user:group" as installed
    mode: int       # as installed
    secret: bool    # a key or personal data: never shown

    @property
    def path(self) -> PurePosixPath:
        """Where the file is on the kiosk."""
        return PLACES[self.place] / self.name


def place_under(root: Path, place: str) -> Path:
    """The folder ``place`` ("etc" or "data") of a kiosk file system rooted at ``root``."""
    return root / PLACES[place].relative_to("/")


#: Every file of an identity, the one list of names, places, owners and modes (QR enrolment, and
#: ``kiosk-provision write-boot`` for cloud-init), in the order they are installed: kiosk.toml
#: last, since its presence is what "enrolled" means (systemd's ConditionPathExists= and ``kiosk
#: enrol``'s own check). The kiosk service runs as kiosk:kiosk, so root:kiosk 0640 is readable to it.
FILES = (
    FileSpec("kiosk.db", "data", "kiosk:kiosk", 0o600, True),
    FileSpec("ca.pem", "etc", "root:kiosk", 0o640, False),
    FileSpec("kiosk.pem", "etc", "root:kiosk", 0o640, False),
    FileSpec("kiosk.key", "etc", "root:kiosk", 0o640, True),
    FileSpec("venue-token.key", "etc", "root:kiosk", 0o640, True),
    FileSpec("web.pem", "etc", "root:kiosk", 0o640, False),     # the staff pages' HTTPS certificate
    FileSpec("web.key", "etc", "root:kiosk", 0o640, True),
    FileSpec("kiosk.toml", "etc", "root:kiosk", 0o640, False),
)
NAMES = tuple(f.name for f in FILES)


class BundleError(Exception):
    """The bundle cannot be opened or is not a kiosk identity; ``code`` is a message code."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail


def pack(files: dict[str, bytes]) -> bytes:
    """The files (exactly :data:`NAMES`) as compressed JSON."""
    if set(files) != set(NAMES):
        raise ValueError(f"a bundle holds exactly {', '.join(NAMES)}")
    doc = {"schema": SCHEMA, "files": {n: base64.b64encode(files[n]).decode("ascii") for n in NAMES}}
    return zlib.compress(json.dumps(doc, sort_keys=True).encode("ascii"), 9)


def unpack(plain: bytes) -> dict[str, bytes]:
    """The files of a packed bundle. Raises :class:`BundleError` ``enrol_bundle_invalid``."""
    try:
        d = zlib.decompressobj()
        raw = d.decompress(plain, MAX_PLAIN_BYTES)
        if d.unconsumed_tail or not d.eof:
            raise BundleError("enrol_bundle_invalid", "too large or truncated")
        doc = json.loads(raw)
    except (zlib.error, ValueError) as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError("enrol_bundle_invalid", "not a packed bundle") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("files"), dict):
        raise BundleError("enrol_bundle_invalid", "unknown schema")
    files = doc["files"]
    if set(files) != set(NAMES) or not all(isinstance(v, str) for v in files.values()):
        raise BundleError("enrol_bundle_invalid", "unexpected file list")
    try:
        return {n: base64.b64decode(files[n], validate=True) for n in NAMES}
    except ValueError:
        raise BundleError("enrol_bundle_invalid", "bad file encoding") from None


def seal(plain: bytes, key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plain, MAGIC)


def unseal(blob: bytes, key: bytes) -> bytes:
    """The plaintext. Raises :class:`BundleError` ``enrol_bad_key`` when the key does not open it
    (another code's key, or a blob altered on the way)."""
    if len(blob) > MAX_SEALED_BYTES or len(blob) < len(MAGIC) + NONCE_BYTES + 16 or not blob.startswith(MAGIC):
        raise BundleError("enrol_bad_key", "not a sealed bundle")
    nonce = blob[len(MAGIC):len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES:], MAGIC)
    except InvalidTag:
        raise BundleError("enrol_bad_key", "authentication failed") from None
