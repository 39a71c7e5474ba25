"""``kiosk-collector demo-data``: a synthetic province through the store's own ingest, that the
console shows at once (its districts' figures, the tracers' cases); never into a store with data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from configs import write_collector_config
from mqtt.collector import queries
from mqtt.collector.cli import main
from mqtt.collector.console.app import Console
from mqtt.collector.demo import DISTRICTS, PROVINCE, fill
from mqtt.collector.store import open_store
from mqtt.wire.event import check_person
from test_console_pages import Browser

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)        # 10:00 in Vietnam


def test_demo_data_fills_a_province_the_figures_and_cases_show(store_url):
    with open_store(store_url) as store:
        done = fill(store, venues=14, days=3, per_day=30, now=NOW)
        assert (done.venues, done.districts, len(done.cases)) == (14, len(DISTRICTS), 3)
        visits = store.visit_rows()
        assert len(visits) == done.visits and done.events > done.visits    # check-outs too
        for v in visits[:200]:
            check_person(v["person"])                                   # as a kiosk would send them
            assert v["venue_id"].startswith("nt-")
        # nobody checked in after "now"; a morning's visits are still open
        assert max(v["check_in_at"] for v in visits) < NOW
        assert any(v["check_out_at"] is None for v in visits)
        # the period's ways: staff phone check-ins verified by a code or not, health declarations
        assert {v["phone_verified"] for v in visits if v["method"] == "staff_phone"} == {True, False}
        assert {v["declaration_flagged"] for v in visits} == {None, False, True}
        today = NOW.date()
        districts = queries.figures(store, level="district", province=PROVINCE, date_from=today - timedelta(days=2),
                                    date_to=today, today=today)
        assert {r["district"] for r in districts} == set(DISTRICTS)
        assert sum(r["check_ins"] for r in districts) == done.visits
        assert {c.person for c in store.case_rows()} == set(done.cases)


def test_the_tracers_home_lists_the_demo_cases_and_opens_one(store_url):
    store = open_store(store_url)
    try:
        done = fill(store, venues=7, days=2, per_day=20, now=datetime.now(UTC))
        console = Console.over(store)
        b = Browser(console).sign_in(["tracer"])
        home = b.get("/").get_data(as_text=True)
        links = re.findall(r'<a href="(/cases/[^"]+)">', home)
        assert len(links) == len(done.cases) == 3
        assert all(case.split(":")[1] not in home for case in done.cases)         # masked on the list
        case = b.get(links[0])
        assert case.status_code == 200 and 'id="contacts"' in case.get_data(as_text=True)
        # the exposure form offers the venues by name
        assert '<datalist id="venue-list"><option value="nt-cho-01">Chợ Phan Rang–Tháp Chàm' in home
    finally:
        store.close()


def test_the_command_refuses_a_store_with_data_and_bad_sizes(tmp_path, capsys):
    config = write_collector_config(tmp_path / "collector.toml", store={"url": f"sqlite://{tmp_path}/c.db"})
    # Two days: with one, a run before 06:00 at the venues (no visits yet today) would have no case.
    assert main(["demo-data", "--config", str(config), "--venues", "7", "--days", "2", "--per-day", "5"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"demo data: 7 venues in 7 districts of Ninh Thuận, [\d,]+ visits", out)
    assert re.search(r"cccd:\*+\d{3}", out) and not re.search(r"cccd:\d{12}", out)
    assert main(["demo-data", "--config", str(config)]) == 1
    assert "already holds visits" in capsys.readouterr().err
    assert main(["demo-data", "--config", str(config), "--days", "0"]) == 2
    assert "--days must be 1-60" in capsys.readouterr().err
    with open_store(f"sqlite://{tmp_path}/c.db") as store:
        assert {v.province for v in store.venue_list()} == {PROVINCE}
