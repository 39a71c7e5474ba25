"""The fleet's certificate authority: EC P-256 keys, PEM files, written with safe permissions.

>>> import tempfile
>>> ca = CertificateAuthority.create("checkin-kiosk fleet CA", days=3650)
>>> cert, key = ca.issue("ninhthuan-cho-phanrang-01", days=825)           # client certificate
>>> cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()            # CN = the MQTT username
('CN=ninhthuan-cho-phanrang-01', 'CN=checkin-kiosk fleet CA')
>>> server, server_key = ca.issue("broker.example", server_names=["broker.example", "10.0.0.5"], days=825)
>>> san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value    # server certificate
>>> san.get_values_for_type(x509.DNSName), [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
(['broker.example'], ['10.0.0.5'])
>>> with tempfile.TemporaryDirectory() as tmp:
...     ca.write(Path(tmp, "fleet-ca.pem"), Path(tmp, "fleet-ca.key"))
...     write_cert(Path(tmp, "kiosk.pem"), cert); write_private_key(Path(tmp, "kiosk.key"), key)
...     sorted((p.name, oct(p.stat().st_mode & 0o777)) for p in Path(tmp).iterdir())    # keys 0600
...     CertificateAuthority.load(Path(tmp, "fleet-ca.pem"), Path(tmp, "fleet-ca.key")).cert == ca.cert
[('fleet-ca.key', '0o600'), ('fleet-ca.pem', '0o644'), ('kiosk.key', '0o600'), ('kiosk.pem', '0o644')]
True
>>> crl = ca.crl([(cert.serial_number, dt.datetime.now(dt.timezone.utc))])      # the kiosk revoked
>>> [r.serial_number for r in crl] == [cert.serial_number], crl.is_signature_valid(ca.key.public_key())
(True, True)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mqtt.plumbing.files import create_new, replace_file

__all__ = ["CertificateAuthority", "load_cert", "write_cert", "write_crl", "write_private_key", "write_secret_bytes"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write_secret_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file created 0600 (refuses an existing file)."""
    create_new(Path(path), data)


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    write_secret_bytes(Path(path), key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))


def write_cert(path: Path, cert: x509.Certificate) -> None:
    Path(path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(path, 0o644)


def write_crl(path: Path, crl: x509.CertificateRevocationList) -> None:
    """Replace ``path`` atomically (the broker may be reading the old one)."""
    replace_file(Path(path), crl.public_bytes(serialization.Encoding.PEM), mode=0o644)


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


@dataclass
class CertificateAuthority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, name: str, *, days: int) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        return cls(load_cert(cert_path), key)

    def write(self, cert_path: Path, key_path: Path) -> None:
        write_cert(cert_path, self.cert)
        write_private_key(key_path, self.key)

    def crl(self, revoked: Iterable[tuple[int, dt.datetime]]) -> x509.CertificateRevocationList:
        """The revocation list of ``revoked`` (serial number, when), valid until the CA itself
        expires: a CRL past its next update makes OpenSSL (Mosquitto) refuse every client."""
        now = _now()
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(self.cert.subject)
                   .last_update(now - dt.timedelta(hours=1))
                   .next_update(self.cert.not_valid_after_utc)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        for serial, when in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
        return builder.sign(self.key, hashes.SHA256())

    def issue(self, cn: str, *, days: float, server_names: Iterable[str] = ()
              ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A leaf certificate for ``cn``: serverAuth with SANs when ``server_names`` is given,
        otherwise a clientAuth certificate (CN = the MQTT username)."""
        server_names = list(server_names)
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        not_after = min(now + dt.timedelta(days=days), self.cert.not_valid_after_utc)
        # A negative ``days`` (an already expired certificate, for tests) keeps a valid window.
        not_before = min(now - dt.timedelta(hours=1), not_after - dt.timedelta(days=1))
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_agreement=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server_names
                                                  else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
        )
        if server_names:
            builder = builder.add_extension(x509.SubjectAlternativeName([_san(n) for n in server_names]),
                                            critical=False)
        return builder.sign(self.key, hashes.SHA256()), key
