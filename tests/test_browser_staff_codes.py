"""A staff member's phone check-in on a 360×740 phone, in Vietnamese, in a real browser (Debian's
Chromium) on a real simulated kiosk (issue 13): the household answers the health declaration's
questions, a one-time code is texted (the contract's file SMS), the code read out checks them in
as verified; the next time, without the code, with a reason. axe-core finds no serious violation
on the page at each step."""

from __future__ import annotations

import re

from playwright.sync_api import expect

import kiosk_db
from browser import opened_page, screenshot, serious_violations
from kiosk.health.questions import default_questions
from kiosk.staff.people import parse_declaration
from test_browser_staff import log_in
from test_web_staff_codes import texts
from web_support import kiosk_running

PHONE = "0912345678"
HOUSEHOLD = ("Trần Thị Bà", "Lê Thị Con")
QUESTIONS = default_questions()


def test_a_household_declared_then_checked_in_by_the_code_texted_on_a_360_px_phone(browser, tmp_path):
    sms = tmp_path / "sms"
    extra = f'\n[sms]\nkind = "file"\npath = "{sms}"\n[declaration]\nrequired = true\n'
    # Script errors only: a refused form answers 400 by design, which Chromium also logs.
    with opened_page(browser, 360, 740, console_errors=False, is_mobile=True, has_touch=True) as page, \
            kiosk_running(tmp_path, extra) as kiosk:
        for name in HOUSEHOLD:
            kiosk.staff.desk.people.register(parse_declaration({"name": name, "phone": PHONE}), staff_id=None)
        log_in(page, kiosk)
        page.fill("#phone", PHONE)
        page.click("#find")
        expect(page.locator(".state.undeclared")).to_have_count(2)
        page.locator("#select-all").check()
        page.click("#check-in")

        # The health declaration first, each member answering.
        expect(page.locator("fieldset.declaration")).to_have_count(2)
        assert serious_violations(page) == []
        screenshot(page, "staff-health-360")
        for fieldset in page.locator("fieldset.declaration").all():
            for question in fieldset.locator(".question").all():
                question.get_by_label("Không").check()
        page.click("#health-save")

        # Then the code, texted to the household's phone.
        expect(page.locator("#code-message")).to_have_text(
            "Đã gửi mã 6 số đến 0912***678. Mời khách đọc mã rồi nhập vào đây.")
        expect(page.locator(".results li.ok")).to_have_count(2)        # both declarations saved
        assert serious_violations(page) == []
        screenshot(page, "staff-code-360")
        [(number, code)] = texts(sms)
        assert number == PHONE
        page.fill("#otp", code)
        page.click("#confirm")
        for name in HOUSEHOLD:
            expect(page.locator(".results")).to_contain_text(f"Đã cho {name} vào lúc")
        expect(page.locator(".results")).to_contain_text("Đã xác minh số điện thoại bằng mã.")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(page, "staff-code-verified-360")

        # Out, and in again the same day: no questions; this time the phone is not with them.
        page.locator("#select-all").check()
        page.click("#check-out")
        expect(page.locator(".state.out")).to_have_count(2)
        page.locator("#select-all").check()
        page.click("#check-in")
        expect(page.locator("#code-message")).to_be_visible()
        assert page.locator("fieldset.declaration").count() == 0
        page.locator("#without summary").click()
        page.get_by_label(re.compile("điện thoại không có sóng|không mang theo điện thoại", re.I)).first.check()
        assert serious_violations(page) == []
        page.click("#unverified")
        expect(page.locator(".results")).to_contain_text(f"Đã cho {HOUSEHOLD[0]} vào lúc")
        screenshot(page, "staff-code-unverified-360")

        ins = [e for e in kiosk_db.events(kiosk.store) if e["type"] == "check_in"]
        assert [e["phone_check"] for e in ins] == [{"verified": True, "reason": None}] * 2 + [
            {"verified": False, "reason": "no_phone_signal"}] * 2
        assert all(e["declaration"]["via"] == "staff" and not e["declaration"]["flagged"] for e in ins)
        assert page.errors == []
