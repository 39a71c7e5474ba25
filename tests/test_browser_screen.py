"""The visitor screen in a real browser (Debian's Chromium), on a real simulated kiosk.

The kiosk runs in-process exactly as ``kiosk run --simulate`` assembles it (its broker is not
there: the uplink just retries). Codes reach it through the image-folder camera, or through the
page's own upload. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser import screenshot
from codes import CCCD_MAU, CCCD_THU, write_qr
from kiosk.door.checkin import CheckinDesk
from kiosk.samples import SAMPLES
from kiosk.web.server import WebServer
from web_support import KioskWeb
from web_support import running_kiosk as kiosk  # noqa: F401 - fixture

GREETING = re.compile(r"^Xin chào Nguyễn T\. M\. — đã vào lúc \d\d:\d\d$")
GOODBYE = re.compile(r"^Tạm biệt Nguyễn T\. M\. — đã ra lúc \d\d:\d\d$")
#: A deadline, not a wait: a code from the camera folder (or the page's upload), decoded, recorded
#: and sent down the stream to the page, on a loaded 2-core machine. Its speed is measured in
#: bench/ (and by the first test), not here.
SHOWN_MS = 10_000


def camera(kiosk) -> Path:
    """The image-folder camera's folder: a file put there is held up to the camera."""
    return Path(kiosk.config.camera.source.removeprefix("dir:"))


def open_screen(page, kiosk):
    page.goto(kiosk.web.url)
    expect(page.locator("body")).to_have_attribute("data-stream", "open")


def test_a_visitor_is_greeted_then_said_goodbye_with_the_masked_name(page, kiosk):
    open_screen(page, kiosk)
    expect(page.locator(".idle-text")).to_have_text(re.compile("^Đưa mã QR trên CCCD"))
    expect(page.locator("#occupancy")).to_have_text("Đang có 0/50 người")
    screenshot(page, "screen-idle")

    # How fast is the bench's to say (bench screen: presentation -> event, p50/p99 against raw,
    # the 300 ms target); here only that it is shown, within a deadline a loaded CI machine keeps.
    write_qr(camera(kiosk) / "mau.png", CCCD_MAU)
    expect(page.locator("#result-text")).to_have_text(GREETING, timeout=SHOWN_MS)
    expect(page.locator("body")).to_have_class(re.compile(r"\bis-check_in\b"))
    expect(page.locator("#occupancy")).to_have_text("Đang có 1/50 người")
    # The page measures from the kiosk publishing to showing it (the bench reads this figure).
    assert int(page.locator("body").get_attribute("data-latency-ms")) >= 0
    # The mock lights and the door relay, as the simulated screen shows them.
    expect(page.locator('.device[data-device="green"]')).to_have_class(re.compile(r"\bis-on\b"))
    expect(page.locator('.device[data-device="relay"]')).to_have_class(re.compile(r"\bis-on\b"))
    screenshot(page, "screen-greeting")
    html = page.content()
    assert "Nguyễn Thị Mẫu" not in html and "079190000001" not in html

    time.sleep(1.4)      # the cooldown (1 s) after the last frame of the first presentation
    write_qr(camera(kiosk) / "mau-again.png", CCCD_MAU)
    expect(page.locator("#result-text")).to_have_text(GOODBYE, timeout=SHOWN_MS)
    expect(page.locator("body")).to_have_class(re.compile(r"\bis-check_out\b"))
    expect(page.locator("#occupancy")).to_have_text("Đang có 0/50 người")
    screenshot(page, "screen-goodbye")

    # Then the idle screen is back.
    expect(page.locator(".idle-text")).to_be_visible(timeout=3000)
    assert page.errors == []


