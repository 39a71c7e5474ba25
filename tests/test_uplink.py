"""The uplink against a real Mosquitto: drain in seq order, acks, status, health, commands."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from broker import Mosquitto
from kiosk.centre.commands import kiosk_commands
from kiosk.centre.outbox import KioskOutbox
from kiosk.store import StoreConnection, StoreUnavailable
from mqtt.refusal_inference import GUESS, REFUSED
from mqtt.uplink import Uplink, UplinkSettings
from mqtt.wire.topics import cmd_topic, events_topic
from uplink_support import (
    RawClient,
    acking_collector,
    publish_packet_size,
    record_check_ins,
)
from waiting import wait_for


@pytest.fixture
def kiosk_db(store):
    return store.path


def make_uplink(url, db, *, outbox: KioskOutbox | None = None, commands=None, **kw):
    """The uplink as the kiosk makes it: its outbox, and the kiosk's commands (unless ``commands``)."""
    settings = UplinkSettings(url=url, kiosk_id="k-001", health_interval_s=kw.pop("health_interval_s", 60),
                              backoff_s=(0.1, 0.5), **kw)
    outbox = outbox or KioskOutbox(db)
    return Uplink(outbox, settings, health=lambda: {"camera_fps": 15.0}, version="test",
                  commands=commands if commands is not None else kiosk_commands(outbox))


def test_drains_in_seq_order_and_rows_end_delivered(mosquitto, store, kiosk_db):
    record_check_ins(store, 300)
    watcher = RawClient(mosquitto.url, "watcher", subscribe=["kiosks/k-001/events"])
    acker = acking_collector(mosquitto.url)
    uplink = make_uplink(mosquitto.url, kiosk_db)
    uplink.start()
    try:
        wait_for(lambda: uplink.outbox.depth()["delivered"] == 300)
    finally:
        uplink.stop()
        acker.close()
    seqs = [json.loads(m.payload)["seq"] for m in watcher.on("kiosks/k-001/events")]
    assert seqs == list(range(1, 301))             # in order, each once (nothing was lost)
    watcher.close()
    states = store.db.execute("SELECT DISTINCT state FROM outbox").fetchall()
    assert states == [("delivered",)]


def test_puback_without_collector_ack_leaves_rows_sent_then_resends(mosquitto, store, kiosk_db):
    record_check_ins(store, 20)
    # A subscriber that never acks (a collector that lost the events after the broker gave them to
    # it): the broker holds the events for it, PUBACK 0.
    holder = RawClient(mosquitto.url, "holder", subscribe=["kiosks/k-001/events"])
    uplink = make_uplink(mosquitto.url, kiosk_db, resend_after_s=1.0)
    uplink.start()
    try:
        wait_for(lambda: uplink.outbox.depth()["sent"] == 20)
        assert uplink.outbox.depth()["delivered"] == 0
        acker = acking_collector(mosquitto.url)                       # the collector comes back
        wait_for(lambda: uplink.outbox.depth()["delivered"] == 20, timeout=30)
        acker.close()
    finally:
        uplink.stop()
        holder.close()


def test_events_nobody_holds_stay_pending_and_reach_a_late_collector_at_once(mosquitto, store, kiosk_db):
    """PUBACK 16 (no matching subscribers): the broker took the event and gave it to nobody, as after
    a broker restart that lost the collector's session, before the collector subscribes again. The
    event stays pending; the uplink pauses and tries one event again (not a flood), so the events
    reach a collector that subscribes later within seconds, not at the re-send timer (here 10 min)."""
    record_check_ins(store, 20)
    uplink = make_uplink(mosquitto.url, kiosk_db, resend_after_s=600.0)
    uplink.start()
    try:
        wait_for(lambda: uplink.published >= 21)                     # the window, then a retry
        assert uplink.outbox.depth()["pending"] == 20, uplink.outbox.depth()
        assert uplink.published <= 20 + 3, f"{uplink.published} publishes: retries without a pause"
        acker = acking_collector(mosquitto.url)                       # the collector subscribes
        wait_for(lambda: uplink.outbox.depth()["delivered"] == 20, timeout=15)
        acker.close()
        assert uplink.outbox.depth()["pending"] == 0
    finally:
        uplink.stop()


