"""The README's run command: a loopback Mosquitto, the collector, its tracing console and the kiosk,
started and stopped together.

    python -m provisioning.devstack [--broker-port N] [--web-port N] [--console-port N] [kiosk run options]

Data goes under ./var: ``var/broker`` (Mosquitto's persistence and log), ``var/central.db``
(the collector's store), the kiosk's own ``var/kiosk.db`` and camera folder, ``var/sms`` (the
texts the collector sends for the kiosk, which has no modem: one file a message). If something already
listens on the broker port (Debian starts its own mosquitto on 1883 after ``apt install``), that
broker is used instead of starting a second one. ``--broker-port`` and ``--web-port`` move the
broker and the kiosk's screen off 1883 and 8080 (a second stack on the same machine: each its own
broker, collector and kiosk); the kiosk reads them from ``var/kiosk.toml``, which devstack
writes (unless the kiosk options name a ``--config`` of their own). The console listens on
127.0.0.1:8090 (``--console-port``); the first run makes it a user ``demo`` with every role and
prints its one-time password and authenticator QR code, and fills the store with a synthetic
province (``kiosk-collector demo-data``: 14 venues, a fortnight). Ctrl-C (or SIGTERM) stops the
kiosk, then the console and the collector, then the broker.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from mqtt.loopback.mosquitto import LoopbackBroker, port_in_use

BROKER_PORT = 1883
CONSOLE_PORT = 8090
DEMO_USER = "demo"
#: The first run's synthetic province: small enough to make in a few seconds on a Pi.
DEMO_DATA = ("--venues", "14", "--days", "14", "--per-day", "60")
VAR = Path("var")


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """devstack's own options; the rest go to ``kiosk run``."""
    parser = argparse.ArgumentParser(prog="devstack", description="broker, collector and kiosk together",
                                     epilog="other options go to kiosk run (see kiosk run --help)")
    parser.add_argument("--broker-port", type=int, default=BROKER_PORT, metavar="N",
                        help=f"Mosquitto on 127.0.0.1:N (default {BROKER_PORT})")
    parser.add_argument("--web-port", type=int, metavar="N",
                        help="the kiosk's screen on 127.0.0.1:N (default: the kiosk's, 8080)")
    parser.add_argument("--console-port", type=int, default=CONSOLE_PORT, metavar="N",
                        help=f"the tracing console on 127.0.0.1:N (default {CONSOLE_PORT})")
    args, kiosk_argv = parser.parse_known_args(argv)
    for name in ("broker_port", "web_port", "console_port"):
        port = getattr(args, name)
        if port is not None and not 0 < port < 65536:
            parser.error(f"--{name.replace('_', '-')} {port}: a port is 1 to 65535")
    moved = args.broker_port != BROKER_PORT or args.web_port is not None
    if moved and "--config" in kiosk_argv:
        parser.error("--broker-port and --web-port write the kiosk's config: with --config, "
                     "put [mqtt] url and [web] listen in that file instead")
    return args, kiosk_argv


def kiosk_config(path: Path, broker_url: str, web_port: int | None) -> Path:
    # No modem here: the collector texts the kiosk's one-time codes, into var/sms (its file SMS).
    text = (f'# Written by provisioning/devstack.py for the local demo stack.\n[mqtt]\nurl = "{broker_url}"\n'
            '[sms]\nkind = "centre"\n')
    if web_port is not None:
        text += f'[web]\nlisten = "127.0.0.1:{web_port}"\n'
    path.write_text(text)
    return path


def collector_config(path: Path, broker_url: str, console_port: int = CONSOLE_PORT) -> Path:
    path.write_text(
        "# Written by provisioning/devstack.py for the local demo stack.\n"
        f'[mqtt]\nurl = "{broker_url}"\nclient_id = "collector-dev"\n'
        f'[store]\nurl = "sqlite:///{(VAR / "central.db").resolve()}"\n'
        f'[collector]\nstatus_file = "{(VAR / "collector-status.json").resolve()}"\n'
        f'[console]\nlisten = "127.0.0.1:{console_port}"\n'
        f'[sms]\nkind = "file"\npath = "{(VAR / "sms").resolve()}"\n')
    return path


def main(argv: list[str]) -> int:
    args, kiosk_argv = parse_args(argv)
    port = args.broker_port
    VAR.mkdir(exist_ok=True)
    broker = None
    if port_in_use(port):
        print(f"devstack: using the broker already on 127.0.0.1:{port}", file=sys.stderr)
    else:
        broker = LoopbackBroker(VAR / "broker", port=port).start()
        print(f"devstack: Mosquitto on 127.0.0.1:{port} (log: var/broker/mosquitto.log)", file=sys.stderr)
    url = f"mqtt://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    config = collector_config(VAR / "collector.toml", url, args.console_port)
    collector_cli = str(bin_dir / "kiosk-collector")
    first_console_user(collector_cli, config)       # before the collector: one process makes the store
    collector = subprocess.Popen([collector_cli, "run", "--config", str(config)], start_new_session=True)
    print(f"devstack: collector running; see what arrived with\n"
          f"    .venv/bin/kiosk-collector visits --config {config}", file=sys.stderr)
    console = subprocess.Popen([collector_cli, "console", "--config", str(config)], start_new_session=True)
    print(f"devstack: tracing console at http://127.0.0.1:{args.console_port}/ (user {DEMO_USER}; "
          f"kiosk-collector users reset {DEMO_USER} --config {config} for a new password)", file=sys.stderr)
    # The kiosk's config: this broker, its screen's port when moved, its texts through the
    # collector; unless the kiosk was given a config of its own.
    if "--config" not in kiosk_argv:
        kiosk_argv = ["--config", str(kiosk_config(VAR / "kiosk.toml", url, args.web_port)), *kiosk_argv]
    kiosk = subprocess.Popen([str(bin_dir / "kiosk"), "run", *kiosk_argv], start_new_session=True)

    def stop(*_):
        if kiosk.poll() is None:
            kiosk.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        code = kiosk.wait()
    finally:
        for proc in (kiosk, console, collector):
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


def first_console_user(collector_cli: str, config: Path) -> None:
    """On the stack's first run, a console user with every role, its one-time password and its
    authenticator QR code printed here, and a synthetic province in the store (a newcomer sees the
    whole console at once, with figures and cases to open)."""
    listed = subprocess.run([collector_cli, "users", "list", "--json", "--config", str(config)],
                            capture_output=True, text=True)
    if listed.returncode != 0 or listed.stdout.strip():
        return
    subprocess.run([collector_cli, "users", "add", DEMO_USER, "--role", "tracer", "--role", "reporter",
                    "--role", "fleet", "--role", "admin", "--config", str(config)], check=False)
    subprocess.run([collector_cli, "demo-data", *DEMO_DATA, "--config", str(config)], check=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
