"""systemd integration: sd_notify over a real datagram socket, real kiosk and collector processes,
and the unit files in systemd/."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from configs import write_collector_config
from kiosk_process import write_config
from mqtt.loopback.mosquitto import free_port
from mqtt.plumbing import sdnotify

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "systemd"
#: Where each unit is documented: the kiosk's for the technician, the collector's for the operator.
TECHNICIAN = (ROOT / "docs" / "technician.md").read_text(encoding="utf-8")
OPERATOR = (ROOT / "docs" / "operator.md").read_text(encoding="utf-8")
UNIT_DOCS = {"checkin-kiosk.service": TECHNICIAN, "checkin-kiosk-screen.service": TECHNICIAN,
             "checkin-kiosk-enrol.service": TECHNICIAN, "checkin-collector.service": OPERATOR,
             "checkin-console.service": OPERATOR}


class NotifySocket:
    """What systemd listens on: an AF_UNIX datagram socket; ``messages`` as dicts of KEY=value."""

    def __init__(self, abstract: bool = False):
        self.dir = tempfile.mkdtemp(prefix="sdn-")    # short: AF_UNIX paths are limited to 108 bytes
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"checkin-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind(b"\0" + name.encode())
            self.env = "@" + name
        else:
            path = os.path.join(self.dir, "notify")
            self.sock.bind(path)
            self.env = path
        self.sock.settimeout(0.2)
        self.messages: list[dict[str, str]] = []

    def receive(self, until, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> dict[str, str]:
        """Messages until one satisfies ``until``; that one."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                if proc is not None and proc.poll() is not None:
                    raise AssertionError(f"the process ended ({proc.returncode}); got {self.messages[-5:]}") from None
                continue
            message = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append(message)
            if until(message):
                return message
        raise AssertionError(f"no matching notification in {timeout} s; got {self.messages[-5:]}")

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def notify_socket():
    s = NotifySocket()
    yield s
    s.close()


def systemd_env(notify: NotifySocket, watchdog_s: float = 1.0) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_PID", "NOTIFY_SOCKET", "WATCHDOG_USEC")}
    return {**env, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1", "NOTIFY_SOCKET": notify.env,
            "WATCHDOG_USEC": str(int(watchdog_s * 1e6))}


