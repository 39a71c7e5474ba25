"""The LAN listener speaks HTTPS with the kiosk's web certificate from the fleet CA; plain HTTP is
for loopback only (the kiosk's own screen). Through a whole simulated kiosk (``build_kiosk``), with
Python's ssl trusting the fleet CA alone, as a staff phone that installed it does."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
from pathlib import Path

import pytest

from kiosk.config import ConfigError, parse_config
from kiosk.web.tls import web_names
from provisioning.pki import write_cert, write_private_key

from pki import make_ca
from web_support import kiosk_running

KIOSK_ID = "test-kiosk-01"                  # as kiosk_running names it
HOST = f"{KIOSK_ID}.local"


@pytest.fixture
def fleet_ca(tmp_path):
    return make_ca(tmp_path / "fleet", "checkin-kiosk fleet CA")


def web_certificate(ca, directory: Path, kiosk_id: str = KIOSK_ID) -> tuple[Path, Path]:
    """The kiosk's web certificate as ``kiosk-provision kiosk new`` issues it."""
    cert, key = ca.authority.issue(kiosk_id, days=30, server_names=web_names(kiosk_id))
    directory.mkdir(parents=True, exist_ok=True)
    write_cert(directory / "web.pem", cert)
    write_private_key(directory / "web.key", key)
    return directory / "web.pem", directory / "web.key"


@pytest.fixture
def tls_kiosk(tmp_path, fleet_ca):
    cert, key = web_certificate(fleet_ca, tmp_path / "etc")
    with kiosk_running(tmp_path, f'tls_listen = "127.0.0.1:0"\ntls_cert = "{cert}"\ntls_key = "{key}"\n') as kiosk:
        yield kiosk


def trusting(ca) -> ssl.SSLContext:
    """A client that trusts the fleet CA and nothing else."""
    context = ssl.create_default_context(cafile=str(ca.cert))
    return context


def https(kiosk, ca, server_hostname=HOST) -> http.client.HTTPSConnection:
    [(host, port)] = kiosk.web.tls_bound
    conn = http.client.HTTPSConnection(host, port, timeout=10, context=trusting(ca))
    # Reach the kiosk at its address, name it as a phone does (by mDNS): the name is what is verified.
    conn.sock = trusting(ca).wrap_socket(socket.create_connection((host, port), timeout=10),
                                         server_hostname=server_hostname)
    return conn


