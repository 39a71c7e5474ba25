"""The tracing console in a real browser (Debian's Chromium) on a 1366×768 laptop screen, served by
``kiosk-collector console`` (waitress) from a central store: a new tracer signs in with the one-time
password and a code computed from the TOTP secret as their phone would, replaces the password,
signs in again, opens a case, sees its contacts and downloads them as XLSX, in Vietnamese, with nothing personal in the
address bar or the history."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pyotp
from playwright.sync_api import expect

from browser import screenshot
from configs import write_collector_config
from mqtt.collector.console.accounts import ConsoleUsers, name_key
from mqtt.collector.store import open_store
from mqtt.loopback.mosquitto import free_port
from test_console_pages import CONTACT, INDEX, visit_events
from waiting import wait_for

COLLECTOR = str(Path(sys.executable).with_name("kiosk-collector"))


def test_a_new_tracer_goes_from_login_to_a_case_in_vietnamese(browser, tmp_path):
    port = free_port()
    store_url = f"sqlite://{tmp_path}/central.db"
    now = datetime.now(UTC).replace(microsecond=0)
    with open_store(store_url) as store:
        store.ingest(visit_events(INDEX, now - timedelta(hours=5), now - timedelta(hours=3), 1)
                     + visit_events(CONTACT, now - timedelta(hours=4), now - timedelta(hours=2), 3))
        new = ConsoleUsers(store).add("Trần Thị Lan", ["tracer"])
    config = write_collector_config(tmp_path / "collector.toml", store={"url": store_url},
                                    console={"listen": f"127.0.0.1:{port}"})
    proc = subprocess.Popen([COLLECTOR, "console", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url))
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_for(lambda: _answers(base), timeout=20, what="the console to answer")
        started = time.monotonic()
        page.goto(base)
        expect(page).to_have_url(re.compile(r"/login$"))
        expect(page.locator("h1")).to_have_text("Đăng nhập")
        totp = pyotp.TOTP(new.totp_secret)
        page.fill("#name", "Trần Thị Lan")
        page.fill("#password", new.password)
        page.fill("#code", totp.now())
        screenshot(page, "console-login-1366")
        page.click("#submit")
        expect(page).to_have_url(re.compile(r"/password$"))
        page.fill("#current", new.password)
        page.fill("#new", "mật khẩu của Lan 2026")
        page.fill("#repeat", "mật khẩu của Lan 2026")
        page.click("#submit")
        expect(page.locator(".message")).to_contain_text("Đã lưu mật khẩu mới")
        page.click("#login-link")
        page.fill("#name", "Trần Thị Lan")
        page.fill("#password", "mật khẩu của Lan 2026")
        page.fill("#code", totp.at(time.time() + 30))           # the next code: each is good once
        page.click("#submit")
        expect(page.locator("#open-case h1")).to_have_text("Mở ca bệnh")
        page.select_option("#kind", "cccd")
        page.fill("#id", "079190000000")
        page.click("#find")
        expect(page).to_have_url(re.compile(r"/cases/[A-Za-z0-9_-]{22}$"))
        expect(page.locator("#contacts-count")).to_have_text("1 người tiếp xúc")
        row = page.locator("#contacts tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Trần Văn An")
        expect(row).to_contain_text("0912345678")
        expect(row).to_contain_text("1 h 00")
        screenshot(page, "console-case-1366")
        with page.expect_download() as download:
            page.click("#export-xlsx")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        elapsed = time.monotonic() - started
        rows = list(openpyxl.load_workbook(saved).active.iter_rows(values_only=True))
        assert rows[1][0] == "Họ tên" and rows[2][:4] == ("Trần Văn An", "BHYT", "HC4797900000001", "0912345678")
        assert saved.name.startswith("tiep-xuc-") and saved.suffix == ".xlsx"
        page.fill("#note", "Đã gọi điện")
        page.click("#mark-handled")
        expect(page.locator("#handled")).to_contain_text("Đã gọi điện")
        # a venue exposure: everyone at the venue in a window, from the home's form
        page.click(".brand")
        expect(page.locator("#cases tbody tr")).to_have_count(1)                # the case just opened
        local = (now - timedelta(hours=5)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        page.fill("#venue", "cho-thu")
        page.fill("#day", local.strftime("%Y-%m-%d"))
        page.fill("#from", "00:00")
        page.fill("#to", "23:59")
        page.click("#find-exposure")
        expect(page.locator("#exposure-heading")).to_contain_text("cho-thu")
        expect(page.locator("#people tbody tr").first).to_be_visible()
        # nothing personal in any address the browser went to (so in its history)
        assert visited and not any("079190000000" in url or "0912345678" in url for url in visited), visited
        assert errors == []                                 # no CSP violation, no script error
        assert elapsed < 120                # the done-when: from login to an exported list in two minutes
    finally:
        context.close()
        proc.terminate()
        proc.wait(20)


def _answers(url: str) -> bool:
    import urllib.request
    try:
        with urllib.request.urlopen(url + "login", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


PAGE_BUDGET = 200 * 1024        # the console's pages transfer under 200 KB each, cold


def test_a_reporter_fleet_and_admin_reads_the_province_in_a_browser(browser, tmp_path):
    """On demo data: the home's sections of the three roles that see no personal data, the figures
    page from the province down to a district's venues (chart drawn, no script, no horizontal
    scroll at 1366×768), its XLSX; every page under the budget, cold; no CSP violation."""
    from mqtt.collector.demo import fill
    port = free_port()
    store_url = f"sqlite://{tmp_path}/central.db"
    with open_store(store_url) as store:
        fill(store, venues=14, days=7, per_day=40)
        users = ConsoleUsers(store)
        new = users.add("Phạm Minh", ["reporter", "fleet", "admin"])
        minh = store.user_by_name_key(name_key("Phạm Minh"))
        users.change_password(minh.user_id, new.password, "mật khẩu của Minh 2026")
    config = write_collector_config(tmp_path / "collector.toml", store={"url": store_url},
                                    console={"listen": f"127.0.0.1:{port}"})
    proc = subprocess.Popen([COLLECTOR, "console", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_for(lambda: _answers(base), timeout=20, what="the console to answer")
        page.goto(base)
        page.fill("#name", "Phạm Minh")
        page.fill("#password", "mật khẩu của Minh 2026")
        page.fill("#code", pyotp.TOTP(new.totp_secret).now())
        page.click("#submit")
        for section in ("#figures", "#fleet", "#users"):
            expect(page.locator(section)).to_be_visible()
        expect(page.locator("#open-case")).to_have_count(0)                 # no tracer: no case search
        expect(page.locator("#figures tbody tr").first).to_contain_text("Ninh Thuận")
        assert not re.search(r"058\d{9}", page.content())                  # no identity number anywhere
        page.click("#figures-page")
        expect(page.locator("h1")).to_contain_text("Số liệu — Tất cả các tỉnh")
        expect(page.locator("#figures-chart rect")).to_have_count(7)        # a bar a day
        page.click("#figures-table a")                                      # into Ninh Thuận: its districts
        expect(page.locator("h1")).to_contain_text("Ninh Thuận")
        expect(page.locator("#figures-table tbody tr").first).to_be_visible()
        page.select_option("select[name=area]", "d:Ninh Thuận|Ninh Hải")
        page.select_option("select[name=by]", "week")
        page.click("#figures-show")
        expect(page.locator("h1")).to_contain_text("Ninh Hải, Ninh Thuận")
        expect(page.locator("#figures-table thead")).to_contain_text("Tuần từ")
        expect(page.locator("#figures-table tbody")).to_contain_text("Ninh Hải")     # its venues, by name
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 1366
        box = page.locator("#figures-chart").bounding_box()
        assert box and box["width"] > 600 and box["x"] + box["width"] <= 1366
        screenshot(page, "console-figures-1366")
        with page.expect_download() as download:
            page.click("#figures-xlsx")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        rows = list(openpyxl.load_workbook(saved).active.iter_rows(values_only=True))
        assert "Ninh Hải, Ninh Thuận" in rows[0][0]
        assert rows[1][:5] == ("Địa điểm", "Tên địa điểm", "Huyện", "Tỉnh", "Ngày")
        assert {row[2] for row in rows[2:]} == {"Ninh Hải"} and all(re.fullmatch(r"\d\d/\d\d/\d{4}", row[4])
                                                                    for row in rows[2:])
        figures_url = page.url
        # the admin's page: a new user, the authenticator QR drawn from the page itself (CSP: data: images)
        page.goto(base + "admin")
        page.fill("#new-user", "Lê Văn Hùng")
        page.check("#role-reporter")
        page.click("#add-user-submit")
        expect(page.locator("#credentials h1")).to_have_text("Đã thêm Lê Văn Hùng")
        assert page.evaluate("document.getElementById('totp-qr').naturalWidth") > 100
        expect(page.locator("#one-time-password")).to_be_visible()
        page.click("#back")
        expect(page.locator("#admin-users tbody")).to_contain_text("Lê Văn Hùng")
        assert errors == []
        # Each page, cold (a new browser context: nothing cached), transfers under the budget.
        for path in ("/", figures_url.removeprefix(base.rstrip("/")), "/admin"):
            cold = context.browser.new_context(viewport={"width": 1366, "height": 768})
            cold.add_cookies(context.cookies())
            p = cold.new_page()
            sizes: list[int] = []

            def count(request, sizes=sizes):
                sizes.append(request.sizes()["responseBodySize"] + request.sizes()["responseHeadersSize"])
            p.on("requestfinished", count)
            p.goto(base.rstrip("/") + path)
            p.wait_for_load_state("networkidle")
            cold.close()
            assert 0 < sum(sizes) < PAGE_BUDGET, (path, sizes)
    finally:
        context.close()
        proc.terminate()
        proc.wait(20)
