"""Field fix 4: a kiosk files events only for its own visits, at its own venue.

End to end on the production broker config (TLS with the fleet's certificates, the ACL) and the
collector.toml / fleet registry that ``kiosk-provision`` writes: kiosk A, with its own valid
certificate and on its own topic, sends events carrying kiosk B's visit id, or for a venue it is
not provisioned for; both are dead-lettered, not acked, and B's visit and trace stay intact. A
kiosk missing from the registry the collector has is held back until the registry lists it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker import free_port
from configs import write_collector_config
from fleet_support import fleet_central
from mqtt.collector import queries
from mqtt.collector.config import ConfigError, parse_config
from mqtt.collector.ingest import Collector
from mqtt.collector.registry import Registry, parse_registry, registry_venues, render_registry
from mqtt.collector.store_figures import Venue, is_place_name
from mqtt.wire.acks import decode_ack
from mqtt.wire.event import encode_event
from mqtt.wire.topics import acks_topic, events_topic
from provisioning.fleet import Fleet
from test_broker_security import Client
from test_collector_ingest import Kiosk, collector_config
from test_collector_store import make_event, person
from waiting import wait_for

VENUE, OTHER_VENUE = "cho-thu", "cho-khac"
A, B, LATE = "cho-thu-a", "cho-thu-b", "cho-thu-c"


# -- the registry file --------------------------------------------------------------------------

ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,62}", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(ids, ids, max_size=20))
def test_a_registry_reads_back_what_was_written(kiosks):
    assert parse_registry(render_registry(kiosks)) == kiosks


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.builds(lambda k, v: f'[kiosks]\n"{k}" = {v}\n', st.text(max_size=70),
                                         st.text(max_size=70)))
def test_any_registry_text_is_read_or_refused_with_a_message_naming_the_file(text):
    try:
        kiosks = parse_registry(text, "kiosks.toml")
    except ConfigError as exc:
        assert str(exc).startswith("kiosks.toml: ")
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in kiosks.items())


def test_registry_refusals_name_the_key():
    for text, words in (('[kiosk]\n"a" = "b"\n', "unknown key 'kiosk'"),
                        ('[kiosks]\n"K-01" = "cho-thu"\n', "'K-01': not a kiosk id"),
                        ('[kiosks]\n"k-01" = 3\n', "k-01 = 3: must be a venue id"),
                        ('kiosks = "x"\n', "must be a [kiosks] table"), ("[kiosks\n", "not valid TOML"),
                        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deep")):
        with pytest.raises(ConfigError, match="kiosks.toml: .*" + words.replace("[", r"\[")):
            parse_registry(text, "kiosks.toml")


def test_a_registry_changed_on_disk_is_read_again_and_a_broken_one_keeps_the_last(tmp_path):
    path = tmp_path / "kiosks.toml"
    path.write_text(render_registry({A: VENUE}))
    clock = SimpleNamespace(t=0.0)
    registry = Registry(path, monotonic=lambda: clock.t)
    event = make_event(kiosk=B, venue=VENUE)
    assert registry.refusal(event)[0] == "unknown_kiosk"
    path.write_text(render_registry({A: VENUE, B: OTHER_VENUE}))
    clock.t += 2
    assert registry.refusal(event) == ("venue_mismatch", "the kiosk is provisioned for venue cho-khac, not cho-thu")
    path.write_text("[kiosks\n")                                  # a half-copied file
    clock.t += 2
    assert registry.refusal(event)[0] == "venue_mismatch"         # the last good one
    path.write_text(render_registry({B: VENUE}))
    clock.t += 2
    assert registry.refusal(event) is None


# -- provisioning writes it, the collector's config points at it --------------------------------

def test_kiosk_new_records_the_kiosks_venue_for_the_collector(tmp_path):
    fleet = Fleet.init(tmp_path / "fleet", broker_host="127.0.0.1")
    assert parse_registry(fleet.registry_file.read_text()) == {}
    fleet.add_venue(VENUE, "Chợ Thử")
    fleet.add_venue(OTHER_VENUE, "Chợ Khác")
    fleet.new_kiosk(A, VENUE)
    fleet.new_kiosk(B, OTHER_VENUE)
    assert fleet.registry() == {A: VENUE, B: OTHER_VENUE}
    config = parse_config((fleet.collector_dir / "collector.toml").read_text())
    assert config.fleet.kiosks == "/etc/checkin-collector/kiosks.toml"
    assert config.collector.status_file == "/run/checkin-collector/status.json"
    # A fleet made before the registry existed gets one at its next kiosk, listing its earlier
    # kiosks too (from their kiosk.toml): the collector pointed at it turns none of them away.
    fleet.registry_file.unlink()
    fleet.new_kiosk(LATE, VENUE)
    assert fleet.registry() == {A: VENUE, B: OTHER_VENUE, LATE: VENUE}


def test_a_configured_registry_that_is_missing_stops_the_collector_with_its_name(tmp_path, capsys):
    from mqtt.collector.cli import main
    cfg = write_collector_config(tmp_path / "collector.toml", mqtt={"url": f"mqtt://127.0.0.1:{free_port()}"},
                                 store={"url": f"sqlite://{tmp_path}/c.db"},
                                 fleet={"kiosks": f"{tmp_path}/kiosks.toml"})
    assert main(["run", "--config", str(cfg)]) == 2
    assert f"{tmp_path}/kiosks.toml: config file not found" in capsys.readouterr().err


def test_without_a_registry_any_kiosk_may_file_at_any_venue(mosquitto, tmp_path):
    """The loopback development setup (no [fleet] kiosks) works as before: the collector stores
    what any kiosk sends, listed nowhere, at any venue, one kiosk at two venues."""
    config = collector_config(mosquitto.url, f"sqlite://{tmp_path}/central.db", client_id="collector-noregistry")
    assert config.fleet.kiosks == ""
    events = [make_event(kiosk=A, seq=1, venue=VENUE, at=at(30), who=person(1)),
              make_event(kiosk=A, seq=2, venue=OTHER_VENUE, at=at(20), who=person(2)),
              make_event(kiosk="never-provisioned-01", seq=1, venue="cho-nao-do", at=at(10), who=person(3))]
    collector = Collector(config)
    collector.start()
    kiosk = Kiosk(mosquitto.url)
    try:
        assert collector.wait_ready(10)
        for e in events:
            kiosk.send(e)
        wait_for(lambda: len(kiosk.acked(A)) == 2 and kiosk.acked("never-provisioned-01"), timeout=20,
                 what="every event acked")
        assert sorted(kiosk.acked(A) + kiosk.acked("never-provisioned-01")) == sorted(e["event_id"] for e in events)
        assert collector.store.dead_letter_rows() == [] and collector.store.counts()["events"] == 3
        stored = {v["visit_id"]: (v["kiosk_id"], v["venue_id"]) for v in queries.visits(collector.store)}
        assert stored == {e["visit_id"]: (e["kiosk_id"], e["venue_id"]) for e in events}
    finally:
        kiosk.close()
        collector.stop()


# -- the attack, end to end ---------------------------------------------------------------------

def at(minutes_ago: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes_ago)


class FleetKiosk(Client):
    """A kiosk's MQTT identity from its provisioned folder: TLS with its own certificate."""

    def __init__(self, fleet: Fleet, kiosk_id: str):
        etc = fleet.kiosk_etc(kiosk_id)
        super().__init__(int(fleet.settings["broker_port"]),
                         SimpleNamespace(cert=etc / "kiosk.pem", key=etc / "kiosk.key"),
                         ca=etc / "ca.pem", client_id=kiosk_id)
        self.kiosk_id = kiosk_id
        self.start()
        assert self.subscribe(acks_topic(kiosk_id)) == [1]

    def send(self, event: dict) -> None:
        assert self.publish(events_topic(self.kiosk_id), encode_event(event)) == 0

    def acked(self) -> list[str]:
        return [i for payload in self.received(acks_topic(self.kiosk_id)) for i in decode_ack(payload)[0]]

    def refused(self) -> list[tuple[str, str]]:
        """What the acks name as refused for good (the kiosk sets those aside)."""
        return [r for payload in self.received(acks_topic(self.kiosk_id)) for r in decode_ack(payload)[1]]


