"""kiosk selftest: a simulated kiosk passes and its report reaches a real collector through a
real Mosquitto; each broken part fails with a sentence saying what is wrong; a provisioned
kiosk's TLS identity proves itself against a broker configured from the fleet directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker import free_port
from configs import write_kiosk_config
from fleet_support import fleet_central, kiosk_config
from kiosk.cli import main as kiosk_main
from kiosk.clock import Clock
from kiosk.instance import single_instance
from kiosk.selftest import checks
from kiosk.selftest.report import central_report
from mqtt.collector import queries
from mqtt.collector.config import parse_config as collector_parse
from mqtt.collector.ingest import Collector
from mqtt.wire.fields import InvalidEvent
from mqtt.wire.selftest_report import MAX_SELFTEST_BYTES, SELFTEST_SCHEMA, validate_selftest
from pki import make_ca
from provisioning.cli import main as provision_main
from provisioning.fleet import Fleet
from provisioning.pki import CertificateAuthority, write_cert, write_private_key
from waiting import wait_for

KIOSK = "k-selftest"
MARK = re.compile(r"^  (.) (.+?)  +(.*)$")


def kiosk_toml(tmp_path: Path, url: str, **sections: str) -> Path:
    printer = sections.get("printer", f'kind = "file"\npath = "{tmp_path}/printer"')
    camera = sections.get("camera", f'source = "dir:{tmp_path}/camera"')
    text = (f'[kiosk]\nid = "{KIOSK}"\nvenue_id = "cho-thu"\nvenue_name = "Chợ Thử"\ndata_dir = "{tmp_path}/data"\n'
            f"[camera]\n{camera}\n[mqtt]\nurl = \"{url}\"\n[printer]\n{printer}\n")
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def selftest(capsys, config: Path, *extra: str, broker_s: int = 8) -> tuple[int, dict[str, tuple[str, str]], str]:
    """Run ``kiosk selftest --simulate --lang en``; (exit status, {check: (mark, sentence)}, text)."""
    code = kiosk_main(["selftest", "--config", str(config), "--simulate", "--lang", "en",
                       "--code-timeout", "8", "--broker-timeout", str(broker_s), *extra])
    out = capsys.readouterr().out
    lines = {}
    names = {"Configuration": "config", "Certificates": "certificates", "Storage": "storage", "Clock": "clock",
             "Printer": "printer", "Lights, buzzer, door": "signals", "Camera": "camera", "Test code": "test_code",
             "MQTT broker": "broker"}
    for line in out.splitlines():
        m = MARK.match(line)
        if m and m.group(2).strip() in names:
            lines[names[m.group(2).strip()]] = (m.group(1), m.group(3))
    return code, lines, out


def start_collector(url: str, store: Path, **mqtt: str) -> Collector:
    extra = "".join(f'{k} = "{v}"\n' for k, v in mqtt.items())
    c = Collector(collector_parse(f'[mqtt]\nurl = "{url}"\n{extra}[store]\nurl = "sqlite://{store}"\nbatch_ms = 30\n'))
    c.start()
    assert c.wait_ready(10)
    return c


@pytest.fixture
def collector(mosquitto, tmp_path):
    c = start_collector(mosquitto.url, tmp_path / "central.db", client_id=f"collector-{uuid.uuid4().hex[:6]}")
    yield c
    c.stop()


# -- a working kiosk ---------------------------------------------------------------------------

def test_simulated_kiosk_passes_and_the_collector_holds_its_report(capsys, tmp_path, mosquitto, collector):
    config = kiosk_toml(tmp_path, mosquitto.url)
    code, lines, out = selftest(capsys, config)
    assert code == 0, out
    assert {k: v[0] for k, v in lines.items()} == {
        "config": "✓", "certificates": "–", "storage": "✓", "clock": lines["clock"][0], "printer": "✓",
        "signals": "✓", "camera": "✓", "test_code": "✓", "broker": "✓"}, out
    assert lines["clock"][0] in ("✓", "!")            # this machine's NTP state: a warning at most
    assert "RESULT: PASSED" in out
    assert re.search(r"acked after [\d.]+ s", lines["broker"][1])
    # the test page went to the file printer (ESC/POS + preview), the test code was taken back
    assert len(list((tmp_path / "printer").glob("*.bin"))) == 1
    assert not list((tmp_path / "camera").rglob("selftest-code.png"))
    # the central side: the fleet shows the kiosk's latest self-test
    [row] = [r for r in queries.fleet(collector.store) if r["kiosk_id"] == KIOSK]
    assert row["selftest"]["passed"] is True and row["selftest"]["failed"] == []
    # said goodbye when done
    wait_for(lambda: [r["status"] for r in queries.fleet(collector.store) if r["kiosk_id"] == KIOSK] == ["offline"])

    # Vietnamese by default
    code = kiosk_main(["selftest", "--config", str(config), "--simulate", "--no-publish", "--code-timeout", "8"])
    out = capsys.readouterr().out
    assert code == 0 and "KẾT QUẢ: ĐẠT" in out and "Máy ảnh" in out


def test_a_simulated_selftest_without_a_kiosk_id_does_not_impersonate_the_simulated_kiosk(
        capsys, tmp_path, monkeypatch, mosquitto, collector):
    """`bootstrap.sh run`'s kiosk is sim-kiosk-01; a self-test run beside it with no id of its own
    neither drops that kiosk's broker connection nor files its report under that kiosk."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from kiosk.config import DEFAULT_KIOSK_ID
    from kiosk.selftest.runner import selftest_kiosk_id

    dropped, connected = [], []
    running = paho.Client(CallbackAPIVersion.VERSION2, client_id=DEFAULT_KIOSK_ID)
    running.on_connect = lambda *a: connected.append(True)
    running.on_disconnect = lambda *a: dropped.append(True)
    running.connect("127.0.0.1", mosquitto.port)
    running.loop_start()
    try:
        wait_for(lambda: connected)
        monkeypatch.chdir(tmp_path)
        config = write_kiosk_config(tmp_path / "kiosk.toml", mqtt={"url": mosquitto.url})  # the broker, nothing else
        code, lines, out = selftest(capsys, config)
        assert code == 0, out
        assert f"kiosk {selftest_kiosk_id()}" in out
        ids = [r["kiosk_id"] for r in queries.fleet(collector.store) if r["selftest"]]
        assert ids == [selftest_kiosk_id()]
        assert not dropped
    finally:
        running.loop_stop()
        running.disconnect()


