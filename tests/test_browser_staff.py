"""The staff pages in a real browser (Debian's Chromium) on a real simulated kiosk: log in with a
one-time PIN, check a household of three in by phone number, see them inside, check them out."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from playwright.sync_api import expect

import kiosk_db
from browser import ARTIFACTS, screenshot
from codes import CCCD_MAU, write_qr
from kiosk.staff.people import parse_declaration
from waiting import wait_for
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
        expect(page.locator(".results")).to_contain_text(f"Đã cho {name} vào lúc")
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
    expect(page.locator("#today-check-ins")).to_have_text("Lượt vào hôm nay: 3")
    screenshot(page, "staff-today")

    events = kiosk_db.events(kiosk.store)
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
        expect(page.locator(".results li.ok")).to_contain_text("Đã cho Nguyễn Văn Khách vào lúc")
        screenshot(page, "staff-declared-360")
        page.click("#print-card")
        expect(page.locator(".results li.ok")).to_contain_text("Nguyễn V. K.")
        # Nothing overflows sideways on a 360-px phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        # The simulated kiosk's file printer prints at once: the check-in's slip, then the card.
        wait_for(lambda: kiosk.staff.desk.prints.counts() == {"printed": 2}, timeout=10)
        assert kiosk.store.db.execute("SELECT kind FROM print_jobs ORDER BY id").fetchall() == [("slip",), ("card",)]
        assert errors == []
    finally:
        context.close()


# -- Field fixes 16 and 17 ----------------------------------------------------------------------

def test_select_all_nobody_ticked_and_a_mistake_stay_on_the_staff_page(browser, kiosk):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True,
                                  has_touch=True)
    page, door = context.new_page(), context.new_page()
    errors = []
    for p in (page, door):      # script errors only: "nobody ticked" answers 400 by design
        p.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        register_household(kiosk)
        # The door screen, open beside the staff page: it records every sentence it shows.
        door.goto(kiosk.web.url)
        expect(door.locator("body")).to_have_attribute("data-stream", "open")
        door.evaluate("""window.shown = [];
            new MutationObserver(() => window.shown.push(document.getElementById('result-text').textContent))
              .observe(document.getElementById('result-text'), {childList: true, subtree: true});""")

        log_in(page, kiosk)
        page.fill("#phone", PHONE)
        page.click("#find")
        page.click("#check-in")                              # nobody ticked
        expect(page.locator(".error")).to_have_text("Chưa chọn ai: hãy đánh dấu người cần chọn rồi bấm lại.")
        assert kiosk_db.events(kiosk.store) == []
        page.click("#check-out")                             # a staff mistake: nobody is inside
        page.locator('input[name="person"]').first.check()
        page.click("#check-out")
        expect(page.locator(".results li.note")).to_have_text(
            f"{HOUSEHOLD[0]} không ở trong: không có lượt vào nào để cho ra.")
        screenshot(page, "staff-mistake-390")

        page.check("#select-all")
        expect(page.locator('input[name="person"]:checked')).to_have_count(3)
        page.click("#check-in")
        expect(page.locator(".results li.ok")).to_have_count(3)
        page.locator('input[name="person"]').first.check()   # the household again: one was ticked
        expect(page.locator("#select-all")).to_have_js_property("indeterminate", True)
        page.check("#select-all")
        page.click("#check-in")
        expect(page.locator(".results li.note")).to_have_count(3)
        for name in HOUSEHOLD:
            pattern = re.compile(rf"{name} đang ở trong rồi \(vào lúc \d\d:\d\d\)")
            expect(page.locator(".results")).to_contain_text(pattern)
        screenshot(page, "staff-already-inside-390")
        assert [e["type"] for e in kiosk_db.events(kiosk.store)] == ["check_in"] * 3

        # Then a visitor at the camera: the first and only thing the door screen showed.
        write_qr(Path(kiosk.config.camera.source.removeprefix("dir:")) / "mau.png", CCCD_MAU)
        # A deadline (camera folder -> decode -> stream -> page on a loaded 2-core machine), not a wait.
        expect(door.locator("#result-text")).to_have_text(re.compile(r"^Xin chào Nguyễn T\. M\."), timeout=10_000)
        assert {text for text in door.evaluate("window.shown") if text} == {door.locator("#result-text").inner_text()}
        assert errors == []
    finally:
        context.close()


def test_the_today_page_reads_well_on_a_phone(browser, kiosk):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        register_household(kiosk)
        staff = kiosk.staff.accounts
        log_in(page, kiosk)
        lan = staff.login("Lan", "480215").staff
        members = [m.person.person_id for m in kiosk.staff.desk.household(PHONE)]
        kiosk.staff.desk.check_in(lan, PHONE, members)
        kiosk.staff.desk.check_out(lan, PHONE, members[:1])
        page.click("text=Hôm nay")
        expect(page.locator("h1")).to_have_text(re.compile(r"^Hôm nay \(\d\d/\d\d/\d{4}\)$"))
        expect(page.locator("#today-check-ins")).to_have_text("Lượt vào hôm nay: 3")
        expect(page.locator("#today-check-outs")).to_have_text("Lượt ra hôm nay: 1")
        expect(page.locator("#today-inside")).to_have_text("Đang ở trong: 2")
        expect(page.locator("#today-delivery")).to_have_text("Lượt khách hôm nay đã gửi đủ về trung tâm: 0/3")
        expect(page.locator("#today-waiting")).to_contain_text("Đang chờ gửi: 4 lượt vào/ra")
        screenshot(page, "staff-today-390")
        page.screenshot(path=str(ARTIFACTS / "staff-today-390-full.png"), full_page=True)
        # The chart's figures and hour labels: legible (≥ 12 CSS px), inside the screen, not overlapping.
        labels = page.locator("#chart .label:not(:empty), #chart .n:not(:empty)")
        assert labels.count() >= 7
        for i in range(labels.count()):
            label = labels.nth(i)
            size = float(label.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))
            box = label.bounding_box()
            assert size >= 12 and box["height"] >= 12 and 0 <= box["x"] and box["x"] + box["width"] <= 390, i
        hours = [page.locator("#chart .label:not(:empty)").nth(i).bounding_box()
                 for i in range(page.locator("#chart .label:not(:empty)").count())]
        assert all(a["x"] + a["width"] < b["x"] for a, b in itertools.pairwise(hours))
        busy = page.locator("#chart .hour.busy rect")
        assert busy.count() == 1 and float(busy.get_attribute("height")) == 100
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert errors == []
    finally:
        context.close()


def test_on_the_kiosk_screen_guessing_waits_the_owner_opens_a_lockout_and_the_one_time_pin_cannot_be_kept(page,
                                                                                                           kiosk):
    """Issue 10, items 11 and 12, in Chromium on the kiosk's own screen (loopback)."""
    accounts = kiosk.staff.accounts
    pin = accounts.add("Hoa")
    for i in range(5):                                   # locked by wrong PINs from five LAN devices
        accounts.login("Hoa", "000000", client=f"192.168.1.{100 + i}")
    assert [a["locked"] for a in accounts.list()] == [True]

    page.goto(kiosk.web.url + "staff/login")
    error = page.locator(".error")
    # Guessing on the screen: a few wrong answers, then "try again in N s" at once (the wait
    # doubles with each further try, so it is soon longer than the time between two tries).
    for attempt in itertools.count(1):
        page.fill("#name", "Ai Đó")
        page.fill("#pin", "000000")
        page.click("#login")
        expect(error).to_contain_text(re.compile("không đúng|Thử lại sau"))
        if "Thử lại sau" in error.inner_text():
            break
        assert attempt < 10
    assert attempt >= 4                                  # three are always let through
    screenshot(page, "staff-login-throttled")
    wait_for(lambda: accounts.throttle.wait("loopback") == 0, timeout=120)

    # The owner logs in on the kiosk's own screen with the right PIN: the lockout ends.
    page.fill("#name", "Hoa")
    page.fill("#pin", pin)
    page.click("#login")
    expect(page).to_have_url(re.compile(r"/staff/pin$"))
    assert [a["locked"] for a in accounts.list()] == [False]

    # The one-time PIN, typed twice, is refused; the staff pages stay closed until a new one is chosen.
    page.fill("#new-pin", pin)
    page.fill("#new-pin-again", pin)
    page.click("#save-pin")
    expect(error).to_contain_text("không giữ lại mã dùng một lần")
    expect(page).to_have_url(re.compile(r"/staff/pin$"))
    screenshot(page, "staff-pin-kept-refused")
    page.goto(kiosk.web.url + "staff/inside")
    expect(page).to_have_url(re.compile(r"/staff/pin$"))
    page.fill("#new-pin", "480215")
    page.fill("#new-pin-again", "480215")
    page.click("#save-pin")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto(kiosk.web.url + "staff/inside")
    expect(page).to_have_url(re.compile(r"/staff/inside$"))
    # Only the refused forms' own 4xx answers reach the console: no script error, no CSP violation.
    assert [e for e in page.errors if "status of 4" not in e] == []
