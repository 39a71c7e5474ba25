"""Field fix 3: a collector whose store's disk is full is a collector whose store is down.

Real parts: a small tmpfs holding the collector's SQLite store (tests/fault_support.SmallDisk),
filled to ENOSPC; a real Mosquitto; events, status, health and a self-test report published as
a kiosk would. While the disk is full nothing is acked or PUBACKed, nothing is dead-lettered,
and the collector says so (log, systemd status, its status file shown by ``kiosk-collector
fleet``); once space is freed everything is stored and acked, without a restart.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import tempfile
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fault_support import SmallDisk, write_collector_config
from mqtt.collector import ingest
from mqtt.collector.cli import main as collector_main
from mqtt.collector.config import load_config
from mqtt.collector.store import open_store
from mqtt.wire.fields import compact_json
from mqtt.wire.selftest_report import SELFTEST_SCHEMA
from mqtt.wire.topics import health_topic, selftest_topic, status_topic
from test_collector_ingest import Kiosk
from test_collector_store import make_event, person
from test_systemd import NotifySocket
from waiting import wait_for


def recent(minutes_ago: float = 0) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes_ago)


def selftest_report(kiosk_id: str = "kiosk-a") -> dict:
    return {"schema": SELFTEST_SCHEMA, "report_id": str(uuid.uuid4()), "kiosk_id": kiosk_id,
            "venue_id": "cho-thu", "at": recent().isoformat(timespec="milliseconds"), "version": "0.1.0",
            "passed": True, "checks": [{"name": "camera", "status": "pass", "detail": "15.0 frames/s"}]}


def write_config(tmp_path, db, broker_url: str, client_id: str):
    return write_collector_config(tmp_path / "collector.toml", broker_url, f"sqlite://{db}", client_id=client_id,
                                  batch_ms=30, status_file=tmp_path / "run" / "status.json")


def fill(disk: SmallDisk, db) -> None:
    """Fill the disk after moving the WAL's content into the database (a WAL file already grown
    would take a few more writes in the space it holds; an empty one needs new blocks at once)."""
    raw = sqlite3.connect(db)
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    disk.fill()


def publish_everything(kiosk: Kiosk) -> tuple[list[dict], dict, dict]:
    events = [make_event(seq=n, at=recent(10 - n), who=person(n)) for n in range(2, 5)]
    for e in events:
        kiosk.send(e)
    health = {"version": "0.1.0", "outbox": {"pending": 3, "sent": 0, "delivered": 1, "quarantined": 0}}
    kiosk.publish(status_topic("kiosk-a"), "online", retain=True)
    kiosk.publish(health_topic("kiosk-a"), json.dumps(health), retain=True)
    report = selftest_report()
    kiosk.publish(selftest_topic("kiosk-a"), compact_json(report))
    return events, health, report


@pytest.fixture
def notify(monkeypatch):
    s = NotifySocket()
    monkeypatch.setenv("NOTIFY_SOCKET", s.env)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    yield s
    s.close()


def test_a_full_disk_holds_everything_says_so_and_resumes_by_itself(mosquitto, tmp_path, notify, caplog, capsys):
    caplog.set_level(logging.INFO, logger="mqtt.collector")
    with SmallDisk(tmp_path / "disk", size=4 * 2**20) as disk:
        db = disk.path / "central.db"
        cfg = write_config(tmp_path, db, mosquitto.url, "collector-diskfull")
        stop, result = threading.Event(), []
        runner = threading.Thread(target=lambda: result.append(ingest.run(load_config(cfg), stop)), daemon=True)
        runner.start()
        kiosk = Kiosk(mosquitto.url)
        try:
            notify.receive(lambda m: m.get("READY") == "1" and m["STATUS"].startswith("connected"), timeout=20)
            first = make_event(seq=1, at=recent(20))
            kiosk.send(first)
            wait_for(lambda: kiosk.acked("kiosk-a") == [first["event_id"]], what="the first event's ack")

            fill(disk, db)
            events, health, report = publish_everything(kiosk)
            down = notify.receive(lambda m: m.get("STATUS", "").startswith("STORE DOWN"), timeout=30)
            assert "database or disk is full" in down["STATUS"] and "nothing acked" in down["STATUS"]
            status_file = tmp_path / "run" / "status.json"
            state = wait_for(lambda: (s := json.loads(status_file.read_text())) and s["store"] == "down"
                             and s["waiting"] == 6 and s, what="the status file to say the store is down")
            assert state["store_down_since"] and "disk is full" in state["store_error"]
            assert any("CENTRAL STORE DOWN" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)

            assert collector_main(["fleet", "--config", str(cfg)]) == 0      # read while the disk is full
            out = capsys.readouterr().out
            assert "collector collector-diskfull: CENTRAL STORE DOWN since" in out and "6 message(s) held" in out

            assert kiosk.acked("kiosk-a") == [first["event_id"]]         # nothing more acked
            with open_store(f"sqlite://{db}") as reader:
                assert reader.counts()["events"] == 1 and reader.dead_letter_rows() == []

            disk.free()
            wait_for(lambda: len(kiosk.acked("kiosk-a")) == 5, timeout=30, what="the held messages' acks")
            assert sorted(kiosk.acked("kiosk-a")[1:]) == sorted([e["event_id"] for e in events] + [report["report_id"]])
            notify.receive(lambda m: m.get("STATUS", "").startswith("connected"), timeout=10)
            wait_for(lambda: json.loads(status_file.read_text())["store"] == "up", what="the status file: up")
            assert any("writes again" in r.getMessage() for r in caplog.records)
            with open_store(f"sqlite://{db}") as reader:
                assert reader.counts()["events"] == 4 and reader.dead_letter_rows() == []
                [row] = reader.fleet_rows()
                assert (row["status"], row["health"], row["selftest"]["report_id"]) == \
                    ("online", health, report["report_id"])
                assert reader.seq_state("kiosk-a") == (4, [])
            assert collector_main(["fleet", "--config", str(cfg)]) == 0
            assert "collector collector-diskfull: store up, connected" in capsys.readouterr().out
        finally:
            stop.set()
            runner.join(30)
            kiosk.close()
    assert result == [0]
    assert json.loads((tmp_path / "run" / "status.json").read_text())["stopped"] is True


def test_a_collector_stopped_while_its_disk_is_full_leaves_everything_with_the_broker(mosquitto, tmp_path):
    """Nothing was PUBACKed: a new collector (same session) gets every message from the broker."""
    with SmallDisk(tmp_path / "disk", size=4 * 2**20) as disk:
        db = disk.path / "central.db"
        config = load_config(write_config(tmp_path, db, mosquitto.url, "collector-diskfull-2"))
        kiosk = Kiosk(mosquitto.url)
        first = ingest.Collector(config)
        first.start()
        try:
            assert first.wait_ready(10)
            fill(disk, db)
            events, _, report = publish_everything(kiosk)
            wait_for(lambda: first.store_down_since is not None and first.waiting() == 6,
                     what="the collector holding all six messages, store down")
        finally:
            first.stop()
        assert kiosk.acked("kiosk-a") == []
        disk.free()
        second = ingest.Collector(config)
        second.start()
        try:
            wait_for(lambda: len(kiosk.acked("kiosk-a")) == 4, timeout=30, what="acks from the second collector")
            assert sorted(kiosk.acked("kiosk-a")) == sorted([e["event_id"] for e in events] + [report["report_id"]])
            assert second.store.counts()["events"] == 3 and second.store.dead_letter_rows() == []
            assert second.store.fleet_rows()[0]["selftest"]["report_id"] == report["report_id"]
        finally:
            second.stop()
            kiosk.close()


def test_a_full_disk_under_postgresql_is_a_store_down_too(mosquitto, tmp_path):
    """PostgreSQL on a small tmpfs, filled: its ERROR 53100 (could not extend file) holds the batch
    like SQLite's full disk does, and the same collector stores everything once space is back."""
    from mqtt.loopback.postgres import FAST_OPTIONS, PgServer
    # Not under tmp_path: its folders are root's 0700, and the server runs as postgres.
    mount = Path(tempfile.mkdtemp(prefix="checkin-pgdisk-"))
    try:
        mount.chmod(0o755)
        with SmallDisk(mount / "disk", size=96 * 2**20) as disk:
            (disk.path / "pg").mkdir()
            server = PgServer(disk.path / "pg", options=FAST_OPTIONS).start()
            try:
                config = load_config(write_config(tmp_path, "/unused.db", mosquitto.url, "collector-pgfull"))
                config = config.replace("store", url=server.new_database())
                kiosk = Kiosk(mosquitto.url)
                collector = ingest.Collector(config)
                collector.start()
                try:
                    assert collector.wait_ready(10)
                    disk.fill()
                    events, health, report = publish_everything(kiosk)
                    wait_for(lambda: collector.store_down_since is not None and collector.waiting() == 6,
                             timeout=30, what="the collector holding all six messages, store down")
                    assert "DiskFull 53100" in collector.store_error and kiosk.acked("kiosk-a") == []
                    disk.free()
                    wait_for(lambda: len(kiosk.acked("kiosk-a")) == 4, timeout=30, what="the held messages' acks")
                    assert sorted(kiosk.acked("kiosk-a")) == sorted([e["event_id"] for e in events]
                                                                    + [report["report_id"]])
                    assert collector.store_down_since is None
                    assert collector.store.counts()["events"] == 3 and collector.store.dead_letter_rows() == []
                    assert collector.store.fleet_rows()[0]["health"] == health
                finally:
                    collector.stop()
                    kiosk.close()
            finally:
                server.stop()
    finally:
        shutil.rmtree(mount)                 # the tmpfs is unmounted by now (SmallDisk's exit)


