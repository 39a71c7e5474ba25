"""One-time codes to a citizen's phone (kiosk/staff/phone_codes.py), on a real kiosk store: one
code per request, expiry, attempts, rate limits per phone and per kiosk, kept only as keyed hashes,
every send and check audited without a number or a code; through the file SMS and through the real
Gammu SMS daemon on its dummy phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.staff.audit import Audit
from kiosk.staff.phone_codes import (
    CHECK_RESULTS,
    CODE_TTL,
    MAX_ATTEMPTS,
    PER_KIOSK,
    PER_PHONE,
    RATE_WINDOW,
    SEND_STATES,
    PhoneCodes,
)
from kiosk.store import VisitStore
from mqtt.plumbing.sms import open_sms
from test_sms import GammuDaemon, gammu  # noqa: F401 - the fixture
from waiting import wait_for

PHONE, STAFF, KEY = "0912345678", "s-1a2b3c4d", b"a kiosk's own key, 32 bytes long"


class Clock:
    def __init__(self, t: float = 1_787_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def kiosk(tmp_path):
    store = VisitStore.open(tmp_path / "kiosk.db")
    clock = Clock()
    codes = PhoneCodes(store, open_sms("file", folder=tmp_path / "sms"), KEY, Audit(store, clock=clock),
                       venue_name="Chợ Phan Rang", clock=clock)
    yield codes, clock, tmp_path
    store.close()


def texted(folder: Path) -> list[tuple[str, str]]:
    """(phone, code) of each message texted, oldest first."""
    out = []
    for path in sorted(folder.glob("*.txt")):
        phone, _, body = path.read_text(encoding="utf-8").partition("\n")
        out.append((phone, body.split(": ", 1)[1][:6]))
    return out


def other(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_the_code_texted_checks_once_and_the_text_says_where_and_how_long(kiosk):
    codes, _, tmp = kiosk
    assert codes.send(STAFF, PHONE).state == "sent"
    [(phone, code)] = texted(tmp / "sms")
    body = next((tmp / "sms").glob("*.txt")).read_text(encoding="utf-8")
    assert phone == PHONE and "Chợ Phan Rang" in body and "5 phút" in body
    assert codes.check(STAFF, PHONE, other(code)) == "wrong"
    assert codes.check(STAFF, PHONE, f" {code[:3]} {code[3:]} ") == "ok"       # as read out, with a space
    assert codes.check(STAFF, PHONE, code) == "used"
    assert codes.check(STAFF, "0987654321", code) == "none"                   # another phone: no code
    assert codes.delivery(PHONE) == "sent"


def test_a_new_code_replaces_the_last_and_codes_expire(kiosk):
    codes, clock, tmp = kiosk
    codes.send(STAFF, PHONE)
    clock.t += 30
    codes.send(STAFF, PHONE)
    (_, first), (_, second) = texted(tmp / "sms")
    if first != second:
        assert codes.check(STAFF, PHONE, first) == "wrong"                    # only the latest counts
    clock.t += CODE_TTL.total_seconds()
    assert codes.check(STAFF, PHONE, second) == "expired"


def test_a_few_attempts_then_none(kiosk):
    codes, _, tmp = kiosk
    codes.send(STAFF, PHONE)
    [(_, code)] = texted(tmp / "sms")
    assert [codes.check(STAFF, PHONE, other(code)) for _ in range(MAX_ATTEMPTS)] == ["wrong"] * MAX_ATTEMPTS
    assert codes.check(STAFF, PHONE, code) == "too_many"                      # even the right one now


def test_sending_is_limited_per_phone_and_per_kiosk(kiosk):
    codes, clock, _ = kiosk
    assert [codes.send(STAFF, PHONE).state for _ in range(PER_PHONE)] == ["sent"] * PER_PHONE
    refused = codes.send(STAFF, PHONE)
    assert refused.state == "rate_phone" and refused.retry_after_s > 0
    clock.t += RATE_WINDOW.total_seconds() + 1
    assert codes.send(STAFF, PHONE).state == "sent"                           # the window moved on
    states = [codes.send(STAFF, f"09{n:08d}").state for n in range(PER_KIOSK)]
    assert 1 + states.count("sent") == PER_KIOSK and codes.send(STAFF, "0900000999").state == "rate_kiosk"
    assert set(states) <= set(SEND_STATES)


def test_nothing_on_disk_or_in_the_audit_names_the_phone_or_the_code(kiosk):
    codes, _, tmp = kiosk
    codes.send(STAFF, PHONE)
    [(_, code)] = texted(tmp / "sms")
    codes.check(STAFF, PHONE, other(code))
    codes.check(STAFF, PHONE, code)
    rows = codes.audit.recent()
    assert [(r["action"], r["detail"]) for r in reversed(rows)] == [
        ("phone_code_sent", "sent"), ("phone_code_checked", "wrong"), ("phone_code_checked", "ok")]
    assert all(r["staff_id"] == STAFF for r in rows)
    codes.store.close()
    data = b"".join(p.read_bytes() for p in tmp.glob("kiosk.db*"))
    assert PHONE.encode() not in data and code.encode() not in data
    assert PHONE.encode() not in repr(rows).encode()


def test_without_sms_or_when_it_cannot_take_the_message(tmp_path):
    store = VisitStore.open(tmp_path / "kiosk.db")
    try:
        off = PhoneCodes(store, None, KEY, Audit(store), venue_name="Chợ")
        assert not off.enabled and off.send(STAFF, PHONE).state == "no_sms" and off.delivery(PHONE) is None
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where the folder should be")
        broken = PhoneCodes(store, open_sms("file", folder=blocker / "sms"), KEY, Audit(store), venue_name="Chợ")
        result = broken.send(STAFF, PHONE)
        assert result.state == "sms_failed" and not result.on_its_way
        with pytest.raises(ValueError, match="16 bytes"):
            PhoneCodes(store, None, b"short", Audit(store), venue_name="Chợ")
    finally:
        store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(max_size=20))
def test_anything_typed_is_an_answer_never_an_error(kiosk, typed):
    codes, _, _ = kiosk
    assert codes.check(STAFF, PHONE, typed) in CHECK_RESULTS


def test_a_code_through_the_gammu_daemon(gammu, tmp_path):
    gammu.start()
    store = VisitStore.open(tmp_path / "kiosk.db")
    try:
        codes = PhoneCodes(store, open_sms("gammu", smsdrc=gammu.config), KEY, Audit(store), venue_name="Chợ")
        assert codes.send(STAFF, PHONE).state in ("queued", "sent")
        wait_for(lambda: codes.delivery(PHONE) == "sent", timeout=30, what="the daemon to send the code")
    finally:
        store.close()
