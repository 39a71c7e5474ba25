"""The LAN listener speaks HTTPS with the kiosk's web certificate from the fleet CA; plain HTTP is
for loopback only (the kiosk's own screen). Through a whole simulated kiosk (``build_kiosk``), with
Python's ssl trusting the fleet CA alone, as a staff phone that installed it does."""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
import struct
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.config import ConfigError, parse_config
from kiosk.lan import web_names
from kiosk.web.server import CONNECTION_LIMIT
from kiosk.web.tls import MAX_DEVICE_CONNECTIONS, MAX_DEVICE_HANDSHAKES, MAX_HANDSHAKES, device_of
from mqtt.plumbing.throttle import client_key
from pki import make_ca
from provisioning.pki import write_cert, write_private_key
from web_support import kiosk_running

KIOSK_ID = "test-kiosk-01"                  # as kiosk_running names it
HOST = f"{KIOSK_ID}.local"
#: A staff phone, and another device on the same LAN (loopback addresses standing for LAN devices).
PHONE, OTHER = "127.0.0.1", "127.0.0.2"
#: Connections each device of the storm opens.
ROUNDS = 600


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


def https(kiosk, ca, server_hostname=HOST, device=PHONE) -> http.client.HTTPSConnection:
    [(host, port)] = kiosk.web.tls_bound
    conn = http.client.HTTPSConnection(host, port, timeout=10, context=trusting(ca))
    # Reach the kiosk at its address, name it as a phone does (by mDNS): the name is what is verified.
    conn.sock = trusting(ca).wrap_socket(tcp(kiosk, device), server_hostname=server_hostname)
    return conn


def tcp(kiosk, device: str) -> socket.socket:
    """A TCP connection to the HTTPS port from ``device``: an address of 127.0.0.0/8 standing for
    one device of the venue LAN (the bridge keeps loopback addresses apart)."""
    [(host, port)] = kiosk.web.tls_bound
    return socket.create_connection((host, port), timeout=10, source_address=(device, 0))


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
    silent = [tcp(tls_kiosk, OTHER) for _ in range(5)]
    half = tcp(tls_kiosk, OTHER)
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


@given(st.ip_addresses(v=6), st.integers(0, 2**64 - 1), st.ip_addresses(v=4))
def test_a_device_is_an_ipv6_64_or_an_ipv4_address_and_each_loopback_address(ipv6, host_part, ipv4):
    """As the login throttle counts clients (one function), loopback addresses apart."""
    neighbour = ipaddress.IPv6Address((int(ipv6) >> 64 << 64) | host_part)     # the same /64
    if not any(a.is_loopback or a.ipv4_mapped for a in (ipv6, neighbour)):
        assert device_of((str(ipv6), 1, 0, 0)) == device_of((f"{neighbour}%eth0", 2, 0, 0)) == client_key(str(ipv6))
    if ipv4.is_loopback:
        assert device_of((str(ipv4), 1)) == str(ipv4)
    else:
        assert device_of((str(ipv4), 1)) == device_of((f"::ffff:{ipv4}", 1, 0, 0)) == str(ipv4)


def get(conn: http.client.HTTPConnection, path: str = "/staff/login") -> int:
    conn.request("GET", path, headers={"Host": HOST})
    r = conn.getresponse()
    r.read()
    return r.status


def the_screen_answers(kiosk) -> bool:
    """The kiosk's own screen (plain HTTP on loopback) gets its page."""
    conn = http.client.HTTPConnection(*kiosk.web.bound[0], timeout=10)
    try:
        return get(conn, "/") == 200
    finally:
        conn.close()


def held_open(kiosk, ca, device: str, count: int) -> tuple[list, int]:
    """``count`` HTTPS connections from ``device``, one after the other, each past its handshake and
    one answer and then kept idle (keep-alive); returns those the kiosk took, and how many it closed
    at once."""
    kept, refused = [], 0
    for _ in range(count):
        try:
            conn = https(kiosk, ca, device=device)
        except (ssl.SSLError, ConnectionError):     # closed before its handshake: one device's share is full
            refused += 1
            continue
        assert get(conn, "/static/screen.js") == 200
        kept.append(conn)
    return kept, refused


def test_one_device_holding_many_silent_connections_holds_up_no_phone_nor_the_screen(tls_kiosk, fleet_ca):
    """A device that opens connections and says nothing, more of them than the kiosk does handshakes
    at once: it gets a few handshakes at a time, every other device its own."""
    silent = [tcp(tls_kiosk, OTHER) for _ in range(2 * MAX_HANDSHAKES)]
    try:
        assert get(https(tls_kiosk, fleet_ca, device=PHONE)) == 200
        assert the_screen_answers(tls_kiosk)
    finally:
        for s in silent:
            s.close()


