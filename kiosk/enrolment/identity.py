"""Checking that an opened bundle is a coherent kiosk identity before anything is written.

The kiosk.toml must pass the kiosk's own strict config loader; the certificate must name that
kiosk and be issued by the bundled CA; the private key must be the certificate's; the venue key
must be one; the database must be SQLite.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from ..config import ConfigError, parse_config
from .bundle import BundleError

SQLITE_HEADER = b"SQLite format 3\x00"


def check_identity(files: dict[str, bytes]) -> str:
    """The kiosk id of a valid identity. Raises :class:`BundleError` ``enrol_bundle_invalid``;
    the detail names the file, never its content."""
    try:
        config = parse_config(files["kiosk.toml"].decode("utf-8"))
    except (UnicodeDecodeError, ConfigError) as exc:
        raise BundleError("enrol_bundle_invalid", f"kiosk.toml: {exc}") from None
    kiosk_id = config.kiosk.id
    try:
        cert = x509.load_pem_x509_certificate(files["kiosk.pem"])
        ca = x509.load_pem_x509_certificate(files["ca.pem"])
    except ValueError:
        raise BundleError("enrol_bundle_invalid", "kiosk.pem or ca.pem is not a PEM certificate") from None
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [kiosk_id]:
        raise BundleError("enrol_bundle_invalid", "kiosk.pem is not this kiosk's certificate")
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise BundleError("enrol_bundle_invalid", f"kiosk.pem is not issued by ca.pem ({type(exc).__name__})") from None
    try:
        key = serialization.load_pem_private_key(files["kiosk.key"], None)
    except (ValueError, TypeError):
        raise BundleError("enrol_bundle_invalid", "kiosk.key is not an unencrypted PEM private key") from None
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise BundleError("enrol_bundle_invalid", "kiosk.key does not belong to kiosk.pem")
    try:
        venue = bytes.fromhex(files["venue-token.key"].decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        venue = b""
    if len(venue) != 32:
        raise BundleError("enrol_bundle_invalid", "venue-token.key is not a venue key")
    if not files["kiosk.db"].startswith(SQLITE_HEADER):
        raise BundleError("enrol_bundle_invalid", "kiosk.db is not an SQLite database")
    return kiosk_id
