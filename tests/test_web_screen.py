"""The kiosk's screen app through Flask's test client and a real waitress: languages, security
headers, CSRF, the live stream after a real commit, the simulator's upload, who may see the screen,
and where it listens."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import re
import stat
import threading
import time
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import kiosk_db
from codes import CCCD_MAU, CCCD_THU, qr_image
from kiosk.config import ConfigError, listen_addresses, parse_config
from kiosk.lan import resolve_listen
from kiosk.web.live import LiveFeed
from kiosk.web.security import MAX_UPLOAD_BYTES
from kiosk.web.server import WebServer
from waiting import wait_for
from web_support import KioskWeb

FULL_NAME, ID_NUMBER = "Nguyễn Thị Mẫu", "079190000001"
LAN = {"REMOTE_ADDR": "192.168.1.20"}


@pytest.fixture
def web(tmp_path, desk, signals):
    w = KioskWeb(tmp_path, desk, signals)
    yield w
    w.close()


@pytest.fixture
def sim(tmp_path, desk, signals):
    w = KioskWeb(tmp_path, desk, signals, simulated=True)
    yield w
    w.close()


def png_bytes(payload: str = CCCD_THU) -> bytes:
    buf = io.BytesIO()
    qr_image(payload).save(buf, format="PNG")
    return buf.getvalue()


# -- the page, its languages and its headers ------------------------------------------------------

def test_the_page_is_vietnamese_by_default_and_english_after_the_switch(web):
    html = web.client.get("/").get_data(as_text=True)
    assert '<html lang="vi">' in html and "Đưa mã QR trên CCCD" in html and "Chợ Thử" in html
    assert "Đang có 0 người" in html and 'value="en">English</button>' in html

    # The shared screen's switch is this one page in English (a GET form), not a cookie.
    r = web.client.get("/?lang=en")
    assert r.status_code == 200 and "lang=" not in r.headers.get("Set-Cookie", "")
    html = r.get_data(as_text=True)
    assert '<html lang="en">' in html and "Hold the QR code" in html and "0 inside" in html
    assert 'value="vi">Tiếng Việt</button>' in html
    assert "Đưa mã QR" in web.client.get("/").get_data(as_text=True)


def test_the_screen_never_keeps_a_language_for_the_next_visitor(web):
    """Field fix 15: the staff pages' switch (a cookie, for a staff member's own phone) does not
    turn the shared screen English, and the screen's page goes back to the venue's language by itself."""
    r = web.client.post("/lang", data={"language": "en", "next": "/staff/", "csrf_token": web.csrf_token()})
    assert r.status_code == 303 and "lang=en" in r.headers["Set-Cookie"]
    html = web.client.get("/").get_data(as_text=True)
    assert '<html lang="vi">' in html and "Đưa mã QR" in html
    data = json.loads(re.search(r'<script type="application/json" id="screen-data">(.*?)</script>', html, re.DOTALL)[1])
    assert (data["language"], data["default_language"]) == ("vi", "vi")
    data = json.loads(re.search(r'id="screen-data">(.*?)</script>',
                                web.client.get("/?lang=en").get_data(as_text=True), re.DOTALL)[1])
    assert (data["language"], data["default_language"]) == ("en", "vi")
    assert data["messages"]["idle"].startswith("Hold the QR code")
    # Back within 30 s of the last result, whatever is on screen meanwhile.
    assert 0 < data["language_ms"] <= 30_000 and data["result_ms"] < data["language_ms"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.sampled_from(["vi", "en", "EN", "en-US", "fr", ""]), st.text(max_size=30)))
def test_any_language_asked_of_the_screen_gives_a_page_in_one_it_speaks(web, asked):
    r = web.client.get("/", query_string={"lang": asked})
    assert r.status_code == 200
    expected = asked if asked in ("vi", "en") else "vi"
    assert f'<html lang="{expected}">' in r.get_data(as_text=True)


def test_the_switch_never_sends_anyone_to_another_site(web):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        r = web.client.post("/lang", data={"language": "en", "next": target, "csrf_token": web.csrf_token()})
        assert r.headers["Location"] == "/", target


def _where_a_browser_goes(location: str) -> tuple[str, str]:
    """(host, path) a browser reaches from ``location`` on http://kiosk.test/: as the WHATWG URL
    parser does, it drops tabs and newlines and reads a backslash as a slash."""
    from urllib.parse import urljoin, urlsplit
    cleaned = re.sub(r"[\t\n\r]", "", location).strip("\x00 ").replace("\\", "/")
    url = urlsplit(urljoin("http://kiosk.test/", cleaned))
    return url.netloc, url.path


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example",
                                    "/\\\t\\evil.example", "/ /evil.example", "/%2F/evil.example",
                                    "/x\nSet-Cookie: a=b"])
def test_the_switch_is_neither_an_open_redirect_nor_a_500(web, target):
    r = web.client.post("/lang", data={"language": "en", "next": target, "csrf_token": web.csrf_token()})
    assert r.status_code == 303 and r.headers["Location"] == "/", target


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.one_of(st.text(max_size=40), st.text(alphabet="/\\\t\n\r .:%@?#a", max_size=12),
                        st.sampled_from(["/", "/staff/", "/staff", "/staff/login", "/staff/today", "/events"])
                        .flatmap(lambda p: st.text(max_size=6).map(lambda tail: p + tail))))
def test_any_next_leads_to_a_page_of_this_app_and_never_a_500(web, target):
    r = web.client.post("/lang", data={"language": "en", "next": target, "csrf_token": web.csrf_token()})
    assert r.status_code == 303
    location = r.headers["Location"]
    host, path = _where_a_browser_goes(location)
    assert host == "kiosk.test" and path == location, (target, location)
    assert location == "/" or location == target      # a page of the app as given, or the screen


def test_the_switch_goes_back_to_the_page_it_came_from(web):
    for target in ("/", "/events", "/static/screen.css"):
        r = web.client.post("/lang", data={"language": "en", "next": target, "csrf_token": web.csrf_token()})
        assert r.headers["Location"] == target


def test_every_response_carries_the_security_headers(web):
    for path in ("/", "/static/screen.css", "/static/screen.js"):
        h = web.client.get(path).headers
        csp = h["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "base-uri 'none'" in csp and "form-action 'self'" in csp and "unsafe-inline" not in csp
        assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "no-referrer"
        assert "camera=()" in h["Permissions-Policy"]
    page = web.app.test_client().get("/")         # a new browser: it gets its session cookie
    assert page.headers["Cache-Control"] == "no-store"
    session = page.headers["Set-Cookie"]
    assert "HttpOnly" in session and "SameSite=Strict" in session


class _Inline(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, style elements and attributes, handlers."""

    def __init__(self):
        super().__init__()
        self.problems, self.scripts = [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
            if "src" not in a and a.get("type") != "application/json":
                self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style>")
        self.problems += [f"{tag} {name}=" for name in a if name == "style" or name.startswith("on")]


@pytest.mark.parametrize("simulated", [False, True])
def test_the_page_has_nothing_inline_for_the_policy_to_block(tmp_path, desk, signals, simulated):
    w = KioskWeb(tmp_path, desk, signals, simulated=simulated)
    try:
        parser = _Inline()
        parser.feed(w.client.get("/").get_data(as_text=True))
        assert parser.scripts >= 2 and parser.problems == []
    finally:
        w.close()


def test_a_post_without_a_valid_csrf_token_is_refused(web):
    r = web.client.post("/lang", data={"language": "en", "next": "/"})
    assert r.status_code == 400 and "Trang đã hết hạn" in r.get_data(as_text=True)
    r = web.client.post("/lang", data={"language": "en", "csrf_token": "forged"})
    assert r.status_code == 400 and "lang=" not in r.headers.get("Set-Cookie", "")


def test_the_secret_key_is_made_once_private_and_reused(tmp_path, desk, signals, web):
    secret = tmp_path / "web-secret"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    again = KioskWeb(tmp_path, desk, signals)
    try:
        assert again.app.secret_key == web.app.secret_key == secret.read_bytes()
    finally:
        again.close()


def test_a_damaged_secret_is_replaced_not_fatal(tmp_path, desk, signals, caplog):
    (tmp_path / "web-secret").write_bytes(b"")       # a power cut during the first start
    with caplog.at_level(logging.WARNING):
        w = KioskWeb(tmp_path, desk, signals)
    try:
        assert len(w.app.secret_key) == 64 and "damaged" in caplog.text
        assert (tmp_path / "web-secret").read_bytes() == w.app.secret_key
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".web-secret")] == []
    finally:
        w.close()


