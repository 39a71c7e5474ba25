"""A broker URL's TLS files: what a technician reads when one is missing, unreadable or wrong
(it used to be "[Errno 2] No such file or directory", naming neither the key nor the file)."""

from __future__ import annotations

import ssl

import pytest

from mqtt.endpoint import TlsSetupError, tls_context
from pki import issue, make_ca


@pytest.fixture
def ca(tmp_path):
    return make_ca(tmp_path / "ca")


def test_a_complete_identity_gives_a_context(ca):
    kiosk = issue(ca, "k-001")
    context = tls_context(str(ca.cert), str(kiosk.cert), str(kiosk.key))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize("missing", ["tls_ca", "tls_cert", "tls_key"])
def test_a_missing_file_names_its_key_and_path(ca, tmp_path, missing):
    kiosk = issue(ca, "k-001")
    files = {"tls_ca": str(ca.cert), "tls_cert": str(kiosk.cert), "tls_key": str(kiosk.key)}
    files[missing] = str(tmp_path / "gone.pem")
    with pytest.raises(TlsSetupError) as err:
        tls_context(files["tls_ca"], files["tls_cert"], files["tls_key"])
    assert str(err.value) == f"[mqtt] {missing} = {tmp_path / 'gone.pem'}: no such file"


def test_garbage_and_a_foreign_key_are_named(ca, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TlsSetupError, match=r"^\[mqtt\] tls_ca = .*garbage.pem: not a PEM certificate"):
        tls_context(str(garbage), None, None)
    kiosk, other = issue(ca, "k-001"), issue(ca, "k-002")
    with pytest.raises(TlsSetupError, match=r"^\[mqtt\] tls_cert = .*k-001.*tls_key = .*k-002.*private key"):
        tls_context(str(ca.cert), str(kiosk.cert), str(other.key))
