"""Tracing, visits, stats and fleet on a hand-built scenario with known overlaps; the CLI on top."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs import write_collector_config
from mqtt.collector import queries
from mqtt.collector.cli import main, mask_id, mask_name
from mqtt.collector.store import open_store
from mqtt.wire.event import canonical_phone, check_person
from test_collector_store import make_event, vid

UTC = UTC
VN = timezone(timedelta(hours=7))
NOW = datetime(2021, 8, 20, 5, 0, tzinfo=UTC)
A, B = "cho-thu", "truong-hoc"          # two venues
KIOSK = {A: "cho-thu-01", B: "truong-hoc-01"}

PEOPLE = {
    0: "Nguyễn Thị Mẫu",     # the index case
    1: "Trần Văn An", 2: "Lê Thị Bình", 3: "Phạm Văn Cường", 4: "Hoàng Thị Dung", 5: "Võ Văn Em",
    6: "Đặng Thị Giang", 7: "Bùi Văn Hùng", 8: "Đỗ Thị Hoa", 9: "Ngô Văn Khoa", 10: "Dương Thị Lan",
}


def who(n: int) -> dict:
    return {"kind": "cccd", "id": f"07919000{n:04d}", "name": PEOPLE[n], "birth_date": "1990-01-01",
            "sex": None, "phone": None}


def z(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


# (visit name, person, venue, check-in UTC, check-out UTC or None (open), auto check-out?)
SCENARIO = [
    ("I1", 0, A, "2021-08-19T01:00", "2021-08-19T03:00", False),
    ("I2", 0, B, "2021-08-20T04:00", None, False),                  # still inside
    ("I3", 0, B, "2021-08-17T03:00", "2021-08-17T05:00", False),    # ends exactly at the window's start
    ("I4", 0, A, "2021-08-17T02:00", "2021-08-17T04:59", False),    # ends a minute before it
    ("P1", 1, A, "2021-08-19T00:30", "2021-08-19T01:30", False),    # overlaps I1 01:00-01:30
    ("P1b", 1, A, "2021-08-18T10:00", "2021-08-18T11:00", False),   # same person, another day
    ("P2", 2, A, "2021-08-19T02:30", "2021-08-19T14:30", True),     # estimated auto check-out
    ("P3", 3, A, "2021-08-19T03:00", "2021-08-19T04:00", False),    # arrives as I1 leaves: no overlap
    ("P4", 4, B, "2021-08-19T01:00", "2021-08-19T03:00", False),    # same time as I1, other venue
    ("P5", 5, A, "2021-08-17T03:00", "2021-08-17T04:00", False),    # overlaps only I4 (outside window)
    ("P6", 6, B, "2021-08-20T04:30", None, False),                  # open, overlaps open I2
    ("P7", 7, B, "2021-08-20T03:00", "2021-08-20T04:15", False),    # overlaps open I2 04:00-04:15
    ("P8", 8, B, "2021-08-17T04:00", "2021-08-17T06:00", False),    # overlaps I3 04:00-05:00
    ("P9", 9, A, "2021-08-19T00:00", "2021-08-19T23:00", False),    # covers all of I1
    ("P10", 10, B, "2021-08-19T17:30", "2021-08-19T18:00", False),  # 00:30 local on the 20th
]

# Per contact person: (person, shared seconds, first overlap, last overlap, venues, visits, estimated, open)
EXPECTED = {
    (1, 1800.0, "2021-08-19T01:00", "2021-08-19T01:30", (A,), 1, False, False),   # P1 (P1b: another day)
    (2, 1800.0, "2021-08-19T02:30", "2021-08-19T03:00", (A,), 1, True, False),    # P2, estimated check-out
    (9, 7200.0, "2021-08-19T01:00", "2021-08-19T03:00", (A,), 1, False, False),
    (6, 1800.0, "2021-08-20T04:30", "2021-08-20T05:00", (B,), 1, False, True),    # P6 still inside
    (7, 900.0, "2021-08-20T04:00", "2021-08-20T04:15", (B,), 1, False, False),    # left; I2 still open
    (8, 3600.0, "2021-08-17T04:00", "2021-08-17T05:00", (B,), 1, False, False),
}


def contact_facts(contacts: list[dict]) -> set[tuple]:
    return {(int(c["person"]["id"][-4:]), c["overlap_s"], c["first_overlap"][:16], c["last_overlap"][:16],
             tuple(c["venues"]), c["visits"], c["estimated"], c["open"]) for c in contacts}


def scenario_events() -> list[dict]:
    seqs = {k: itertools.count(1) for k in KIOSK.values()}
    events = []
    for name, n, venue, start, end, auto in SCENARIO:
        kiosk = KIOSK[venue]
        # The kiosk writes local time (+07:00); the store compares instants.
        events.append(make_event(kiosk=kiosk, venue=venue, seq=next(seqs[kiosk]), visit=vid(name), who=who(n),
                                 at=z(start).astimezone(VN)))
        if end:
            events.append(make_event(kiosk=kiosk, venue=venue, seq=next(seqs[kiosk]), visit=vid(name), who=who(n),
                                     type="auto_check_out" if auto else "check_out", at=z(end).astimezone(VN)))
    return events


@pytest.fixture
def scenario(store_url):
    s = open_store(store_url)
    events = scenario_events()
    s.ingest(events[::2])           # in two batches, check-outs of some visits before their check-ins
    s.ingest(events[1::2])
    yield s
    s.close()


NAMES = {vid(name): name for name, *_ in SCENARIO}


def test_trace_finds_exactly_the_overlapping_contacts(scenario):
    contacts = queries.trace(scenario, "cccd", "079190000000", days=3, now=NOW)
    assert contact_facts(contacts) == EXPECTED
    assert len(contacts) == len(EXPECTED)
    p2 = next(c for c in contacts if c["person"]["id"] == who(2)["id"])
    assert p2["person"] == who(2) and p2["venues"] == [A] and p2["corrected"] is False
    assert p2["first_overlap"] == "2021-08-19T02:30:00.000+00:00"
    assert p2["last_overlap"] == "2021-08-19T03:00:00.000+00:00"


def test_trace_window_and_unknown_people(scenario):
    wider = queries.trace(scenario, "cccd", "079190000000", days=4, now=NOW)
    assert {c["person"]["id"] for c in wider} == {who(e[0])["id"] for e in EXPECTED} | {who(5)["id"]}  # I4 now in
    assert queries.trace(scenario, "cccd", "079190009999", days=30, now=NOW) == []
    assert queries.trace(scenario, "bhyt", "079190000000", days=30, now=NOW) == []


def test_trace_of_a_co_visitor_finds_the_index_case(scenario):
    contacts = queries.trace(scenario, "cccd", "079190000007", days=3, now=NOW)
    assert [(c["person"], c["overlap_s"], c["open"]) for c in contacts] == [(who(0), 900.0, True)]


# -- one row per contact person: 7 people, 15 overlapping visit pairs ---------------------------

DAY0 = datetime(2021, 8, 19, tzinfo=UTC)      # offsets below are minutes from here; NOW is 1740


def m(minutes: int) -> datetime:
    return DAY0 + timedelta(minutes=minutes)


# (visit name, person, venue, check-in, check-out or None (open), auto check-out?) in minutes from DAY0
CROWD = [
    ("X1", 0, A, 60, 180, False),       # the index case: at A, and (forgot to check out) at B meanwhile
    ("X2", 0, B, 120, 240, False),
    ("X3", 0, A, 1680, None, False),    # still inside at NOW
    ("X4", 0, A, -3000, -2600, False),  # ended before the 3-day window (starts at -2580)
    ("C1a", 1, A, 0, 90, False),        # X1 60-90
    ("C1b", 1, B, 150, 200, False),     # X2 150-200
    ("C1c", 1, A, 500, 600, False),     # nobody
    ("C2a", 2, A, 100, 170, False),     # X1 100-170 } the same minutes twice (the index at two venues):
    ("C2b", 2, B, 130, 230, False),     # X2 130-230 } 100-230 shared, not 170 minutes
    ("C3a", 3, A, 60, 120, False),      # X1 60-120  } back to back: 60-180 in one piece
    ("C3b", 3, A, 120, 180, False),     # X1 120-180 }
    ("C3c", 3, A, 1700, 1720, False),   # X3 (open) 1700-1720
    ("C4a", 4, B, 200, 900, True),      # X2 200-240, checked out automatically: estimated
    ("C4b", 4, A, 170, 185, False),     # X1 170-180
    ("C5a", 5, A, 1690, None, False),   # X3 1690-NOW, both still inside
    ("C5b", 5, A, 30, 70, False),       # X1 60-70
    ("C6a", 6, A, 0, 400, False),       # all of X1 } 60-240, not 240 minutes
    ("C6b", 6, B, 0, 400, False),       # all of X2 }
    ("C7a", 7, B, 230, 250, False),     # X2 230-240
    ("C7b", 7, B, 110, 125, False),     # X2 120-125; its check-in was unsynced, corrected from its boot
    ("N8a", 8, A, 180, 240, False),     # arrives as X1 leaves: no overlap
    ("N8b", 8, B, 240, 300, False),     # arrives as X2 leaves
    ("N9", 9, B, 1680, 1740, False),    # with X3's time, at the other venue
    ("N10", 10, A, -2700, -2650, False),  # overlaps only X4
]
CORRECTED = {"C7b"}

# person: (shared s, first overlap, last overlap (minutes), venues, visits, estimated, open, corrected)
CROWD_CONTACTS = {
    1: (80 * 60, 60, 200, [A, B], 2, False, False, False),
    2: (130 * 60, 100, 230, [A, B], 2, False, False, False),
    3: (140 * 60, 60, 1720, [A], 3, False, False, False),
    4: (50 * 60, 170, 240, [A, B], 2, True, False, False),
    5: (60 * 60, 60, 1740, [A], 2, False, True, False),
    6: (180 * 60, 60, 240, [A, B], 2, False, False, False),
    7: (15 * 60, 120, 240, [B], 2, False, False, True),
}


def crowd_events() -> list[dict]:
    seqs = {k: itertools.count(1) for k in KIOSK.values()}
    events = []
    for name, n, venue, start, end, auto in CROWD:
        kiosk = KIOSK[venue]
        check_in = make_event(kiosk=kiosk, venue=venue, seq=next(seqs[kiosk]), visit=vid(name), who=who(n),
                              at=m(start).astimezone(VN))
        if name in CORRECTED:       # the kiosk's clock was not set yet; its check-out, synced, puts it right
            boot = f"boot-{name}"
            check_in.update(at="2021-01-01T07:00:00.000+07:00", clock={"synced": False, "boot_id": boot,
                                                                        "uptime_s": 1000.0})
        events.append(check_in)
        if end is not None:
            out = make_event(kiosk=kiosk, venue=venue, seq=next(seqs[kiosk]), visit=vid(name), who=who(n),
                             type="auto_check_out" if auto else "check_out", at=m(end).astimezone(VN))
            if name in CORRECTED:
                out["clock"] = {"synced": True, "boot_id": boot, "uptime_s": 1000.0 + (end - start) * 60}
            events.append(out)
    return events


@pytest.fixture
def crowd(store_url):
    s = open_store(store_url)
    events = crowd_events()
    s.ingest(events[1::2])          # check-outs of some visits before their check-ins
    s.ingest(events[::2])
    yield s
    s.close()


def expected_contact(n: int) -> dict:
    shared, first, last, venues, visits, estimated, is_open, corrected = CROWD_CONTACTS[n]
    return {"person": who(n), "overlap_s": float(shared), "first_overlap": m(first).isoformat(timespec="milliseconds"),
            "last_overlap": m(last).isoformat(timespec="milliseconds"), "venues": venues, "visits": visits,
            "estimated": estimated, "open": is_open, "corrected": corrected,
            "declaration_flagged": False}


def overlapping_pairs() -> int:
    """Index visit × contact visit pairs at one venue that share time (what trace used to list)."""
    since = (NOW - timedelta(days=3) - DAY0) / timedelta(minutes=1)
    now = (NOW - DAY0) / timedelta(minutes=1)
    spans = [(name, n, venue, start, now if end is None else end) for name, n, venue, start, end, _ in CROWD]
    return sum(1 for _, i, iv, i_s, i_e in spans if i == 0 and i_e >= since
               for _, c, cv, c_s, c_e in spans if c != 0 and cv == iv and max(i_s, c_s) < min(i_e, c_e))


def test_trace_gives_one_entry_per_contact_person_with_the_union_of_shared_time(crowd):
    assert overlapping_pairs() == 15            # the scenario the field report describes
    contacts = queries.trace(crowd, "cccd", who(0)["id"], days=3, now=NOW)
    assert len(contacts) == 7
    assert {int(c["person"]["id"][-4:]): c for c in contacts} == {n: expected_contact(n) for n in CROWD_CONTACTS}
    # Longest shared time first, so the tracer calls those first.
    assert [c["overlap_s"] for c in contacts] == sorted((c["overlap_s"] for c in contacts), reverse=True)
    assert set(contacts[0]) == {"person", "overlap_s", "first_overlap", "last_overlap", "venues", "visits",
                                "estimated", "open", "corrected", "declaration_flagged"}


def test_a_contact_is_shown_with_the_person_of_their_latest_visit(crowd):
    renamed = {**who(6), "name": "Đặng Thị Giang Thử", "phone": "0912000006"}
    crowd.ingest([make_event(kiosk=KIOSK[B], venue=B, seq=100, visit=vid("C6c"), who=renamed,
                             at=m(210).astimezone(VN)),
                  make_event(kiosk=KIOSK[B], venue=B, seq=101, type="check_out", visit=vid("C6c"), who=renamed,
                             at=m(260).astimezone(VN))])
    [c6] = [c for c in queries.trace(crowd, "cccd", who(0)["id"], days=3, now=NOW) if c["person"]["id"] == who(6)["id"]]
    assert c6["person"] == renamed and c6["visits"] == 3 and c6["overlap_s"] == 180 * 60.0   # still 60-240


# -- tracing by phone number ------------------------------------------------------------------

PHONE = "0912345678"
HOUSEHOLD = [   # checked in by staff with the household's phone (one has no ID card: a kiosk card person)
    {**who(1), "id": "079190000021", "name": "Lê Thị Mẫu", "phone": PHONE},
    {"kind": "kiosk_card", "id": "KC0000000022", "name": "Lê Văn Thử", "birth_date": "2015", "sex": None,
     "phone": PHONE},
]
PC_COVID = {"kind": "national_qr", "id": "QID0000000023", "name": "Phan Thị Mẫu", "birth_date": "1988-02-02",
            "sex": "female", "phone": PHONE}
# (visit name, person, venue, check-in, check-out) in minutes from DAY0; method
BY_PHONE = [
    ("H1", HOUSEHOLD[0], A, 60, 180, "staff_phone"),
    ("H2", HOUSEHOLD[1], A, 60, 120, "staff_phone"),
    ("H1cam", {**HOUSEHOLD[0], "phone": None}, B, 400, 460, "camera"),   # their ID card at the camera
    ("Q", PC_COVID, B, 300, 360, "camera"),
    ("K1", who(1), A, 100, 200, "camera"),      # with H1 100-180 and H2 100-120: 80 minutes
    ("K4", who(4), B, 330, 420, "camera"),      # with Q 330-360 (H1cam carries no phone)
    ("K5", {**who(5), "phone": "0912000005"}, A, 0, 30, "camera"),
]
PHONE_FORMS = ["0912345678", "+84 912 345 678", "84912345678", "0912 345 678", "0084 912.345.678",
               "+84 (0) 912-345-678", " 0912-345-678 "]


@pytest.fixture
def by_phone(store_url):
    s = open_store(store_url)
    events = []
    for seq, (name, person, venue, start, end, method) in enumerate(BY_PHONE):
        for k, (kind, at) in enumerate((("check_in", start), ("check_out", end))):
            e = make_event(kiosk=KIOSK[venue], venue=venue, seq=2 * seq + k + 1, visit=vid(name), who=person,
                           type=kind, at=m(at).astimezone(VN))
            events.append({**e, "method": method})
    s.ingest(events)
    yield s
    s.close()


@pytest.mark.parametrize("typed", PHONE_FORMS)
def test_trace_by_phone_in_the_forms_staff_type(by_phone, typed):
    contacts = queries.trace(by_phone, "phone", typed, days=3, now=NOW)
    # The household and the PC-Covid holder are the index, not contacts of one another.
    assert [(c["person"], c["overlap_s"], c["venues"], c["visits"]) for c in contacts] == [
        (who(1), 80 * 60.0, [A], 1), (who(4), 30 * 60.0, [B], 1)]


def test_trace_by_an_unknown_or_malformed_phone(by_phone):
    assert queries.trace(by_phone, "phone", "0999 999 999", days=3, now=NOW) == []
    for bad in ("12345", "phone", "+1 555 0100", "091234567x", "０９１２３４５６７８", ""):
        with pytest.raises(ValueError, match="phone number"):
            queries.trace(by_phone, "phone", bad, days=3, now=NOW)


def test_trace_by_id_still_sees_the_household_as_contacts(by_phone):
    contacts = queries.trace(by_phone, "cccd", HOUSEHOLD[0]["id"], days=3, now=NOW)
    assert [(c["person"]["id"], c["overlap_s"]) for c in contacts] == [
        (who(1)["id"], 80 * 60.0), (HOUSEHOLD[1]["id"], 60 * 60.0), (who(4)["id"], 20 * 60.0)]


_SEP = st.sampled_from(["", " ", ".", "-", "  "])


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[1-9][0-9]{8}", fullmatch=True), st.sampled_from(["0", "+84", "84", "0084", "+84 (0)", "+840"]),
       st.lists(_SEP, min_size=9, max_size=9))
def test_canonical_phone_of_every_typed_form(national, prefix, seps):
    typed = prefix + "".join(sep + digit for sep, digit in zip(seps, national, strict=True))
    assert canonical_phone(typed) == "0" + national


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=24))
def test_canonical_phone_is_what_an_event_carries_or_a_clear_refusal(text):
    try:
        phone = canonical_phone(text)
    except ValueError as exc:
        assert "phone number" in str(exc)
    else:
        check_person({**who(1), "phone": phone})     # the event's own rule accepts it


# -- the union of shared time, against brute force ----------------------------------------------

QUARTER = 15    # minutes; every time below is a whole number of quarters from DAY0
HORIZON = 4 * 24 * 60 // QUARTER      # NOW_P is 4 days after DAY0
NOW_P = m(HORIZON * QUARTER)
# venue, start, length (None: still open); a visit ends at the latest at NOW_P
_VISIT = st.tuples(st.sampled_from([A, B]), st.integers(0, HORIZON - 1), st.one_of(st.none(), st.integers(1, 48)))


def span(visit) -> tuple[str, int, int | None]:
    """(venue, start, end) in minutes; end None while open."""
    venue, start, length = visit
    return venue, start * QUARTER, None if length is None else min(start + length, HORIZON) * QUARTER


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.lists(_VISIT, min_size=1, max_size=4),
       others=st.lists(st.lists(_VISIT, min_size=1, max_size=4), min_size=1, max_size=4), days=st.integers(1, 4))
def test_shared_time_is_the_union_of_the_overlaps(tmp_path_factory, index, others, days):
    events, seqs = [], {k: itertools.count(1) for k in KIOSK.values()}
    for n, visits in enumerate([index] + others):
        for j, visit in enumerate(visits):
            venue, start, end = span(visit)
            kiosk, visit_id = KIOSK[venue], vid(f"p{n}-{j}")
            events.append(make_event(kiosk=kiosk, venue=venue, seq=next(seqs[kiosk]), visit=visit_id, who=who(n),
                                     at=m(start)))
            if end is not None:
                events.append(make_event(kiosk=kiosk, venue=venue, seq=next(seqs[kiosk]), visit=visit_id, who=who(n),
                                         type="check_out", at=m(end)))
    with open_store(f"sqlite://{tmp_path_factory.mktemp('union')}/central.db") as s:
        s.ingest(events)
        got = {int(c["person"]["id"][-4:]): c for c in queries.trace(s, "cccd", who(0)["id"], days=days, now=NOW_P)}

    # Brute force, minute by minute (every boundary is a whole minute), per venue.
    now, since = HORIZON * QUARTER, HORIZON * QUARTER - days * 24 * 60
    index_at: dict[str, set[int]] = {A: set(), B: set()}
    index_all: set[int] = set()
    for visit in index:
        venue, start, end = span(visit)
        index_all |= set(range(start, now if end is None else end))
        if (now if end is None else end) >= since:     # still going within the window
            index_at[venue] |= set(range(start, now if end is None else end))
    want = {}
    for n, visits in enumerate(others, start=1):
        shared: set[int] = set()
        own: set[int] = set()
        for visit in visits:
            venue, start, end = span(visit)
            minutes = set(range(start, now if end is None else end))
            own |= minutes
            shared |= minutes & index_at[venue]
        if shared:
            want[n] = (len(shared) * 60.0, min(shared), max(shared) + 1)
            assert got[n]["overlap_s"] <= len(own) * 60 and got[n]["overlap_s"] <= len(index_all) * 60
    assert {n: (c["overlap_s"], (datetime.fromisoformat(c["first_overlap"]) - DAY0) // timedelta(minutes=1),
                (datetime.fromisoformat(c["last_overlap"]) - DAY0) // timedelta(minutes=1))
            for n, c in got.items()} == want


def test_visits_newest_first_with_open_and_estimated(scenario):
    rows = queries.visits(scenario)
    assert len(rows) == len(SCENARIO)
    assert [r["check_in_at"] for r in rows] == sorted((r["check_in_at"] for r in rows), reverse=True)
    by = {NAMES[r["visit_id"]]: r for r in rows}
    assert by["I2"]["check_out_at"] is None and by["I2"]["check_out_type"] is None
    assert by["P2"]["check_out_type"] == "auto_check_out" and by["P2"]["check_out_estimated"] is True
    assert by["P1"]["person"] == who(1) and by["P1"]["kiosk_id"] == KIOSK[A]
    assert {r["venue_id"] for r in queries.visits(scenario, venue=B)} == {B}


def test_stats_counts_check_ins_per_venue_per_local_day_and_hour(scenario):
    days = {(r["venue_id"], r["day"]): r["check_ins"] for r in queries.stats(scenario, by="day")}
    assert days == {(A, "2021-08-17"): 2, (A, "2021-08-18"): 1, (A, "2021-08-19"): 5,
                    (B, "2021-08-17"): 2, (B, "2021-08-19"): 1, (B, "2021-08-20"): 4}
    hours = {r["hour"]: r["check_ins"] for r in queries.stats(scenario, venue=B, by="hour")}
    assert hours["2021-08-20T00"] == 1 and hours["2021-08-20T11"] == 2 and sum(hours.values()) == 7


def test_fleet_lists_kiosks_with_seq_state(scenario):
    rows = {r["kiosk_id"]: r for r in queries.fleet(scenario)}
    assert set(rows) == set(KIOSK.values())
    for venue, kiosk in KIOSK.items():
        sent = sum(2 if end else 1 for _, _, v, _, end, _ in SCENARIO if v == venue)
        assert rows[kiosk]["gaps"] == [] and rows[kiosk]["seq_high_water"] == rows[kiosk]["seq_max"] == sent


# -- the CLI ------------------------------------------------------------------------------------

def test_masking():
    assert mask_name("Nguyễn Thị Mẫu") == "Nguyễn T. M."
    assert mask_id("079190000001") == "*********001"
    assert mask_name(None) == "—"


@pytest.fixture
def cli_config(tmp_path):
    url = f"sqlite://{tmp_path}/central.db"
    with open_store(url) as s:
        s.ingest(scenario_events())
    return write_collector_config(tmp_path / "collector.toml", store={"url": url})


def test_cli_json_carries_the_full_person(cli_config, capsys):
    assert main(["visits", "--config", str(cli_config), "--json", "--venue", A]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == sum(1 for v in SCENARIO if v[2] == A)
    assert {r["person"]["name"] for r in rows} >= {"Nguyễn Thị Mẫu", "Trần Văn An"}
    contract_keys = {"visit_id", "kiosk_id", "venue_id", "person", "check_in_at", "check_out_at", "check_out_type"}
    assert contract_keys <= set(rows[0])


def test_cli_human_output_masks_names_and_ids(cli_config, capsys):
    assert main(["trace", "cccd:079190000000", "--days", "100000", "--config", str(cli_config)]) == 0
    out = capsys.readouterr().out
    assert "Trần V. A." in out and "*********001" in out
    assert "Trần Văn An" not in out and "079190000001" not in out and "079190000000" not in out
    assert main(["visits", "--config", str(cli_config)]) == 0
    out = capsys.readouterr().out
    assert "Nguyễn T. M." in out and "Nguyễn Thị Mẫu" not in out


def test_cli_other_commands(cli_config, capsys):
    assert main(["trace", "cccd:079190000000", "--days", "100000", "--json", "--config", str(cli_config)]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {r["person"]["id"] for r in rows} >= {"079190000001", "079190000002"}
    for argv in (["stats", "--json"], ["stats", "--by", "hour"], ["fleet", "--json"], ["fleet"], ["dead-letters"],
                 ["dead-letters", "--json"]):
        assert main(argv + ["--config", str(cli_config)]) == 0, argv
    capsys.readouterr()
    assert main(["purge", "--days", "21", "--config", str(cli_config)]) == 0
    assert "visits 15" in capsys.readouterr().out          # 2021 is long past the retention


HOSTILE = {**who(3), "name": "Phạm\x1b]0;pwned\x07\x1b[2J Văn Cường"}     # a name with terminal escapes


@pytest.fixture
def crowd_config(tmp_path):
    url = f"sqlite://{tmp_path}/central.db"
    events = [e for e in crowd_events() if e["visit_id"] != vid("X4")]     # --days below reaches back to 2021
    for e in events:
        if e["person"] == who(3):
            e["person"] = HOSTILE
    with open_store(url) as s:
        s.ingest(events)
        s.ingest([{**e, "event_id": str(uuid.uuid4()), "seq": 1000 + i, "visit_id": vid(f"phone-{e['visit_id']}"),
                   "kiosk_id": KIOSK[A], "venue_id": A, "person": {**e["person"], "phone": PHONE}}
                  for i, e in enumerate(events) if e["visit_id"] in (vid("X1"),)])
    return write_collector_config(tmp_path / "collector.toml", store={"url": url},
                                  report={"timezone": "Asia/Ho_Chi_Minh"})


def test_cli_trace_prints_one_masked_line_per_contact(crowd_config, capsys):
    assert main(["trace", "cccd:079190000000", "--days", "100000", "--config", str(crowd_config)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "7 contact(s) of cccd:*********000 in the last 100000 day(s)"
    assert len(lines) == 8
    by_id = {n: next(line for line in lines[1:] if f"cccd:{mask_id(who(n)['id'])}" in line) for n in CROWD_CONTACTS}
    assert by_id[1].startswith("Trần V. A. (cccd:*********001)")
    assert "1 h 20 min" in by_id[1] and "2021-08-19 08:00 → 10:20" in by_id[1] and f"{A}, {B}" in by_id[1]
    assert "2 h 20 min" in by_id[3] and "2021-08-19 08:00 → 2021-08-20 11:40" in by_id[3]
    assert "[estimated]" in by_id[4] and "[open]" in by_id[5] and "[corrected]" in by_id[7]
    assert not any(f in by_id[1] for f in ("[estimated]", "[open]", "[corrected]"))
    assert "15 min" in by_id[7] and "2 visit(s)" in by_id[7]
    for n in range(11):
        assert PEOPLE[n] not in out and who(n)["id"] not in out
    # A hostile name reaches the terminal escaped, never raw.
    assert "\x1b" not in out and "\x07" not in out and "Phạm\\x1b]0;pwned\\x07\\x1b[2J V. C." in out


def test_cli_trace_json_one_object_per_contact_full_person(crowd_config, capsys):
    assert main(["trace", "cccd:079190000000", "--days", "100000", "--json", "--config", str(crowd_config)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 7
    by = {int(r["person"]["id"][-4:]): r for r in rows}
    assert by[3]["person"] == HOSTILE
    assert by[1] == expected_contact(1) and by[7] == expected_contact(7)
    assert set(by[5]) == set(expected_contact(5)) and by[5]["open"] is True


def test_cli_trace_by_phone(crowd_config, capsys):
    assert main(["trace", "phone:+84 912 345 678", "--days", "100000", "--config", str(crowd_config)]) == 0
    out = capsys.readouterr().out
    # The index here is a copy of X1 checked in by phone: its contacts at A (C1-C6).
    # The number as typed, masked (queries.trace alone reads it: the CLI does not canonicalise it too).
    assert out.splitlines()[0] == "6 contact(s) of phone:************678 in the last 100000 day(s)"
    assert PHONE not in out
    assert main(["trace", "phone:0912 345 678", "--days", "100000", "--json", "--config", str(crowd_config)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 6 and all(r["venues"] == [A] for r in rows)
    assert who(0)["id"] not in {r["person"]["id"] for r in rows}      # the index person is not their own contact
    assert main(["trace", "phone:12345", "--config", str(crowd_config)]) == 2
    assert "phone number" in capsys.readouterr().err


def test_cli_bad_config_and_bad_person_exit_2(tmp_path, capsys, cli_config):
    bad = tmp_path / "bad.toml"
    bad.write_text('[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n\n[store]\nretention_dayz = 21\n')
    assert main(["visits", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "retention_dayz" in err and "line 5" in err
    bad.write_text('[store]\nurl = "mysql://x"\n')
    assert main(["fleet", "--config", str(bad)]) == 2
    assert "[store] url" in capsys.readouterr().err
    assert main(["trace", "passport:123", "--config", str(cli_config)]) == 2


def test_config_defaults_and_env(monkeypatch, tmp_path):
    from mqtt.collector.config import default_config_path, load_config
    cfg = load_config(None)
    assert (cfg.mqtt.url, cfg.mqtt.client_id, cfg.mqtt.shared_group) == ("mqtt://127.0.0.1:1883", "collector-1", "")
    assert (cfg.store.url, cfg.store.retention_days, cfg.store.batch_size, cfg.store.batch_ms) == \
        ("sqlite:///var/lib/checkin-collector/central.db", 21, 500, 200)
    monkeypatch.setenv("COLLECTOR_CONFIG", str(tmp_path / "x.toml"))
    assert default_config_path() == tmp_path / "x.toml"
