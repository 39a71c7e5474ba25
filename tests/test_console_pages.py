"""The console's pages through Flask's test client on a real central store (SQLite and PostgreSQL):
signing in with a password and a TOTP code, each role's home and boundary, CSRF on every form, a
case opened by POST and shown at an opaque id, and the audit of every case viewed."""

from __future__ import annotations

import io
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pyotp
import pytest

from mqtt.collector.console.app import Console, create_app
from mqtt.collector.store import open_store
from mqtt.collector.store_figures import Venue
from test_collector_store import make_event
from waiting import wait_for

INDEX = {"kind": "cccd", "id": "079190000000", "name": "Nguyễn Thị Mẫu", "birth_date": "1990-01-01", "sex": None,
         "phone": None}
CONTACT = {"kind": "bhyt", "id": "HC4797900000001", "name": "Trần Văn An", "birth_date": None, "sex": None,
           "phone": "0912345678"}


def visit_events(person: dict, start: datetime, end: datetime, seq: int, venue: str = "cho-thu") -> list[dict]:
    visit = f"{seq:08x}-0000-4000-8000-000000000000"
    return [make_event(kiosk="cho-thu-01", venue=venue, seq=seq, visit=visit, who=person, at=start),
            make_event(kiosk="cho-thu-01", venue=venue, seq=seq + 1, visit=visit, who=person, type="check_out", at=end)]


@pytest.fixture
def console(store_url):
    store = open_store(store_url)
    now = datetime.now(UTC).replace(microsecond=0)
    store.ingest(visit_events(INDEX, now - timedelta(hours=5), now - timedelta(hours=3), 1)
                 + visit_events(CONTACT, now - timedelta(hours=4), now - timedelta(hours=2), 3))
    console = Console.over(store)
    yield console
    store.close()


