"""A fleet's central side and a kiosk's files, as they are laid out on the servers and the card,
moved under a test folder: Mosquitto configured from the fleet's certificates and ACL (TLS, on
loopback), the collector from the fleet's collector.toml, and a kiosk.toml pointing at its files."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

from broker import Mosquitto
from configs import config_text
from mqtt.collector.config import parse_config as collector_config
from mqtt.collector.ingest import Collector
from provisioning.fleet import BROKER_ETC, Fleet


def fleet_broker_config(fleet: Fleet, port: int) -> str:
    """The broker config ``kiosk-provision init`` wrote (``conf.d/checkin-kiosk.conf``), with its
    /etc/mosquitto paths moved to the fleet's folder (certificates, CRL, the fleet's own ACL), its
    listener on 127.0.0.1:``port``, and its log_dest left to tests/broker.py."""
    text = fleet.broker_conf.read_text(encoding="utf-8").replace(f"{BROKER_ETC}/", f"{fleet.broker_dir}/")
    text, listeners = re.subn(r"(?m)^listener \d+$", f"listener {port} 127.0.0.1", text)
    text, logs = re.subn(r"(?m)^log_dest .*$", "", text)
    assert (listeners, logs) == (1, 1), "the production template's listener or log_dest line changed"
    return text


@contextmanager
def fleet_central(fleet: Fleet, base: Path, *, extra: str = ""):
    """(broker, collector) for ``fleet``, listening on 127.0.0.1 at the fleet's broker port;
    ``extra``: TOML sections added to its collector.toml."""
    port = int(fleet.settings["broker_port"])
    broker = Mosquitto(base / "mosquitto", port=port, config=fleet_broker_config(fleet, port)).start()
    text = (fleet.collector_dir / "collector.toml").read_text(encoding="utf-8")
    text = text.replace("/etc/checkin-collector", str(fleet.collector_dir))
    text = text.replace("sqlite:///var/lib/checkin-collector/central.db", f"sqlite://{base}/central.db")
    text = text.replace("/run/checkin-collector", str(base)).replace("[store]\n", "[store]\nbatch_ms = 30\n")
    text += "\n" + extra
    collector = Collector(collector_config(text))
    collector.start()
    try:
        assert collector.wait_ready(10)
        yield broker, collector
    finally:
        collector.stop()
        broker.stop()


def kiosk_config(etc: Path, data: Path, scratch: Path) -> Path:
    """The kiosk's own kiosk.toml with /etc/checkin-kiosk and /var/lib/checkin-kiosk moved to ``etc``
    and ``data``, and the image-folder camera and file printer under ``scratch``."""
    text = (etc / "kiosk.toml").read_text(encoding="utf-8")
    text = text.replace("/etc/checkin-kiosk", str(etc)).replace("/var/lib/checkin-kiosk", str(data))
    text += "\n" + config_text(camera={"source": f"dir:{scratch}/camera"},
                               printer={"kind": "file", "path": f"{scratch}/printer"})
    path = scratch / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path
