"""The running collector against a real Mosquitto: store, ack, dead-letter, fleet, survive a crash."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from configs import config_text, write_collector_config
from mqtt.collector.config import parse_config
from mqtt.collector.ingest import Collector
from mqtt.collector.store import StoreError, open_store
from mqtt.wire.acks import decode_ack
from mqtt.wire.event import MAX_EVENT_BYTES, encode_event
from mqtt.wire.topics import events_topic, health_topic, parse_topic, selftest_topic, status_topic
from test_collector_store import make_event as store_event
from test_collector_store import person
from waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
#: When the events sent here happened: in the contract's window for a synced clock (the store
#: tests' default, 2021, is before the product existed and is refused as ``implausible_time``).
SENT_AT = "2025-08-15T08:00:00.000+07:00"


def make_event(**kw) -> dict:
    """The store tests' synthetic event, as a kiosk sends it today."""
    return store_event(**{"at": SENT_AT, **kw})


class Kiosk:
    """Raw paho, as a kiosk would be: publishes to kiosks/<id>/…, collects acks of any kiosk."""

    def __init__(self, url: str):
        self.acks: dict[str, list[str]] = {}
        self.refusals: dict[str, list[tuple[str, str]]] = {}      # an ack's "refused" entries
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{uuid.uuid4().hex[:8]}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        port = int(url.rsplit(":", 1)[1])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe("kiosks/+/acks", qos=1)
        assert subscribed.wait(5)

    def _on_message(self, client, userdata, msg):
        kiosk_id = parse_topic(msg.topic)[0]
        ids, refused = decode_ack(msg.payload)      # the kiosk's decoder: a bad ack fails here
        with self._lock:
            self.acks.setdefault(kiosk_id, []).extend(ids)
            self.refusals.setdefault(kiosk_id, []).extend(refused)

    def acked(self, kiosk_id: str) -> list[str]:
        with self._lock:
            return list(self.acks.get(kiosk_id, []))

    def refused(self, kiosk_id: str) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.refusals.get(kiosk_id, []))

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def send(self, event: dict, topic_kiosk: str | None = None) -> None:
        self.publish(events_topic(topic_kiosk or event["kiosk_id"]), encode_event(event))

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def collector_config(url: str, store_url: str, store: dict | None = None, **mqtt):
    """``store``: more ``[store]`` keys; ``mqtt``: more ``[mqtt]`` keys."""
    store = {"url": store_url, "batch_ms": 30, **(store or {})}
    return parse_config(config_text(mqtt={"url": url, **mqtt}, store=store))


@pytest.fixture
def kiosk(mosquitto):
    k = Kiosk(mosquitto.url)
    yield k
    k.close()


@pytest.fixture
def collector(mosquitto, tmp_path):
    c = Collector(collector_config(mosquitto.url, f"sqlite://{tmp_path}/central.db",
                                   client_id=f"collector-{uuid.uuid4().hex[:6]}"))
    c.start()
    assert c.wait_ready(10)
    yield c
    c.stop()


def test_valid_events_are_stored_once_and_acked_to_their_kiosk(collector, kiosk):
    a = [make_event(kiosk="kiosk-a", seq=n, who=person(n)) for n in range(1, 6)]
    b = [make_event(kiosk="kiosk-b", seq=n) for n in range(1, 3)]
    for e in a + b:
        kiosk.send(e)
    wait_for(lambda: len(kiosk.acked("kiosk-a")) == 5 and len(kiosk.acked("kiosk-b")) == 2, what="acks")
    assert sorted(kiosk.acked("kiosk-a")) == sorted(e["event_id"] for e in a)
    assert sorted(kiosk.acked("kiosk-b")) == sorted(e["event_id"] for e in b)
    assert collector.store.counts()["events"] == 7

    kiosk.send(a[0])                                   # the kiosk missed the ack and sends it again
    wait_for(lambda: len(kiosk.acked("kiosk-a")) == 6, what="the second ack")
    assert kiosk.acked("kiosk-a")[-1] == a[0]["event_id"]
    assert collector.store.counts()["events"] == 7
    assert collector.counters.duplicates == 1
    assert {r["kiosk_id"] for r in collector.store.fleet_rows()} == {"kiosk-a", "kiosk-b"}


