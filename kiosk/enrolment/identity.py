"""Checking that an opened bundle is a coherent kiosk identity before anything is written.

The kiosk.toml must pass the kiosk's own strict config loader; the certificate must name that
kiosk and be issued by the bundled CA; the private key must be the certificate's; the venue key
must be one; the database must be SQLite.
"""

from __future__ import annotations

from mqtt.wire.slip_codes import VenueKey

from ..config import ConfigError, parse_config
from ..printing import check_profile
from .bundle import BundleError
from .identity_check import identity_problem, load_pem

SQLITE_HEADER = b"SQLite format 3\x00"
#: What is wrong, for the log, by :func:`kiosk.enrolment.identity_check.identity_problem`'s codes.
PROBLEMS = {
    "wrong_cn": "{cert} is not this kiosk's certificate",
    "wrong_ca": "{cert} is not issued by ca.pem",
    "wrong_key": "{key} does not belong to {cert}",
}
#: The certificates of an identity and their keys: the broker's client certificate, and the staff
#: pages' HTTPS certificate.
PAIRS = (("kiosk.pem", "kiosk.key"), ("web.pem", "web.key"))


def check_identity(files: dict[str, bytes]) -> str:
    """The kiosk id of a valid identity. Raises :class:`BundleError` ``enrol_bundle_invalid``;
    the detail names the file, never its content."""
    try:
        config = parse_config(files["kiosk.toml"].decode("utf-8"))
        check_profile(config)
    except (UnicodeDecodeError, ConfigError) as exc:
        raise BundleError("enrol_bundle_invalid", f"kiosk.toml: {exc}") from None
    kiosk_id = config.kiosk.id
    try:
        ca = load_pem("ca", files["ca.pem"])
    except ValueError:
        raise BundleError("enrol_bundle_invalid", "ca.pem is not a PEM certificate") from None
    for cert_name, key_name in PAIRS:
        try:
            cert = load_pem("cert", files[cert_name])
        except ValueError:
            raise BundleError("enrol_bundle_invalid", f"{cert_name} is not a PEM certificate") from None
        try:
            key = load_pem("key", files[key_name])
        except (ValueError, TypeError):
            raise BundleError("enrol_bundle_invalid", f"{key_name} is not an unencrypted PEM private key") from None
        problem = identity_problem(ca, cert, key, kiosk_id)
        if problem:
            raise BundleError("enrol_bundle_invalid", PROBLEMS[problem].format(cert=cert_name, key=key_name))
    try:
        VenueKey.parse(files["venue-token.key"].decode("ascii"))
    except ValueError:           # UnicodeDecodeError included
        raise BundleError("enrol_bundle_invalid", "venue-token.key is not a venue key") from None
    if not files["kiosk.db"].startswith(SQLITE_HEADER):
        raise BundleError("enrol_bundle_invalid", "kiosk.db is not an SQLite database")
    return kiosk_id