def test_simulation_never_uses_the_production_data_dir(tmp_path):
    """A provisioned kiosk.toml names /var/lib/checkin-kiosk; simulating it on a laptop writes ./var."""
    from kiosk.config import DEFAULT_DATA_DIR, SIMULATION_DATA_DIR, load_config, simulation_config

    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\nid = "ninhthuan-cho-01"\ndata_dir = "{DEFAULT_DATA_DIR}"\n', encoding="utf-8")
    assert simulation_config(load_config(path)).kiosk.data_dir == SIMULATION_DATA_DIR
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path}/data"\n', encoding="utf-8")
    assert simulation_config(load_config(path)).kiosk.data_dir == f"{tmp_path}/data"   # chosen on purpose: kept


def test_a_running_kiosk_is_not_disturbed(capsys, tmp_path):
    config = kiosk_toml(tmp_path, "mqtt://127.0.0.1:9")
    with single_instance(tmp_path / "data"):
        assert kiosk_main(["selftest", "--config", str(config), "--simulate"]) == 2
    assert "stop it first" in capsys.readouterr().err


# -- broken parts ------------------------------------------------------------------------------

def test_invalid_config_fails_first_and_skips_the_rest(capsys, tmp_path):
    bad = tmp_path / "kiosk.toml"
    bad.write_text('[kiosk]\nid = "k-1"\nmode = "sideways"\n[camera]\nsorce = "picamera2"\n')
    code, lines, out = selftest(capsys, bad)
    assert code == 1
    assert lines["config"][0] == "✗" and "mode" in lines["config"][1]
    assert all(mark == "–" for name, (mark, _) in lines.items() if name != "config")
    assert "RESULT: FAILED, 1 problem(s)" in out


