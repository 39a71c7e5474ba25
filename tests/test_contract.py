"""The wire contract: topics and the strict ``checkin.event/1`` validator (property-tested)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqtt.wire.acks import ACK_SCHEMA, MAX_ACK_BYTES, decode_ack, encode_ack, encode_acks
from mqtt.wire.event import (
    DECLARATION_VIA,
    EARLIEST_SYNCED_AT,
    MAX_AHEAD,
    MAX_EVENT_BYTES,
    MAX_NAME_CHARS,
    MAX_QUESTIONS,
    PHONE_CHECK_REASONS,
    UNSYNCED_RANGE,
    build_event,
    check_event,
    check_person,
    event_id_of,
    validate_event,
)
from mqtt.wire.fields import MAX_JSON_DEPTH, InvalidEvent, has_controls, load_json
from mqtt.wire.selftest_report import validate_selftest
from mqtt.wire.topics import EVENTS_FILTER, cmd_topic, events_topic, parse_topic, shared

BASE = {"schema": "checkin.event/1", "event_id": "2c7cbcd8-93bd-456d-a9ad-3fa239e488a9", "kiosk_id": "k-001",
        "venue_id": "cho-thu", "seq": 7, "type": "check_in", "visit_id": "3c7cbcd8-93bd-456d-a9ad-3fa239e488a9",
        "at": "2025-08-15T08:31:02.153+07:00", "clock": {"synced": True, "boot_id": "b-1", "uptime_s": 8123.4},
        "method": "camera", "staff_id": None, "estimated": False,
        "person": {"kind": "cccd", "id": "079190000001", "name": "Nguyễn Thị Mẫu", "birth_date": "1990-01-01",
                   "sex": "female", "phone": None}}


def encode(event) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def test_a_contract_event_is_valid_and_unchanged():
    assert validate_event(encode(BASE), topic_kiosk_id="k-001") == BASE


def test_topics():
    assert events_topic("k-001") == "kiosks/k-001/events"
    assert cmd_topic("k-001", "ping") == "kiosks/k-001/cmd/ping"
    assert shared("collectors", EVENTS_FILTER) == "$share/collectors/kiosks/+/events"
    assert parse_topic("kiosks/k-001/cmd/ping") == ("k-001", "cmd/ping")
    assert parse_topic("kiosks/K 1/events") is None and parse_topic("other/k/events") is None


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
        validate_event(b"{" + b" " * MAX_EVENT_BYTES + b"}")
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


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=20),
                           lambda children: (st.lists(children, max_size=3)
                                             | st.dictionaries(st.text(max_size=8), children, max_size=3)),
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


# -- the plausible time window (issue 10, item 5) ------------------------------------------------

NOW = datetime(2026, 9, 21, 3, 0, tzinfo=UTC)


def timed(at: str, synced: bool) -> bytes:
    return encode({**BASE, "at": at, "clock": {**BASE["clock"], "synced": synced}})


@pytest.mark.parametrize("at, synced", [
    ("9999-12-31T23:59:59.999+00:00", True),            # sorted first forever, never purged
    ("2026-09-23T03:00:00.001+00:00", True),             # more than a day ahead of the receiver
    ("2024-12-31T23:59:59.999+00:00", True),             # before the product existed
    ("1970-01-01T00:00:10.000+00:00", True),
    ("0001-01-01T00:00:00.000+07:00", True),             # not even a time in UTC
    ("0001-01-01T00:00:00.000+07:00", False),
    ("9999-12-31T23:00:00.000-07:00", False),
    ("1969-12-31T23:59:59.999+00:00", False),            # before any clock reading
    ("2100-01-01T00:00:00.000+00:00", False),
])
def test_implausible_times_are_refused_with_their_reason(at, synced):
    with pytest.raises(InvalidEvent) as err:
        validate_event(timed(at, synced), now=NOW)
    assert err.value.reason == "implausible_time"


@pytest.mark.parametrize("at, synced", [
    ("2025-01-01T07:00:00.000+07:00", True),             # the first moment of the window
    ("2026-09-22T03:00:00.000+00:00", True),             # a day ahead: a badly set collector
    ("2025-08-15T08:31:02.153+07:00", True),             # months late: an outbox held offline
    ("1970-01-01T00:00:10.000+00:00", False),            # a Pi without a battery clock, not synced yet
    ("2099-12-31T23:59:59.999+00:00", False),            # any unsynced reading: corrected centrally
    ("2019-06-01T12:00:00.000+07:00", False),            # the last fake-hwclock time of an old image
])
def test_plausible_times_are_taken(at, synced):
    assert validate_event(timed(at, synced), now=NOW)["at"] == at


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), st.booleans(),
       st.sampled_from([0, 7, -7, 14]))
def test_any_time_is_taken_exactly_when_it_lies_in_the_window(when, synced, hours):
    at = when.replace(tzinfo=timezone(timedelta(hours=hours)))
    text = at.isoformat(timespec="milliseconds")
    utc = datetime.fromisoformat(text).astimezone(UTC)
    if synced:
        inside = EARLIEST_SYNCED_AT <= utc <= NOW + MAX_AHEAD
    else:
        inside = UNSYNCED_RANGE[0] <= utc < UNSYNCED_RANGE[1]
    try:
        validate_event(timed(text, synced), now=NOW)
    except InvalidEvent as err:
        assert not inside and err.reason == "implausible_time"
    else:
        assert inside


def test_the_default_window_is_the_receivers_clock():
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="milliseconds")
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat(timespec="milliseconds")
    assert validate_event(timed(soon, True))
    with pytest.raises(InvalidEvent, match="implausible_time"):
        validate_event(timed(later, True))


# -- person limits (issue 10, item 1): one definition, public for the kiosk -----------------------

def test_a_name_of_the_limit_is_taken_one_more_is_refused():
    name = "Thử " * (MAX_NAME_CHARS // 4)
    ok = {**BASE["person"], "name": name.strip() + "x" * (MAX_NAME_CHARS - len(name.strip()))}
    assert len(ok["name"]) == MAX_NAME_CHARS
    assert validate_event(encode({**BASE, "person": ok}))
    with pytest.raises(InvalidEvent, match="1-200 characters"):
        validate_event(encode({**BASE, "person": {**ok, "name": ok["name"] + "y"}}))
    with pytest.raises(InvalidEvent):
        check_person({**ok, "name": ok["name"] + "y"})


@pytest.mark.parametrize("field, value", [("birth_date", "١٩٩٠"), ("phone", "0٩١٢٣٤٥٦٧٨")])
def test_digits_of_other_scripts_are_not_ascii_digits(field, value):
    with pytest.raises(InvalidEvent):
        check_person({**BASE["person"], field: value})


def test_check_event_is_the_collectors_validator_on_the_encoded_event():
    check_event(BASE, now=NOW)
    with pytest.raises(InvalidEvent, match="implausible_time"):
        check_event({**BASE, "at": "9999-01-01T00:00:00.000+07:00"}, now=NOW)
    with pytest.raises(InvalidEvent, match="field"):
        check_event({**BASE, "person": {**BASE["person"], "name": "x" * 201}}, now=NOW)


# -- acks with refusals ---------------------------------------------------------------------------

def test_an_ack_may_name_refused_events_with_their_reasons():
    ids = [str(uuid.uuid4()) for _ in range(2)]
    refused = [(str(uuid.uuid4()), "implausible_time")]
    payload = encode_ack(ids, refused)
    assert decode_ack(payload) == (ids, refused)          # one decoder, one parse
    plain = encode_ack(ids)
    assert b"refused" not in plain and decode_ack(plain) == (ids, [])


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_refusals_field_is_read_or_refused_never_a_crash(value):
    payload = encode({"schema": ACK_SCHEMA, "event_ids": [], "refused": value})
    try:
        _, refused = decode_ack(payload)
    except ValueError:
        return
    assert all(len(event_id) == 36 and reason for event_id, reason in refused)


def decoded(payloads: list[bytes]) -> tuple[list[str], list[tuple[str, str]]]:
    """What the kiosk reads from a collector's acks, in order."""
    ids, refused = [], []
    for payload in payloads:
        assert len(payload) <= MAX_ACK_BYTES
        one_ids, one_refused = decode_ack(payload)
        ids += one_ids
        refused += one_refused
    return ids, refused