def test_bad_input_goes_to_dead_letters_and_the_collector_keeps_running(collector, kiosk):
    topic = events_topic("kiosk-a")
    kiosk.publish(topic, b'{"schema": "checkin.event/1", "event_id": ')                     # malformed JSON
    kiosk.publish(topic, encode_event({**make_event(), "schema": "checkin.event/9"}))  # wrong schema
    kiosk.publish(topic, b"{" + b" " * MAX_EVENT_BYTES + b"}")                     # oversize
    kiosk.publish(topic, encode_event({**make_event(), "address": "12 Lê Lợi"}))     # unknown field
    kiosk.send(make_event(kiosk="kiosk-b"), topic_kiosk="kiosk-a")                           # forged kiosk id
    kiosk.send(make_event(who={**person(1), "name": "Nguyễn\u0007Thị Mẫu"}))                 # control character
    kiosk.publish(topic, b"\xff\xfe not utf-8")
    good = make_event(seq=7)
    kiosk.send(good)
    wait_for(lambda: kiosk.acked("kiosk-a") == [good["event_id"]], what="the good event's ack")
    letters = wait_for(lambda: len(collector.store.dead_letter_rows()) == 7 and collector.store.dead_letter_rows(),
                       what="7 dead letters")
    reasons = sorted(r["reason"] for r in letters)
    assert reasons == sorted(["not_json", "schema", "oversize", "schema", "kiosk_mismatch", "field", "not_json"])
    details = " | ".join(r["detail"] for r in letters)
    assert "unknown field(s) address" in details and "control characters" in details
    assert all(r["kiosk_id"] == "kiosk-a" and r["topic"] == topic for r in letters)
    assert collector.store.counts()["events"] == 1
    assert "kiosk-b" not in kiosk.acks                 # nothing acked for a forged event


def test_an_event_the_store_cannot_hold_becomes_a_dead_letter_and_the_batch_goes_on(collector, kiosk, tmp_path):
    # A valid event the database refuses (a constraint it alone knows of). The contract refuses
    # what the store could not hold (a time before year 1 in UTC used to be such a poison).
    poison = make_event(seq=1)
    good = make_event(seq=2)
    with sqlite3.connect(tmp_path / "central.db") as db:
        db.execute(f"CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.event_id = '{poison['event_id']}' "
                   "BEGIN SELECT RAISE(ABORT, 'this store cannot hold it'); END")
    kiosk.send(poison)
    kiosk.send(good)
    wait_for(lambda: good["event_id"] in kiosk.acked("kiosk-a"), what="the good event's ack")
    assert poison["event_id"] not in kiosk.acked("kiosk-a")
    [letter] = wait_for(lambda: collector.store.dead_letter_rows(), what="a dead letter")
    assert letter["reason"] == "store_rejected" and json.loads(letter["payload"])["event_id"] == poison["event_id"]
    # Final (the store would refuse it again): the kiosk is told, so it stops re-sending it.
    assert letter["event_id"] == poison["event_id"]
    assert kiosk.refused("kiosk-a") == [(poison["event_id"], "store_rejected")]
    later = make_event(seq=3)
    kiosk.send(later)
    wait_for(lambda: later["event_id"] in kiosk.acked("kiosk-a"), what="the collector still running")