def test_status_online_retained_and_offline_on_clean_stop(mosquitto, store, kiosk_db):
    uplink = make_uplink(mosquitto.url, kiosk_db)
    uplink.start()
    wait_for(lambda: uplink.connected and uplink._client.is_connected())
    late = RawClient(mosquitto.url, "late-joiner", subscribe=["kiosks/k-001/status"])
    wait_for(lambda: late.on("kiosks/k-001/status"))
    assert late.on("kiosks/k-001/status")[-1].payload == b"online"
    uplink.stop()
    wait_for(lambda: late.on("kiosks/k-001/status")[-1].payload == b"offline")
    late.close()


def test_last_will_offline_when_the_kiosk_dies(mosquitto, tmp_path):
    uplink_settings = f'UplinkSettings(url={mosquitto.url!r}, kiosk_id="k-009", keepalive_s=2)'
    script = f"""
import sys, time
sys.path[:0] = {sys.path!r}
from pathlib import Path
from kiosk.centre.outbox import KioskOutbox
from mqtt.uplink import Uplink, UplinkSettings
u = Uplink(KioskOutbox(Path({str(tmp_path / 'die.db')!r})), {uplink_settings}, health=dict)
u.start(); time.sleep(60)
"""
    proc = subprocess.Popen([sys.executable, "-c", script])
    watcher = RawClient(mosquitto.url, "watcher", subscribe=["kiosks/k-009/status"])
    try:
        wait_for(lambda: any(m.payload == b"online" for m in watcher.on("kiosks/k-009/status")))
        proc.kill()                                    # no DISCONNECT: the broker sends the will
        wait_for(lambda: watcher.on("kiosks/k-009/status")[-1].payload == b"offline", timeout=15)
    finally:
        proc.kill()
        watcher.close()


def test_health_is_retained_json_and_commands_are_answered(mosquitto, store, kiosk_db):
    record_check_ins(store, 3)
    outbox = KioskOutbox(kiosk_db)
    commands = kiosk_commands(outbox)

    def explode():
        raise RuntimeError("a handler's bug")
    commands.register("explode", explode)
    uplink = make_uplink(mosquitto.url, kiosk_db, outbox=outbox, commands=commands)
    uplink.start()
    try:
        central = RawClient(mosquitto.url, "central", subscribe=["kiosks/k-001/health"])
        wait_for(lambda: central.on("kiosks/k-001/health"))
        health = json.loads(central.on("kiosks/k-001/health")[-1].payload)
        assert health["camera_fps"] == 15.0 and health["version"] == "test"
        assert set(health["outbox"]) >= {"pending", "sent", "delivered", "quarantined", "oldest_undelivered_s"}
        central.client.publish(cmd_topic("k-001", "ping"), json.dumps({"id": "req-1"}), qos=1)
        central.client.publish(cmd_topic("k-001", "purge"), b"", qos=1)
        central.client.publish(cmd_topic("k-001", "reboot"), b"", qos=1)
        central.client.publish(cmd_topic("k-001", "explode"), b"", qos=1)
        central.client.publish(cmd_topic("k-001", "ping"), json.dumps({"id": "req-2"}), qos=1)

        def replies():
            return [r for m in central.on("kiosks/k-001/health") for r in json.loads(m.payload).get("replies", [])]
        wait_for(lambda: len(replies()) == 5)
        by_name = {(r["command"], r["id"]): r for r in replies()}
        assert by_name["ping", "req-1"] == {"command": "ping", "id": "req-1", "result": "pong"}
        assert isinstance(by_name["purge", None]["result"], dict)
        assert by_name["reboot", None]["error"] == "unknown command (known: explode, ping, purge)"
        assert by_name["explode", None] == {"command": "explode", "id": None, "error": "explode failed (RuntimeError)"}
        assert by_name["ping", "req-2"]["result"] == "pong"          # the failing handler cost nothing
        central.close()
    finally:
        uplink.stop()