# -- the live stream ------------------------------------------------------------------------------

class Stream:
    """An open /events response, read event by event."""

    def __init__(self, response):
        self.response = response
        self.chunks = iter(response.response)
        self.text = ""

    def next(self) -> str:
        chunk = next(self.chunks).decode("utf-8")
        self.text += chunk
        return chunk

    def next_event(self) -> tuple[str, dict]:
        while True:
            chunk = self.next()
            m = re.search(r"^event: (\w+)\ndata: (.*)$", chunk, re.M)
            if m:
                return m.group(1), json.loads(m.group(2))

    def close(self):
        self.response.close()


def test_an_outcome_committed_by_the_desk_reaches_the_stream_with_the_masked_name_only(web):
    response = web.client.get("/events", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    stream = Stream(response)
    assert stream.next() == "retry: 2000\n\n"
    event, status = stream.next_event()
    assert event == "status" and status["broker_connected"] is False and status["error"] is None
    assert {"outbox", "printer", "clock_synced", "published_at"} <= set(status)
    assert stream.next_event() == ("occupancy", {"occupancy": 0, "capacity": 0,
                                                 "published_at": pytest.approx(time.time(), abs=5)})

    before = time.time()
    outcome = web.present(CCCD_MAU)
    assert outcome.kind == "check_in" and web.status.occupancy() == 1       # committed
    event, data = stream.next_event()
    assert event == "outcome"
    assert data == {"kind": "check_in", "code": "check_in", "values": {"name": "Nguyễn T. M.", "time": "21:13"},
                    "occupancy": 1, "capacity": 0, "venue": "Chợ Thử", "published_at": pytest.approx(before, abs=1)}
    assert re.search(r"^id: \d+$", stream.text, re.M)

    assert web.present(CCCD_MAU) is None          # the same presentation (cooldown): nothing to tell
    web.present("https://example.com/khai-bao")
    event, data = stream.next_event()
    assert (event, data["kind"], data["code"], data["values"]) == ("outcome", "refused", "url", {})
    stream.close()
    assert web.feed.subscribers == 0

    page = web.client.get("/").get_data(as_text=True)
    assert "Đang có 1 người" in page
    for text in (stream.text, page):
        assert FULL_NAME not in text and ID_NUMBER not in text and "Mẫu" not in text


def test_an_error_state_is_told_at_once(web):
    stream = Stream(web.client.get("/events", buffered=False))
    stream.next_event(), stream.next_event()
    web.screen.status("disk_full")
    event, data = stream.next_event()
    assert (event, data["error"]) == ("status", "disk_full")
    stream.close()


def test_an_idle_stream_sends_heartbeats(web):
    web.app.config["SSE_HEARTBEAT_S"] = 0.05
    stream = Stream(web.client.get("/events", buffered=False))
    stream.next_event(), stream.next_event()
    assert stream.next() == ": heartbeat\n\n"
    stream.close()


def test_streams_beyond_the_limit_get_503_until_one_closes(tmp_path, desk, signals):
    w = KioskWeb(tmp_path, desk, signals, max_subscribers=2)
    try:
        streams = [Stream(w.client.get("/events", buffered=False)) for _ in range(2)]
        refused = w.client.get("/events")
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "10"
        streams[0].close()
        third = w.client.get("/events", buffered=False)
        assert third.status_code == 200
        third.close()
        streams[1].close()
    finally:
        w.close()


def test_a_subscriber_that_does_not_read_is_dropped_and_never_slows_the_publisher():
    feed = LiveFeed(max_subscribers=2, queue_limit=8)
    stuck, reader = feed.subscribe(), feed.subscribe()
    started = time.perf_counter()
    for n in range(1000):
        feed.publish("outcome", {"n": n})
        assert reader.next(0).id == n + 1
    assert time.perf_counter() - started < 1.0
    assert feed.subscribers == 1
    with pytest.raises(EOFError):
        stuck.next(0)


def test_a_closed_feed_ends_its_streams_and_takes_no_new_ones(web):
    stream = Stream(web.client.get("/events", buffered=False))
    stream.next_event(), stream.next_event()
    web.feed.close()                              # the kiosk is stopping
    with pytest.raises(StopIteration):
        stream.next()
    refused = web.client.get("/events")
    assert refused.status_code == 503 and "stopping" in refused.get_data(as_text=True)


def test_the_simulated_page_shows_the_mock_devices_on_the_stream(sim, signals):
    stream = Stream(sim.client.get("/events", buffered=False))
    events = dict(stream.next_event() for _ in range(3))
    assert {k: events["signals"][k] for k in ("green", "red", "buzzer", "relay")} == \
        {"green": False, "red": False, "buzzer": False, "relay": False}
    stream.close()


# -- the simulator's upload -----------------------------------------------------------------------

def present(w, data: bytes, name: str = "code.png", token: str | None = "page"):
    headers = {"Accept": "application/json"}
    if token:
        headers["X-CSRFToken"] = w.csrf_token() if token == "page" else token
    return w.client.post("/sim/present", data={"image": (io.BytesIO(data), name)}, headers=headers,
                         content_type="multipart/form-data")


def test_an_uploaded_image_lands_whole_in_the_camera_folder(sim):
    data = png_bytes()
    r = present(sim, data, name="../../etc/passwd.png")
    assert r.status_code == 200 and r.json == {"ok": True, "message": "Đã đưa ảnh trước camera."}
    [landed] = list(sim.camera_dir.iterdir())
    assert landed.suffix == ".png" and landed.name.startswith("sim-") and landed.read_bytes() == data


def test_a_jpeg_keeps_its_kind(sim):
    buf = io.BytesIO()
    qr_image(CCCD_THU).convert("RGB").save(buf, format="JPEG")
    assert present(sim, buf.getvalue(), name="photo").status_code == 200
    assert [p.suffix for p in sim.camera_dir.iterdir()] == [".jpg"]


@pytest.mark.parametrize("data, name, status, message", [
    (b"Xin chao, this is text\n" * 10, "notes.png", 415, "Tệp này không phải ảnh"),
    (png_bytes()[:200], "cut.png", 415, "Tệp này không phải ảnh"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_UPLOAD_BYTES + 1), "big.png", 413, "Tệp quá lớn (tối đa 10 MB)"),
    (b"\0" * (MAX_UPLOAD_BYTES + 200_000), "bigger.png", 413, "Tệp quá lớn (tối đa 10 MB)"),
])
def test_what_is_not_a_usable_image_is_refused_with_a_clear_message(sim, data, name, status, message):
    r = present(sim, data, name=name)
    assert r.status_code == status and message in r.json["message"] and r.json["ok"] is False
    assert not sim.camera_dir.exists() or not any(sim.camera_dir.iterdir())