def test_implausible_times_are_dead_lettered_and_their_kiosk_told_not_to_send_them_again(collector, kiosk):
    """Field fix 5: a synced time in year 9999 (it would sort first for ever and never be purged),
    or two days ahead of the collector's clock, or before the product existed, is refused as
    implausible_time; the kiosk is told in an ack's "refused" (so it sets the event aside instead
    of re-sending it every two minutes). An unsynced clock's 1970 is taken: it is corrected later."""
    ahead = (datetime.now(UTC) + timedelta(days=2)).isoformat(timespec="milliseconds")
    bad = [make_event(seq=1, at="9999-12-31T23:59:59.999+07:00"), make_event(seq=2, at=ahead),
           make_event(seq=3, at="2024-06-01T08:00:00.000+07:00")]
    unsynced = make_event(seq=4, at="1970-01-01T00:00:10.000+00:00", synced=False, boot="boot-new")
    for e in bad + [unsynced]:
        kiosk.send(e)
    wait_for(lambda: len(kiosk.refused("kiosk-a")) == 3 and kiosk.acked("kiosk-a"), what="the refusals and the ack")
    assert sorted(kiosk.refused("kiosk-a")) == sorted((e["event_id"], "implausible_time") for e in bad)
    assert kiosk.acked("kiosk-a") == [unsynced["event_id"]]
    letters = collector.store.dead_letter_rows()
    assert sorted(r["reason"] for r in letters) == ["implausible_time"] * 3
    assert [r["event_id"] for r in collector.store.event_rows()] == [unsynced["event_id"]]
    # Each letter carries its event's id: re-sent (the kiosk missed the ack), it is told again
    # and still one dead letter per (event, reason).
    assert sorted(r["event_id"] for r in letters) == sorted(e["event_id"] for e in bad)
    kiosk.send(bad[0])
    wait_for(lambda: len(kiosk.refused("kiosk-a")) == 4, what="the refusal told again")
    assert kiosk.refused("kiosk-a")[-1] == (bad[0]["event_id"], "implausible_time")
    assert len(collector.store.dead_letter_rows()) == 3


def test_a_refusal_whose_dead_letter_was_not_written_is_not_told(collector, kiosk, tmp_path):
    """Only a refusal the collector holds is final: a dead letter the store would not keep (the
    one-by-one path) is not announced, so the kiosk keeps the event and sends it again."""
    lost = make_event(seq=1, at="9999-01-01T00:00:00.000+07:00")
    told = make_event(seq=2, at="9999-01-02T00:00:00.000+07:00")
    with sqlite3.connect(tmp_path / "central.db") as db:
        db.execute("CREATE TRIGGER no_letter BEFORE INSERT ON dead_letters "
                   f"WHEN instr(CAST(NEW.payload AS TEXT), '{lost['event_id']}') > 0 "
                   "BEGIN SELECT RAISE(ABORT, 'this store cannot hold it'); END")
    barrier = make_event(seq=3)
    for e in (lost, told, barrier):
        kiosk.send(e)
    wait_for(lambda: barrier["event_id"] in kiosk.acked("kiosk-a"), what="the barrier's ack")
    assert kiosk.refused("kiosk-a") == [(told["event_id"], "implausible_time")]
    assert [r["event_id"] for r in collector.store.dead_letter_rows()] == [told["event_id"]]


def test_many_refusals_reach_the_kiosk_in_acks_it_accepts(mosquitto, kiosk, tmp_path):
    """600 refusals in one batch were one 48 kB ack, over the kiosk's limit: it dropped the ack
    and re-sent the 600 events for ever. They come in several acks, each within the limit."""
    store_url = f"sqlite://{tmp_path}/central.db"
    gated = GatedStore(open_store(store_url))
    c = Collector(collector_config(mosquitto.url, store_url, store={"batch_size": 1000}, client_id="collector-many"),
                  store=gated)
    c.start()
    try:
        assert c.wait_ready(10)
        first = make_event(seq=1)
        kiosk.send(first)
        assert gated.entered.wait(10)                   # the first batch waits: the rest queue up
        ahead = [make_event(seq=n, at="9999-01-01T00:00:00.000+07:00") for n in range(2, 602)]
        for e in ahead:
            kiosk.send(e)
        wait_for(lambda: c.waiting() == 601, what="600 events queued behind the first batch")
        gated.release.set()                             # the 600 go in one batch
        wait_for(lambda: len(kiosk.refused("kiosk-a")) == 600, what="600 refusals")
        assert sorted(kiosk.refused("kiosk-a")) == sorted((e["event_id"], "implausible_time") for e in ahead)
        assert kiosk.acked("kiosk-a") == [first["event_id"]]
    finally:
        c.stop()
        gated.store.close()