#: Connections a kiosk may need to learn that its events topic is refused, whatever the number of
#: events: the first (a full window), at most two more per event for two events (each published
#: alone, twice when the broker's PUBACK 135 is lost in the closing connection) and the one that
#: stays; then at most one per later test of the guess (``uplink.inference.tests``: one event alone
#: after ``denied_retry_s``, doubling). A kiosk that reconnected once per event would need more than
#: EVENTS.
MAX_CONNECTIONS = 6
EVENTS = 30


@pytest.mark.parametrize("queue_limit", [10000, 0], ids=["puback-135", "closes-after-denial"])
def test_not_authorised_events_are_quarantined_not_retried(tmp_path, store, kiosk_db, queue_limit):
    """The broker refuses the kiosk's events topic (its ACL): all events are quarantined at once,
    in a fixed number of connections, and the kiosk stops publishing into the refusal.

    The two brokers differ only in ``max_queued_messages``: with the production config's limit,
    Mosquitto answers each refused event with PUBACK 135 and keeps the connection; with no limit
    (0), Mosquitto 2.0.11 (Debian 12, this machine: see ``mosquitto -h``) sends PUBACK 135 and then
    closes the connection, often before the kiosk can read the PUBACK."""
    acl = tmp_path / "acl"
    # Anonymous clients may say status/health but not publish events: PUBACK 135 for events.
    acl.write_text("topic write kiosks/k-001/status\ntopic write kiosks/k-001/health\ntopic read kiosks/k-001/#\n")
    broker = Mosquitto(tmp_path / "b", config=None)
    broker.conf.write_text(broker.conf.read_text() + f"max_queued_messages {queue_limit}\nacl_file {acl}\n")
    broker.start()
    record_check_ins(store, EVENTS)
    alerts = []
    # The later try of a new event after 0.5 s here (production: a minute, doubling to an hour).
    uplink = make_uplink(broker.url, kiosk_db, denied_retry_s=(0.5, 0.5))
    uplink.on_alert = alerts.append
    uplink.start()
    try:
        wait_for(lambda: uplink.quarantined == EVENTS)             # counted once written
        assert uplink.outbox.depth()["pending"] == 0 and uplink.outbox.depth()["quarantined"] == EVENTS
        record_check_ins(store, 3, start=EVENTS)                   # the door goes on recording
        wait_for(lambda: uplink.quarantined == EVENTS + 3)
        assert uplink.outbox.depth()["quarantined"] == EVENTS + 3
        wait_for(lambda: uplink.connected and uplink._client.is_connected())
        assert uplink.accepted <= MAX_CONNECTIONS + uplink.inference.tests, \
            f"{uplink.accepted} connections for {EVENTS + 3} refused events ({uplink.inference.tests} tests)"
        assert alerts and all("not authorised" in a for a in alerts), alerts
        reasons = [r for (r,) in store.db.execute("SELECT DISTINCT last_error FROM outbox")]
        assert all(r == REFUSED or r.startswith(GUESS) for r in reasons), reasons
        if queue_limit:
            assert uplink.accepted == 1 and reasons == [REFUSED]
    finally:
        uplink.stop()
        broker.stop()


