"""The uplink against a real Mosquitto: drain in seq order, acks, status, health, commands."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from broker import Mosquitto
from kiosk.outbox import KioskOutbox
from mqtt import contract
from mqtt.uplink import Uplink, UplinkSettings

from uplink_support import RawClient, acking_collector, record_check_ins, wait_until


@pytest.fixture
def kiosk_db(store):
    return store.path


def make_uplink(url, db, **kw):
    settings = UplinkSettings(url=url, kiosk_id="k-001", health_interval_s=kw.pop("health_interval_s", 60),
                              backoff_s=(0.1, 0.5), **kw)
    return Uplink(KioskOutbox(db), settings, health=lambda: {"camera_fps": 15.0}, version="test")


def test_drains_in_seq_order_and_rows_end_delivered(mosquitto, store, kiosk_db):
    record_check_ins(store, 300)
    watcher = RawClient(mosquitto.url, "watcher", subscribe=["kiosks/k-001/events"])
    acker = acking_collector(mosquitto.url)
    uplink = make_uplink(mosquitto.url, kiosk_db)
    uplink.start()
    try:
        wait_until(lambda: uplink.outbox.depth()["delivered"] == 300)
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
    uplink = make_uplink(mosquitto.url, kiosk_db, resend_after_s=1.0)
    uplink.start()
    try:
        wait_until(lambda: uplink.outbox.depth()["sent"] == 20)       # PUBACK 16: no subscriber, still success
        assert uplink.outbox.depth()["delivered"] == 0
        acker = acking_collector(mosquitto.url)                       # the collector comes back
        wait_until(lambda: uplink.outbox.depth()["delivered"] == 20, timeout=30)
        acker.close()
    finally:
        uplink.stop()


def test_status_online_retained_and_offline_on_clean_stop(mosquitto, store, kiosk_db):
    uplink = make_uplink(mosquitto.url, kiosk_db)
    uplink.start()
    wait_until(lambda: uplink.connected and uplink._client.is_connected())
    late = RawClient(mosquitto.url, "late-joiner", subscribe=["kiosks/k-001/status"])
    wait_until(lambda: late.on("kiosks/k-001/status"))
    assert late.on("kiosks/k-001/status")[-1].payload == b"online"
    uplink.stop()
    wait_until(lambda: late.on("kiosks/k-001/status")[-1].payload == b"offline")
    late.close()


def test_last_will_offline_when_the_kiosk_dies(mosquitto, tmp_path):
    script = f"""
import sys, time
sys.path[:0] = {sys.path!r}
from pathlib import Path
from kiosk.outbox import KioskOutbox
from mqtt.uplink import Uplink, UplinkSettings
u = Uplink(KioskOutbox(Path({str(tmp_path / 'die.db')!r})), UplinkSettings(url={mosquitto.url!r}, kiosk_id="k-009", keepalive_s=2), health=dict)
u.start(); time.sleep(60)
"""
    proc = subprocess.Popen([sys.executable, "-c", script])
    watcher = RawClient(mosquitto.url, "watcher", subscribe=["kiosks/k-009/status"])
    try:
        wait_until(lambda: any(m.payload == b"online" for m in watcher.on("kiosks/k-009/status")))
        proc.kill()                                    # no DISCONNECT: the broker sends the will
        wait_until(lambda: watcher.on("kiosks/k-009/status")[-1].payload == b"offline", timeout=15)
    finally:
        proc.kill()
        watcher.close()


def test_health_is_retained_json_and_commands_are_answered(mosquitto, store, kiosk_db):
    record_check_ins(store, 3)
    uplink = make_uplink(mosquitto.url, kiosk_db)
    uplink.start()
    try:
        central = RawClient(mosquitto.url, "central", subscribe=["kiosks/k-001/health"])
        wait_until(lambda: central.on("kiosks/k-001/health"))
        health = json.loads(central.on("kiosks/k-001/health")[-1].payload)
        assert health["camera_fps"] == 15.0 and health["version"] == "test"
        assert set(health["outbox"]) >= {"pending", "sent", "delivered", "quarantined", "oldest_undelivered_s"}
        central.client.publish(contract.cmd_topic("k-001", "ping"), json.dumps({"id": "req-1"}), qos=1)
        central.client.publish(contract.cmd_topic("k-001", "purge"), b"", qos=1)
        central.client.publish(contract.cmd_topic("k-001", "reboot"), b"", qos=1)

        def replies():
            return [r for m in central.on("kiosks/k-001/health") for r in json.loads(m.payload).get("replies", [])]
        wait_until(lambda: len(replies()) == 3)
        by_name = {r["command"]: r for r in replies()}
        assert by_name["ping"] == {"command": "ping", "id": "req-1", "result": "pong"}
        assert isinstance(by_name["purge"]["result"], dict)
        assert "unknown command" in by_name["reboot"]["error"]
        central.close()
    finally:
        uplink.stop()


def test_not_authorised_events_are_quarantined_not_retried(tmp_path, store, kiosk_db):
    acl = tmp_path / "acl"
    # Anonymous clients may say status/health but not publish events: PUBACK 135 for events.
    acl.write_text("topic write kiosks/k-001/status\ntopic write kiosks/k-001/health\ntopic read kiosks/k-001/#\n")
    broker = Mosquitto(tmp_path / "b", config=None)
    broker.conf.write_text(broker.conf.read_text() + f"acl_file {acl}\n")
    broker.start()
    record_check_ins(store, 5)
    alerts = []
    uplink = make_uplink(broker.url, kiosk_db)
    uplink.on_alert = alerts.append
    uplink.start()
    try:
        wait_until(lambda: uplink.outbox.depth()["quarantined"] == 5)
        time.sleep(0.5)
        assert uplink.outbox.depth()["pending"] == 0 and uplink.quarantined == 5
        assert alerts and "not authorised" in alerts[0]
        reason = store.db.execute("SELECT DISTINCT last_error FROM outbox").fetchall()
        assert reason == [("PUBACK 135 Not authorized",)]
    finally:
        uplink.stop()
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
        wait_until(lambda: uplink.outbox.depth()["delivered"] == 200, timeout=30)
    finally:
        uplink.stop()
        acker.close()
        broker.stop()