def test_no_camera_folder(capsys, tmp_path, mosquitto, collector):
    (tmp_path / "not-a-folder").write_text("")
    config = kiosk_toml(tmp_path, mosquitto.url, camera=f'source = "dir:{tmp_path}/not-a-folder/camera"')
    code, lines, out = selftest(capsys, config)
    assert code == 1
    assert lines["camera"][0] == "✗" and "cannot be created" in lines["camera"][1]
    assert lines["test_code"] == ("–", "skipped: the camera does not work")
    assert lines["broker"][0] == "✓"                       # the failing report still reaches the centre
    [row] = [r for r in queries.fleet(collector.store) if r["kiosk_id"] == KIOSK]
    assert row["selftest"]["passed"] is False and row["selftest"]["failed"] == ["camera"]


def test_printer_path_unwritable(capsys, tmp_path):
    (tmp_path / "blocked").write_text("")
    config = kiosk_toml(tmp_path, "mqtt://127.0.0.1:9", printer=f'kind = "file"\npath = "{tmp_path}/blocked/jobs"')
    code, lines, _ = selftest(capsys, config, "--no-publish")
    assert code == 1
    mark, sentence = lines["printer"]
    assert mark == "✗" and sentence.startswith("cannot print (file): offline") and "blocked/jobs" in sentence
    assert lines["test_code"][0] == "✓"                    # the code is also shown without a page


def test_broker_down(capsys, tmp_path):
    port = free_port()
    code, lines, _ = selftest(capsys, kiosk_toml(tmp_path, f"mqtt://127.0.0.1:{port}"), broker_s=2)
    assert code == 1
    mark, sentence = lines["broker"]
    assert mark == "✗" and sentence.startswith(f"cannot connect to 127.0.0.1:{port}")


def test_missing_tls_files_are_named(capsys, tmp_path):
    """An mqtts:// kiosk whose CA file is gone: the sentence names the key and the file."""
    config = kiosk_toml(tmp_path, "mqtts://127.0.0.1:8883")
    config.write_text(config.read_text(encoding="utf-8").replace(
        'url = "mqtts://127.0.0.1:8883"\n',
        f'url = "mqtts://127.0.0.1:8883"\ntls_ca = "{tmp_path}/gone/ca.pem"\n'), encoding="utf-8")
    code, lines, _ = selftest(capsys, config, broker_s=2)
    assert code == 1
    assert f"[mqtt] tls_ca = {tmp_path}/gone/ca.pem: no such file" in lines["broker"][1]


def test_broker_up_but_no_collector(capsys, tmp_path, mosquitto):
    code, lines, _ = selftest(capsys, kiosk_toml(tmp_path, mosquitto.url), broker_s=3)
    assert code == 1
    assert lines["broker"][0] == "✗" and "no collector acked within 3 s" in lines["broker"][1]


def test_clock_and_disk_verdicts():
    stamp = Clock(synced=lambda wall: False).stamp()
    assert checks.clock(stamp, simulated=False).status == "fail"       # a kiosk at a door
    assert checks.clock(stamp, simulated=True).status == "warn"        # a development machine
    assert checks.clock(Clock(synced=lambda wall: True).stamp(), simulated=False).status == "pass"