def test_events_set_aside_for_a_refused_topic_are_all_delivered_once_the_acl_allows_them(tmp_path, store, kiosk_db):
    """The broker's ACL refuses the kiosk's events topic and, as Mosquitto 2.0.11 does without a queue
    limit, closes the connection after each denied PUBLISH: the uplink can only guess, and sets every
    event aside in a few connections. The technician fixes the ACL and restarts the broker: the
    guess's next test (one event alone) is accepted, and every event set aside is published again
    and reaches the collector, each exactly once. (They used to stay quarantined for good.)"""
    acl = tmp_path / "acl"
    acl.write_text("topic write kiosks/k-001/status\ntopic write kiosks/k-001/health\ntopic read kiosks/k-001/#\n")
    broker = Mosquitto(tmp_path / "b", config=None)               # max_queued_messages 0: closes after a denial
    broker.conf.write_text(broker.conf.read_text() + f"acl_file {acl}\n")
    broker.start()
    record_check_ins(store, EVENTS)
    uplink = make_uplink(broker.url, kiosk_db, denied_retry_s=(0.5, 1.0))
    uplink.start()
    acker = None
    try:
        wait_for(lambda: uplink.outbox.depth()["quarantined"] == EVENTS)
        assert uplink.outbox.depth()["pending"] == 0
        broker.stop()
        acl.write_text("topic readwrite kiosks/#\n")                # the ACL fixed: events allowed
        broker.start()
        acker = acking_collector(broker.url)                       # the only subscriber: sees each copy
        wait_for(lambda: uplink.outbox.depth()["delivered"] == EVENTS)
        seqs = sorted(json.loads(m.payload)["seq"] for m in acker.on("kiosks/k-001/events"))
        assert seqs == list(range(1, EVENTS + 1)), seqs             # every event, each once
        assert uplink.outbox.depth()["quarantined"] == 0
    finally:
        uplink.stop()
        if acker:
            acker.close()
        broker.stop()


def test_the_outbox_releases_only_what_was_set_aside_on_a_guess(store, kiosk_db):
    """The uplink's guesses go back to pending; the broker's PUBACK 135 and the collector's refusals
    stay set aside, whatever else."""
    record_check_ins(store, 5)
    outbox = KioskOutbox(kiosk_db)
    ids = {seq: event_id for seq, event_id, _ in outbox.pending(limit=10)}
    outbox.quarantine(4, GUESS + "the broker closed the connection each time this event was published alone")
    outbox.quarantine(2, REFUSED)
    outbox.quarantine_refused([(ids[3], "implausible_time")])
    outbox.quarantine(1, GUESS + "the broker refuses this kiosk's events topic")
    assert [(seq, event_id) for seq, event_id, _ in outbox.quarantined(reason_prefix=GUESS, limit=10)] == \
        [(1, ids[1]), (4, ids[4])]
    (first,) = outbox.quarantined(reason_prefix=GUESS)
    assert json.loads(first[2])["seq"] == 1                     # the payload, as published
    assert outbox.requeue_quarantined(GUESS) == 2
    states = dict(store.db.execute("SELECT seq, state FROM outbox").fetchall())
    assert states == {1: "pending", 2: "quarantined", 3: "quarantined", 4: "pending", 5: "pending"}
    assert outbox.requeue_quarantined(GUESS) == 0 and outbox.quarantined(reason_prefix=GUESS) == []
    outbox.close()


def test_an_event_the_broker_closes_the_connection_for_is_quarantined_alone(tmp_path, store, kiosk_db):
    """One event makes the broker close the connection each time it is published (here it is larger
    than the broker's max_packet_size); the others are fine. The uplink learns which one from the
    close that follows it when published alone, quarantines it and delivers the rest."""
    record_check_ins(store, 4, start=1)                          # short names (one word)
    record_check_ins(store, 1, start=111111)                     # seq 5: six words, a larger event
    record_check_ins(store, 5, start=5)
    sizes = {seq: publish_packet_size(events_topic("k-001"), payload)
             for seq, _id, payload in KioskOutbox(kiosk_db).pending(limit=100)}
    largest_other = max(size for seq, size in sizes.items() if seq != 5)
    assert sizes[5] - largest_other >= 8, sizes
    limit = (sizes[5] + largest_other) // 2                      # between them, whoever counts the header
    broker = Mosquitto(tmp_path / "b", config=None)
    broker.conf.write_text(broker.conf.read_text() + f"max_packet_size {limit}\n")
    broker.start()
    acker = acking_collector(broker.url)
    uplink = make_uplink(broker.url, kiosk_db)
    uplink.start()
    try:
        wait_for(lambda: uplink.outbox.depth()["delivered"] == 9)
        states = dict(store.db.execute("SELECT seq, state FROM outbox").fetchall())
        assert states == {**{seq: "delivered" for seq in sizes if seq != 5}, 5: "quarantined"}
        (reason,) = store.db.execute("SELECT last_error FROM outbox WHERE seq = 5").fetchone()
        assert "closed the connection each time this event was published alone" in reason
        assert uplink.accepted <= 4 + 1 + 2, uplink.accepted    # events before it, then it alone twice
    finally:
        uplink.stop()
        acker.close()
        broker.stop()