def test_many_refusals_go_in_acks_the_kiosk_takes():
    """600 refusals (a kiosk whose clock ran ahead for a day) were one ack of 48 kB, which the
    kiosk refused as too large: it never set them aside. They go in acks within its limit."""
    ids = [str(uuid.uuid4()) for _ in range(1200)]
    refused = [(str(uuid.uuid4()), "visit_of_other_kiosk") for _ in range(600)]
    with pytest.raises(ValueError):
        encode_ack([], refused)                  # one ack cannot hold them
    payloads = encode_acks(ids, refused)
    assert len(payloads) == 3 and decoded(payloads) == (ids, refused)
    assert encode_acks([]) == []


uuids = st.uuids().map(str)
reasons = st.sampled_from(["implausible_time", "visit_of_other_kiosk", "store_rejected", "not_json", "field"]) \
    | st.text(max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(uuids, max_size=2500), st.lists(st.tuples(uuids, reasons), max_size=1500))
def test_every_ack_the_collector_can_encode_decodes_at_the_kiosk(ids, refused):
    try:
        payloads = encode_acks(ids, refused)
    except ValueError:                                    # a refusal no kiosk could read: never sent
        assert not all(0 < len(r) <= 32 and not has_controls(r) for _, r in refused)
        return
    assert decoded(payloads) == (ids, refused)