@pytest.fixture
def fleet(tmp_path):
    fleet = Fleet.init(tmp_path / "fleet", broker_host="127.0.0.1", broker_port=free_port())
    fleet.add_venue(VENUE, "Chợ Thử")
    fleet.add_venue(OTHER_VENUE, "Chợ Khác")
    for kiosk_id in (A, B, LATE):
        fleet.new_kiosk(kiosk_id, VENUE)
    return fleet


def test_a_kiosk_cannot_take_over_another_kiosks_visit_nor_file_at_another_venue(fleet, tmp_path):
    registry = fleet.registry_file.read_text()
    # The technician has not yet copied the registry with the newest kiosk to the collector.
    fleet.registry_file.write_text(render_registry({A: VENUE, B: VENUE}))
    with fleet_central(fleet, tmp_path / "central") as (_broker, collector):
        kiosk_a, kiosk_b = FleetKiosk(fleet, A), FleetKiosk(fleet, B)
        try:
            visitor = person(1, "Nguyễn Thị Mẫu")
            neighbour = person(2, "Lê Văn Mẫu")
            intruder = person(3, "Trần Văn Thử Lạ")
            b_visit = make_event(kiosk=B, seq=1, visit=str(uuid.uuid4()), at=at(60), who=visitor)
            a_visit = make_event(kiosk=A, seq=1, visit=str(uuid.uuid4()), at=at(50), who=neighbour)
            kiosk_b.send(b_visit)
            kiosk_a.send(a_visit)
            wait_for(lambda: kiosk_b.acked() == [b_visit["event_id"]] and kiosk_a.acked() == [a_visit["event_id"]],
                     what="both check-ins acked")

            # A, with its own certificate on its own topic, uses B's visit id (as printed on old slips).
            takeover = make_event(kiosk=A, seq=2, type="check_out", visit=b_visit["visit_id"], at=at(55), who=intruder)
            reopen = make_event(kiosk=A, seq=3, visit=b_visit["visit_id"], at=at(70), who=intruder)
            elsewhere = make_event(kiosk=A, seq=4, visit=str(uuid.uuid4()), at=at(40), who=intruder, venue=OTHER_VENUE)
            own = make_event(kiosk=A, seq=5, type="check_out", visit=a_visit["visit_id"], at=at(10), who=neighbour)
            for e in (takeover, reopen, elsewhere, own):
                kiosk_a.send(e)
            wait_for(lambda: own["event_id"] in kiosk_a.acked(), what="A's own check-out acked")
            letters = wait_for(lambda: (len(collector.store.dead_letter_rows()) == 3
                                        and collector.store.dead_letter_rows()),
                               what="three dead letters")
            assert sorted((r["reason"], r["event_id"]) for r in letters) == sorted([
                ("visit_of_other_kiosk", takeover["event_id"]), ("visit_of_other_kiosk", reopen["event_id"]),
                ("venue_mismatch", elsewhere["event_id"])])
            assert all(r["kiosk_id"] == A for r in letters)
            assert kiosk_a.acked() == [a_visit["event_id"], own["event_id"]]    # the refused are not acked
            # A visit of another kiosk can never come right: A is told, and sets both aside. The
            # venue is the registry's word, which a technician may correct: not final, re-sent.
            assert sorted(kiosk_a.refused()) == sorted([(takeover["event_id"], "visit_of_other_kiosk"),
                                                        (reopen["event_id"], "visit_of_other_kiosk")])

            [visit] = [v for v in queries.visits(collector.store) if v["visit_id"] == b_visit["visit_id"]]
            assert (visit["kiosk_id"], visit["venue_id"], visit["person"], visit["check_out_at"]) == \
                (B, VENUE, visitor, None)
            assert not [v for v in queries.visits(collector.store) if v["venue_id"] == OTHER_VENUE]
            contacts = queries.trace(collector.store, "cccd", neighbour["id"], days=1)
            assert visitor in [r["person"] for r in contacts] and intruder not in [r["person"] for r in contacts]
            assert queries.trace(collector.store, "cccd", intruder["id"], days=1) == []
            assert collector.store.seq_state(A) == (1, [[5, 5]])      # the refused leave a visible gap

            kiosk_a.send(takeover)                                  # re-sent: refused again, kept once
            kiosk_a.send(own)                                       # barrier: handled in order
            wait_for(lambda: kiosk_a.acked().count(own["event_id"]) == 2, what="the barrier's ack")
            assert len(collector.store.dead_letter_rows()) == 3
            assert kiosk_a.refused().count((takeover["event_id"], "visit_of_other_kiosk")) == 2   # told again

            # A kiosk the collector's registry does not list yet: held back, then taken once it does.
            late = FleetKiosk(fleet, LATE)
            try:
                first = make_event(kiosk=LATE, seq=1, visit=str(uuid.uuid4()), at=at(5), who=person(4))
                late.send(first)
                wait_for(lambda: [r for r in collector.store.dead_letter_rows() if r["reason"] == "unknown_kiosk"],
                         what="unknown_kiosk")
                assert late.acked() == [] and late.refused() == [] and collector.store.seq_state(LATE) == (0, [])
                fleet.registry_file.write_text(registry)            # the technician copies the registry
                # Re-sent until acked, as the uplink does (copies sent meanwhile are acked again).
                wait_for(lambda: first["event_id"] in (late.send(first), late.acked())[1], timeout=20,
                         what="the kiosk's re-sent event acked once the registry lists it")
                assert set(late.acked()) == {first["event_id"]} and collector.store.seq_state(LATE) == (1, [])
            finally:
                late.stop()
        finally:
            kiosk_a.stop()
            kiosk_b.stop()
    assert json.loads(letters[0]["payload"])["kiosk_id"] == A


