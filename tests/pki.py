"""Certificates for tests, made by the fleet's own CA code (:mod:`provisioning.pki`), as PEM files.

>>> ca = make_ca(tmp_path / "ca", "test-ca")
>>> server = issue(ca, "localhost", server=True)            # SAN DNS:localhost, IP:127.0.0.1
>>> kiosk = issue(ca, "k-001")                              # client cert, CN = kiosk id
>>> old = issue(ca, "k-001", days=-1, name="k-001-expired")  # expired yesterday
>>> kiosk.cert, kiosk.key                                   # paths; keys are written 0600
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provisioning.pki import CertificateAuthority, write_cert, write_private_key

SERVER_NAMES = ("localhost", "127.0.0.1")


@dataclass
class CA:
    name: str
    dir: Path
    cert: Path  # PEM certificate (what goes into mosquitto's cafile / the client's ca_certs)
    key: Path
    authority: CertificateAuthority


@dataclass
class Issued:
    cn: str
    cert: Path
    key: Path


def make_ca(directory: Path | str, name: str = "checkin-test-ca", *, days: int = 30) -> CA:
    """A self-signed CA certificate and its key, written to ``directory/<name>.crt|.key``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    authority = CertificateAuthority.create(name, days=days)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    authority.write(cert, key)
    return CA(name, directory, cert, key, authority)


def issue(ca: CA, cn: str, *, server: bool = False, days: float = 30, name: str | None = None) -> Issued:
    """A leaf certificate for ``cn`` signed by ``ca``, written as ``<name>.crt`` / ``<name>.key``.

    server: serverAuth for localhost and 127.0.0.1; otherwise clientAuth. days: validity from
    now; a negative value gives a certificate that has already expired.
    """
    name = name or cn
    cert, key = ca.authority.issue(cn, days=days, server_names=SERVER_NAMES if server else ())
    cert_path, key_path = ca.dir / f"{name}.crt", ca.dir / f"{name}.key"
    write_cert(cert_path, cert)
    write_private_key(key_path, key)
    return Issued(cn, cert_path, key_path)