@settings(max_examples=100, deadline=None)
@given(st.lists(uuids, max_size=40), st.lists(st.tuples(uuids, reasons), max_size=40))
def test_one_ack_encodes_only_what_decodes(ids, refused):
    try:
        payload = encode_ack(ids, refused)
    except ValueError:
        return
    assert decode_ack(payload) == (ids, refused)


# -- one JSON reader for the wire (nesting, bad bytes) ------------------------------------------

NESTED = b"[" * 2000 + b"]" * 2000


@pytest.mark.parametrize("payload", [NESTED, b'{"a":' * 600 + b"1" + b"}" * 600,
                                     b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)])
def test_deeply_nested_json_is_refused_as_not_json_by_every_reader(payload):
    """json.loads raises RecursionError (not a ValueError) for such nesting: it stopped central
    ingest for good. Every reader refuses it as the contract's not_json."""
    for read in (load_json, validate_event, validate_selftest):
        with pytest.raises(InvalidEvent) as err:
            read(payload)
        assert err.value.reason == "not_json"
    assert event_id_of(payload) is None
    with pytest.raises(ValueError):
        decode_ack(payload)


def depth_of(value) -> int:
    if isinstance(value, (dict, list)):
        return 1 + max(map(depth_of, value.values() if isinstance(value, dict) else value), default=0)
    return 0


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3000), st.sampled_from([("[", "]"), ('{"k":', "}")]), json_values)
def test_any_nesting_is_read_or_refused_as_not_json(depth, brackets, inner):
    opening, closing = brackets
    payload = (opening * depth + json.dumps(inner) + closing * depth).encode()
    nested = depth + depth_of(inner)
    try:
        load_json(payload)
    except InvalidEvent as err:
        assert err.reason == "not_json" and nested > MAX_JSON_DEPTH
    else:
        assert nested <= MAX_JSON_DEPTH


# -- phone_check: a staff phone check-in, with or without the one-time code (issue 13) -------------

STAFF_PHONE = {**BASE, "method": "staff_phone", "staff_id": "s-1a2b3c4d",
               "person": {**BASE["person"], "kind": "kiosk_card", "id": "p-7f3e2a1b", "phone": "0912345678"}}


@pytest.mark.parametrize("check", [{"verified": True, "reason": None}] + [
    {"verified": False, "reason": reason} for reason in PHONE_CHECK_REASONS])
def test_a_staff_phone_check_in_says_whether_the_phone_was_verified(check):
    event = {**STAFF_PHONE, "phone_check": check}
    assert validate_event(encode(event), topic_kiosk_id="k-001") == event
    assert "phone_check" not in validate_event(encode(STAFF_PHONE))            # optional: older kiosks


@pytest.mark.parametrize("event", [
    {**BASE, "phone_check": {"verified": True, "reason": None}},                  # a camera check-in
    {**STAFF_PHONE, "type": "check_out", "phone_check": {"verified": True, "reason": None}},
    {**STAFF_PHONE, "phone_check": {"verified": True, "reason": "no_sms"}},       # verified has no reason
    {**STAFF_PHONE, "phone_check": {"verified": False, "reason": None}},          # unverified says why
    {**STAFF_PHONE, "phone_check": {"verified": False, "reason": "because"}},
    {**STAFF_PHONE, "phone_check": {"verified": "yes", "reason": None}},
    {**STAFF_PHONE, "phone_check": {"verified": True}},
    {**STAFF_PHONE, "phone_check": {"verified": True, "reason": None, "code": "123456"}},   # never the code
    {**STAFF_PHONE, "phone_check": None},
])
def test_a_phone_check_out_of_place_or_malformed_is_refused(event):
    with pytest.raises(InvalidEvent) as err:
        validate_event(encode(event))
    assert err.value.reason in ("field", "schema")


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_phone_check_is_read_or_refused_never_a_crash(value):
    try:
        event = validate_event(encode({**STAFF_PHONE, "phone_check": value}))
    except InvalidEvent:
        return
    assert isinstance(event["phone_check"]["verified"], bool)


