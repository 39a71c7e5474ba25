"""A tiny certificate authority for tests (EC P-256, PEM files). Test-only: the fleet CA lives in provisioning/.

>>> ca = make_ca(tmp_path / "ca", "test-ca")
>>> server = issue(ca, "localhost", server=True)            # SAN IP:127.0.0.1, DNS:localhost
>>> kiosk = issue(ca, "k-001")                              # client cert, CN = kiosk id
>>> old = issue(ca, "k-001", days=-1, name="k-001-expired")  # expired yesterday
>>> kiosk.cert, kiosk.key                                   # paths; keys are written 0600
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_SANS = ("DNS:localhost", "IP:127.0.0.1")


@dataclass
class CA:
    name: str
    dir: Path
    cert: Path  # PEM certificate (what goes into mosquitto's cafile / the client's ca_certs)
    key: Path
    _cert_obj: x509.Certificate
    _key_obj: ec.EllipticCurvePrivateKey


@dataclass
class Issued:
    cn: str
    cert: Path
    key: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(path, 0o600)  # also when the file existed with looser bits


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(directory: Path | str, name: str = "checkin-test-ca", *, days: int = 30) -> CA:
    """A self-signed CA certificate and its key, written to ``directory/<name>.crt|.key``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name)).issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key_path, key)
    return CA(name, directory, cert_path, key_path, cert, key)


def _san(entry: str) -> x509.GeneralName:
    kind, _, value = entry.partition(":")
    if kind == "DNS":
        return x509.DNSName(value)
    if kind == "IP":
        return x509.IPAddress(ipaddress.ip_address(value))
    raise ValueError(f"SAN must be DNS:… or IP:…, not {entry!r}")


def issue(ca: CA, cn: str, *, server: bool = False, sans: tuple[str, ...] | None = None,
          days: float = 30, not_before: dt.datetime | None = None, name: str | None = None,
          directory: Path | str | None = None) -> Issued:
    """A leaf certificate for ``cn`` signed by ``ca``, written as ``<name>.crt`` / ``<name>.key``.

    server: serverAuth and SANs (default DNS:localhost, IP:127.0.0.1); otherwise clientAuth.
    days: validity from now; a negative value gives a certificate that has already expired
    (its not-before is then moved back so the window stays a valid one).
    """
    directory = Path(directory) if directory is not None else ca.dir
    directory.mkdir(parents=True, exist_ok=True)
    name = name or cn
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    not_after = now + dt.timedelta(days=days)
    if not_before is None:
        not_before = min(now, not_after) - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn)).issuer_name(ca._cert_obj.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_agreement=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                              else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca._key_obj.public_key()),
                       critical=False)
    )
    if server or sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_san(s) for s in (sans or DEFAULT_SANS)]), critical=False)
    cert = builder.sign(ca._key_obj, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key_path, key)
    return Issued(cn, cert_path, key_path)
