"""The committees' figures are kept by the store (mqtt/collector/store_figures.py) and never served
stale: whatever arrives late, out of order or corrected, the figures read equal the figures reckoned
from the visits there and then; per venue, district and province; both backends."""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqtt.collector import queries
from mqtt.collector.store import open_store
from mqtt.collector.store_figures import Venue
from test_collector_queries import A, B, scenario  # noqa: F401 - the fixture
from test_collector_store import make_event, person, vid

VN = timezone(timedelta(hours=7))
PLACES = [Venue(A, "Chợ Thủ", "Phan Rang–Tháp Chàm", "Ninh Thuận"),
          Venue(B, "Trường học", "Ninh Hải", "Ninh Thuận")]


def by_venue_day(store, **kwargs) -> dict:
    rows = queries.figures(store, date_from=date(2021, 8, 16), date_to=date(2021, 8, 22), **kwargs)
    return {(r["venue_id"], r["day"]): (r["check_ins"], r["visitors"], r["peak_occupancy"], r["kiosks"])
            for r in rows}


def test_a_late_check_in_and_a_late_check_out_change_days_already_counted(scenario):
    before = by_venue_day(scenario)
    assert before[(A, "2021-08-17")] == (2, 2, 2, 1)
    # A kiosk that was offline delivers, days later, a visit on the 17th, and the check-out of the
    # visit still open at B (I2: in since 04:00 UTC on the 20th), at 04:10.
    late = vid("late")
    scenario.ingest([make_event(kiosk="cho-thu-01", venue=A, seq=100, visit=late, who=person(50),
                                at=datetime(2021, 8, 17, 3, 30, tzinfo=UTC).astimezone(VN)),
                     make_event(kiosk="cho-thu-01", venue=A, seq=101, visit=late, who=person(50), type="check_out",
                                at=datetime(2021, 8, 17, 4, 30, tzinfo=UTC).astimezone(VN)),
                     make_event(kiosk="truong-hoc-01", venue=B, seq=100, visit=vid("I2"), type="check_out",
                                who=person(0), at=datetime(2021, 8, 20, 4, 10, tzinfo=UTC).astimezone(VN))])
    after = by_venue_day(scenario)
    assert after[(A, "2021-08-17")] == (3, 3, 3, 1)          # P5, I4 and the late one were in at 03:30
    assert after[(B, "2021-08-20")] == before[(B, "2021-08-20")]      # I2 still counted once that day
    # while open, I2 (and P6, still open) counted as inside the days after; now only P6 does
    assert [before[(B, day)][2] for day in ("2021-08-21", "2021-08-22")] == [2, 2]
    assert [after[(B, day)][2] for day in ("2021-08-21", "2021-08-22")] == [1, 1]
    changed = {(A, "2021-08-17"), (B, "2021-08-21"), (B, "2021-08-22")}
    assert {k: v for k, v in after.items() if k not in changed} == {k: v for k, v in before.items() if k not in changed}


def test_district_and_province_figures_count_a_person_once_and_follow_a_moved_venue(scenario):
    scenario.set_venues(PLACES)
    # one province, two districts; on the 17th the index case (person 0) was at A and at B
    province = {r["day"]: r for r in queries.figures(scenario, level="province", date_from=date(2021, 8, 17),
                                                     date_to=date(2021, 8, 20))}
    venue = queries.figures(scenario, date_from=date(2021, 8, 17), date_to=date(2021, 8, 20))
    for day, r in province.items():
        same_day = [v for v in venue if v["day"] == day]
        assert r["check_ins"] == sum(v["check_ins"] for v in same_day)
        assert r["venues"] == sum(1 for v in same_day if v["check_ins"])
        assert r["visitors"] <= sum(v["visitors"] for v in same_day)
        assert r["peak_occupancy"] >= max(v["peak_occupancy"] for v in same_day)
    assert province["2021-08-17"]["check_ins"] == 4 and province["2021-08-17"]["visitors"] == 3
    assert sum(v["visitors"] for v in venue if v["day"] == "2021-08-17") == 4
    assert {r["venue_name"] for r in venue} == {"Chợ Thủ", "Trường học"}
    districts = queries.figures(scenario, level="district", province="Ninh Thuận", district="Ninh Hải",
                                date_from=date(2021, 8, 17), date_to=date(2021, 8, 20))
    assert {(r["district"], r["day"], r["check_ins"]) for r in districts} == {
        ("Ninh Hải", "2021-08-17", 2), ("Ninh Hải", "2021-08-19", 1), ("Ninh Hải", "2021-08-20", 4)}
    # A moves to Ninh Hải: its check-ins are counted there from now on, in the days already kept too
    assert scenario.set_venues([Venue(A, "Chợ Thủ", "Ninh Hải", "Ninh Thuận")]) == 1
    moved = queries.figures(scenario, level="district", province="Ninh Thuận", district="Ninh Hải",
                            date_from=date(2021, 8, 17), date_to=date(2021, 8, 17))
    assert [(r["check_ins"], r["venues"]) for r in moved] == [(4, 2)]
    assert queries.figures(scenario, level="district", province="Ninh Thuận", district="Phan Rang–Tháp Chàm",
                           date_from=date(2021, 8, 17), date_to=date(2021, 8, 20)) == []
    with pytest.raises(ValueError, match="district is named with its province"):
        queries.figures(scenario, level="district", district="Ninh Hải")
    with pytest.raises(ValueError, match="level"):
        queries.figures(scenario, level="country")