def test_the_kiosks_builder_takes_a_phone_check_only_where_the_validator_does():
    fields = {k: STAFF_PHONE[k] for k in ("seq", "event_id", "type", "kiosk_id", "venue_id", "visit_id", "at",
                                         "clock", "method", "staff_id", "person")}
    now = datetime(2025, 8, 15, 2, tzinfo=UTC)
    built = build_event(**fields, now=now, phone_check={"verified": False, "reason": "sms_failed"})
    assert built["phone_check"] == {"verified": False, "reason": "sms_failed"}
    assert "phone_check" not in build_event(**fields, now=now)
    with pytest.raises(InvalidEvent):
        build_event(**{**fields, "method": "camera"}, now=now, phone_check={"verified": True, "reason": None})


# -- declaration: the visitor's health declaration of the day, on a check-in (issue 13) ------------

question_ids = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)
declarations = st.builds(
    lambda answers, via, flag: {"made_at": "2025-08-15T07:12:00+07:00", "via": via, "answers": answers,
                                "flagged": flag and any(answers.values())},
    st.dictionaries(question_ids, st.booleans(), min_size=1, max_size=MAX_QUESTIONS),
    st.sampled_from(DECLARATION_VIA), st.booleans())


@settings(max_examples=200, deadline=None)
@given(declarations)
def test_any_valid_declaration_travels_on_a_check_in_unchanged(declaration):
    for event in ({**BASE, "declaration": declaration}, {**STAFF_PHONE, "declaration": declaration}):
        assert validate_event(encode(event), topic_kiosk_id="k-001") == event
    assert "declaration" not in validate_event(encode(BASE))                  # optional: none made


DECLARATION = {"made_at": "2025-08-15T07:12:00+07:00", "via": "screen", "answers": {"fever": False, "cough": True},
               "flagged": True}


@pytest.mark.parametrize("event", [
    {**BASE, "type": "check_out", "declaration": DECLARATION},                   # a check-in's only
    {**BASE, "declaration": {**DECLARATION, "answers": {"fever": False}}},       # flagged needs a yes
    {**BASE, "declaration": {**DECLARATION, "answers": {}}},
    {**BASE, "declaration": {**DECLARATION, "answers": {"Fever": True}}},
    {**BASE, "declaration": {**DECLARATION, "answers": {"fever": "yes"}}},
    {**BASE, "declaration": {**DECLARATION, "answers": {"fever": 1}}},
    {**BASE, "declaration": {**DECLARATION, "answers": {f"q{n}": False for n in range(MAX_QUESTIONS + 1)},
                             "flagged": False}},
    {**BASE, "declaration": {**DECLARATION, "via": "phone"}},
    {**BASE, "declaration": {**DECLARATION, "made_at": "yesterday"}},
    {**BASE, "declaration": {**DECLARATION, "made_at": "2025-08-15T07:12:00"}},  # no offset
    {**BASE, "declaration": {**DECLARATION, "flagged": "no"}},
    {**BASE, "declaration": {k: v for k, v in DECLARATION.items() if k != "flagged"}},
    {**BASE, "declaration": {**DECLARATION, "notes": "sốt nhẹ"}},               # no free text
    {**BASE, "declaration": None},
])
def test_a_declaration_out_of_place_or_malformed_is_refused(event):
    with pytest.raises(InvalidEvent) as err:
        validate_event(encode(event))
    assert err.value.reason in ("field", "schema")


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_declaration_is_read_or_refused_never_a_crash(value):
    try:
        event = validate_event(encode({**BASE, "declaration": value}))
    except InvalidEvent:
        return
    assert all(isinstance(a, bool) for a in event["declaration"]["answers"].values())


def test_the_kiosks_builder_puts_a_declaration_on_a_check_in_only():
    fields = {k: BASE[k] for k in ("seq", "event_id", "kiosk_id", "venue_id", "visit_id", "at", "clock", "method",
                                  "staff_id", "person")}
    now = datetime(2025, 8, 15, 2, tzinfo=UTC)
    assert build_event(**fields, type="check_in", now=now, declaration=DECLARATION)["declaration"] == DECLARATION
    assert "declaration" not in build_event(**fields, type="check_out", now=now, declaration=DECLARATION)
