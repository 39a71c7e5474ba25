"""The staff pages in a real browser (Debian's Chromium) on a real simulated kiosk: log in with a
one-time PIN, check a household of three in by phone number, see them inside, check them out."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from kiosk.staff.people import parse_declaration

from browser import screenshot
from uplink_support import wait_until
from web_support import running_kiosk as kiosk  # noqa: F401 - fixture

PHONE = "0912345678"
HOUSEHOLD = ("Trần Thị Bà", "Lê Văn Cha", "Lê Thị Con")


def register_household(kiosk):
    """Declared on an earlier day: three people without phones under one relative's number."""
    people = kiosk.staff.desk.people
    for name in HOUSEHOLD:
        people.register(parse_declaration({"name": name, "phone": PHONE}), staff_id=None)


def log_in(page, kiosk, name="Lan"):
    pin = kiosk.staff.accounts.add(name)
    page.goto(kiosk.web.url + "staff/")
    expect(page).to_have_url(re.compile(r"/staff/login$"))
    page.fill("#name", name)
    page.fill("#pin", pin)
    screenshot(page, f"staff-login-{page.viewport_size['width']}")
    page.click("#login")
    expect(page).to_have_url(re.compile(r"/staff/pin$"))          # the one-time PIN must be replaced
    page.fill("#new-pin", "480215")
    page.fill("#new-pin-again", "480215")
    page.click("#save-pin")
    expect(page).to_have_url(re.compile(r"/staff/$"))


def test_staff_check_a_household_in_by_phone_see_them_inside_and_check_them_out(page, kiosk):
    register_household(kiosk)
    log_in(page, kiosk)

    page.fill("#phone", "+84 912 345 678")
    page.click("#find")
    expect(page.locator("h2")).to_have_text("Người đăng ký với số 0912***678")
    expect(page.locator(".people li")).to_have_count(3)
    for box in page.locator('input[name="person"]').all():
        box.check()
    screenshot(page, "staff-household")
    page.click("#check-in")
    results = page.locator(".results li.ok")
    expect(results).to_have_count(3)
    for name in HOUSEHOLD:
        expect(page.locator(".results")).to_contain_text(f"Xin chào {name}")
    expect(page.locator(".state.in")).to_have_count(3)
    screenshot(page, "staff-checked-in")

    page.click("text=Đang ở trong")
    expect(page.locator("h1")).to_have_text("Đang ở trong (3)")
    names = page.locator(".people .name").all_inner_texts()
    assert sorted(names) == sorted(["Trần T. B.", "Lê V. C.", "Lê T. C."])      # masked here
    screenshot(page, "staff-inside")
    for box in page.locator('input[name="visit"]').all():
        box.check()
    page.click("#check-out-chosen")
    expect(page.locator(".results li.ok")).to_have_text("Đã cho ra 3 người.")
    expect(page.locator("h1")).to_have_text("Đang ở trong (0)")

    page.click("text=Hôm nay")
    expect(page.locator("h2").first).to_have_text("Lượt vào theo giờ: 3")
    screenshot(page, "staff-today")

    events = kiosk.store.events()
    assert [e["type"] for e in events] == ["check_in"] * 3 + ["check_out"] * 3
    assert len({e["staff_id"] for e in events}) == 1 and events[0]["staff_id"].startswith("s-")
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/staff/login$"))
    page.goto(kiosk.web.url + "staff/inside")
    expect(page).to_have_url(re.compile(r"/staff/login"))           # logged out means logged out
    assert page.errors == []


def test_staff_pages_work_on_a_360_px_phone_and_declare_someone(browser, kiosk):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN", is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    errors = []
    # Script errors only: a refused form answers 400 by design, which Chromium also logs.
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, kiosk, name="Minh")
        page.click("text=Khai hộ")
        page.fill("#d-name", "Nguyễn Văn Khách")
        page.fill("#d-phone", "0987 654 321")
        page.fill("#d-birth", "1948")
        page.check('input[name="sex"][value="male"]')
        page.fill("#d-id", "07904800000")                        # 11 digits: refused, form kept
        page.click("#declare")
        expect(page.locator(".error")).to_contain_text("12 chữ số")
        expect(page.locator("#d-name")).to_have_value("Nguyễn Văn Khách")
        page.fill("#d-id", "079048000001")
        page.click("#declare")
        expect(page.locator(".results li.ok")).to_contain_text("Xin chào Nguyễn Văn Khách")
        screenshot(page, "staff-declared-360")
        page.click("#print-card")
        expect(page.locator(".results li.ok")).to_contain_text("Nguyễn V. K.")
        # Nothing overflows sideways on a 360-px phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        # The simulated kiosk's file printer prints at once: the check-in's slip, then the card.
        wait_until(lambda: kiosk.staff.desk.prints.counts() == {"printed": 2}, timeout=10)
        assert kiosk.store.db.execute("SELECT kind FROM print_jobs ORDER BY id").fetchall() == [("slip",), ("card",)]
        assert errors == []
    finally:
        context.close()
