"""docs/technician.md's walkthrough, end to end: from an empty directory, a fleet, a venue and a
kiosk; its card written with write-boot; the files first boot would install taken back out of the
image's user-data; and with them the kiosk proves its identity against the fleet's broker (TLS,
ACL) and collector with `kiosk selftest`, and its staff member logs in with the printed PIN."""

from __future__ import annotations

import base64
import gzip
import re
import subprocess
from pathlib import Path

import yaml

from broker import free_port
from bundle_support import session_bundle
from fleet_support import fleet_central, kiosk_config
from kiosk.cli import main as kiosk_main
from kiosk.staff.accounts import StaffAccounts
from kiosk.store import VisitStore
from mqtt.collector import queries
from provisioning.cli import main as provision_main
from provisioning.fleet import Fleet
from sdcard import make_image, mtype

VENUE, KIOSK = "cho-phanrang", "ninhthuan-cho-phanrang-01"


def first_boot_files(user_data: dict, root: Path) -> dict[str, tuple[str, int]]:
    """What cloud-init's write_files would put on the kiosk's root file system under /etc/checkin-kiosk
    and /var/lib/checkin-kiosk, written under ``root``; {path: (owner, mode)}."""
    placed = {}
    for entry in user_data["write_files"]:
        path = entry["path"]
        if not path.startswith(("/etc/checkin-kiosk/", "/var/lib/checkin-kiosk/")):
            continue
        data = base64.b64decode(entry["content"])
        if entry["encoding"] == "gz+b64":
            data = gzip.decompress(data)
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        placed[path] = (entry["owner"], int(entry["permissions"], 8))
    return placed


def test_from_an_empty_directory_to_a_kiosk_that_proves_itself(tmp_path, tmp_path_factory, capsys, monkeypatch):
    work = tmp_path / "laptop"
    work.mkdir()
    monkeypatch.chdir(work)
    wheels, _ = session_bundle(tmp_path_factory)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tech@laptop", "-f", str(work / "id")],
                   check=True)

    # the fleet, a venue and a kiosk (docs/technician.md: Provisioning)
    assert provision_main(["init", "./fleet", "--broker-host", "127.0.0.1", "--broker-port", str(free_port())]) == 0
    monkeypatch.setenv("KIOSK_FLEET_DIR", "./fleet")
    assert provision_main(["venue", "add", VENUE, "--name", "Chợ Phan Rang"]) == 0
    assert provision_main(["kiosk", "new", KIOSK, "--venue", VENUE, "--staff", "Lan"]) == 0
    pin = re.search(r"one-time PIN: (\d+)", capsys.readouterr().out).group(1)

    # the card
    image = make_image(tmp_path / "raspios-trixie-arm64-lite.img")
    assert provision_main(["write-boot", "--image", str(image), KIOSK, "--ssh-key", str(work / "id.pub"),
                           "--bundle", str(wheels)]) == 0
    out = capsys.readouterr().out
    assert f"ssh tech@{KIOSK}.local" in out and pin not in out

    # first boot's files, out of the card's user-data
    kiosk_root = tmp_path / "kiosk-root"
    placed = first_boot_files(yaml.safe_load(mtype(image, "user-data")), kiosk_root)
    assert placed["/etc/checkin-kiosk/kiosk.key"] == ("root:kiosk", 0o640)
    assert placed["/var/lib/checkin-kiosk/kiosk.db"] == ("kiosk:kiosk", 0o600)
    etc, data = kiosk_root / "etc" / "checkin-kiosk", kiosk_root / "var" / "lib" / "checkin-kiosk"

    # the central side from the fleet directory; the kiosk's self-test through it
    fleet = Fleet.open(work / "fleet")
    with fleet_central(fleet, tmp_path / "central") as (_, collector):
        config = kiosk_config(etc, data, tmp_path)
        code = kiosk_main(["selftest", "--config", str(config), "--simulate", "--lang", "en",
                           "--code-timeout", "8", "--broker-timeout", "10"])
        report = capsys.readouterr().out
        assert code == 0, report
        assert re.search(rf"✓ Certificates +valid until .* CN {KIOSK}", report), report
        assert re.search(r"✓ MQTT broker +127\.0\.0\.1:\d+: the report reached the collector", report), report
        [row] = [r for r in queries.fleet(collector.store) if r["kiosk_id"] == KIOSK]
        assert row["selftest"]["passed"] is True

    # the staff member's one-time PIN works on the kiosk's database from the card
    store = VisitStore.open(data / "kiosk.db")
    try:
        result = StaffAccounts(store).login("Lan", pin)
        assert result.ok and result.must_change
    finally:
        store.close()
