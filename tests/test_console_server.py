"""``kiosk-collector console`` as systemd runs it: a real process under waitress on a free loopback port,
READY with its address and watchdog pings through the notify socket, real HTTP requests with an
API token, and a clean exit on SIGTERM. A listen address off loopback is refused at the start."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from configs import write_collector_config
from mqtt.collector.console.api_tokens import ApiTokens
from mqtt.collector.store import open_store
from mqtt.loopback.mosquitto import free_port
from test_systemd import notify_socket, stop_and_wait, systemd_env, watchdog_pings  # noqa: F401 - a fixture

#: The program, as the unit starts it.
COLLECTOR = str(Path(sys.executable).with_name("kiosk-collector"))


def get(url: str, token: str | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def test_the_console_serves_under_systemd_and_stops_cleanly(tmp_path, notify_socket):
    port = free_port()
    store_url = f"sqlite://{tmp_path}/central.db"
    config = write_collector_config(tmp_path / "collector.toml", store={"url": store_url},
                                    console={"listen": f"127.0.0.1:{port}"})
    with open_store(store_url) as store:
        token = ApiTokens(store).add("district-7", "reporter")
    proc = subprocess.Popen([COLLECTOR, "console", "--config", str(config)],
                            env=systemd_env(notify_socket, watchdog_s=1.0), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready = notify_socket.receive(lambda m: m.get("READY") == "1", proc=proc)
        assert ready["STATUS"] == f"serving http://127.0.0.1:{port}/"
        watchdog_pings(notify_socket, 2, proc)
        status, headers, body = get(f"http://127.0.0.1:{port}/api/v1/stats?by=day", token)
        assert status == 200 and body["rows"] == [] and "default-src 'self'" in headers["Content-Security-Policy"]
        assert get(f"http://127.0.0.1:{port}/api/v1/stats")[0] == 401
        assert stop_and_wait(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert notify_socket.receive(lambda m: m.get("STOPPING") == "1")
    assert "ckc_" not in proc.stderr.read()             # no token, no URL in the log


def test_a_console_listening_off_loopback_is_a_config_error(tmp_path):
    config = write_collector_config(tmp_path / "collector.toml", console={"listen": "0.0.0.0:8090"})
    done = subprocess.run([COLLECTOR, "console", "--config", str(config)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "[console] listen" in done.stderr or "listen" in done.stderr
    assert "HTTPS proxy" in done.stderr