class Browser:
    """A test client that signs in as a person would, and sends each form's CSRF token."""

    def __init__(self, console):
        self.console = console
        self.client = create_app(console).test_client()
        self.token = ""
        self.step = 0

    def get(self, path, **kw):
        r = self.client.get(path, environ_base={"REMOTE_ADDR": "10.0.0.7"}, **kw)
        html = r.get_data(as_text=True) if r.mimetype == "text/html" else ""
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        if found:
            self.token = found.group(1)
        return r

    def post(self, path, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.token
        return self.client.post(path, data=data, environ_base={"REMOTE_ADDR": "10.0.0.7"}, **kw)

    def code(self, secret):
        """The current code, then the next step's: a code is good once, and the server takes a step
        either side of its own (so crossing a step's end between here and there does not matter)."""
        self.step += 1
        assert self.step <= 2, "two logins a user: a third code would be two steps ahead"
        return pyotp.TOTP(secret).at(datetime.now(UTC).timestamp() + 30 * (self.step - 1))

    def sign_in(self, roles, name="Lan", password="một mật khẩu dài"):
        new = self.console.users.add(name, roles)
        self.get("/login")
        r = self.post("/login", {"name": name, "password": new.password, "code": self.code(new.totp_secret)})
        assert r.status_code == 302 and r.headers["Location"].endswith("/password")
        self.get("/password")
        r = self.post("/password", {"current": new.password, "new": password, "repeat": password})
        assert "Đã lưu mật khẩu mới" in r.get_data(as_text=True)
        self.get("/login")
        r = self.post("/login", {"name": name, "password": password, "code": self.code(new.totp_secret)})
        assert r.status_code == 302 and r.headers["Location"].endswith("/"), r.get_data(as_text=True)
        return self


def test_a_tracer_opens_a_case_by_post_and_sees_it_at_an_opaque_address(console):
    b = Browser(console).sign_in(["tracer"])
    home = b.get("/")
    assert home.status_code == 200 and "Mở ca bệnh" in home.get_data(as_text=True)
    assert home.headers["Cache-Control"] == "no-store" and "frame-ancestors 'none'" in home.headers[
        "Content-Security-Policy"]
    r = b.post("/cases", {"kind": "cccd", "id": "079190000000", "days": "14"})
    assert r.status_code == 303
    address = r.headers["Location"]
    assert re.fullmatch(r"/cases/[A-Za-z0-9_-]{22}", address) and "0791" not in address
    page = b.get(address).get_data(as_text=True)
    assert "Nguyễn Thị Mẫu" in page and "1 người tiếp xúc" in page and "Trần Văn An" in page and "0912345678" in page
    assert "1 h 00" in page                              # 4 h ago to 3 h ago, shared
    [row] = console.audit.rows()
    assert (row.actor, row.action, row.person, row.results, row.client) == \
        ("user:Lan", "case_view", "cccd:079190000000", 1, "10.0.0.7")
    b.get(address)
    r = b.post(f"{address}/handled", {"note": "Đã gọi\x00 cho 1 người"})
    assert r.status_code == 303
    assert "Đã gọi cho 1 người" in b.get(address).get_data(as_text=True)
    assert [a.action for a in console.audit.rows()] == ["case_view", "case_view", "case_handled", "case_view"]


def test_a_phone_case_and_a_bad_search(console):
    b = Browser(console).sign_in(["tracer"])
    b.get("/")
    r = b.post("/cases", {"kind": "phone", "id": "+84 912 345 678", "days": "14"})
    assert r.status_code == 303
    page = b.get(r.headers["Location"]).get_data(as_text=True)
    assert "Trần Văn An" in page and "1 người tiếp xúc" in page              # traced by the household's phone
    for bad in ({"kind": "cccd", "id": "07919<script>"}, {"kind": "passport", "id": "B1234567"},
                {"kind": "phone", "id": "12"}, {"kind": "cccd", "id": "079190000000", "days": "999"}):
        b.get("/")
        r = b.post("/cases", bad)
        assert r.status_code == 400 and "không hợp lệ" in r.get_data(as_text=True)


@pytest.mark.parametrize("role,sees,not_sees", [
    ("reporter", "Số liệu 7 ngày qua", "Mở ca bệnh"),
    ("fleet", "Các máy", "Số liệu 7 ngày qua"),
    ("admin", "Nhật ký tra cứu", "Mở ca bệnh"),
])
def test_each_role_sees_its_own_home_and_no_personal_data(console, role, sees, not_sees):
    b = Browser(console).sign_in([role])
    page = b.get("/").get_data(as_text=True)
    assert sees in page and not_sees not in page and "Nguyễn Thị Mẫu" not in page
    r = b.post("/cases", {"kind": "cccd", "id": "079190000000", "days": "14"})
    assert r.status_code == 403
    assert [a.action for a in console.audit.rows() if a.action.startswith("case")] == []


def test_figures_on_the_reporters_home_are_counted_and_lead_down_to_each_venue(console):
    b = Browser(console).sign_in(["reporter"])
    page = b.get("/").get_data(as_text=True)
    # the venue is in no province (no registry): its province is "not placed"
    assert re.search(r'<td><a href="/figures\?area=p:">\(chưa xếp\)</a></td><td>\d\d/\d\d/\d{4}</td>'
                     r'<td class="n">\d</td>', page)
    provinces = b.get("/figures").get_data(as_text=True)
    assert "Tất cả các tỉnh" in provinces and 'id="figures-chart"' in provinces and "Tổng lượt vào: 2" in provinces
    link = re.search(r'href="(/figures\?area=p%3A&amp;[^"]+)"', provinces).group(1).replace("&amp;", "&")
    districts = b.get(link).get_data(as_text=True)
    link = re.search(r'href="(/figures\?area=d%3A%7C&amp;[^"]+)"', districts).group(1).replace("&amp;", "&")
    venues = b.get(link).get_data(as_text=True)
    assert re.search(r'<td>cho-thu</td>\s*<td>\d\d/\d\d/\d{4}</td><td class="n">\d</td>', venues)
    assert "Nguyễn" not in venues and "0791" not in venues
    for bad in ("?area=x:y", "?by=month", "?from=2026-13-01", "?from=2026-08-20&to=2026-08-19",
                "?from=2020-01-01&to=2026-01-01"):
        assert b.get(f"/figures{bad}").status_code == 400
    assert Browser(console).sign_in(["fleet"], name="Minh").get("/figures").status_code == 403


def test_without_a_session_every_page_sends_to_the_login(console):
    client = create_app(console).test_client()
    for path in ("/", "/cases/abc"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert client.post("/cases", data={"kind": "cccd", "id": "079190000000"}).status_code == 400   # no CSRF token


def test_every_form_needs_its_csrf_token(console):
    b = Browser(console).sign_in(["tracer"])
    b.get("/")
    assert b.post("/cases", {"kind": "cccd", "id": "079190000000"}, csrf=False).status_code == 400
    assert b.post("/logout", csrf=False).status_code == 400
    b.token = "forged"
    assert b.post("/cases", {"kind": "cccd", "id": "079190000000"}).status_code == 400


def test_a_wrong_login_is_one_answer_and_a_flood_is_throttled(console):
    new = console.users.add("Lan", ["tracer"])
    b = Browser(console)
    b.get("/login")
    answers = set()
    for attempt in ({"name": "Lan", "password": "wrong one!", "code": b.code(new.totp_secret)},
                    {"name": "Nobody", "password": new.password, "code": "123456"},
                    {"name": "Lan", "password": new.password, "code": "000000"}):
        r = b.post("/login", attempt)
        assert r.status_code == 401
        answers.add(re.search(r'id="error">([^<]+)<', r.get_data(as_text=True)).group(1))
    assert answers == {"Tên, mật khẩu hoặc mã không đúng."}
    for _ in range(3):
        r = b.post("/login", {"name": "Lan", "password": "wrong one!", "code": "123456"})
    assert r.status_code == 429 and "Xin thử lại sau" in r.get_data(as_text=True)


def test_an_unknown_case_is_404_and_the_language_switch_stays_on_this_site(console):
    b = Browser(console).sign_in(["tracer"])
    b.get("/")
    assert b.get("/cases/nope").status_code == 404
    r = b.post("/lang", {"language": "en", "next": "//evil.example/"})
    assert r.headers["Location"] == "/"
    assert "Open a case" in b.get("/").get_data(as_text=True)
    assert b.post("/lang", {"language": "vi", "next": "/cases/x"}).headers["Location"] == "/cases/x"


def test_the_signing_key_is_kept_in_the_store_so_a_restart_keeps_sessions(console):
    b = Browser(console).sign_in(["tracer"])
    restarted = create_app(console).test_client()
    cookie = b.client.get_cookie("console_session")
    restarted.set_cookie("console_session", cookie.value)
    assert restarted.get("/").status_code == 200


def test_the_contact_list_exports_as_xlsx_and_csv_with_diacritics_dates_and_no_formulas(console):
    now = datetime.now(UTC).replace(microsecond=0)
    hostile = {**CONTACT, "id": "HC4797900000002", "name": "=HYPERLINK(\"http://x\",\"Bấm\")", "phone": None}
    console.store.ingest(visit_events(hostile, now - timedelta(hours=4, minutes=30), now - timedelta(hours=4), 5))
    b = Browser(console).sign_in(["tracer"])
    b.get("/")
    address = b.post("/cases", {"kind": "cccd", "id": "079190000000", "days": "14"}).headers["Location"]
    assert "Tải danh sách (Excel)" in b.get(address).get_data(as_text=True)
    r = b.get(f"{address}/contacts.xlsx")
    assert r.status_code == 200 and r.headers["Content-Disposition"].startswith('attachment; filename="tiep-xuc-')
    sheet = openpyxl.load_workbook(io.BytesIO(r.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:5] == ("Họ tên", "Loại giấy tờ", "Số giấy tờ", "Điện thoại", "Thời gian chung (phút)")
    an = next(row for row in rows[2:] if row[0] == "Trần Văn An")
    assert an[1:5] == ("BHYT", "HC4797900000001", "0912345678", 60)
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", an[5])
    evil = next(row for row in rows[2:] if "HYPERLINK" in row[0])
    assert evil[0].startswith("'=") and all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    text_csv = b.get(f"{address}/contacts.csv").data
    assert text_csv.startswith("\ufeff".encode()) and "Trần Văn An" in text_csv.decode("utf-8-sig")
    assert [(a.action, a.results, a.query.get("format")) for a in console.audit.rows() if a.action == "export"] == [
        ("export", 2, "xlsx"), ("export", 2, "csv")]
    assert b.get(f"{address}/contacts.pdf").status_code == 404


def test_only_a_tracer_may_export(console):
    tracer = Browser(console).sign_in(["tracer"])
    tracer.get("/")
    address = tracer.post("/cases", {"kind": "cccd", "id": "079190000000", "days": "14"}).headers["Location"]
    reporter = Browser(console).sign_in(["reporter"], name="Minh")
    assert reporter.get(f"{address}/contacts.xlsx").status_code == 403
    assert reporter.get(address).status_code == 403


def test_a_venue_exposure_lists_everyone_there_and_is_audited(console):
    b = Browser(console).sign_in(["tracer"])
    b.get("/")
    local = (datetime.now(UTC) - timedelta(hours=4)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    start, end = local - timedelta(minutes=30), local + timedelta(minutes=30)
    if start.date() != end.date():          # the window must lie within one local day
        start = end.replace(hour=0, minute=0)
    r = b.post("/exposure", {"venue": "cho-thu", "day": start.strftime("%Y-%m-%d"), "from": start.strftime("%H:%M"),
                             "to": end.strftime("%H:%M")})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Nguyễn Thị Mẫu" in page and "Trần Văn An" in page
    assert re.search(r"2 người có mặt ở cho-thu", page)
    [row] = [a for a in console.audit.rows() if a.action == "presence"]
    assert row.results == 2 and row.query["venue"] == "cho-thu" and row.person is None
    for bad in ({"venue": "cho-thu", "day": "12/8", "from": "08:00", "to": "11:00"},
                {"venue": "cho-thu", "day": "2026-08-12", "from": "11:00", "to": "08:00"},
                {"venue": "../x", "day": "2026-08-12", "from": "08:00", "to": "11:00"}):
        b.get("/")
        r = b.post("/exposure", bad)
        assert r.status_code == 400 and "không hợp lệ" in r.get_data(as_text=True)
    reporter = Browser(console).sign_in(["reporter"], name="Minh")
    reporter.get("/")
    assert reporter.post("/exposure", {"venue": "cho-thu", "day": "2026-08-12", "from": "08:00",
                                       "to": "11:00"}).status_code == 403


def test_a_central_store_that_stops_answering_is_said_not_a_500_and_the_console_comes_back():
    """A PostgreSQL of its own, stopped under a signed-in tracer and started again."""
    from mqtt.loopback.postgres import FAST_OPTIONS, PgServer

    # In /tmp, as conftest's: the postgres user cannot enter pytest's own 0700 folders
    workdir = tempfile.mkdtemp(prefix="checkin-pg-")
    server = PgServer(workdir, options=FAST_OPTIONS).start()
    store = open_store(server.new_database())
    try:
        console = Console.over(store)
        b = Browser(console).sign_in(["tracer"])
        token = console.tokens.add("district-7", "reporter")
        assert b.get("/").status_code == 200
        server.stop()
        r = b.get("/")
        assert r.status_code == 503 and "Kho dữ liệu trung tâm đang không trả lời" in r.get_data(as_text=True)
        r = b.client.get("/api/v1/stats", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503 and r.get_json()["error"] == "store_unavailable"
        server.start()
        assert wait_for(lambda: b.get("/").status_code == 200, timeout=30, interval=0.5)
    finally:
        store.close()
        server.remove = True        # the last stop takes its folder
        server.stop()


def test_a_reporter_downloads_the_figures_as_xlsx_aggregates_only(console):
    b = Browser(console).sign_in(["reporter"])
    assert "Tải theo ngày (Excel)" in b.get("/").get_data(as_text=True)
    venue_headers = ("Địa điểm", "Tên địa điểm", "Huyện", "Tỉnh", "Ngày", "Lượt vào", "Số người",
                     "Đông nhất cùng lúc", "Số máy")
    province_headers = ("Tỉnh", "Ngày", "Lượt vào", "Số người", "Đông nhất cùng lúc", "Số máy", "Số điểm")
    for query, title, headers in (("?area=d:|", "theo ngày", venue_headers),
                                  ("?by=week", "theo tuần", province_headers)):
        r = b.get(f"/figures.xlsx{query}")
        assert r.status_code == 200 and r.headers["Content-Disposition"].startswith('attachment; filename="so-lieu-')
        rows = list(openpyxl.load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
        assert title in rows[0][0]
        assert rows[1] == headers
        # two check-ins, 5 and 4 hours ago: one local day, or two when midnight fell between them
        place = {"cho-thu"} if headers == venue_headers else {"(chưa xếp)"}
        day = headers.index("Ngày")
        assert {row[0] for row in rows[2:]} == place and sum(row[day + 1] for row in rows[2:]) == 2
        assert all(re.fullmatch(r"\d\d/\d\d/\d{4}", row[day]) for row in rows[2:])
        assert not any("Nguyễn" in str(cell) or "0791" in str(cell) for row in rows for cell in row)
    assert [(a.action, a.query["by"], a.query["level"]) for a in console.audit.rows()] == [
        ("export_figures", "day", "venue"), ("export_figures", "week", "province")]
    fleet = Browser(console).sign_in(["fleet"], name="Minh")
    assert fleet.get("/figures.xlsx").status_code == 403


def test_the_fleet_page_marks_silent_kiosks_and_old_waiting_events_and_lists_refusals_without_payloads(console):
    from mqtt.collector.store import DeadLetter, FleetUpdate

    now = console.now()
    console.store.update_fleet([
        FleetUpdate("cho-thu-01", now - timedelta(minutes=2), status="online",
                    health={"outbox": {"pending": 0, "sent": 0, "oldest_undelivered_s": None}}),
        FleetUpdate("cho-moi-01", now - timedelta(hours=2), status="online"),
        FleetUpdate("truong-hoc-01", now - timedelta(minutes=1), status="online",
                    health={"outbox": {"pending": 40, "sent": 0, "oldest_undelivered_s": 7300}}),
    ])
    console.store.add_dead_letters([DeadLetter("kiosks/cho-thu-01/events", "cho-thu-01", "field",
                                               "name must be a string of 1-200 characters",
                                               b'{"person":{"name":"Nguy\\u1ec5n B\\u00ed M\\u1eadt"}}', now)])
    page = Browser(console).sign_in(["fleet"]).get("/").get_data(as_text=True)
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr class="[^"]*" id="kiosk-([a-z0-9-]+)">.*?</tr>', page)}
    assert set(rows) == {"cho-thu-01", "cho-moi-01", "truong-hoc-01"}
    assert 'class=""' in rows["cho-thu-01"]
    assert 'class="warn"' in rows["cho-moi-01"] and "không báo về hơn 1 giờ" in rows["cho-moi-01"]
    assert 'class="warn"' in rows["truong-hoc-01"] and "có lượt chờ gửi 121 phút" in rows["truong-hoc-01"]
    assert "name must be a string of 1-200 characters" in page and "Bí Mật" not in page and "M\\u1eadt" not in page


def test_behind_the_https_proxy_the_cookies_are_secure_and_plain_http_is_not_told_to_upgrade(console):
    new = console.users.add("Lan", ["tracer"])
    for proto, secure in (("https", True), (None, False)):
        client = create_app(console).test_client()
        # (over HTTPS a form must come with a same-origin Referer, which the pages' policy sends)
        headers = {"X-Forwarded-Proto": proto, "Referer": "https://localhost/login"} if proto else {}
        page = client.get("/login", headers=headers)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        code = pyotp.TOTP(new.totp_secret).at(time.time() + (0 if secure else 30))
        r = client.post("/login", data={"name": "Lan", "password": new.password, "code": code,
                                        "csrf_token": token}, headers=headers)
        assert r.status_code == 302
        cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("console_session="))
        assert ("; Secure" in cookie) is secure, cookie
        assert ("Strict-Transport-Security" in r.headers) is secure
        page = client.get("/password", headers=headers)        # signed in: a token of the new session
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        lang = client.post("/lang", data={"language": "en", "next": "/", "csrf_token": token}, headers=headers)
        assert ("; Secure" in lang.headers["Set-Cookie"]) is secure
    assert create_app(console).test_client().get("/login").headers["Referrer-Policy"] == "same-origin"


def test_a_tracer_finds_people_by_name_and_opens_a_case_of_one(console):
    b = Browser(console).sign_in(["tracer"])
    b.get("/")
    # typed without capitals: the name as the card has it is found; the list masks the id
    r = b.post("/cases", {"kind": "name", "id": "  nguyễn  thị mẫu ", "days": "14"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "1 người có tên này" in page and "Nguyễn Thị Mẫu" in page
    assert "079190000000" not in page.replace('value="079190000000"', "")         # only in the form's field
    assert [(a.action, a.query, a.results, a.person) for a in console.audit.rows()] == [
        ("search_name", {"days": 14}, 1, None)]                                    # never the name typed
    opened = b.post("/cases", {"kind": "cccd", "id": "079190000000", "days": "14"})
    assert opened.status_code == 303 and opened.headers["Location"].startswith("/cases/")
    assert "0 người có tên này" in b.post("/cases", {"kind": "name", "id": "Nguyen Thi Mau", "days": "14"}).get_data(
        as_text=True)                                                              # diacritics matter
    assert b.post("/cases", {"kind": "name", "id": "x", "days": "14"}).status_code == 400
    reporter = Browser(console).sign_in(["reporter"], name="Hà")
    reporter.get("/")
    assert reporter.post("/cases", {"kind": "name", "id": "Nguyễn Thị Mẫu"}).status_code == 403


def test_a_cases_visits_show_the_kiosk_and_how_and_lead_to_who_was_there(console):
    console.store.set_venues([Venue("cho-thu", "Chợ Thủ", "Ninh Hải", "Ninh Thuận")])
    b = Browser(console).sign_in(["tracer"])
    b.get("/")
    page = b.get(b.post("/cases", {"kind": "cccd", "id": "079190000000", "days": "14"}).headers["Location"])
    html = page.get_data(as_text=True)
    row = re.search(r'<table id="visits">.*?</table>', html, re.S).group(0)
    assert "Chợ Thủ" in row and "cho-thu-01" in row and "quét mã" in row
    # the row's own form: the venue and the visit's window, as a venue exposure
    fields = dict(re.findall(r'<input type="hidden" name="(venue|day|from|to)" value="([^"]*)"', row))
    assert fields["venue"] == "cho-thu" and re.fullmatch(r"\d\d:\d\d", fields["from"])
    r = b.post("/exposure", fields)
    assert r.status_code == 200 and "Trần Văn An" in r.get_data(as_text=True)     # the contact was there


def test_migration_9_fills_the_method_of_visits_stored_before_it(store_url):
    sqlite = store_url.startswith("sqlite")
    with open_store(store_url) as s:
        s.ingest(visit_events(INDEX, datetime(2026, 8, 19, 1, tzinfo=UTC), datetime(2026, 8, 19, 2, tzinfo=UTC), 1))
        s._exec("ALTER TABLE visits DROP COLUMN method")
        s._exec("DELETE FROM _sqlite_migrations WHERE name = 'm009_visit_method'" if sqlite
                else "DELETE FROM schema_version WHERE version = 9")
    with open_store(store_url) as s:
        assert [v["method"] for v in s.visit_rows()] == ["camera"]


def test_a_cases_staff_phone_visits_say_whether_the_phone_was_verified(store_url):
    phone = {**INDEX, "kind": "kiosk_card", "id": "PTEST0000001", "phone": "0912345678"}
    now = datetime.now(UTC).replace(microsecond=0)
    events = (visit_events(phone, now - timedelta(hours=9), now - timedelta(hours=8), 1)
              + visit_events(phone, now - timedelta(hours=5), now - timedelta(hours=4), 3))
    for check_in, check in ((events[0], {"verified": True, "reason": None}),
                            (events[2], {"verified": False, "reason": "no_phone_signal"})):
        check_in.update(method="staff_phone", phone_check=check)
    with open_store(store_url) as store:
        store.ingest(events)
        b = Browser(Console.over(store)).sign_in(["tracer"])
        b.get("/")
        html = b.get(b.post("/cases", {"kind": "phone", "id": "0912345678", "days": "14"}).headers["Location"])
        rows = re.findall(r"<tr>.*?</tr>", re.search(r'<table id="visits">.*?</table>', html.get_data(as_text=True),
                                                     re.S).group(0), re.S)
        earlier, later = rows[1:]                                   # under the header, oldest first
        assert "đã xác minh SĐT bằng mã" in earlier and "nhân viên, số điện thoại" in earlier
        assert 'class="unverified"> · chưa xác minh SĐT: khách không mang điện thoại hoặc không có sóng' in later


def test_a_cases_visits_and_contacts_show_the_health_declaration_and_the_phone_check(store_url):
    """Issue 13: on the case, each visit's declaration (flagged or not, the yes answers, where and
    when); among the contacts, whether theirs flagged them and whether their phone was verified."""
    now = datetime.now(UTC).replace(microsecond=0)
    neighbour = {**CONTACT, "kind": "kiosk_card", "id": "PTEST0000002", "phone": "0987654321"}
    events = (visit_events(INDEX, now - timedelta(hours=5), now - timedelta(hours=3), 1)
              + visit_events(CONTACT, now - timedelta(hours=4), now - timedelta(hours=2), 3)
              + visit_events(neighbour, now - timedelta(hours=4), now - timedelta(hours=2), 5))
    made = (now - timedelta(hours=5)).isoformat()
    events[0]["declaration"] = {"made_at": made, "via": "screen", "flagged": False,
                                "answers": {"fever": False, "cough": False}}
    events[2]["declaration"] = {"made_at": made, "via": "staff", "flagged": True,
                                "answers": {"fever": True, "cough": False, "own_question": True}}
    events[4].update(method="staff_phone", phone_check={"verified": False, "reason": "sms_failed"})
    with open_store(store_url) as store:
        store.ingest(events)
        b = Browser(Console.over(store)).sign_in(["tracer"])
        b.get("/")
        html = b.get(b.post("/cases", {"kind": "cccd", "id": INDEX["id"], "days": "14"}).headers["Location"])
        page = html.get_data(as_text=True)
        visits = re.search(r'<table id="visits">.*?</table>', page, re.S).group(0)
        assert "Khai báo y tế" in visits and "không có dấu hiệu · tại màn hình" in visits
        contacts = re.findall(r"<tr.*?</tr>", re.search(r'<table id="contacts">.*?</table>', page, re.S).group(0), re.S)
        an = next(r for r in contacts if "Trần Văn An" in r and "bhyt" in r)
        assert 'class="declaration flagged">⚠ có dấu hiệu · trả lời có: sốt, own_question · với nhân viên' in an
        other = next(r for r in contacts if "PTEST0000002" in r)
        assert "chưa xác minh SĐT: máy không gửi được tin nhắn" in other and "không khai báo" in other
