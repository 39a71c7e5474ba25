"""What the console asks of the central store, on the hand-built tracing scenario (SQLite and
PostgreSQL): a case with the index's visits and each contact's, a venue exposure, and the daily
and weekly figures, counted by hand below."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from mqtt.collector import queries
from mqtt.collector.store_sqlite import SqliteStore
from test_collector_queries import EXPECTED, NOW, A, B, contact_facts, scenario, who  # noqa: F401 - the fixture
from test_collector_store import vid


def z(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


def test_a_case_holds_the_index_visits_and_each_contacts_overlapping_visits(scenario):
    found = queries.case(scenario, "cccd", "079190000000", days=3, now=NOW)
    assert found["person"] == who(0)
    # I3 ends exactly at the window's start (still going then), I4 a minute before it
    assert [v["visit_id"] for v in found["visits"]] == [vid("I3"), vid("I1"), vid("I2")]
    assert found["visits"][-1]["check_out_at"] is None                  # still inside
    # the same people, shared time and flags as `trace`, each with the list of their visits
    assert contact_facts([{**c, "visits": len(c["visits"])} for c in found["contacts"]]) == EXPECTED
    by_person = {int(c["person"]["id"][-4:]): c for c in found["contacts"]}
    assert [v["visit_id"] for v in by_person[1]["visits"]] == [vid("P1")]          # not P1b, another day
    assert by_person[2]["visits"][0]["check_out_estimated"] is True and by_person[2]["estimated"] is True
    assert [c["overlap_s"] for c in found["contacts"]] == sorted((c["overlap_s"] for c in found["contacts"]),
                                                                 reverse=True)


def test_a_case_with_no_visits_is_empty_not_an_error(scenario):
    assert queries.case(scenario, "bhyt", "HC4797900000001", days=14, now=NOW) == \
        {"person": None, "visits": [], "contacts": []}


def test_presence_is_everyone_there_in_the_window_longest_first(scenario):
    people = queries.presence(scenario, A, z("2021-08-19T01:00"), z("2021-08-19T03:00"), now=NOW)
    # P3 arrives as the window ends (a touch), P1b was another day
    assert [(int(p["person"]["id"][-4:]), p["present_s"]) for p in people] == [
        (9, 7200.0), (0, 7200.0), (1, 1800.0), (2, 1800.0)]
    assert people[0]["first_in"].startswith("2021-08-19T00:00") and people[0]["last_out"].startswith("2021-08-19T23")
    assert people[3]["estimated"] is True
    still = queries.presence(scenario, B, z("2021-08-20T04:00"), z("2021-08-20T05:00"), now=NOW)
    assert {int(p["person"]["id"][-4:]): p["last_out"] is None for p in still} == {0: True, 6: True, 7: False}


def test_daily_figures_per_venue_counted_by_hand(scenario):
    rows = queries.figures(scenario, by="day", date_from=date(2021, 8, 17), date_to=date(2021, 8, 20))
    got = {(r["venue_id"], r["day"]): (r["check_ins"], r["visitors"], r["peak_occupancy"], r["kiosks"]) for r in rows}
    # local days (+07:00): P10 checked in at 17:30 UTC on the 19th, 00:30 on the 20th there; P9,
    # in from 07:00 on the 19th to 06:00 on the 20th, was there on the 20th too, checking nobody in
    assert got == {
        (A, "2021-08-17"): (2, 2, 2, 1), (A, "2021-08-18"): (1, 1, 1, 1), (A, "2021-08-19"): (5, 5, 3, 1),
        (A, "2021-08-20"): (0, 0, 1, 0),
        (B, "2021-08-17"): (2, 2, 2, 1), (B, "2021-08-19"): (1, 1, 1, 1), (B, "2021-08-20"): (4, 4, 2, 1),
    }
    assert [r["day"] for r in rows] == sorted(r["day"] for r in rows)
    only_a = queries.figures(scenario, by="day", venue=A, date_from=date(2021, 8, 19), date_to=date(2021, 8, 19))
    assert [(r["venue_id"], r["check_ins"]) for r in only_a] == [(A, 5)]
    assert all("name" not in r and "person" not in r for r in rows)          # aggregates only


def test_weekly_figures_count_a_weeks_visitors_once(scenario):
    rows = queries.figures(scenario, by="week", date_from=date(2021, 8, 18), date_to=date(2021, 8, 18))
    got = {r["venue_id"]: (r["day"], r["week"], r["check_ins"], r["visitors"], r["peak_occupancy"]) for r in rows}
    # the whole week of Monday 16 August; person 0 came to A three times, counted once
    assert got == {A: ("2021-08-16", "2021-W33", 8, 6, 3), B: ("2021-08-16", "2021-W33", 7, 6, 2)}


@pytest.mark.parametrize("kwargs", [{"by": "hour"}, {"date_from": date(2021, 8, 20), "date_to": date(2021, 8, 19)},
                                    {"date_from": date(2020, 1, 1), "date_to": date(2021, 8, 19)}])
def test_figures_refuse_what_they_cannot_answer(scenario, kwargs):
    with pytest.raises(ValueError):
        queries.figures(scenario, **kwargs)


def test_people_by_name_one_entry_each_through_the_name_index(scenario):
    found = queries.persons_named(scenario, "nguyễn thị mẫu")
    assert [(p["person"]["id"], p["visits"]) for p in found] == [("079190000000", 4)]    # I1-I4
    assert found[0]["last_at"].startswith("2021-08-20T04:00")                          # I2, the latest
    assert queries.persons_named(scenario, "Trần Văn") == []                           # the full name only
    if isinstance(scenario, SqliteStore):
        where, params = scenario._in(scenario._json_text_sql("person", "name"), ["Trần Văn An"])
        plan = scenario._rows(f"EXPLAIN QUERY PLAN SELECT * FROM visits WHERE {where}", params)
        assert any("visits_name" in r["detail"] for r in plan), plan