def test_an_upload_without_the_csrf_token_is_refused(sim):
    assert present(sim, png_bytes(), token=None).status_code == 400
    assert present(sim, png_bytes(), token="forged").status_code == 400
    assert not sim.camera_dir.exists() or not any(sim.camera_dir.iterdir())


def test_there_is_no_upload_and_no_simulator_panel_on_a_real_kiosk(web):
    assert present(web, png_bytes()).status_code == 404
    html = web.client.get("/").get_data(as_text=True)
    assert "sim.js" not in html and 'id="sim"' not in html


# -- who may see the screen -----------------------------------------------------------------------

def test_the_screen_is_only_for_the_kiosks_own_browser_by_default(web):
    for path in ("/", "/events"):
        r = web.client.get(path, environ_base=LAN)
        assert r.status_code == 403 and "chỉ mở trên chính máy kiosk" in r.get_data(as_text=True), path
    assert web.client.get("/", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    # The language switch is for staff pages on phones too.
    assert web.client.post("/lang", data={"language": "en"}, environ_base=LAN).status_code == 400


def test_the_simulators_upload_is_local_too(sim):
    token = sim.csrf_token()
    r = sim.client.post("/sim/present", data={"image": (io.BytesIO(png_bytes()), "a.png")},
                        headers={"X-CSRFToken": token}, environ_base=LAN)
    assert r.status_code == 403


def test_the_config_can_open_the_screen_to_the_lan(tmp_path, desk, signals):
    w = KioskWeb(tmp_path, desk, signals, extra_config="[web]\nscreen_from_lan = true\n")
    try:
        assert w.client.get("/", environ_base=LAN).status_code == 200
    finally:
        w.close()


# -- where it listens -----------------------------------------------------------------------------

@pytest.mark.parametrize("toml, pairs", [
    ('listen = "127.0.0.1:8080"', [("127.0.0.1", 8080)]),
    ('listen = ["127.0.0.1:8080", "127.0.0.2:8080"]', [("127.0.0.1", 8080), ("127.0.0.2", 8080)]),
    ('listen = ["localhost:0", "[::1]:9000", "127.0.0.1:80"]', [("localhost", 0), ("::1", 9000), ("127.0.0.1", 80)]),
    ('tls_listen = ["lan:8443", "0.0.0.0:443"]', [("lan", 8443), ("0.0.0.0", 443)]),
])
def test_listen_takes_a_string_or_a_list(toml, pairs):
    # Plain HTTP is for loopback only (field fix 13): the LAN and "every address" are HTTPS's.
    web = parse_config(f'[web]\n{toml}\ntls_cert = "web.pem"\ntls_key = "web.key"\n').web
    assert listen_addresses(web.tls_listen if toml.startswith("tls_") else web.listen) == pairs


def test_listen_defaults_to_loopback_only():
    web = parse_config("").web
    assert listen_addresses(web.listen) == [("127.0.0.1", 8080)] and web.tls_listen == []


@pytest.mark.parametrize("value", ['"8080"', '"kiosk.local:8080"', '["127.0.0.1:8080", "wan:80"]', '"::1:80"',
                                   '"127.0.0.1:65536"', "[]", '["lan:80", "lan:80"]', "8080"])
def test_bad_listen_values_are_config_errors_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"line 2: \[web\] listen"):
        parse_config(f"[web]\nlisten = {value}\n")