def test_venues_outside_the_registry_are_counted_under_no_district(scenario):
    rows = queries.figures(scenario, level="district", date_from=date(2021, 8, 17), date_to=date(2021, 8, 17))
    assert [(r["province"], r["district"], r["check_ins"], r["venues"]) for r in rows] == [("", "", 4, 2)]


def test_figures_of_visits_stored_before_migration_7_are_reckoned(store_url):
    sqlite = store_url.startswith("sqlite")
    with open_store(store_url) as s:
        s.ingest([make_event(seq=1, visit=vid("a"), at="2021-08-15T08:00:00.000+07:00"),
                  make_event(seq=2, visit=vid("a"), type="check_out", at="2021-08-17T09:00:00.000+07:00"),
                  make_event(seq=3, visit=vid("b"), who=person(2), at="2021-08-16T10:00:00.000+07:00"),
                  make_event(seq=4, visit=vid("b"), who=person(2), type="check_out",
                             at="2021-08-16T11:00:00.000+07:00")])
        expected = queries.figures(s, date_from=date(2021, 8, 14), date_to=date(2021, 8, 18))
        # Back to the schema before migration 7, as a store of the earlier version was.
        for table in ("figure_cache", "figure_marks", "venues"):
            s._exec(f"DROP TABLE {table}")
        s._exec("DELETE FROM _sqlite_migrations WHERE name = 'm007_figures'" if sqlite
                else "DELETE FROM schema_version WHERE version = 7")
    with open_store(store_url) as s:
        # the visit from the 15th to the 17th is inside on the 16th: its middle day is marked too
        assert {r["day"] for r in s._rows("SELECT day FROM figure_marks")} == \
            {"2021-08-15", "2021-08-16", "2021-08-17"}
        assert queries.figures(s, date_from=date(2021, 8, 14), date_to=date(2021, 8, 18)) == expected
    assert [(r["day"], r["check_ins"], r["peak_occupancy"]) for r in expected] == [
        ("2021-08-15", 1, 1), ("2021-08-16", 1, 2), ("2021-08-17", 0, 1)]


def test_the_figures_kept_outlive_the_visits_retention_deletes(scenario):
    before = by_venue_day(scenario)
    assert scenario.purge(1, now=datetime(2021, 9, 30, tzinfo=UTC))["visits"] > 0
    assert scenario.visit_rows() == []
    assert by_venue_day(scenario) == before                    # aggregates: they name nobody


# -- never stale, whatever the order ---------------------------------------------------------------

START = datetime(2021, 8, 16, 0, 0, tzinfo=VN).astimezone(UTC)
VENUES = ["cho-a", "cho-b", "cho-c"]
visit_spec = st.tuples(st.sampled_from(VENUES), st.integers(0, 9),            # venue, person
                       st.integers(0, 4 * 24 * 4 - 1),                          # check-in, in quarter hours
                       st.one_of(st.none(), st.integers(1, 40)),                 # open, or quarter hours inside
                       st.booleans())                                            # check-out before check-in


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(visits=st.lists(visit_spec, min_size=1, max_size=25), cuts=st.lists(st.integers(0, 50), max_size=4),
       read_between=st.booleans())
def test_figures_read_always_equal_figures_reckoned_from_the_visits(visits, cuts, read_between):
    seqs = {v: itertools.count(1) for v in VENUES}
    events = []
    for n, (venue, who, start_q, stay_q, out_first) in enumerate(visits):
        at = START + timedelta(minutes=15 * start_q)
        kiosk = f"{venue}-01"
        pair = [make_event(kiosk=kiosk, venue=venue, seq=next(seqs[venue]), visit=vid(f"h{n}"), who=person(who),
                           at=at.astimezone(VN))]
        if stay_q is not None:
            pair.append(make_event(kiosk=kiosk, venue=venue, seq=next(seqs[venue]), visit=vid(f"h{n}"),
                                   who=person(who), type="check_out",
                                   at=(at + timedelta(minutes=15 * stay_q)).astimezone(VN)))
        events += pair[::-1] if out_first else pair
    bounds = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite://{tmp}/central.db") as store:
        store.set_venues([Venue("cho-a", "", "D1", "P"), Venue("cho-b", "", "D1", "P"), Venue("cho-c", "", "D2", "P")])
        for lo, hi in itertools.pairwise(bounds):
            store.ingest(events[lo:hi])
            if read_between or hi == len(events):
                for level, week in itertools.product(("venue", "district", "province"), (False, True)):
                    assert_fresh(store, level, week)


def scope_key(level: str, row: dict) -> str:
    return {"venue": lambda: row["venue_id"], "district": lambda: f"{row['province']}|{row['district']}",
            "province": lambda: row["province"]}[level]()


def assert_fresh(store, level: str, week: bool) -> None:
    first = date(2021, 8, 16)
    days = 7 if week else 5
    read = queries.figures(store, by="week" if week else "day", level=level, date_from=first,
                           date_to=first + timedelta(days=days - 1), tz="Asia/Ho_Chi_Minh")
    got = {(scope_key(level, r), r["day"]): (r["check_ins"], r["visitors"], r["peak_occupancy"], r["kiosks"])
           for r in read}
    since = datetime.combine(first, time(), VN).astimezone(UTC)
    until = since + timedelta(days=7 if week else days)
    fresh = store.reckon_figures(since, until, 7 * 3600, week=week, level=level, venues=VENUES)
    expected = {k: (v["check_ins"], v["visitors"], v["peak"], v["kiosks"]) for k, v in fresh.items()
                if v["check_ins"] or v["peak"]}
    assert got == expected