def test_deeply_nested_json_is_a_dead_letter_and_the_collector_goes_on(collector, kiosk):
    """json.loads raises RecursionError for [[[…]]] 2000 deep: it killed the inbox thread, so the
    collector looked healthy and stored nothing, and the message came back after every restart."""
    nested = b"[" * 2000 + b"]" * 2000
    for topic in (events_topic("kiosk-a"), health_topic("kiosk-a"),
                  selftest_topic("kiosk-a")):
        kiosk.publish(topic, nested)
    after = make_event(seq=1)
    kiosk.send(after)
    wait_for(lambda: kiosk.acked("kiosk-a") == [after["event_id"]], what="the event after them stored and acked")
    letters = wait_for(lambda: len(collector.store.dead_letter_rows()) == 3 and collector.store.dead_letter_rows(),
                       what="three dead letters")
    assert sorted(r["reason"] for r in letters) == ["health", "not_json", "selftest"]
    assert all("nested deeper than" in r["detail"] for r in letters)
    assert not collector.failed.is_set() and collector._inbox.is_alive()


class BuggyCollector(Collector):
    """A collector with a bug one message trips (an error of ours nobody has found yet)."""

    TRIPWIRE = b'{"trip": "wire"}'

    def _classify(self, msg):
        if msg.payload == self.TRIPWIRE:
            raise KeyError("an unexpected error")
        return super()._classify(msg)


def test_an_unexpected_error_for_one_message_is_its_dead_letter_not_a_dead_inbox(mosquitto, kiosk, tmp_path):
    c = BuggyCollector(collector_config(mosquitto.url, f"sqlite://{tmp_path}/central.db", client_id="collector-bug"))
    c.start()
    try:
        assert c.wait_ready(10)
        kiosk.publish(events_topic("kiosk-a"), BuggyCollector.TRIPWIRE)
        after = make_event(seq=1)
        kiosk.send(after)
        wait_for(lambda: kiosk.acked("kiosk-a") == [after["event_id"]], what="the event after it stored")
        [letter] = wait_for(lambda: c.store.dead_letter_rows(), what="its dead letter")
        assert (letter["reason"], letter["kiosk_id"], letter["payload"]) == ("unreadable", "kiosk-a",
                                                                              BuggyCollector.TRIPWIRE)
        assert kiosk.refused("kiosk-a") == []          # not final: a fixed collector takes it
        assert not c.failed.is_set() and c._inbox.is_alive()
    finally:
        c.stop()


def test_status_and_health_update_the_fleet(collector, kiosk):
    health = {"version": "0.1.0", "outbox": {"pending": 2, "sent": 1, "delivered": 10, "quarantined": 0,
                                             "oldest_undelivered_s": 12.5}}
    kiosk.publish(status_topic("kiosk-a"), "online", retain=True)
    kiosk.publish(health_topic("kiosk-a"), json.dumps(health), retain=True)
    rows = wait_for(lambda: [r for r in collector.store.fleet_rows() if r["health"] and r["status"]], what="fleet")
    assert rows[0]["kiosk_id"] == "kiosk-a" and rows[0]["status"] == "online" and rows[0]["health"] == health
    kiosk.publish(status_topic("kiosk-a"), "offline", retain=True)   # the Last Will
    wait_for(lambda: collector.store.fleet_rows()[0]["status"] == "offline", what="offline")
    kiosk.publish(health_topic("kiosk-a"), "[1, 2]")
    wait_for(lambda: [r for r in collector.store.dead_letter_rows() if r["reason"] == "health"], what="bad health")