def test_broker_down_then_up_the_door_never_waits(tmp_path, store, kiosk_db):
    from broker import free_port
    port = free_port()
    # The uplink may reconnect in the moment between the broker starting and the acker
    # subscribing: those events get PUBACK 16 (no subscriber), count as sent, and come back by
    # the collector-ack timer; a short timer keeps that path inside the test's wait.
    uplink = make_uplink(f"mqtt://127.0.0.1:{port}", kiosk_db, resend_after_s=2.0)
    uplink.start()
    started = time.perf_counter()
    record_check_ins(store, 200)                 # the broker is not there: recording is unaffected
    assert time.perf_counter() - started < 10
    time.sleep(0.5)
    assert uplink.outbox.depth()["pending"] == 200 and not uplink.connected
    broker = Mosquitto(tmp_path / "b", port=port).start()
    acker = acking_collector(broker.url)
    try:
        wait_for(lambda: uplink.outbox.depth()["delivered"] == 200, timeout=30)
    finally:
        uplink.stop()
        acker.close()
        broker.stop()


def test_unusable_tls_files_leave_the_door_recording_and_say_which_file(tmp_path, store, kiosk_db):
    """A kiosk whose CA file is gone still starts (it used to stop with a traceback): events wait in
    the outbox and the uplink's last error names the config key and the file."""
    uplink = make_uplink("mqtts://127.0.0.1:8883", kiosk_db, tls_ca=str(tmp_path / "gone.pem"))
    uplink.start()
    try:
        record_check_ins(store, 3)
        wait_for(lambda: uplink.last_error)
        assert uplink.last_error == f"[mqtt] tls_ca = {tmp_path / 'gone.pem'}: no such file"
        assert not uplink.connected and uplink.outbox.depth()["pending"] == 3
    finally:
        uplink.stop()


class FailedOpenCountingConnection(StoreConnection):
    """The outbox's real connection, counting the times its database could not be opened. Nothing
    in the uplink catches that, so each one is a step that failed (the uplink thread alone uses it)."""

    failed_opens = 0

    def get(self):
        try:
            return super().get()
        except StoreUnavailable:
            self.failed_opens += 1
            raise


def test_a_step_that_keeps_failing_is_logged_once_not_every_second(mosquitto, tmp_path, caplog, monkeypatch):
    """An outbox that cannot be opened (its card gave way: here a folder where the database should
    be) fails every step, a second apart: one traceback for the outage, not one a second."""
    (tmp_path / "kiosk.db").mkdir()
    connections = []
    monkeypatch.setattr("kiosk.centre.outbox.StoreConnection",
                        lambda path: connections.append(FailedOpenCountingConnection(path)) or connections[-1])
    outbox = KioskOutbox(tmp_path / "kiosk.db")
    [connection] = connections
    uplink = make_uplink(mosquitto.url, tmp_path / "kiosk.db", outbox=outbox)
    uplink.start()
    try:
        wait_for(lambda: connection.failed_opens >= 3, timeout=30)    # three failing steps at least
        assert uplink.last_error == "StoreUnavailable"
    finally:
        uplink.stop()
    failures = [r for r in caplog.records if r.getMessage().startswith("uplink step failed")]
    assert len(failures) == 1 and failures[0].exc_info