@pytest.mark.parametrize(("sqlstate", "down"), [
    ("53100", True), ("53200", True), ("53300", True), ("53400", True),     # insufficient resources
    ("08000", True), ("08001", True), ("08006", True),                        # connection
    ("57P01", True), ("57014", True), ("58030", True),                        # shutdown, cancelled, I/O
    ("55P03", True), ("25006", True), ("40001", True), ("40P01", True),       # transient
    ("22008", False), ("22P05", False), ("23505", False), ("54000", False),   # what one message holds
    ("42P01", False), ("XX000", False)])
def test_postgresql_errors_are_told_apart_store_down_or_one_bad_message(sqlstate, down):
    import psycopg

    from mqtt.collector.store_postgres import store_down
    assert store_down(psycopg.errors.lookup(sqlstate)("synthetic")) is down
    assert store_down(psycopg.OperationalError("server closed the connection unexpectedly")) is True
    assert store_down(ConnectionResetError()) is True and store_down(ValueError("year 0")) is False


def test_sqlite_errors_are_told_apart_store_down_or_one_bad_message(tmp_path):
    from mqtt.collector.store_sqlite import store_down
    db = tmp_path / "x.db"
    one = sqlite3.connect(db, timeout=0, isolation_level=None)
    one.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    one.execute("INSERT INTO t VALUES ('a')")
    with pytest.raises(sqlite3.IntegrityError) as constraint:
        one.execute("INSERT INTO t VALUES ('a')")
    assert store_down(constraint.value) is False
    with pytest.raises(sqlite3.OperationalError) as syntax:
        one.execute("INSERT INTO nowhere VALUES (1)")
    assert store_down(syntax.value) is False
    one.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(db, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as locked:
        other.execute("BEGIN IMMEDIATE")
    assert store_down(locked.value) is True                  # SQLITE_BUSY
    one.execute("ROLLBACK")
    one.close()
    other.close()
    db.write_bytes(b"not a database, whatever it holds" * 200)
    with pytest.raises(sqlite3.DatabaseError) as garbage:
        sqlite3.connect(db).execute("SELECT * FROM t")
    assert store_down(garbage.value) is True                 # SQLITE_NOTADB


def test_a_collector_started_on_a_full_disk_waits_for_its_store_and_then_takes_everything(mosquitto, tmp_path,
                                                                                          notify):
    """No crash loop under systemd: READY with "STORE DOWN", the watchdog fed, nothing taken from
    the broker; the store is created once space returns and the queued messages are stored."""
    with SmallDisk(tmp_path / "disk", size=4 * 2**20) as disk:
        disk.fill()
        db = disk.path / "central.db"
        cfg = write_config(tmp_path, db, mosquitto.url, "collector-fullstart")
        kiosk = Kiosk(mosquitto.url)
        stop, result = threading.Event(), []
        runner = threading.Thread(target=lambda: result.append(ingest.run(load_config(cfg), stop)), daemon=True)
        runner.start()
        try:
            ready = notify.receive(lambda m: m.get("READY") == "1", timeout=20)
            assert ready["STATUS"].startswith("STORE DOWN") and "cannot open the central store" in ready["STATUS"]
            state = json.loads((tmp_path / "run" / "status.json").read_text())
            assert state["store"] == "down" and not state["connected"]
            disk.free()
            notify.receive(lambda m: m.get("STATUS", "").startswith("connected"), timeout=30)
            events, _, report = publish_everything(kiosk)
            wait_for(lambda: len(kiosk.acked("kiosk-a")) == 4, what="acks once the store opened")
            assert sorted(kiosk.acked("kiosk-a")) == sorted([e["event_id"] for e in events] + [report["report_id"]])
            with open_store(f"sqlite://{db}") as reader:
                assert reader.counts()["events"] == 3 and reader.dead_letter_rows() == []
        finally:
            stop.set()
            runner.join(30)
            kiosk.close()
    assert result == [0]