class GatedStore:
    """A real store whose first ingest waits until the test lets it go on (and then commits)."""

    def __init__(self, store):
        self.store = store
        self.entered = threading.Event()
        self.release = threading.Event()

    def ingest(self, events, **kw):
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(30)
        return self.store.ingest(events, **kw)

    def __getattr__(self, name):
        return getattr(self.store, name)


class BlockingStore:
    """A store whose first ingest never commits (the collector dies before its commit)."""

    def __init__(self, store):
        self.store = store
        self.entered = threading.Event()
        self.release = threading.Event()

    def ingest(self, events, **kw):
        self.entered.set()
        self.release.wait(10)
        raise StoreError("simulated crash before the commit")

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_messages_taken_but_not_committed_are_redelivered_after_a_crash(mosquitto, kiosk, tmp_path):
    """Manual PUBACK: what the collector took from the broker but never committed is delivered
    again to its resumed session (the kiosk does not even need to re-send)."""
    store_url = f"sqlite://{tmp_path}/central.db"
    config = collector_config(mosquitto.url, store_url, client_id="collector-crash")
    blocking = BlockingStore(open_store(store_url))
    first = Collector(config, store=blocking)
    first.start()
    assert first.wait_ready(10)
    events = [make_event(seq=n) for n in range(1, 6)]
    for e in events:
        kiosk.send(e)
    assert blocking.entered.wait(10)
    # SIGKILL of its MQTT side: the connection closes without DISCONNECT or PUBACK.
    first.receiver.kill()
    first._stopping.set()
    blocking.release.set()
    time.sleep(0.3)
    assert kiosk.acked("kiosk-a") == []

    second = Collector(config)                          # same client id: the session resumes
    second.start()
    try:
        wait_for(lambda: len(kiosk.acked("kiosk-a")) >= 5, what="acks after the restart")
        assert sorted(set(kiosk.acked("kiosk-a"))) == sorted(e["event_id"] for e in events)
        assert second.store.counts()["events"] == 5
    finally:
        second.stop()
        blocking.store.close()


def test_events_sent_while_the_collector_is_down_arrive_when_it_returns(mosquitto, kiosk, tmp_path):
    config = collector_config(mosquitto.url, f"sqlite://{tmp_path}/central.db", client_id="collector-away")
    c = Collector(config)
    c.start()
    assert c.wait_ready(10)
    c.stop()
    events = [make_event(seq=n) for n in range(1, 4)]
    for e in events:
        kiosk.send(e)
    c = Collector(config)
    c.start()
    try:
        wait_for(lambda: len(kiosk.acked("kiosk-a")) == 3, what="queued events")
        assert c.store.counts()["events"] == 3
    finally:
        c.stop()


