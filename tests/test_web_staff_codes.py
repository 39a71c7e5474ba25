"""A staff phone check-in confirmed by a one-time code (issue 13), through Flask's test client on a
real kiosk database, with the contract's file SMS: the code is texted, the citizen reads it out,
staff type it in the field named ``otp``, and only then is the household checked in, its events
saying the phone was verified; when no code can be sent, staff let them in unverified, with the
reason, and the door never waits on the phone network."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

import kiosk_db
from configs import config_text
from kiosk.config import parse_config
from kiosk.staff.phone_codes import CODE_TTL, MAX_ATTEMPTS, PER_PHONE
from kiosk.staff.services import CODES_KEY_FILE, StaffServices
from kiosk.web import WebContext, create_app
from kiosk.web.live import LiveFeed
from test_web_staff import PHONE, declare, login, post


def staff_kiosk(tmp_path, clock, centre_sms=None, **sms):
    """centre_sms: makes the texts through the centre, for ``kind = "centre"``."""
    config = parse_config(config_text(kiosk={"id": "k-01", "venue_id": "cho-thu", "venue_name": "Chợ Thử",
                                             "data_dir": tmp_path / "data"}, sms=sms))
    services = StaffServices.open(config, clock, centre_sms=centre_sms() if centre_sms else None)
    app = create_app(WebContext(config, LiveFeed(), status=lambda: {}, occupancy=lambda: 0, staff=services))
    app.config["TESTING"] = True
    return services, app.test_client()


@pytest.fixture
def kiosk(tmp_path, clock):
    services, client = staff_kiosk(tmp_path, clock, kind="file", path=tmp_path / "sms")
    yield services, client, tmp_path / "sms"
    services.close()


def texts(folder: Path) -> list[tuple[str, str]]:
    """(phone, code) of each text the kiosk sent, oldest first (the contract's file SMS)."""
    out = []
    for path in sorted(folder.glob("*.txt"), key=lambda p: p.stat().st_mtime_ns):
        number, _, body = path.read_text(encoding="utf-8").partition("\n")
        out.append((number, re.search(r"\b(\d{6})\b", body)[1]))
    return out


def household(client, services, *names: str) -> list[str]:
    """Declared (and so checked in) then checked out again: the household waits at the door."""
    login(client, services)
    for name in names:
        assert declare(client, name=name, birth="").status_code == 200
    html = post(client, "/staff/phone", {"phone": PHONE}).get_data(as_text=True)
    ids = re.findall(r'name="person" value="([^"]+)"', html)
    assert post(client, "/staff/phone", {"phone": PHONE, "action": "check_out", "person": ids}).status_code == 200
    return ids


def check_ins(services) -> list[dict]:
    """The staff phone check-ins the kiosk recorded (not the declarations' own)."""
    return [e for e in kiosk_db.events(services.store) if e["type"] == "check_in" and e["method"] == "staff_phone"]


def audit(services, action: str) -> list[dict]:
    return [a for a in services.audit.recent() if a["action"] == action]


def test_check_in_texts_a_code_and_only_the_code_read_out_lets_the_household_in(kiosk):
    services, client, sms = kiosk
    ids = household(client, services, "Bà Ngoại Thử", "Mẹ Thử")
    r = post(client, "/staff/phone", {"phone": PHONE, "action": "check_in", "person": ids})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Đã gửi mã 6 số đến 0912***678" in html
    assert 'name="otp"' in html and 'autocomplete="one-time-code"' in html and 'id="check-in"' not in html
    assert html.count(" checked>") == 2                          # the household chosen stays chosen
    [(number, code)] = texts(sms)
    assert number == PHONE and check_ins(services) == []         # nobody is in before the code
    wrong = "000000" if code != "000000" else "111111"
    r = post(client, "/staff/phone", {"phone": PHONE, "action": "confirm", "person": ids, "otp": wrong})
    assert r.status_code == 400 and "Mã không đúng" in r.get_data(as_text=True) and check_ins(services) == []
    r = post(client, "/staff/phone", {"phone": PHONE, "action": "confirm", "person": ids,
                                      "otp": f"{code[:3]} {code[3:]}"})      # as read out, in two halves
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and len(re.findall(r'class="ok">Đã cho [^<]+ vào lúc', html)) == 2
    assert "Đã xác minh số điện thoại bằng mã." in html
    events = check_ins(services)
    assert [e["phone_check"] for e in events] == [{"verified": True, "reason": None}] * 2
    assert [a["detail"] for a in audit(services, "check_in")][:2] == ["verified"] * 2
    assert [a["detail"] for a in audit(services, "phone_code_checked")] == ["ok", "wrong"]
    # Good once: the same code again is refused, and checks nobody in.
    r = post(client, "/staff/phone", {"phone": PHONE, "action": "confirm", "person": ids, "otp": code})
    assert r.status_code == 400 and "đã được dùng" in r.get_data(as_text=True) and len(check_ins(services)) == 2


def test_a_code_expires_and_too_many_tries_suggest_letting_them_in_without(kiosk, wall):
    services, client, sms = kiosk
    ids = household(client, services, "Mẹ Thử")
    post(client, "/staff/phone", {"phone": PHONE, "action": "check_in", "person": ids})
    [(_, code)] = texts(sms)
    wall.advance(CODE_TTL.total_seconds() + 1)
    r = post(client, "/staff/phone", {"phone": PHONE, "action": "confirm", "person": ids, "otp": code})
    assert r.status_code == 400 and "Mã đã hết hạn" in r.get_data(as_text=True)
    post(client, "/staff/phone", {"phone": PHONE, "action": "send_code", "person": ids})
    code = texts(sms)[-1][1]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(MAX_ATTEMPTS):
        post(client, "/staff/phone", {"phone": PHONE, "action": "confirm", "person": ids, "otp": wrong})
    r = post(client, "/staff/phone", {"phone": PHONE, "action": "confirm", "person": ids, "otp": code})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "Nhập sai quá nhiều lần" in html and check_ins(services) == []
    assert 'value="code_refused" checked' in html and '<details class="without" id="without" open>' in html


def test_without_a_text_staff_let_the_household_in_unverified_with_the_reason(tmp_path, clock):
    (tmp_path / "sms").write_text("not a folder")              # the text cannot be handed over
    services, client = staff_kiosk(tmp_path, clock, kind="file", path=tmp_path / "sms")
    try:
        ids = household(client, services, "Bà Ngoại Thử")
        r = post(client, "/staff/phone", {"phone": PHONE, "action": "check_in", "person": ids})
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and "Máy chưa gửi được tin nhắn" in html and 'name="otp"' not in html
        assert 'value="sms_failed" checked' in html and '<details class="without" id="without" open>' in html
        r = post(client, "/staff/phone", {"phone": PHONE, "action": "unverified", "person": ids})
        assert r.status_code == 400 and "Hãy chọn lý do" in r.get_data(as_text=True) and check_ins(services) == []
        r = post(client, "/staff/phone", {"phone": PHONE, "action": "unverified", "person": ids, "reason": "no_sms"})
        assert r.status_code == 400 and check_ins(services) == []    # the kiosk's own reason, not staff's
        r = post(client, "/staff/phone", {"phone": PHONE, "action": "unverified", "person": ids,
                                          "reason": "sms_failed"})
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and "Chưa xác minh số điện thoại: Máy không gửi được tin nhắn." in html
        [event] = check_ins(services)
        assert event["phone_check"] == {"verified": False, "reason": "sms_failed"}
        assert audit(services, "check_in")[0]["detail"] == "unverified:sms_failed"
        assert [a["detail"] for a in audit(services, "phone_code_sent")] == ["sms_failed"]
    finally:
        services.close()


def test_a_citizen_without_their_phone_is_let_in_unverified_after_a_code_was_sent(kiosk):
    services, client, sms = kiosk
    ids = household(client, services, "Ông Thử")
    post(client, "/staff/phone", {"phone": PHONE, "action": "check_in", "person": ids})
    r = post(client, "/staff/phone", {"phone": PHONE, "action": "unverified", "person": ids,
                                      "reason": "no_phone_signal"})
    assert r.status_code == 200
    assert [e["phone_check"] for e in check_ins(services)] == [{"verified": False, "reason": "no_phone_signal"}]


def test_a_fourth_code_to_one_phone_is_refused_with_when_to_try_again(kiosk):
    services, client, sms = kiosk
    ids = household(client, services, "Mẹ Thử")
    for _ in range(PER_PHONE):
        assert post(client, "/staff/phone", {"phone": PHONE, "action": "send_code", "person": ids}).status_code == 200
    r = post(client, "/staff/phone", {"phone": PHONE, "action": "send_code", "person": ids})
    html = r.get_data(as_text=True)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0 and "đã nhận đủ mã" in html
    assert 'value="rate_limited" checked' in html and len(texts(sms)) == PER_PHONE


def test_no_code_for_a_household_inside_already_and_none_for_a_check_out(kiosk):
    services, client, sms = kiosk
    login(client, services)
    declare(client, name="Mẹ Thử", birth="")                          # declared: inside
    html = post(client, "/staff/phone", {"phone": PHONE}).get_data(as_text=True)
    ids = re.findall(r'name="person" value="([^"]+)"', html)
    r = post(client, "/staff/phone", {"phone": PHONE, "action": "check_in", "person": ids})
    assert "đang ở trong rồi" in r.get_data(as_text=True) and texts(sms) == []
    post(client, "/staff/phone", {"phone": PHONE, "action": "check_out", "person": ids})
    [out] = [e for e in kiosk_db.events(services.store) if e["type"] == "check_out"]
    assert "phone_check" not in out and texts(sms) == []


def test_with_codes_off_a_check_in_is_at_once_and_says_so_to_the_centre(tmp_path, clock):
    services, client = staff_kiosk(tmp_path, clock)                     # [sms] kind = "none", the default
    try:
        ids = household(client, services, "Mẹ Thử")
        r = post(client, "/staff/phone", {"phone": PHONE, "action": "check_in", "person": ids})
        assert r.status_code == 200 and 'name="otp"' not in r.get_data(as_text=True)
        assert [e["phone_check"] for e in check_ins(services)] == [{"verified": False, "reason": "no_sms"}]
    finally:
        services.close()


def test_the_page_learns_what_became_of_the_text_by_a_post_without_the_number_in_a_url(kiosk):
    services, client, sms = kiosk
    ids = household(client, services, "Mẹ Thử")
    html = post(client, "/staff/phone", {"phone": PHONE, "action": "check_in", "person": ids}).get_data(as_text=True)
    assert 'id="delivery"' in html and "Tin nhắn đã gửi đi." in html     # the file SMS is sent at once
    r = post(client, "/staff/phone/delivery", {"phone": PHONE})
    assert r.status_code == 200 and r.get_json() == {"state": "sent", "text": "Tin nhắn đã gửi đi."}
    for message in sms.glob("*.txt"):        # the file SMS says a message it no longer has failed
        message.unlink()
    assert post(client, "/staff/phone/delivery", {"phone": PHONE}).get_json() == {
        "state": "failed", "text": "Tin nhắn không gửi được đến số này.", "reason": "not_delivered"}
    assert post(client, "/staff/phone/delivery", {"phone": "0987654321"}).get_json()["state"] is None
    assert post(client, "/staff/phone/delivery", {"phone": "not a phone"}).status_code == 400


def test_no_code_and_no_number_in_logs_urls_or_the_audit_and_the_key_is_private(kiosk, caplog):
    services, client, sms = kiosk
    with caplog.at_level(logging.DEBUG):
        ids = household(client, services, "Mẹ Thử")
        r = post(client, "/staff/phone", {"phone": PHONE, "action": "check_in", "person": ids})
        html = r.get_data(as_text=True)
        [(_, code)] = texts(sms)
        post(client, "/staff/phone", {"phone": PHONE, "action": "confirm", "person": ids, "otp": code})
    for url in re.findall(r'(?:href|action|src|data-poll)="([^"]*)"', html):
        assert PHONE not in url and code not in url
    assert PHONE not in caplog.text and code not in caplog.text
    trail = repr(services.audit.recent())
    assert PHONE not in trail and code not in trail and "678" not in trail
    key = Path(services.store.path).parent / CODES_KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600 and code.encode() not in Path(services.store.path).read_bytes()