def test_venue_places_go_into_the_registry_and_survive_a_new_kiosk(tmp_path, capsys):
    from provisioning.cli import main
    fleet = Fleet.init(tmp_path / "fleet", broker_host="127.0.0.1")
    assert main(["venue", "add", VENUE, "--name", "Chợ Thử", "--district", "Phan Rang–Tháp Chàm",
                 "--province", "Ninh Thuận", "--fleet", str(fleet.root)]) == 0
    fleet.add_venue(OTHER_VENUE, "Chợ Khác")
    assert main(["venue", "place", OTHER_VENUE, "--district", "Ninh Hải", "--province", "Ninh Thuận",
                 "--fleet", str(fleet.root)]) == 0
    fleet.new_kiosk(A, VENUE)
    text = fleet.registry_file.read_text()
    assert parse_registry(text) == {A: VENUE}
    assert registry_venues(text) == {VENUE: Venue(VENUE, "Chợ Thử", "Phan Rang–Tháp Chàm", "Ninh Thuận"),
                                     OTHER_VENUE: Venue(OTHER_VENUE, "Chợ Khác", "Ninh Hải", "Ninh Thuận")}
    for args, words in ((["venue", "place", "cho-khong", "--district", "X", "--province", "Y"], "does not exist"),
                        (["venue", "place", VENUE, "--district", "a|b", "--province", "Y"], "without '|'"),
                        (["venue", "add", "cho-moi", "--name", "Mới", "--district", "X"], "go together")):
        assert main([*args, "--fleet", str(fleet.root)]) != 0
        assert words in capsys.readouterr().err


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(ids, st.builds(lambda *names: names, *[st.text(max_size=30).filter(is_place_name)] * 3),
                       max_size=5))