def test_unknown_web_keys_stay_errors():
    with pytest.raises(ConfigError, match=r"\[web\] screen_from_wan: unknown key "
                                          r"\(known: listen, tls_listen, tls_cert, tls_key, screen_from_lan"):
        parse_config("[web]\nscreen_from_wan = true\n")


ROUTES = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"


def test_lan_is_the_address_of_the_default_routes_interface(tmp_path):
    table = tmp_path / "route"
    table.write_text(ROUTES + "nosuch0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
                              "lo\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n")
    assert resolve_listen([("lan", 8080), ("localhost", 8081)], table) == [("127.0.0.1", 8080), ("127.0.0.1", 8081)]


def test_lan_is_left_out_with_a_warning_when_there_is_no_default_route(tmp_path, caplog):
    table = tmp_path / "route"
    table.write_text(ROUTES + "eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
    with caplog.at_level(logging.WARNING):
        assert resolve_listen([("127.0.0.1", 8080), ("lan", 8080)], table) == [("127.0.0.1", 8080)]
    assert "no LAN address" in caplog.text


# -- the real server ------------------------------------------------------------------------------

def test_waitress_sends_each_event_at_once_and_stops_cleanly(web):
    server = WebServer(web.app, [("127.0.0.1", 0), ("127.0.0.1", 0)], feed=web.feed)
    [(host, port), (_, port2)] = server.start()
    try:
        assert port and port2 and port != port2 and server.url == f"http://127.0.0.1:{port}/"
        page = http.client.HTTPConnection(host, port2, timeout=5)
        page.request("GET", "/")
        assert page.getresponse().status == 200
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("GET", "/events")
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Server") is None
        received = []
        reader = threading.Thread(target=lambda: received.extend(iter(response.readline, b"")), daemon=True)
        reader.start()
        wait_for(lambda: any(b"event: occupancy" in line for line in received), 3, "the occupancy message", 0.005)
        published = time.monotonic()
        web.present(CCCD_MAU)
        wait_for(lambda: any(line.startswith(b"event: outcome") for line in received), 3, "the outcome message",
                 0.005)
        assert time.monotonic() - published < 0.3
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 3.0
    reader.join(3)
    assert not reader.is_alive()          # the stream ended with the server
    with pytest.raises(OSError):
        http.client.HTTPConnection(host, port, timeout=1).request("GET", "/")


def test_an_address_that_cannot_be_bound_costs_only_itself(web, caplog):
    taken = WebServer(web.app, [("127.0.0.1", 0)])
    [(_, port)] = taken.start()
    server = WebServer(web.app, [("127.0.0.1", port), ("127.0.0.1", 0)])
    try:
        with caplog.at_level(logging.ERROR):
            bound = server.start()
        assert len(bound) == 1 and bound[0][1] != port and f"cannot listen on 127.0.0.1:{port}" in caplog.text
    finally:
        server.stop()
        taken.stop()
    with pytest.raises(OSError, match="could not listen"):
        WebServer(web.app, [("192.0.2.1", 0)]).start()      # TEST-NET: not an address of this machine


def test_a_real_png_image_is_what_the_camera_reads(sim):
    """The uploaded file is one the image-folder camera decodes (not only one Pillow opens)."""
    from hardware.camera_folder import load_frames
    from hardware.decoders import open_decoder
    present(sim, png_bytes(CCCD_MAU))
    [landed] = list(sim.camera_dir.iterdir())
    [symbol] = open_decoder("zxing").decode(load_frames(landed, 640, 480)[0])
    assert symbol.text == CCCD_MAU
    assert Image.open(landed).format == "PNG"


# -- the health declaration's answers (issue 13) ------------------------------------------------------

@pytest.fixture
def declaring(tmp_path, desk, signals):
    """A screen whose scan loop asks the Ministry's questions (the venue requires a declaration)."""
    from kiosk.door.declaring import PendingDeclaration
    from kiosk.health.declarations import HealthPolicy
    from kiosk.health.questions import default_questions

    desk.health = HealthPolicy(default_questions(), required=True)
    w = KioskWeb(tmp_path, desk, signals)
    w.loop.declaring = w.ctx.declaring = PendingDeclaration(desk.health.questions, ttl_s=300)
    yield w
    w.close()


def post_answers(w, body, *, token="page", **kw):
    headers = {"X-CSRFToken": w.csrf_token() if token == "page" else token, "Accept": "application/json"}
    return w.client.post("/declaration", json=body, headers=headers, **kw)


def all_no(value=False):
    from kiosk.health.questions import default_questions
    return dict.fromkeys(default_questions().ids, value)


def test_the_screens_answers_check_the_visitor_in_at_the_loops_next_step(declaring):
    asked = declaring.present(CCCD_THU)
    assert asked.kind == "declare" and asked.pending
    assert post_answers(declaring, {"token": asked.pending, "answers": all_no()}).status_code == 202
    assert post_answers(declaring, {"token": asked.pending, "answers": all_no()}).status_code == 410   # once
    [outcome] = declaring.loop.step()
    assert outcome.kind == "check_in"
    [event] = kiosk_db.events(declaring.loop.desk.store)
    assert event["declaration"]["answers"] == all_no() and event["declaration"]["via"] == "screen"


@pytest.mark.parametrize("body, status", [
    ({"token": "stale", "answers": all_no()}, 410),
    ({"answers": all_no()}, 410),
    ({"token": "x", "answers": {"fever": False}}, 400),             # not every question
    ({"token": "x", "answers": {**all_no(), "fever": "maybe"}}, 400),
    ({"token": "x", "answers": "no"}, 400),
    ([1, 2], 400),
])
def test_answers_that_do_not_fit_are_refused_with_a_reason(declaring, body, status):
    declaring.present(CCCD_THU)
    r = post_answers(declaring, body)
    assert r.status_code == status and r.get_json()["error"] == "declare_expired"
    assert declaring.loop.step() == [] and kiosk_db.events(declaring.loop.desk.store) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                  max_size=10), max_leaves=30))
def test_any_body_is_answered_never_a_500(declaring, body):
    assert post_answers(declaring, body).status_code in (202, 400, 410)


def test_the_answers_need_the_csrf_token_the_kiosk_itself_and_a_venue_that_asks(declaring, web):
    asked = declaring.present(CCCD_THU)
    assert post_answers(declaring, {"token": asked.pending, "answers": all_no()}, token="forged").status_code == 400
    assert post_answers(declaring, {"token": asked.pending, "answers": all_no()},
                        environ_base=LAN).status_code == 403
    assert post_answers(web, {"token": asked.pending, "answers": all_no()}).status_code == 404
    assert declaring.loop.step() == []
