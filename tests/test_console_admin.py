"""The admin's pages (both backends): users added with roles and given their one-time password and
QR code once, reset, removed (never oneself, never without "Sure"); API tokens shown once and
revoked; the audit a page at a time; every change audited under the admin's name; nobody else in."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp

from mqtt.collector.console.admin import AUDIT_PAGE
from test_console_pages import Browser, console  # noqa: F401 - the fixture


def credentials(page: str) -> tuple[str, str]:
    password = re.search(r'id="one-time-password">([^<]+)<', page).group(1)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    return password, secret


def test_an_admin_adds_a_user_who_then_signs_in_with_what_the_page_showed_once(console):
    admin = Browser(console).sign_in(["admin"], name="Quản Trị")
    admin.get("/admin")
    r = admin.post("/admin/users", {"name": "Trần Thị Lan", "role": ["tracer", "reporter"]})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Đã thêm Trần Thị Lan" in page and 'src="data:image/svg+xml' in page
    assert r.headers["Cache-Control"] == "no-store"
    password, secret = credentials(page)
    assert [u.roles for u in console.users.list() if u.name == "Trần Thị Lan"] == [("tracer", "reporter")]
    lan = Browser(console)
    lan.get("/login")
    code = pyotp.TOTP(secret).at(datetime.now(UTC).timestamp())
    r = lan.post("/login", {"name": "Trần Thị Lan", "password": password, "code": code})
    assert r.status_code == 302 and r.headers["Location"].endswith("/password")
    # shown once: the admin page lists the user, never the password again
    listing = admin.get("/admin").get_data(as_text=True)
    assert "Trần Thị Lan" in listing and password not in listing and secret not in listing
    assert [(a.actor, a.action, a.query) for a in console.audit.rows()] == [
        ("user:Quản Trị", "users_add", {"user": "Trần Thị Lan", "roles": ["tracer", "reporter"]})]
    refused = admin.post("/admin/users", {"name": "Trần Thị Lan", "role": ["tracer"]})
    assert refused.status_code == 400 and "Không thực hiện được: there is already a user" in refused.get_data(
        as_text=True)
    assert admin.post("/admin/users", {"name": "Hà", "role": ["owner"]}).status_code == 400


def test_reset_and_remove_and_never_oneself(console):
    admin = Browser(console).sign_in(["admin"], name="Quản Trị")
    first = console.users.add("Minh", ["fleet"])
    admin.get("/admin")
    page = admin.post("/admin/users/reset", {"name": "Minh"}).get_data(as_text=True)
    password, _ = credentials(page)
    assert password != first.password and "Đã cấp lại cho Minh" in page
    admin.get("/admin")
    assert admin.post("/admin/users/remove", {"name": "Minh"}).status_code == 400           # not ticked "Sure"
    assert admin.post("/admin/users/remove", {"name": "Quản Trị", "confirm": "yes"}).status_code == 400
    r = admin.post("/admin/users/remove", {"name": "Minh", "confirm": "yes"})
    assert r.status_code == 303 and "Đã xóa người dùng" in admin.get(r.headers["Location"]).get_data(as_text=True)
    assert [u.name for u in console.users.list()] == ["Quản Trị"]
    assert [a.action for a in console.audit.rows()] == ["users_reset", "users_remove"]


def test_tokens_are_shown_once_work_and_are_revoked(console):
    admin = Browser(console).sign_in(["admin"], name="Quản Trị")
    admin.get("/admin")
    page = admin.post("/admin/tokens", {"name": "bao-cao-tinh", "role": "reporter"}).get_data(as_text=True)
    token = re.search(r'id="token">([^<]+)<', page).group(1)
    api = admin.client
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/stats?by=day", headers=headers).status_code == 200
    listing = admin.get("/admin").get_data(as_text=True)
    assert "bao-cao-tinh" in listing and token not in listing
    r = admin.post("/admin/tokens/revoke", {"name": "bao-cao-tinh"})
    assert r.status_code == 303
    assert api.get("/api/v1/stats?by=day", headers=headers).status_code == 401
    assert [(a.action, a.query) for a in console.audit.rows() if a.action.startswith("api_token")] == [
        ("api_token_add", {"token": "bao-cao-tinh", "role": "reporter"}),
        ("api_token_revoke", {"token": "bao-cao-tinh"})]


def test_the_audit_a_page_at_a_time_newest_first(console):
    admin = Browser(console).sign_in(["admin"], name="Quản Trị")
    for n in range(AUDIT_PAGE + 5):
        console.audit.record("cli", "contacts", person=f"cccd:0791900{n:05d}", query={"days": 14}, results=n)
    first = admin.get("/admin").get_data(as_text=True)
    results = [int(x) for x in re.findall(r'<td class="n">(\d+)</td><td>', first)]
    assert results[:3] == [AUDIT_PAGE + 4, AUDIT_PAGE + 3, AUDIT_PAGE + 2] and len(results) == AUDIT_PAGE
    assert "0791900" not in first                                     # the ids masked
    older = re.search(r'href="(/admin\?before=\d+)" id="audit-older"', first).group(1)
    second = admin.get(older).get_data(as_text=True)
    assert [int(x) for x in re.findall(r'<td class="n">(\d+)</td><td>', second)] == [4, 3, 2, 1, 0]
    assert 'id="audit-older"' not in second


def test_nobody_but_an_admin_gets_in(console):
    for role in ("tracer", "reporter", "fleet"):
        b = Browser(console).sign_in([role], name=f"user-{role}")
        b.get("/")
        assert b.get("/admin").status_code == 403
        for path, form in (("/admin/users", {"name": "x", "role": ["admin"]}), ("/admin/users/reset", {"name": "x"}),
                           ("/admin/tokens", {"name": "x", "role": "tracer"})):
            assert b.post(path, form).status_code == 403
    assert not any(u.name == "x" for u in console.users.list())