def test_registry_venues_read_back_what_was_written(places):
    venues = {v: Venue(v, *names) for v, names in places.items()}
    assert registry_venues(render_registry({}, venues)) == venues


def test_registry_venue_refusals_name_the_key():
    for text, words in (("[venues.cho-thu]\nname = 3\n", "venues.cho-thu.name must be a name"),
                        ("[venues.cho-thu]\ntown = 'x'\n", "unknown key 'town'"),
                        ("[venues.Cho]\nname = 'x'\n", "'Cho': not a venue id"),
                        ("venues = 1\n", "must be \\[venues.ID\\] tables")):
        with pytest.raises(ConfigError, match="kiosks.toml: .*" + words):
            parse_registry(text, "kiosks.toml")


def test_the_collector_places_the_registrys_venues_in_its_store(tmp_path):
    registry = tmp_path / "kiosks.toml"
    registry.write_text(render_registry({A: VENUE}, {VENUE: Venue(VENUE, "Chợ Thử", "Ninh Hải", "Ninh Thuận")}))
    cfg = parse_config(write_collector_config(
        tmp_path / "collector.toml", mqtt={"url": f"mqtt://127.0.0.1:{free_port()}"},
        store={"url": f"sqlite://{tmp_path}/c.db"}, fleet={"kiosks": str(registry)}).read_text())
    collector = Collector(cfg)
    try:
        collector._housekeeping()
        assert collector.store.venue_list() == [Venue(VENUE, "Chợ Thử", "Ninh Hải", "Ninh Thuận")]
    finally:
        collector.store.close()