def test_damaged_database_fails_storage(tmp_path):
    (tmp_path / "kiosk.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    result = checks.storage(tmp_path)
    assert result.status == "fail" and result.key == "storage_bad"


# -- the report on the wire --------------------------------------------------------------------

@given(st.binary(max_size=600) | st.text(max_size=300).map(str.encode)
       | st.dictionaries(st.sampled_from(["schema", "report_id", "kiosk_id", "venue_id", "at", "version", "passed",
                                          "checks", "x"]),
                         st.none() | st.booleans() | st.integers() | st.text(max_size=20)
                         | st.lists(st.dictionaries(st.sampled_from(["name", "status", "detail", "figures"]),
                                                    st.text(max_size=10)
                                                    | st.dictionaries(st.text(max_size=5), st.floats()),
                                                    max_size=4), max_size=3)).map(lambda d: json.dumps(d).encode()))
@settings(max_examples=300, deadline=None)
def test_validate_selftest_refuses_anything_malformed_with_its_own_error(payload):
    try:
        report = validate_selftest(payload, topic_kiosk_id="k-1")
    except InvalidEvent:
        return
    assert report["schema"] == SELFTEST_SCHEMA


def test_a_report_built_by_the_kiosk_validates_and_tampering_is_refused():
    results = [checks.Result("camera", "fail", "camera_bad", {"source": "picamera2", "error": "no camera\x07"}),
               checks.Result("storage", "pass", "storage_ok", {"path": "/var/lib/checkin-kiosk", "free": "3 GB"},
                             {"disk_free_bytes": 3 * 2**30})]
    report = central_report(results, kiosk_id="k-1", venue_id="cho-thu", at=Clock().now())
    payload = json.dumps(report).encode()
    with pytest.raises(InvalidEvent, match="control characters"):
        validate_selftest(payload, topic_kiosk_id="k-1")      # a bell from a driver message
    results[0].values["error"] = "no camera"
    report = central_report(results, kiosk_id="k-1", venue_id="cho-thu", at=Clock().now())
    assert validate_selftest(json.dumps(report).encode(), topic_kiosk_id="k-1")["passed"] is False
    with pytest.raises(InvalidEvent, match="kiosk_mismatch|differs"):
        validate_selftest(json.dumps(report).encode(), topic_kiosk_id="k-2")
    with pytest.raises(InvalidEvent, match="passed disagrees"):
        validate_selftest(json.dumps({**report, "passed": True}).encode(), topic_kiosk_id="k-1")
    with pytest.raises(InvalidEvent, match="oversize"):
        validate_selftest(b" " * (MAX_SELFTEST_BYTES + 1))


# -- a provisioned kiosk against the fleet's broker --------------------------------------------

@pytest.fixture(scope="module")
def fleet_broker(tmp_path_factory):
    """A fleet (CA, broker, collector, one kiosk), Mosquitto configured from it (TLS, ACL), and the
    collector connected with its fleet certificate and collector.toml."""
    base = tmp_path_factory.mktemp("fleet-selftest")
    assert provision_main(["init", str(base / "fleet"), "--broker-host", "127.0.0.1",
                           "--broker-port", str(free_port())]) == 0
    fleet = Fleet.open(base / "fleet")
    fleet.add_venue("cho-thu", "Chợ Thử")
    fleet.new_kiosk(KIOSK, "cho-thu", staff="Lan")
    with fleet_central(fleet, base) as (_, collector):
        yield fleet, collector


def provisioned_kiosk(fleet: Fleet, tmp_path: Path) -> tuple[Path, Path]:
    """The kiosk's files as the SD card gets them, moved under tmp_path."""
    etc = tmp_path / "etc"
    shutil.copytree(fleet.kiosk_dir(KIOSK) / "etc" / "checkin-kiosk", etc)
    shutil.copytree(fleet.kiosk_dir(KIOSK) / "var" / "lib" / "checkin-kiosk", tmp_path / "data")
    return kiosk_config(etc, tmp_path / "data", tmp_path), etc


def replace_identity(etc: Path, cert, key) -> None:
    (etc / "kiosk.pem").unlink()
    (etc / "kiosk.key").unlink()
    write_cert(etc / "kiosk.pem", cert)
    write_private_key(etc / "kiosk.key", key)


def test_provisioned_identity_proves_itself_against_the_fleet_broker(capsys, tmp_path, fleet_broker):
    fleet, collector = fleet_broker
    config, _ = provisioned_kiosk(fleet, tmp_path)
    code, lines, out = selftest(capsys, config)
    assert code == 0, out
    assert lines["certificates"][0] == "✓" and f"CN {KIOSK}" in lines["certificates"][1]
    assert lines["broker"][0] == "✓"
    [row] = [r for r in queries.fleet(collector.store) if r["kiosk_id"] == KIOSK]
    assert row["selftest"]["passed"] is True


def test_expired_certificate(capsys, tmp_path, fleet_broker):
    fleet, _ = fleet_broker
    config, etc = provisioned_kiosk(fleet, tmp_path)
    cert, key = CertificateAuthority.load(fleet.ca_cert, fleet.ca_key).issue(KIOSK, days=-2)
    replace_identity(etc, cert, key)
    code, lines, _ = selftest(capsys, config, broker_s=2)
    assert code == 1
    assert lines["certificates"][0] == "✗" and lines["certificates"][1].startswith("expired on ")
    assert lines["broker"][0] == "✗"                        # and the broker agrees: refused


def test_certificate_from_another_fleet(capsys, tmp_path, fleet_broker):
    fleet, _ = fleet_broker
    config, etc = provisioned_kiosk(fleet, tmp_path)
    other = make_ca(tmp_path / "other-ca", "another-fleet")
    cert, key = other.authority.issue(KIOSK, days=30)
    replace_identity(etc, cert, key)
    code, lines, _ = selftest(capsys, config, broker_s=2)
    assert code == 1
    assert lines["certificates"] == ("✗", "the certificate was not issued by the fleet CA")
    assert lines["broker"][0] == "✗" and lines["broker"][1].startswith("cannot connect to 127.0.0.1:")


def test_the_sms_check_says_whether_a_code_could_be_texted_without_texting_one(capsys, tmp_path):
    """Issue 13: the file SMS's folder, Gammu's daemon (its config, its tool, its outbox), the centre."""
    from kiosk.config import parse_config
    from kiosk.selftest.checks import sms
    from test_sms import GammuDaemon

    daemon = GammuDaemon(tmp_path / "gammu")
    for section, status, key, error in (
            (f'kind = "file"\npath = "{tmp_path / "sms"}"', "pass", "sms_ok", None),
            ('kind = "centre"', "pass", "sms_centre", None),
            (f'kind = "gammu"\npath = "{daemon.config}"', "pass", "sms_ok", None),
            (f'kind = "gammu"\npath = "{tmp_path / "nowhere"}"', "fail", "sms_bad", "cannot read the Gammu SMS"),
            ('kind = "none"', "skip", "sms_none", None)):
        result = sms(parse_config(f"[sms]\n{section}\n"))
        assert (result.status, result.key) == (status, key), section
        assert error is None or error in result.values["error"]
    (daemon.root / "outbox").chmod(0o500)
    try:
        if os.geteuid() != 0:                      # root writes anywhere: nothing to see then
            assert sms(parse_config(f'[sms]\nkind = "gammu"\npath = "{daemon.config}"\n')).status == "fail"
    finally:
        (daemon.root / "outbox").chmod(0o700)
    assert list((tmp_path / "sms").iterdir()) == []             # nothing was sent
    # The line as the technician reads it.
    config = kiosk_toml(tmp_path, "mqtt://127.0.0.1:9")
    config.write_text(config.read_text(encoding="utf-8") + f'[sms]\nkind = "file"\npath = "{tmp_path / "sms"}"\n',
                      encoding="utf-8")
    kiosk_main(["selftest", "--config", str(config), "--simulate", "--lang", "en", "--no-publish",
                "--code-timeout", "8"])
    [line] = [m for m in map(MARK.match, capsys.readouterr().out.splitlines())
              if m and m.group(2).strip() == "Text messages (codes)"]
    assert line.group(1) == "✓" and "takes messages (file)" in line.group(3) and "nothing was sent" in line.group(3)