def test_two_collectors_on_a_shared_subscription_store_each_event_once(mosquitto, kiosk, postgres):
    url = postgres.new_database()
    collectors = [Collector(collector_config(mosquitto.url, url, client_id=f"collector-{i}", shared_group="collectors"))
                  for i in range(2)]
    for c in collectors:
        c.start()
    try:
        assert all(c.wait_ready(10) for c in collectors)
        events = [make_event(kiosk=f"kiosk-{n % 4}", seq=n // 4 + 1) for n in range(80)]
        for e in events:
            kiosk.send(e)
        kiosk.send(events[0])                          # a re-send may reach the other collector
        # Every event acked, and all 81 messages taken. Not "81 acks": a copy that lands in the
        # same batch as its original is one event of that batch, acked once.
        ids = {e["event_id"] for e in events}
        wait_for(lambda: ids <= {i for k in range(4) for i in kiosk.acked(f"kiosk-{k}")}
                 and sum(c.counters.received for c in collectors) == 81, what="acks")
        assert collectors[0].store.counts()["events"] == 80
        assert all(c.counters.received > 0 for c in collectors)
        assert all(collectors[0].store.seq_state(f"kiosk-{k}") == (20, []) for k in range(4))
    finally:
        for c in collectors:
            c.stop()


def test_cli_run_stops_cleanly_on_sigterm(mosquitto, kiosk, tmp_path):
    cfg = write_collector_config(tmp_path / "collector.toml",
                                 mqtt={"url": mosquitto.url, "client_id": "collector-cli"},
                                 store={"url": f"sqlite://{tmp_path}/central.db"})
    proc = start_cli_run(cfg)
    try:
        e = make_event()
        end = time.monotonic() + 15
        while not kiosk.acked("kiosk-a") and time.monotonic() < end:   # re-send until it is up
            kiosk.send(e)
            time.sleep(0.3)
        assert kiosk.acked("kiosk-a")[0] == e["event_id"]
        # systemd (and Ctrl-C in a terminal) signal the whole group: the receiver process ignores
        # it and leaves when the writer is done with it, so the stop is still orderly.
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0
        err = proc.stderr.read()
        assert "collector stopped:" in err and "0 store error(s)" in err
        assert "Nguyễn" not in err and "079190000001" not in err          # no personal data in logs
    finally:
        if proc.poll() is None:
            proc.kill()


def start_cli_run(cfg: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import sys; from mqtt.collector.cli import main; sys.exit(main())",
                             "run", "--config", str(cfg)], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_collector_killed_outright_takes_its_receiver_process_along(mosquitto, tmp_path):
    """No orphan keeps the collector's MQTT session (and its un-PUBACKed messages) after a SIGKILL."""
    cfg = write_collector_config(tmp_path / "collector.toml",
                                 mqtt={"url": mosquitto.url, "client_id": "collector-killed"},
                                 store={"url": f"sqlite://{tmp_path}/central.db"})
    proc = start_cli_run(cfg)
    try:
        [receiver] = wait_for(lambda: children(proc.pid), what="the receiver process")
        proc.kill()
        proc.wait(10)
        wait_for(lambda: not alive(receiver), what="the receiver to leave")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_when_the_receiver_process_dies_the_collector_says_so(mosquitto, tmp_path):
    """``run`` then exits non-zero and systemd restarts the collector (the session kept the messages)."""
    c = Collector(collector_config(mosquitto.url, f"sqlite://{tmp_path}/central.db", client_id="collector-lost"))
    c.start()
    try:
        assert c.wait_ready(10)
        c.receiver.kill()
        assert c.failed.wait(10)
        assert not c.wait_ready(0)
    finally:
        c.stop()


def test_the_collector_connects_over_mutual_tls(tmp_path):
    """mqtts:// with tls_ca/tls_cert/tls_key: the broker requires the collector's certificate."""
    from broker import Mosquitto, free_port
    from pki import issue, make_ca
    ca = make_ca(tmp_path / "pki")
    server, client = issue(ca, "localhost", server=True), issue(ca, "collector-1")
    plain, tls = free_port(), free_port()
    broker = Mosquitto(tmp_path / "broker", port=plain, config=(
        f"listener {plain} 127.0.0.1\nallow_anonymous true\n"
        f"listener {tls} 127.0.0.1\ncafile {ca.cert}\ncertfile {server.cert}\nkeyfile {server.key}\n"
        "require_certificate true\nuse_identity_as_username true\n")).start()
    k = Kiosk(broker.url)
    c = Collector(parse_config(f'[mqtt]\nurl = "mqtts://localhost:{tls}"\ntls_ca = "{ca.cert}"\n'
                               f'tls_cert = "{client.cert}"\ntls_key = "{client.key}"\n'
                               f'[store]\nurl = "sqlite://{tmp_path}/central.db"\nbatch_ms = 30\n'))
    c.start()
    try:
        assert c.wait_ready(10)
        e = make_event()
        k.send(e)
        wait_for(lambda: k.acked("kiosk-a") == [e["event_id"]], what="an ack over TLS")
    finally:
        c.stop()
        k.close()
        broker.stop()
