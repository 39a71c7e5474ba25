"""The README's run command: a loopback Mosquitto, the collector and the kiosk, started and stopped together.

    python -m provisioning.devstack [kiosk run options]

Data goes under ./var: ``var/broker`` (Mosquitto's persistence and log), ``var/central.db``
(the collector's store), the kiosk's own ``var/kiosk.db`` and camera folder. If something already
listens on 127.0.0.1:1883 (Debian starts its own mosquitto after ``apt install``), that broker is
used instead of starting a second one. Ctrl-C (or SIGTERM) stops the kiosk, then the collector,
then the broker.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from mqtt.loopback.mosquitto import LoopbackBroker, port_in_use

BROKER_PORT = 1883
VAR = Path("var")


def collector_config(path: Path, broker_url: str) -> Path:
    path.write_text(
        "# Written by provisioning/devstack.py for the local demo stack.\n"
        f'[mqtt]\nurl = "{broker_url}"\nclient_id = "collector-dev"\n'
        f'[store]\nurl = "sqlite:///{(VAR / "central.db").resolve()}"\n'
        f'[collector]\nstatus_file = "{(VAR / "collector-status.json").resolve()}"\n')
    return path


def main(argv: list[str]) -> int:
    VAR.mkdir(exist_ok=True)
    broker = None
    if port_in_use(BROKER_PORT):
        print(f"devstack: using the broker already on 127.0.0.1:{BROKER_PORT}", file=sys.stderr)
    else:
        broker = LoopbackBroker(VAR / "broker", port=BROKER_PORT).start()
        print(f"devstack: Mosquitto on 127.0.0.1:{BROKER_PORT} (log: var/broker/mosquitto.log)", file=sys.stderr)
    url = f"mqtt://127.0.0.1:{BROKER_PORT}"
    bin_dir = Path(sys.executable).parent
    config = collector_config(VAR / "collector.toml", url)
    collector = subprocess.Popen([str(bin_dir / "kiosk-collector"), "run", "--config", str(config)],
                                 start_new_session=True)
    print(f"devstack: collector running; see what arrived with\n"
          f"    .venv/bin/kiosk-collector visits --config {config}", file=sys.stderr)
    # The kiosk's default MQTT url is mqtt://127.0.0.1:1883: no config file needed.
    kiosk = subprocess.Popen([str(bin_dir / "kiosk"), "run", *argv], start_new_session=True)

    def stop(*_):
        if kiosk.poll() is None:
            kiosk.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        code = kiosk.wait()
    finally:
        for proc in (kiosk, collector):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if broker:
            broker.stop()
        print("devstack: stopped", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
