"""The kiosk's TLS identity checked against itself: the certificate is issued by the CA, belongs to
the private key and names this kiosk. One check for the two places that need it: enrolment,
before anything is installed (:mod:`kiosk.enrolment.identity`), and the self-test, on the installed
files (:mod:`kiosk.selftest.checks`); each says what is wrong in its own words.

>>> from provisioning.pki import CertificateAuthority
>>> ca = CertificateAuthority.create("checkin-kiosk fleet CA", days=30)
>>> cert, key = ca.issue("ninhthuan-cho-phanrang-01", days=30)          # as kiosk-provision issues it
>>> ca_pem = ca.cert.public_bytes(serialization.Encoding.PEM)           # the installed ca.pem
>>> [identity_problem(load_pem("ca", ca_pem), cert, key, kiosk_id)
...  for kiosk_id in ("ninhthuan-cho-phanrang-01", "ninhthuan-cho-phanrang-02")]
[None, 'wrong_cn']
>>> identity_problem(CertificateAuthority.create("another CA", days=30).cert, cert, key, "ninhthuan-cho-phanrang-01")
'wrong_ca'
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

#: The three parts, as :func:`load_pem` names them.
PARTS = ("ca", "cert", "key")


def load_pem(part: str, data: bytes):
    """``part`` ("ca", "cert": a PEM certificate; "key": an unencrypted PEM private key) from
    ``data``. ValueError (or TypeError, for an encrypted key) when it is not one."""
    if part == "key":
        return serialization.load_pem_private_key(data, None)
    return x509.load_pem_x509_certificate(data)


def common_names(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def identity_problem(ca: x509.Certificate, cert: x509.Certificate, key, kiosk_id: str) -> str | None:
    """None when ``cert`` is issued by ``ca``, matches ``key`` and names ``kiosk_id`` as its one
    common name; else the first problem: "wrong_ca", "wrong_key" or "wrong_cn"."""
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return "wrong_ca"
    if _public_der(cert.public_key()) != _public_der(key.public_key()):
        return "wrong_key"
    if common_names(cert) != [kiosk_id]:
        return "wrong_cn"
    return None