def stop_and_wait(proc: subprocess.Popen, timeout: float = 20.0) -> int:
    """SIGTERM, and the exit status; a process still there after ``timeout`` fails the test with
    the Python stacks of its threads (faulthandler, SIGABRT) and its last log lines."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)        # faulthandler (PYTHONFAULTHANDLER) dumps every thread
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()                         # then its stderr ends, and can be read
            proc.wait()
        raise AssertionError(f"still running {timeout} s after SIGTERM:\n"
                             f"{proc.stderr.read()[-6000:] if proc.stderr else ''}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def watchdog_pings(notify: NotifySocket, count: int, proc: subprocess.Popen, timeout: float = 20.0) -> list[float]:
    times = []
    for _ in range(count):
        notify.receive(lambda m: m.get("WATCHDOG") == "1", timeout=timeout, proc=proc)
        times.append(time.monotonic())
    return times


# -- the sd_notify module -------------------------------------------------------------------------

def test_without_a_notify_socket_every_call_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert not sdnotify.enabled()
    assert sdnotify.ready() is False and sdnotify.watchdog() is False and sdnotify.stopping() is False
    assert sdnotify.watchdog_interval() is None
    assert sdnotify.Watchdog().tick() is False


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_messages_reach_the_socket(monkeypatch, abstract):
    s = NotifySocket(abstract=abstract)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", s.env)
        assert sdnotify.ready("scanning; 0 inside")
        assert s.receive(lambda m: True, timeout=2) == {"READY": "1", "STATUS": "scanning; 0 inside"}
        assert sdnotify.status("two\nlines")           # a newline would start another field
        assert s.receive(lambda m: True, timeout=2) == {"STATUS": "two lines"}
        assert sdnotify.watchdog()
        assert s.receive(lambda m: True, timeout=2) == {"WATCHDOG": "1"}
        assert sdnotify.stopping()
        assert s.receive(lambda m: True, timeout=2) == {"STOPPING": "1"}
    finally:
        s.close()


def test_a_vanished_socket_is_not_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert sdnotify.watchdog() is False


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process_only(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")
    for bad in ("0", "", "x"):
        monkeypatch.setenv("WATCHDOG_USEC", bad)
        assert sdnotify.watchdog_interval() is None


def test_the_pinger_pings_at_most_once_per_interval(monkeypatch, notify_socket):
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.env)
    now = [100.0]
    pinger = sdnotify.Watchdog(5.0, clock=lambda: now[0])
    assert pinger.tick() is True
    assert pinger.tick() is False
    now[0] += 4.9
    assert pinger.tick() is False
    now[0] += 0.2
    assert pinger.tick() is True


# -- the kiosk ------------------------------------------------------------------------------------

def kiosk_config(tmp_path: Path) -> Path:
    cfg = write_config(tmp_path)
    # An MQTT broker that is not there: the kiosk is ready without it (the outbox waits).
    cfg.write_text(cfg.read_text() + f'[mqtt]\nurl = "mqtt://127.0.0.1:{free_port()}"\n')
    return cfg


def run_as_a_notify_service(argv: list[str], notify: NotifySocket, *, max_ping_s: float) -> dict[str, str]:
    """Run ``argv`` as systemd would (NOTIFY_SOCKET, WATCHDOG_USEC = 1 s): it must say READY=1, ping
    the watchdog at about half the interval (0.5 s: not every pass of its loop, not late), and stop
    with status 0 and STOPPING=1 on SIGTERM. Returns its READY message."""
    proc = subprocess.Popen([str(Path(sys.executable).with_name(argv[0])), *argv[1:]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=systemd_env(notify, watchdog_s=1.0))
    try:
        ready = notify.receive(lambda m: m.get("READY") == "1", proc=proc)
        pings = watchdog_pings(notify, 4, proc, timeout=5)
        assert 0.3 < (pings[-1] - pings[0]) / 3 < max_ping_s, pings
        assert stop_and_wait(proc) == 0, proc.stderr.read()[-2000:]
        notify.receive(lambda m: m.get("STOPPING") == "1", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()
    return ready


def test_kiosk_process_notifies_ready_pings_the_watchdog_and_says_stopping(tmp_path, notify_socket):
    ready = run_as_a_notify_service(["kiosk", "run", "--simulate", "--config", str(kiosk_config(tmp_path))],
                                    notify_socket, max_ping_s=1.0)
    assert re.fullmatch(r"scanning; 0 inside; broker not connected.*", ready["STATUS"]), ready
    assert [m for m in notify_socket.messages if "READY" in m] == [ready]      # READY=1 once


def test_a_hung_scan_loop_stops_the_watchdog_pings(tmp_path, notify_socket, monkeypatch):
    """The pings come from the scan loop's own thread: a live process whose loop hangs goes quiet
    (and systemd restarts it), while its other threads (web, uplink) go on."""
    from kiosk.app import build_kiosk
    from kiosk.config import load_config

    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.env)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    kiosk = build_kiosk(load_config(kiosk_config(tmp_path)), simulate=True)
    hang, release, stop = threading.Event(), threading.Event(), threading.Event()
    step = kiosk.loop.step

    def maybe_hang():
        if hang.is_set():
            release.wait(30)
        return step()
    kiosk.loop.step = maybe_hang
    runner = threading.Thread(target=kiosk.run, args=(stop,), daemon=True)
    runner.start()
    try:
        notify_socket.receive(lambda m: m.get("READY") == "1", timeout=20)
        notify_socket.receive(lambda m: m.get("WATCHDOG") == "1", timeout=2)
        hang.set()
        time.sleep(0.5)                                   # a ping already under way may still land
        before = len(notify_socket.messages)
        with pytest.raises(AssertionError):
            notify_socket.receive(lambda m: m.get("WATCHDOG") == "1", timeout=1.5)
        assert len(notify_socket.messages) >= before
        assert runner.is_alive()
        release.set()
        notify_socket.receive(lambda m: m.get("WATCHDOG") == "1", timeout=2)
    finally:
        release.set()
        stop.set()
        runner.join(20)
    assert not runner.is_alive()
    notify_socket.receive(lambda m: m.get("STOPPING") == "1", timeout=2)


# -- the collector --------------------------------------------------------------------------------

def collector_config(tmp_path: Path, url: str) -> Path:
    return write_collector_config(tmp_path / "collector.toml",
                                  mqtt={"url": url, "client_id": "collector-systemd-test"},
                                  store={"url": f"sqlite://{tmp_path}/central.db", "batch_ms": 30})


def test_collector_process_notifies_ready_when_subscribed_pings_and_says_stopping(tmp_path, mosquitto, notify_socket):
    ready = run_as_a_notify_service(["kiosk-collector", "run", "--config",
                                     str(collector_config(tmp_path, mosquitto.url))],
                                    notify_socket, max_ping_s=1.2)
    assert ready["STATUS"].startswith("connected;"), ready


def test_collector_is_ready_after_a_while_when_the_broker_is_down(tmp_path, notify_socket, monkeypatch):
    """The receiver reconnects by itself, so the service says READY (waiting for the broker)
    rather than being timed out and restarted by systemd over and over."""
    from mqtt.collector import ingest
    from mqtt.collector.config import load_config

    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.env)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.setattr(ingest, "READY_WAIT_S", 1.0)
    stop, result = threading.Event(), []
    config = load_config(collector_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}"))
    runner = threading.Thread(target=lambda: result.append(ingest.run(config, stop)), daemon=True)
    started = time.monotonic()
    runner.start()
    try:
        ready = notify_socket.receive(lambda m: m.get("READY") == "1", timeout=10)
        assert time.monotonic() - started >= 0.9
        assert ready["STATUS"].startswith("waiting for the broker"), ready
        notify_socket.receive(lambda m: m.get("WATCHDOG") == "1", timeout=3)
    finally:
        stop.set()
        runner.join(20)
    assert result == [0]
    notify_socket.receive(lambda m: m.get("STOPPING") == "1", timeout=2)


# -- the unit files -------------------------------------------------------------------------------

def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file: section → key → values (a key may repeat, as DeviceAllow= does)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",),
                                       comment_prefixes=("#", ";"), empty_lines_in_values=False,
                                       dict_type=dict)
    parser.optionxform = str
    sections: dict[str, dict[str, list[str]]] = {}
    section = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        assert not raw.endswith("\\"), f"{path.name}:{number}: continuation lines are not used here"
        if line.startswith("["):
            assert line.endswith("]"), f"{path.name}:{number}: bad section header"
            section = line[1:-1]
            sections.setdefault(section, {})
            continue
        assert section is not None and "=" in line, f"{path.name}:{number}: not KEY=value: {line!r}"
        key, value = line.split("=", 1)
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), f"{path.name}:{number}: bad key {key!r}"
        sections[section].setdefault(key.strip(), []).append(value.strip())
    parser.read_string(path.read_text())      # configparser agrees (strict=False: repeated keys)
    assert set(parser.sections()) == set(sections)
    return sections


UNIT_NAMES = ["checkin-kiosk.service", "checkin-kiosk-screen.service", "checkin-kiosk-enrol.service",
              "checkin-collector.service", "checkin-console.service"]


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_units_parse_and_are_documented(name):
    unit = parse_unit(UNITS / name)
    assert {"Unit", "Service", "Install"} <= set(unit)
    assert unit["Unit"]["Description"]
    assert name in UNIT_DOCS[name]


@pytest.mark.parametrize("name", ["checkin-kiosk.service", "checkin-collector.service", "checkin-console.service"])
def test_services_are_notify_with_a_watchdog_and_hardening(name):
    s = parse_unit(UNITS / name)["Service"]
    assert s["Type"] == ["notify"]
    assert int(s["WatchdogSec"][0]) >= 10
    # The kiosk comes back whatever ended it (a watchdog kill, a clean exit after enrolment).
    assert s["Restart"] == (["always"] if name == "checkin-kiosk.service" else ["on-failure"])
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert s[key] == ["yes"], key
    assert s["ProtectSystem"] == ["strict"]
    state = s["StateDirectory"][0]
    assert s["ReadWritePaths"] == [f"/var/lib/{state}"]
    assert s["CapabilityBoundingSet"] == [""]
    # What the program is started as is what its document says.
    exec_start = s["ExecStart"][0]
    assert exec_start in UNIT_DOCS[name], exec_start
    program, *args = exec_start.split()
    assert program.startswith("/opt/checkin-kiosk/.venv/bin/")
    assert args[0] == ("console" if name == "checkin-console.service" else "run")
    assert args[1] == "--config" and args[2].startswith("/etc/")


def test_kiosk_unit_runs_as_kiosk_with_the_device_groups_and_devices():
    s = parse_unit(UNITS / "checkin-kiosk.service")["Service"]
    assert s["User"] == ["kiosk"] and s["Group"] == ["kiosk"]
    assert set(s["SupplementaryGroups"][0].split()) == {"video", "gpio", "lp", "dialout"}
    assert s["ExecStart"] == ["/opt/checkin-kiosk/.venv/bin/kiosk run --config /etc/checkin-kiosk/kiosk.toml"]
    assert s["StateDirectory"] == ["checkin-kiosk"]
    assert "PrivateDevices" not in s                    # it would hide the camera, GPIO and printer
    assert s["DevicePolicy"] == ["closed"]
    allowed = {v.split()[0] for v in s["DeviceAllow"]}
    # /dev/video*, /dev/media*, /dev/dma_heap/* and /dev/vchiq (picamera2/libcamera), /dev/gpiochip*,
    # /dev/usb/lp* (major 180, "usb"), /dev/ttyUSB* and /dev/ttyACM*.
    assert {"char-video4linux", "char-media", "char-dma_heap", "char-vchiq", "char-gpiochip", "char-usb",
            "char-ttyUSB"} <= allowed
    assert all(v.split()[1] in ("r", "rw", "rwm") for v in s["DeviceAllow"])


def test_collector_unit():
    s = parse_unit(UNITS / "checkin-collector.service")["Service"]
    assert s["User"] == ["checkin-collector"] and s["StateDirectory"] == ["checkin-collector"]
    assert s["ExecStart"] == ["/opt/checkin-kiosk/.venv/bin/kiosk-collector run --config "
                              "/etc/checkin-collector/collector.toml"]
    assert s["PrivateDevices"] == ["yes"]


def test_screen_unit_shows_the_kiosk_page_in_chromium_after_the_kiosk():
    unit = parse_unit(UNITS / "checkin-kiosk-screen.service")
    assert "checkin-kiosk.service" in " ".join(unit["Unit"]["Wants"]).split()
    s = unit["Service"]
    # it waits for the page (the kiosk's, or the enrolment page of a kiosk without identity)
    [wait] = s["ExecStartPre"]
    assert wait.startswith("/usr/bin/curl ") and wait.endswith(" http://127.0.0.1:8080/")
    assert s["User"] == ["kiosk"]
    command = s["ExecStart"][0].split()
    assert command[0].endswith("/cage") and "--" in command
    browser = command[command.index("--") + 1:]
    assert browser[0].endswith("/chromium") and "--kiosk" in browser and browser[-1] == "http://127.0.0.1:8080/"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
@pytest.mark.parametrize("name", UNIT_NAMES)
def test_systemd_analyze_verify_finds_nothing_but_missing_programs(name, tmp_path):
    """systemd's own parser: only the programs (installed on the Pi, not here) may be missing."""
    unit = tmp_path / name
    unit.write_text((UNITS / name).read_text())
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, check=False,
                          timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if line.strip() and not re.search(r"Command \S+ is not executable: No such file or directory", line)]
    assert problems == [], problems


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_does_catch_a_mistake(tmp_path):
    """The check above is not blind: an unknown key is reported."""
    unit = tmp_path / "broken.service"
    unit.write_text((UNITS / "checkin-kiosk.service").read_text().replace("WatchdogSec=", "WatchdogSecs="))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, check=False,
                          timeout=60)
    assert "WatchdogSecs" in done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_kiosk_unit_scores_at_most_2_on_systemds_exposure_scale(tmp_path):
    """systemd-analyze security --offline: the kiosk unit's overall exposure is at most 2.0
    (9.6 for a bare unit) while it still reaches the camera, GPIO and printer."""
    unit = tmp_path / "checkin-kiosk.service"
    unit.write_text((UNITS / "checkin-kiosk.service").read_text())
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(unit)],
                          capture_output=True, text=True, check=False, timeout=60)
    score = re.search(r"Overall exposure level for checkin-kiosk.service: (\d+\.\d)", done.stdout)
    assert score, done.stdout + done.stderr
    assert float(score.group(1)) <= 2.0, done.stdout
    bare = tmp_path / "bare.service"
    bare.write_text("[Service]\nExecStart=/bin/true\n")
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(bare)],
                          capture_output=True, text=True, check=False, timeout=60)
    assert float(re.search(r"Overall exposure level for bare.service: (\d+\.\d)", done.stdout).group(1)) > 9
