"""Request bodies are bounded per route, at the server, before anything reads them: a real
``kiosk run --simulate`` process takes many 10 MB posts, unauthenticated, on every route, answers
each with 413 and a sentence saying why, and its memory stays where it was."""

from __future__ import annotations

import http.client
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from kiosk.web.security import FORM_BYTES, LIST_FORM_BYTES, MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES
from kiosk.web.server import WebServer
from kiosk_process import KioskProcess, write_config
from web_support import KioskWeb

TEN_MB = 10 * 2**20
#: Every POST route of a simulated kiosk with its staff pages.
POST_ROUTES = ["/lang", "/staff/login", "/staff/logout", "/staff/pin", "/staff/phone", "/staff/declare",
               "/staff/card", "/staff/inside"]
#: The target of the issue: a kiosk that took large posts stays at most this large.
RSS_LIMIT_KB = 120 * 1024


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def post(port: int, path: str, body: bytes, content_type="application/x-www-form-urlencoded"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8")
    finally:
        conn.close()


def multipart(size: int) -> tuple[bytes, str]:
    boundary = "kiosk-test-boundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = head + b"\x89PNG" + b"x" * (size - len(head) - len(tail) - 4) + tail
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.slow
def test_many_10_mb_posts_are_refused_and_the_kiosk_stays_small(tmp_path):
    kiosk = KioskProcess(write_config(tmp_path))
    try:
        port = urlsplit(kiosk.screen_url()).port
        assert post(port, "/lang", b"language=en")[0] == 400          # warmed up: a real form (no CSRF token)
        before = rss_kb(kiosk.proc.pid)
        form = b"csrf_token=x&name=Lan&pin=" + b"1" * (TEN_MB - 26)
        image, image_type = multipart(MAX_REQUEST_BYTES + 1)            # just over the upload's own bound
        jobs = [(path, form, "application/x-www-form-urlencoded") for path in POST_ROUTES for _ in range(6)]
        jobs += [("/sim/present", image, image_type)] * 6
        with ThreadPoolExecutor(4) as pool:          # an attacker does not wait for one post to end
            answers = list(pool.map(lambda job: (job[0], *post(port, *job)), jobs))
        after = rss_kb(kiosk.proc.pid)
        print(f"kiosk RSS before {before / 1024:.1f} MB, after {len(jobs)} posts of 10 MB {after / 1024:.1f} MB")
        for path, status, text in answers:
            assert status == 413, (path, status, text[:200])
        by_path = {path: text for path, _, text in answers}
        assert by_path["/staff/login"] == f"Yêu cầu quá lớn (tối đa {FORM_BYTES // 1024} KB); không có gì được lưu."
        assert by_path["/staff/inside"] == (f"Yêu cầu quá lớn (tối đa {LIST_FORM_BYTES // 1024} KB); "
                                            "không có gì được lưu.")
        assert by_path["/sim/present"] == f"Tệp quá lớn (tối đa {MAX_REQUEST_BYTES // 2**20} MB)."
        assert after <= RSS_LIMIT_KB, f"RSS {after / 1024:.0f} MB after the posts (was {before / 1024:.0f} MB)"
        # And the image route still takes an image of its size: refused as "not an image", not as too large.
        image, image_type = multipart(MAX_UPLOAD_BYTES)
        assert post(port, "/sim/present", image, image_type)[0] == 400    # no CSRF token: read, then refused
        assert rss_kb(kiosk.proc.pid) <= RSS_LIMIT_KB
    finally:
        kiosk.stop()


def test_a_real_kiosk_reads_no_body_larger_than_its_largest_route_takes(tmp_path, desk, signals):
    """Without the simulator there is no upload: waitress answers 413 from the headers alone,
    without a byte of the body sent (a client that sends nothing more gets its answer)."""
    web = KioskWeb(tmp_path, desk, signals)
    server = WebServer(web.app, [("127.0.0.1", 0)], feed=web.feed)
    try:
        host, port = server.start()[0]
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"POST /lang HTTP/1.1\r\nHost: kiosk\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: %d\r\n\r\n" % TEN_MB)
            answer = s.makefile("rb").read()
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    finally:
        server.stop()
        web.close()


@pytest.mark.parametrize("path, size, status", [("/lang", FORM_BYTES + 1, 413), ("/lang", FORM_BYTES, 400)])
def test_a_form_just_over_its_bound_is_refused_with_the_reason_before_the_csrf_check(web_app, path, size, status):
    r = web_app.client.post(path, data=b"a=" + b"x" * (size - 2), content_type="application/x-www-form-urlencoded")
    assert r.status_code == status
    if status == 413:
        assert r.get_data(as_text=True) == f"Yêu cầu quá lớn (tối đa {FORM_BYTES // 1024} KB); không có gì được lưu."


def test_a_chunked_body_is_refused_by_its_routes_bound_too(tmp_path, desk, signals):
    web = KioskWeb(tmp_path, desk, signals)
    server = WebServer(web.app, [("127.0.0.1", 0)], feed=web.feed)
    try:
        host, port = server.start()[0]
        chunk = b"x" * 4096
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"POST /lang HTTP/1.1\r\nHost: kiosk\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                      + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 8 + b"0\r\n\r\n")
            answer = s.makefile("rb").read()
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert "Yêu cầu quá lớn".encode() in answer
    finally:
        server.stop()
        web.close()


@pytest.fixture
def web_app(tmp_path, desk, signals):
    w = KioskWeb(tmp_path, desk, signals)
    yield w
    w.close()


