"""The health declaration's questions on the kiosk's own screen (issue 13), in a real browser
(Debian's Chromium) at the 7-inch display's 800×480, in Vietnamese, on a real simulated kiosk whose
venue requires a declaration: one question at a time, two large buttons, usable without help;
asked once a day; a "yes" sends the visitor to the medical desk; left unanswered, back to waiting.
axe-core finds no serious violation on the questions."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

import kiosk_db
from browser import opened_page, screenshot, serious_violations
from codes import CCCD_MAU, CCCD_THU, write_qr
from kiosk.health.questions import default_questions
from test_browser_screen import SHOWN_MS, camera, open_screen
from web_support import kiosk_running

QUESTIONS = default_questions()
GREETING = re.compile(r"^Xin chào Nguyễn T\. M\. — đã vào lúc \d\d:\d\d$")


@pytest.fixture
def screen(browser):
    """The kiosk's display: 800×480, Vietnamese, a touch screen."""
    with opened_page(browser, 800, 480, has_touch=True) as page:
        yield page


def answer_all(page, yes=()):
    for n, question in enumerate(QUESTIONS, 1):
        expect(page.locator("#declare-progress")).to_have_text(f"Câu {n}/{len(QUESTIONS)}")
        expect(page.locator("#declare-question")).to_have_text(question.vi)
        page.locator("#answer-yes" if question.id in yes else "#answer-no").tap()


def test_a_visitor_answers_on_the_screen_once_a_day_and_a_yes_goes_to_the_medical_desk(screen, tmp_path):
    with kiosk_running(tmp_path, "\n[declaration]\nrequired = true\non_yes = \"refuse\"\n") as kiosk:
        open_screen(screen, kiosk)
        write_qr(camera(kiosk) / "mau.png", CCCD_MAU)
        expect(screen.locator("body")).to_have_attribute("data-declare", "asking", timeout=SHOWN_MS)
        expect(screen.locator("#declare-title")).to_have_text("Khai báo y tế")
        expect(screen.locator("#declare-question")).to_have_text(QUESTIONS[0].vi)
        yes, no = screen.locator("#answer-yes"), screen.locator("#answer-no")
        expect(yes).to_have_text("Có")
        expect(no).to_have_text("Không")
        # Two large buttons, side by side, on the display as it is, nothing to scroll.
        for button in (yes, no):
            box = button.bounding_box()
            assert box["height"] >= 88 and box["width"] >= 240 and box["y"] + box["height"] <= 480
        assert serious_violations(screen) == []
        screenshot(screen, "screen-declare-800x480")
        assert kiosk_db.events(kiosk.store) == []                  # nothing recorded before the answers

        answer_all(screen)
        expect(screen.locator("#result-text")).to_have_text(GREETING, timeout=SHOWN_MS)
        [event] = kiosk_db.events(kiosk.store)
        assert event["declaration"]["via"] == "screen" and not any(event["declaration"]["answers"].values())
        screenshot(screen, "screen-declare-greeting")

        # Out, and back the same day: no questions.
        for expected in (r"^Tạm biệt", r"^Xin chào"):
            expect(screen.locator("body")).to_have_class(re.compile(r"\bis-idle\b"), timeout=SHOWN_MS)
            write_qr(camera(kiosk) / "mau-again.png", CCCD_MAU)
            expect(screen.locator("#result-text")).to_have_text(re.compile(expected), timeout=SHOWN_MS)
        assert [e["type"] for e in kiosk_db.events(kiosk.store)] == ["check_in", "check_out", "check_in"]

        # Someone with a cough: sent to the medical desk, not let in.
        expect(screen.locator("body")).to_have_class(re.compile(r"\bis-idle\b"), timeout=SHOWN_MS)
        write_qr(camera(kiosk) / "thu.png", CCCD_THU)
        expect(screen.locator("body")).to_have_attribute("data-declare", "asking", timeout=SHOWN_MS)
        answer_all(screen, yes={"cough"})
        expect(screen.locator("#result-text")).to_have_text(
            "Bạn chưa thể vào. Vui lòng đến bàn y tế ở cổng để được kiểm tra.", timeout=SHOWN_MS)
        expect(screen.locator("body")).to_have_class(re.compile(r"\bis-refused\b"))
        screenshot(screen, "screen-declare-refused")
        assert len(kiosk_db.events(kiosk.store)) == 3               # nobody let in
        assert screen.errors == []


def test_a_question_left_unanswered_goes_back_to_waiting(screen, tmp_path):
    with kiosk_running(tmp_path, "\n[declaration]\nrequired = true\nanswer_s = 5\n") as kiosk:
        open_screen(screen, kiosk)
        write_qr(camera(kiosk) / "mau.png", CCCD_MAU)
        expect(screen.locator("body")).to_have_attribute("data-declare", "asking", timeout=SHOWN_MS)
        screen.locator("#answer-no").tap()
        expect(screen.locator("#declare-progress")).to_have_text(f"Câu 2/{len(QUESTIONS)}")
        expect(screen.locator("#result-text")).to_have_text(
            "Hết thời gian trả lời. Đưa lại mã QR để bắt đầu lại.", timeout=5000 + SHOWN_MS)
        expect(screen.locator("body")).to_have_class(re.compile(r"\bis-idle\b"), timeout=SHOWN_MS)
        assert kiosk_db.events(kiosk.store) == [] and screen.errors == []