def test_a_refusal_is_red_with_the_reason_in_plain_words(page, kiosk):
    kiosk.web.app.config["SCREEN_RESULT_S"] = 600.0      # the refusal stays up while it is looked at
    open_screen(page, kiosk)
    write_qr(camera(kiosk) / "pay.png", SAMPLES["refused-payment-qr"])
    expect(page.locator("#result-text")).to_have_text("Mã này là mã thanh toán, không phải giấy tờ tùy thân.",
                                                      timeout=SHOWN_MS)
    expect(page.locator("body")).to_have_class(re.compile(r"\bis-refused\b"))
    expect(page.locator('.device[data-device="red"]')).to_have_class(re.compile(r"\bis-on\b"))
    screenshot(page, "screen-refused")
    assert page.errors == []


def test_an_image_uploaded_through_the_page_is_shown_to_the_camera(page, kiosk, tmp_path):
    open_screen(page, kiosk)
    image = write_qr(tmp_path / "thu.png", CCCD_THU)
    page.set_input_files("#sim-file", str(image))
    expect(page.locator("#sim-result")).to_have_text("Đã đưa ảnh trước camera.")
    expect(page.locator("#result-text")).to_have_text(re.compile(r"^Xin chào Trần V\. T\. — đã vào lúc"),
                                                      timeout=SHOWN_MS)

    page.set_input_files("#sim-file", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image"}])
    expect(page.locator("#sim-result")).to_have_text("Tệp này không phải ảnh (PNG, JPEG, …).")
    expect(page.locator("#sim-result")).to_have_class(re.compile(r"\bis-bad\b"))
    # The browser reports the refusal's 415 on its console; nothing else went wrong.
    assert [e for e in page.errors if "415" not in e] == []


def test_the_switch_turns_the_screen_english_and_back(page, kiosk):
    open_screen(page, kiosk)
    page.get_by_role("button", name="English").click()
    expect(page.locator(".idle-text")).to_have_text(re.compile("^Hold the QR code"))
    expect(page.locator("#occupancy")).to_have_text("0 of 50 inside")
    expect(page.locator("body")).to_have_attribute("data-stream", "open")
    write_qr(camera(kiosk) / "mau.png", CCCD_MAU)
    expect(page.locator("#result-text")).to_have_text(re.compile(r"^Welcome Nguyễn T\. M\. — checked in at"),
                                                      timeout=SHOWN_MS)
    screenshot(page, "screen-greeting-en")
    page.get_by_role("button", name="Tiếng Việt").click()
    expect(page.locator(".idle-text")).to_have_text(re.compile("^Đưa mã QR"))
    assert page.errors == []


@pytest.mark.parametrize("width, height, name", [(800, 480, "7inch"), (360, 740, "phone"), (1920, 1080, "1080p")])
def test_the_screen_fits_small_and_large_displays(page, kiosk, width, height, name):
    # The outcome stays up while it is measured: with the fixture's 1.5 s the idle screen (which
    # hides it) could come back during a slow screenshot, and the boxes below would be none.
    kiosk.web.app.config["SCREEN_RESULT_S"] = 600.0
    page.set_viewport_size({"width": width, "height": height})
    open_screen(page, kiosk)
    screenshot(page, f"screen-idle-{name}")
    write_qr(camera(kiosk) / "mau.png", CCCD_MAU)
    expect(page.locator("#result-text")).to_have_text(GREETING, timeout=SHOWN_MS)
    expect(page.locator("body")).to_have_class(re.compile(r"\bis-check_in\b"))
    screenshot(page, f"screen-greeting-{name}")
    # Nothing of the outcome is cut off or pushed off screen.
    for selector in ("#result-text", ".venue", "#occupancy"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, selector
    text = page.locator("#result-text").bounding_box()
    assert text["y"] + text["height"] <= height if name != "phone" else True
    assert page.errors == []


@pytest.fixture
def display(tmp_path, store, clock, signals):
    """The screen of a kiosk on real hardware (no simulator's panel) at a venue for 1 person, on waitress."""
    desk = CheckinDesk(store, clock, kiosk_id="test-kiosk-01", venue_id="cho-thu", capacity=1)
    web = KioskWeb(tmp_path, desk, signals, extra_config="[rules]\ncapacity = 1\n")
    server = WebServer(web.app, [("127.0.0.1", 0)], feed=web.feed)
    server.start()
    yield web, server.url
    server.stop()
    web.close()


@pytest.mark.parametrize("width, height, name", [(800, 480, "7inch"), (1920, 1080, "1080p")])
def test_the_kiosks_own_display_in_and_full(page, display, width, height, name):
    web, url = display
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-stream", "open")
    assert page.locator("#sim").count() == 0
    # The broker is offline but nothing waits to be sent: no "0 waiting".
    expect(page.locator(".mark-warn").first).to_have_text("Chưa kết nối máy chủ")
    screenshot(page, f"display-idle-{name}")
    web.present(CCCD_MAU)
    expect(page.locator("#result-text")).to_have_text("Xin chào Nguyễn T. M. — đã vào lúc 21:13", timeout=SHOWN_MS)
    expect(page.locator("#occupancy")).to_have_text("Đang có 1/1 người")
    screenshot(page, f"display-greeting-{name}")
    web.present(CCCD_THU)
    expect(page.locator("#result-text")).to_have_text("Địa điểm đã đủ người. Vui lòng chờ.", timeout=SHOWN_MS)
    expect(page.locator("body")).to_have_class(re.compile(r"\bis-refused\b"))
    screenshot(page, f"display-full-{name}")
    for selector in ("#result-text", ".venue", "#occupancy", ".lang button"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, selector
    assert page.errors == []


# -- Field fix 15: the shared screen goes back to the venue's language by itself -------------------

def test_a_visitors_language_lasts_only_a_while_after_their_last_result(page, kiosk):
    """The page's own clock (Playwright's fake timers) stands in for the wait: the venue's language
    is back within 30 s of the last result, and not before the kiosk's SCREEN_LANGUAGE_S."""
    limit_s = 30
    wait_s = kiosk.web.app.config.get("SCREEN_LANGUAGE_S", limit_s)
    assert 0 < wait_s <= limit_s
    page.clock.install()
    open_screen(page, kiosk)
    page.get_by_role("button", name="English").click()
    expect(page.locator(".idle-text")).to_have_text(re.compile("^Hold the QR code"))
    expect(page.locator("body")).to_have_attribute("data-stream", "open")
    page.clock.run_for(int((wait_s - 5) * 1000))        # a visitor finds their card...
    write_qr(camera(kiosk) / "mau.png", CCCD_MAU)
    expect(page.locator("#result-text")).to_have_text(re.compile(r"^Welcome Nguyễn T\. M\. — checked in at"),
                                                      timeout=SHOWN_MS)
    # The page has not moved: this document, and no navigation begun (the Navigation API's event
    # comes at once, inside the timer that would have fired).
    page.evaluate("window.stillHere = true; navigation.addEventListener('navigate', () => { window.left = true; })")
    page.clock.run_for(int((wait_s - 1) * 1000))        # ... and is still answered in English
    assert page.evaluate("window.stillHere === true && window.left === undefined")
    expect(page.locator(".idle-text")).to_have_text(re.compile("^Hold the QR code"))
    page.clock.run_for(int((limit_s - wait_s + 1) * 1000))   # the last result was 30 s ago
    expect(page.locator(".idle-text")).to_have_text(re.compile("^Đưa mã QR"))
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    assert "lang=" not in page.url
    # Nothing in the browser keeps the visitor's language: a new page is Vietnamese too.
    assert [c["name"] for c in page.context.cookies() if c["name"] == "lang"] == []
    page.goto(kiosk.web.url)
    expect(page.locator(".idle-text")).to_have_text(re.compile("^Đưa mã QR"))
    screenshot(page, "screen-language-back-to-vi")
    assert page.errors == []
