"""Tracing, visits, stats and fleet on a hand-built scenario with known overlaps; the CLI on top."""

from __future__ import annotations

import json
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from mqtt.collector import queries
from mqtt.collector.cli import main, mask_id, mask_name
from mqtt.collector.store import open_store
from test_collector_store import make_event, vid

UTC = timezone.utc
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

# (co-visitor visit, index visit, overlap start, overlap end, minutes, estimated, open)
EXPECTED = {
    ("P1", "I1", "2021-08-19T01:00", "2021-08-19T01:30", 30.0, False, False),
    ("P2", "I1", "2021-08-19T02:30", "2021-08-19T03:00", 30.0, True, False),
    ("P9", "I1", "2021-08-19T01:00", "2021-08-19T03:00", 120.0, False, False),
    ("P6", "I2", "2021-08-20T04:30", "2021-08-20T05:00", 30.0, False, True),
    ("P7", "I2", "2021-08-20T04:00", "2021-08-20T04:15", 15.0, False, True),
    ("P8", "I3", "2021-08-17T04:00", "2021-08-17T05:00", 60.0, False, False),
}


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
def scenario(store_url):  # noqa: F811
    s = open_store(store_url)
    events = scenario_events()
    s.ingest(events[::2])           # in two batches, check-outs of some visits before their check-ins
    s.ingest(events[1::2])
    yield s
    s.close()


NAMES = {vid(name): name for name, *_ in SCENARIO}


def test_trace_finds_exactly_the_overlapping_co_visitors(scenario):
    rows = queries.trace(scenario, "cccd", "079190000000", days=3, now=NOW)
    got = {(NAMES[r["visit_id"]], NAMES[r["index_visit_id"]], r["overlap_start"][:16], r["overlap_end"][:16],
            r["overlap_minutes"], r["estimated"], r["open"]) for r in rows}
    assert got == EXPECTED
    assert len(rows) == len(EXPECTED)
    p2 = next(r for r in rows if NAMES[r["visit_id"]] == "P2")
    assert p2["person"] == who(2) and p2["venue_id"] == A
    assert p2["check_in_at"] == "2021-08-19T02:30:00.000+00:00"
    assert p2["check_out_at"] == "2021-08-19T14:30:00.000+00:00"
    p6 = next(r for r in rows if NAMES[r["visit_id"]] == "P6")
    assert p6["check_out_at"] is None


def test_trace_window_and_unknown_people(scenario):
    wider = queries.trace(scenario, "cccd", "079190000000", days=4, now=NOW)
    assert {NAMES[r["visit_id"]] for r in wider} == {v for v, *_ in EXPECTED} | {"P5"}   # I4 now in the window
    assert queries.trace(scenario, "cccd", "079190009999", days=30, now=NOW) == []
    assert queries.trace(scenario, "bhyt", "079190000000", days=30, now=NOW) == []


def test_trace_of_a_co_visitor_finds_the_index_case(scenario):
    rows = queries.trace(scenario, "cccd", "079190000007", days=3, now=NOW)
    assert [(NAMES[r["visit_id"]], r["overlap_minutes"], r["open"]) for r in rows] == [("I2", 15.0, True)]


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
    cfg = tmp_path / "collector.toml"
    cfg.write_text(f'[store]\nurl = "{url}"\n')
    return cfg


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
