"""The wire contract: topics and the strict ``checkin.event/1`` validator (property-tested)."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given, settings, strategies as st

from mqtt import contract
from mqtt.contract import InvalidEvent, validate_event

BASE = {"schema": "checkin.event/1", "event_id": "2c7cbcd8-93bd-456d-a9ad-3fa239e488a9", "kiosk_id": "k-001",
        "venue_id": "cho-thu", "seq": 7, "type": "check_in", "visit_id": "3c7cbcd8-93bd-456d-a9ad-3fa239e488a9",
        "at": "2021-08-15T08:31:02.153+07:00", "clock": {"synced": True, "boot_id": "b-1", "uptime_s": 8123.4},
        "method": "camera", "staff_id": None, "estimated": False,
        "person": {"kind": "cccd", "id": "079190000001", "name": "Nguyễn Thị Mẫu", "birth_date": "1990-01-01",
                   "sex": "female", "phone": None}}


def encode(event) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def test_a_contract_event_is_valid_and_unchanged():
    assert validate_event(encode(BASE), topic_kiosk_id="k-001") == BASE


def test_topics():
    assert contract.events_topic("k-001") == "kiosks/k-001/events"
    assert contract.cmd_topic("k-001", "ping") == "kiosks/k-001/cmd/ping"
    assert contract.shared("collectors", contract.EVENTS_FILTER) == "$share/collectors/kiosks/+/events"
    assert contract.parse_topic("kiosks/k-001/cmd/ping") == ("k-001", "cmd/ping")
    assert contract.parse_topic("kiosks/K 1/events") is None and contract.parse_topic("other/k/events") is None


@pytest.mark.parametrize("change, reason", [
    ({"kiosk_id": "k-002"}, "kiosk_mismatch"),
    ({"schema": "checkin.event/2"}, "schema"),
    ({"extra": 1}, "schema"),
    ({"seq": 0}, "field"), ({"seq": True}, "field"), ({"seq": "7"}, "field"),
    ({"type": "enter"}, "field"),
    ({"method": None}, "field"),                       # only an auto check-out has no method
    ({"at": "2021-08-15T08:31:02"}, "field"),          # no offset
    ({"event_id": BASE["event_id"].upper()}, "field"),
    ({"clock": {"synced": "yes", "boot_id": "b", "uptime_s": 1}}, "field"),
    ({"estimated": "no"}, "field"),
    ({"person": {**BASE["person"], "sex": "m"}}, "field"),
    ({"person": {**BASE["person"], "name": "Nguyễn\u202eThị"}}, "field"),
    ({"person": {**BASE["person"], "phone": "+84912345678"}}, "field"),
    ({"person": {**BASE["person"], "address": "Phường Mẫu"}}, "schema"),   # addresses are not sent
])
def test_each_rule_refuses_with_its_reason(change, reason):
    with pytest.raises(InvalidEvent) as err:
        validate_event(encode({**BASE, **change}), topic_kiosk_id="k-001")
    assert err.value.reason == reason


def test_oversize_and_not_json():
    with pytest.raises(InvalidEvent, match="oversize"):
        validate_event(b"{" + b" " * contract.MAX_EVENT_BYTES + b"}")
    for junk in (b"\xff\xfe", b"[1, 2]", b"nope"):
        with pytest.raises(InvalidEvent):
            validate_event(junk)


def test_auto_check_out_may_have_no_method():
    auto = {**BASE, "type": "auto_check_out", "method": None, "estimated": True}
    assert validate_event(encode(auto))["estimated"] is True


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_are_an_event_or_invalid(data):
    try:
        validate_event(data)
    except InvalidEvent:
        pass


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
                           max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(BASE)), json_values)
def test_any_field_replaced_by_any_json_is_valid_or_invalid_never_a_crash(field, value):
    try:
        validate_event(encode({**BASE, field: value}))
    except InvalidEvent:
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["name", "id", "birth_date", "phone"]),
       st.characters(whitelist_categories=("Cc", "Cf", "Co")), st.integers(0, 5))
def test_control_characters_in_person_fields_are_refused(field, ch, pos):
    value = (BASE["person"][field] or "0912345678")
    person = {**BASE["person"], field: value[:pos] + ch + value[pos:]}
    with pytest.raises(InvalidEvent):
        validate_event(encode({**BASE, "person": person}))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Zs"), max_codepoint=0x1EFF),
               min_size=1, max_size=60).filter(lambda s: s.strip() == s and s),
       st.integers(1, 2**40), st.booleans())
def test_valid_events_round_trip(name, seq, synced):
    event = {**BASE, "seq": seq, "event_id": str(uuid.uuid4()), "clock": {**BASE["clock"], "synced": synced},
             "person": {**BASE["person"], "name": name}}
    assert validate_event(encode(event)) == event