def test_a_phone_opening_more_connections_at_once_than_its_handshake_share_gets_every_one(tls_kiosk, fleet_ca):
    """A page and its files: the browser opens several connections together. Past the device's
    share of handshakes they wait their turn, they are not closed."""
    opened = [tcp(tls_kiosk, PHONE) for _ in range(MAX_DEVICE_HANDSHAKES + 2)]   # all accepted, none started
    conns = []
    try:
        for raw in opened:                          # each handshake ends and lets the next waiting one start
            conns.append(conn := http.client.HTTPSConnection(HOST, timeout=10))
            conn.sock = trusting(fleet_ca).wrap_socket(raw, server_hostname=HOST)
            assert get(conn) == 200
    finally:
        for raw in opened:
            raw.close()
        for conn in conns:
            conn.close()


def test_one_device_holding_many_finished_handshakes_holds_up_no_phone_nor_the_screen(tls_kiosk, fleet_ca):
    """Connections past their handshake and idle are kept until waitress's channel timeout (120 s):
    one device keeps its share, and the phones and the screen are still answered."""
    kept, refused = held_open(tls_kiosk, fleet_ca, OTHER, CONNECTION_LIMIT)
    try:
        assert len(kept) == MAX_DEVICE_CONNECTIONS and refused == CONNECTION_LIMIT - MAX_DEVICE_CONNECTIONS
        assert all(get(conn) == 200 for conn in kept)       # the ones it holds still work
        assert get(https(tls_kiosk, fleet_ca, device=PHONE)) == 200
        assert the_screen_answers(tls_kiosk)
    finally:
        for conn in kept:
            conn.close()


def test_the_kiosks_own_screen_is_answered_however_many_connections_the_lan_holds(tls_kiosk, fleet_ca):
    """Devices together holding as many HTTPS connections as the kiosk takes do not take the
    screen's: its reload and its event stream's reconnect are on loopback, counted apart."""
    devices = [f"127.0.0.{n}" for n in range(2, 6)]
    # As many as filled the one count both listeners shared: the limit less two listeners and their wakers.
    total = CONNECTION_LIMIT - 4
    held = [held_open(tls_kiosk, fleet_ca, device, total // len(devices) + (n < total % len(devices)))[0]
            for n, device in enumerate(devices)]
    try:
        for _ in range(3):
            assert the_screen_answers(tls_kiosk)
        conn = http.client.HTTPConnection(*tls_kiosk.web.bound[0], timeout=10)
        conn.request("GET", "/events")
        assert conn.getresponse().readline().startswith(b"retry:")
        conn.close()
    finally:
        for conn in (c for kept in held for c in kept):
            conn.close()


def test_the_https_listener_outlives_a_storm_of_connects_handshakes_and_resets(tls_kiosk, fleet_ca, caplog):
    """Several devices at once connect and reset, reset in the middle of a ClientHello, finish a
    handshake and hang up, while others hold their connections: the listener stays open (an error
    in waitress's accept closes it for good), and an ordinary request is answered afterwards."""
    kept = [c for n in range(2, 5) for c in held_open(tls_kiosk, fleet_ca, f"127.0.0.{n}", 12)[0]]
    client = trusting(fleet_ca)
    hello = client.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=HOST)
    with pytest.raises(ssl.SSLWantReadError):
        hello.do_handshake()
    client_hello = outgoing.read()

    def reset(s: socket.socket) -> None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))    # RST, not FIN
        s.close()

    def storm(device: str) -> None:
        for round in range(ROUNDS):
            try:
                s = tcp(tls_kiosk, device)
                if round % 3 == 0:
                    reset(s)
                elif round % 3 == 1:
                    s.sendall(client_hello[: len(client_hello) // 2])
                    reset(s)
                else:
                    with client.wrap_socket(s, server_hostname=HOST):
                        pass
            except (ssl.SSLError, ConnectionError):
                pass                            # refused while its device's share was full: as it may be

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)                 # threads switch at every chance: a race shows
    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(storm, [f"127.0.1.{n}" for n in range(6)]))
    finally:
        sys.setswitchinterval(before)
    try:
        assert "uncaptured python exception" not in caplog.text
        assert get(https(tls_kiosk, fleet_ca, device=PHONE)) == 200
        assert all(get(conn) == 200 for conn in kept)
    finally:
        for conn in kept:
            conn.close()


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