def test_a_client_trusting_the_fleet_ca_gets_the_staff_pages_over_https(tls_kiosk, fleet_ca):
    conn = https(tls_kiosk, fleet_ca)
    conn.request("GET", "/staff/login", headers={"Host": f"{HOST}:8443"})
    r = conn.getresponse()
    html = r.read().decode()
    assert r.status == 200 and 'name="pin"' in html
    assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    cert = conn.sock.getpeercert()
    assert ("DNS", HOST) in cert["subjectAltName"] and ("DNS", KIOSK_ID) in cert["subjectAltName"]
    cookie = r.getheader("Set-Cookie")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # A POST over HTTPS passes the CSRF check (no referrer is sent: the pages' policy) and is answered.
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
    conn.request("POST", "/staff/login", body=f"csrf_token={token}&name=Nobody&pin=000000",
                 headers={"Host": f"{HOST}:8443", "Cookie": cookie.split(";")[0],
                          "Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    assert r.status in (401, 429) and "Trang đã hết hạn" not in r.read().decode()


def test_the_certificate_names_the_kiosk_not_an_address(tls_kiosk, fleet_ca):
    """The phone must use https://<id>.local:8443/: the address is not in the certificate (it is not
    known at provisioning), so a client that checks names refuses it, and another kiosk's name too."""
    for name in ("127.0.0.1", "other-kiosk-02.local"):
        with pytest.raises(ssl.SSLCertVerificationError, match="match"):
            https(tls_kiosk, fleet_ca, server_hostname=name)


def test_a_certificate_from_another_ca_is_refused(tls_kiosk, tmp_path):
    stranger = make_ca(tmp_path / "stranger", "someone else")
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer|self.signed|verify failed"):
        https(tls_kiosk, stranger)


def test_plain_http_on_the_tls_port_gets_the_reason_and_nothing_of_the_app(tls_kiosk):
    [(host, port)] = tls_kiosk.web.tls_bound
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/staff/login")
    r = conn.getresponse()
    body = r.read().decode()
    assert r.status == 400 and "https://" in body and "HTTPS" in body
    assert r.getheader("Set-Cookie") is None and "csrf" not in body


def test_a_client_that_never_finishes_its_handshake_holds_up_nobody(tls_kiosk, fleet_ca):
    [(host, port)] = tls_kiosk.web.tls_bound
    silent = [socket.create_connection((host, port), timeout=10) for _ in range(5)]
    half = socket.create_connection((host, port), timeout=10)
    half.sendall(b"\x16\x03\x01\x00\xff")           # the start of a ClientHello, never the rest
    try:
        conn = https(tls_kiosk, fleet_ca)
        conn.request("GET", "/staff/login", headers={"Host": HOST})
        assert conn.getresponse().status == 200
        # And the kiosk's own screen, on loopback HTTP, too.
        plain = http.client.HTTPConnection(*tls_kiosk.web.bound[0], timeout=10)
        plain.request("GET", "/")
        assert plain.getresponse().status == 200
    finally:
        for s in [*silent, half]:
            s.close()


def test_the_screens_event_stream_and_a_large_answer_cross_tls_whole(tls_kiosk, fleet_ca):
    conn = https(tls_kiosk, fleet_ca)
    conn.request("GET", "/static/screen.js", headers={"Host": HOST})
    r = conn.getresponse()
    over_tls = r.read()
    plain = http.client.HTTPConnection(*tls_kiosk.web.bound[0], timeout=10)
    plain.request("GET", "/static/screen.js")
    assert r.status == 200 and over_tls == plain.getresponse().read() and len(over_tls) > 1000
    conn.request("GET", "/events", headers={"Host": HOST})      # the stream: loopback client, so allowed
    stream = conn.getresponse()
    assert stream.status == 200
    assert stream.readline().startswith(b"retry:")


# -- the config --------------------------------------------------------------------------------------

@pytest.mark.parametrize("listen", ['"lan:8080"', '"0.0.0.0:8080"', '["127.0.0.1:8080", "192.168.1.20:8080"]',
                                    '"[::]:8080"'])
def test_plain_http_off_loopback_is_a_config_error_naming_the_key(listen):
    with pytest.raises(ConfigError, match=r"line 2: \[web\] listen .*not a loopback address: plain HTTP is only for "
                                          r"the kiosk's own screen; serve the LAN over HTTPS with \[web\] tls_listen"):
        parse_config(f"[web]\nlisten = {listen}\n")


def test_https_needs_the_certificate_and_its_key():
    with pytest.raises(ConfigError, match=r"\[web\] tls_listen: needs tls_cert and tls_key"):
        parse_config('[web]\ntls_listen = "lan:8443"\n')
    config = parse_config('[web]\ntls_listen = ["lan:8443"]\ntls_cert = "/etc/checkin-kiosk/web.pem"\n'
                          'tls_key = "/etc/checkin-kiosk/web.key"\n')
    assert config.web.listen == "127.0.0.1:8080" and config.web.tls_listen == ["lan:8443"]


def test_a_missing_certificate_costs_only_https_and_says_which_key(tmp_path, caplog):
    import logging
    with caplog.at_level(logging.ERROR), kiosk_running(
            tmp_path, f'tls_listen = "127.0.0.1:0"\ntls_cert = "{tmp_path}/none.pem"\ntls_key = "{tmp_path}/none.key"\n'
    ) as kiosk:
        assert kiosk.web.bound and not kiosk.web.tls_bound
    assert f"[web] tls_cert = '{tmp_path}/none.pem': No such file or directory" in caplog.text
