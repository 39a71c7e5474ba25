"""The README's run command: Mosquitto, collector and kiosk together; a check-in reaches the collector."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from broker import free_port
from codes import CCCD_MAU, write_qr
from waiting import wait_for

pytestmark = pytest.mark.slow


def test_a_check_in_arrives_in_the_collector_and_ctrl_c_stops_everything(tmp_path):
    bin_dir = f"{sys.executable.rsplit('/', 1)[0]}"
    # Its own ports: on 1883 it would share a broker that is already there (another stack's, or
    # Debian's mosquitto), and that broker's collector would store this kiosk's visit too.
    web_port, console_port = free_port(), free_port()
    stack = subprocess.Popen([sys.executable, "-m", "provisioning.devstack", "--broker-port", str(free_port()),
                              "--web-port", str(web_port), "--console-port", str(console_port), "--simulate"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (tmp_path / "var" / "camera").is_dir() and (tmp_path / "var" / "collector.toml").exists())
        time.sleep(1.0)
        write_qr(tmp_path / "var" / "camera" / "cccd.png", CCCD_MAU)

        def collector_visits():
            out = subprocess.run([f"{bin_dir}/kiosk-collector", "visits", "--venue", "sim-venue", "--json", "--config",
                                  str(tmp_path / "var" / "collector.toml")], capture_output=True, text=True).stdout
            return [json.loads(line) for line in out.splitlines()]
        visits = wait_for(collector_visits, timeout=30, interval=0.5)
        login = wait_for(lambda: _page(f"http://127.0.0.1:{console_port}/login"), timeout=30, interval=0.5)
    finally:
        stack.send_signal(signal.SIGINT)
        out, err = stack.communicate(timeout=30)
    # One check-in, one visit.
    assert len(visits) == 1, f"{visits}\n--- stack stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-3000:]}"
    [visit] = visits
    assert visit["person"]["name"] == "Nguyễn Thị Mẫu" and visit["check_out_at"] is None
    assert visit["kiosk_id"] == "sim-kiosk-01"
    assert stack.returncode == 0, err[-2000:]
    assert "devstack: stopped" in err
    assert "VÀO" in out and f"http://127.0.0.1:{web_port}/" in out
    # the console, with a first user whose one-time password and authenticator code were printed
    assert "Đăng nhập" in login and f"tracing console at http://127.0.0.1:{console_port}/" in err
    assert "user demo added (tracer, reporter, fleet, admin)" in out and "otpauth://totp/" in out
    assert re.search(r"demo data: 14 venues in 7 districts of Ninh Thuận", out)
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout
    assert leftover == "", "a process of the stack outlived it"


def _page(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode("utf-8")
    except OSError:
        return None


def test_devstack_options_are_its_own_and_the_rest_go_to_the_kiosk(capsys):
    from provisioning.devstack import parse_args

    args, rest = parse_args(["--broker-port", "18830", "--simulate", "-v"])
    assert (args.broker_port, args.web_port, args.console_port, rest) == (18830, None, 8090, ["--simulate", "-v"])
    args, rest = parse_args(["--config", "my.toml"])
    assert (args.broker_port, rest) == (1883, ["--config", "my.toml"])
    for bad, said in ((["--web-port", "70000"], "a port is 1 to 65535"),
                      (["--broker-port", "18830", "--config", "my.toml"], "put [mqtt] url and [web] listen")):
        with pytest.raises(SystemExit):
            parse_args(bad)
        assert said in capsys.readouterr().err
