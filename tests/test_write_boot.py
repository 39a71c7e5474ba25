"""kiosk-provision write-boot: a real disk image (sfdisk + mformat), real mtools, a real fleet and
wheelhouse; the seed read back with mtype and checked by cloud-init's schema and netplan."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import lzma
import os
import stat
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

from bundle_support import session_bundle
from provisioning import yamltext
from provisioning.cli import main
from provisioning.fleet import Fleet
from sdcard import FAT_START, LINUX_START, SECTOR, make_image, mtype, sh

VENUE = "cho-dalat"
KIOSK = "lamdong-cho-dalat-01"
WIFI_PASSWORD = "tra-da-7-ngay-mua"
ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path("/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json")


def linux_partition(image: Path) -> bytes:
    with image.open("rb") as f:
        f.seek(LINUX_START * SECTOR)
        return f.read(len(b"LINUX-ROOTFS") * 100_000)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Fleet:
    root = tmp_path_factory.mktemp("wb") / "fleet"
    with redirect_stdout(io.StringIO()):
        assert main(["init", str(root), "--broker-host", "mqtt.example.vn", "--days", "30"]) == 0
        assert main(["venue", "add", VENUE, "--name", "Chợ Đà Lạt", "--fleet", str(root)]) == 0
        assert main(["kiosk", "new", KIOSK, "--venue", VENUE, "--staff", "Hoa", "--fleet", str(root)]) == 0
    return Fleet.open(root)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    return session_bundle(tmp_path_factory)[0]


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tech@laptop", "-f",
                    str(folder / "id_ed25519")], check=True)
    return folder / "id_ed25519.pub"


def write_boot(capsys, fleet, wheels, ssh_key, *where: str, extra=()) -> tuple[int, str, str]:
    code = main(["write-boot", *where, KIOSK, "--fleet", str(fleet.root), "--ssh-key", str(ssh_key),
                 "--bundle", str(wheels), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def written(tmp_path_factory, fleet, wheels, ssh_key):
    """One image written with Wi-Fi (password from the environment)."""
    folder = tmp_path_factory.mktemp("img")
    image = make_image(folder / "sd.img")
    before = linux_partition(image)
    mp = pytest.MonkeyPatch()
    mp.setenv("KIOSK_WIFI_PASSWORD", WIFI_PASSWORD)
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["write-boot", "--image", str(image), KIOSK, "--fleet", str(fleet.root),
                         "--ssh-key", str(ssh_key), "--bundle", str(wheels),
                         "--wifi-ssid", "Quán Cà Phê Sáng", "--wifi-country", "vn"])
    finally:
        mp.undo()
    assert code == 0, err.getvalue()
    assert linux_partition(image) == before
    return image, out.getvalue(), err.getvalue()


def user_data(image: Path) -> tuple[str, dict]:
    text = mtype(image, "user-data").decode("utf-8")
    return text, yaml.safe_load(text)


def test_user_data_validates_with_cloud_init(written, tmp_path):
    image, _, _ = written
    text, config = user_data(image)
    assert text.startswith("#cloud-config\n")
    (tmp_path / "user-data").write_text(text)
    res = subprocess.run(["cloud-init", "schema", "--config-file", str(tmp_path / "user-data")],
                         check=False, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    # cloud-init 22.4 lets unknown top-level keys pass: check them against its schema ourselves
    schema = json.loads(SCHEMA.read_text())
    known = {k for d in schema["$defs"].values() for k in d.get("properties", {})}
    assert set(config) - known == {"enable_ssh"}   # Raspberry Pi OS's own key


def test_user_data_content(written, ssh_key):
    image, _, _ = written
    _, c = user_data(image)
    assert c["hostname"] == KIOSK and c["timezone"] == "Asia/Ho_Chi_Minh"
    assert c["ntp"]["enabled"] and c["ntp"]["pools"][0] == "0.vn.pool.ntp.org"
    assert "0.pool.ntp.org" in c["ntp"]["pools"]
    kiosk, tech = c["users"]
    assert kiosk["name"] == "kiosk" and kiosk["system"] and kiosk["shell"] == "/usr/sbin/nologin"
    assert set(kiosk["groups"]) == {"video", "gpio", "lp", "dialout"} and kiosk["primary_group"] == "kiosk"
    assert tech["name"] == "tech" and "sudo" in tech["groups"] and tech["lock_passwd"] is True
    assert "passwd" not in tech and "hashed_passwd" not in tech
    assert tech["ssh_authorized_keys"] == [ssh_key.read_text().strip()]
    assert c["ssh_pwauth"] is False and c["disable_root"] is True
    assert {"python3-picamera2", "python3-lgpio", "python3-opencv", "libzbar0", "python3-venv",
            "fonts-dejavu-core", "chromium", "cage", "libusb-1.0-0", "curl"} == set(c["packages"])
    assert c["runcmd"][-1][0] == "/usr/local/sbin/checkin-kiosk-firstboot"
    assert c["runcmd"][-1][1:] == ["3.13", "checkin-kiosk==0.1.0", "/boot/firmware", "checkin-kiosk"]


def test_kiosk_files_decode_to_the_fleet_bytes(written, fleet):
    image, _, _ = written
    _, c = user_data(image)
    entries = {e["path"]: e for e in c["write_files"]}
    card = fleet.kiosk_dir(KIOSK)
    for name in ("kiosk.toml", "kiosk.pem", "ca.pem", "kiosk.key", "venue-token.key"):
        e = entries[f"/etc/checkin-kiosk/{name}"]
        assert base64.b64decode(e["content"]) == (card / "etc/checkin-kiosk" / name).read_bytes(), name
        assert (e["owner"], e["permissions"], e["defer"]) == ("root:kiosk", "0640", True)
    db = entries["/var/lib/checkin-kiosk/kiosk.db"]
    assert gzip.decompress(base64.b64decode(db["content"])) == (card / "var/lib/checkin-kiosk/kiosk.db").read_bytes()
    assert (db["owner"], db["permissions"], db["defer"], db["encoding"]) == ("kiosk:kiosk", "0600", True, "gz+b64")
    for unit in ("checkin-kiosk.service", "checkin-kiosk-screen.service"):
        e = entries[f"/etc/systemd/system/{unit}"]
        assert e["content"] == (ROOT / "systemd" / unit).read_text() and "defer" not in e
    script = entries["/usr/local/sbin/checkin-kiosk-firstboot"]
    assert script["content"] == (ROOT / "provisioning" / "firstboot.sh").read_text()
    assert script["permissions"] == "0755"


def test_meta_data_and_network_config(written, tmp_path):
    image, out, err = written
    meta = yaml.safe_load(mtype(image, "meta-data"))
    assert meta["dsmode"] == "local" and meta["local-hostname"] == KIOSK
    assert meta["instance-id"].startswith(KIOSK + "-") and meta["instance_id"] == meta["instance-id"]
    text = mtype(image, "network-config").decode()
    net = yaml.safe_load(text)["network"]
    assert net["version"] == 2 and net["ethernets"]["eth0"]["dhcp4"] is True
    wlan = net["wifis"]["wlan0"]
    assert wlan["access-points"] == {"Quán Cà Phê Sáng": {"password": WIFI_PASSWORD}}
    assert wlan["regulatory-domain"] == "VN" and wlan["optional"] is False
    # the password is on the card, never on the terminal
    assert WIFI_PASSWORD not in out + err
    assert meta["instance-id"] in out and "sd.img" in out
    # netplan (as on Raspberry Pi OS) accepts it; cloud-init converts it
    netplan_root = tmp_path / "np"
    (netplan_root / "etc/netplan").mkdir(parents=True)
    (netplan_root / "etc/netplan/50-cloud-init.yaml").write_text(text)
    os.chmod(netplan_root / "etc/netplan/50-cloud-init.yaml", 0o600)
    res = subprocess.run(["netplan", "generate", "--root-dir", str(netplan_root)],
                         check=False, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert (netplan_root / "run/systemd/network/10-netplan-eth0.network").is_file()
    assert (netplan_root / "run/systemd/network/10-netplan-wlan0.network").is_file()
    (tmp_path / "network-config").write_text(text)
    subprocess.run(["cloud-init", "devel", "net-convert", "-p", str(tmp_path / "network-config"), "-k", "yaml",
                    "-D", "debian", "-O", "networkd", "-d", str(tmp_path / "nd")], check=True, capture_output=True)
    assert "DHCP=ipv4" in (tmp_path / "nd/etc/systemd/network/10-cloud-init-eth0.network").read_text()


def test_wheelhouse_is_on_the_boot_partition(written, wheels):
    image, out, _ = written
    listing = sh("mdir", "-b", "-i", f"{image}@@{FAT_START * SECTOR}", "::/checkin-kiosk").decode().split()
    on_card = sorted(p.rsplit("/", 1)[-1] for p in listing)
    assert on_card == sorted(p.name for p in wheels.iterdir())
    manifest = json.loads(mtype(image, "checkin-kiosk/bundle.json"))
    ours = next(f for f in manifest["files"] if f["name"].startswith("checkin_kiosk-"))
    assert hashlib.sha256(mtype(image, f"checkin-kiosk/{ours['name']}")).hexdigest() == ours["sha256"]
    assert f"({len(manifest['files'])} wheels)" in out
    # the card's own files are untouched
    assert mtype(image, "config.txt") == b"arm_64bit=1\n"


def test_rewriting_a_card_makes_a_new_instance(tmp_path, capsys, fleet, wheels, ssh_key):
    image = make_image(tmp_path / "sd.img")
    ids = []
    for _ in range(2):
        code, _, err = write_boot(capsys, fleet, wheels, ssh_key, "--image", str(image))
        assert code == 0, err
        ids.append(yaml.safe_load(mtype(image, "meta-data"))["instance-id"])
    assert ids[0] != ids[1]
    net = yaml.safe_load(mtype(image, "network-config"))["network"]
    assert "wifis" not in net and net["ethernets"]["eth0"]["optional"] is False   # eth0 is the way in
    listing = sh("mdir", "-b", "-i", f"{image}@@{FAT_START * SECTOR}", "::/checkin-kiosk").decode().split()
    assert len(listing) == len(list(wheels.iterdir()))


def test_mounted_boot_folder(tmp_path, capsys, fleet, wheels, ssh_key):
    boot = tmp_path / "bootfs"
    boot.mkdir()
    (boot / "config.txt").write_text("arm_64bit=1\n")
    (boot / "cmdline.txt").write_text("console=tty1\n")
    code, _, err = write_boot(capsys, fleet, wheels, ssh_key, "--boot", str(boot))
    assert code == 0, err
    for name in ("user-data", "meta-data", "network-config"):
        assert stat.S_IMODE((boot / name).stat().st_mode) == 0o600, name
    assert yaml.safe_load((boot / "user-data").read_text())["hostname"] == KIOSK
    assert sorted(p.name for p in (boot / "checkin-kiosk").iterdir()) == sorted(p.name for p in wheels.iterdir())
    assert not list(boot.glob(".*.tmp"))


def test_unenrolled_card_has_the_software_and_units_but_no_identity(tmp_path, capsys, fleet, wheels, ssh_key):
    """--unenrolled: the kiosk boots into "scan the enrolment code" (checkin-kiosk-enrol.service)."""
    image = make_image(tmp_path / "sd.img")
    code = main(["write-boot", "--image", str(image), "--unenrolled", "--fleet", str(fleet.root),
                 "--ssh-key", str(ssh_key), "--bundle", str(wheels)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "enrol-qr KIOSK_ID" in out.out and "private key" not in out.out
    text, c = user_data(image)
    assert c["hostname"].startswith("kiosk-unenrolled-")
    paths = {f["path"] for f in c["write_files"]}
    assert not any(p.startswith(("/etc/checkin-kiosk/", "/var/lib/checkin-kiosk/")) for p in paths)
    assert {"/etc/systemd/system/checkin-kiosk-enrol.service", "/etc/systemd/system/checkin-kiosk.service"} <= paths
    (tmp_path / "user-data").write_text(text)
    res = subprocess.run(["cloud-init", "schema", "--config-file", str(tmp_path / "user-data")],
                         check=False, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    # a second unenrolled card on the same LAN gets another hostname
    other = make_image(tmp_path / "sd2.img")
    assert main(["write-boot", "--image", str(other), "--unenrolled", "--fleet", str(fleet.root),
                 "--ssh-key", str(ssh_key), "--bundle", str(wheels)]) == 0
    capsys.readouterr()
    assert user_data(other)[1]["hostname"] != c["hostname"]
    # one or the other, never both or neither
    assert main(["write-boot", "--image", str(image), "--unenrolled", KIOSK, "--fleet", str(fleet.root),
                 "--ssh-key", str(ssh_key), "--bundle", str(wheels)]) == 2
    assert main(["write-boot", "--image", str(image), "--fleet", str(fleet.root),
                 "--ssh-key", str(ssh_key), "--bundle", str(wheels)]) == 2
    assert "KIOSK_ID, or --unenrolled" in capsys.readouterr().err


def test_refusals(tmp_path, capsys, fleet, wheels, ssh_key, monkeypatch):
    def refused(*argv, key=ssh_key, bundle=wheels, fleet_dir=fleet.root):
        args = ["write-boot", *argv, "--fleet", str(fleet_dir), "--bundle", str(bundle)]
        if key:
            args += ["--ssh-key", str(key)]
        code = main(args)
        out = capsys.readouterr()
        assert code == 2 and not out.out, out
        return out.err

    image = make_image(tmp_path / "sd.img")
    no_fat = make_image(tmp_path / "linux.img", fat=False)
    assert "no FAT partition" in refused("--image", str(no_fat), KIOSK)
    blank = tmp_path / "blank.img"
    blank.write_bytes(b"\0" * 1024 * 1024)
    assert "no partition table" in refused("--image", str(blank), KIOSK)
    xz = tmp_path / "sd.img.xz"
    xz.write_bytes(lzma.compress(image.read_bytes()[:4 * 1024 * 1024], format=lzma.FORMAT_XZ))
    assert "decompress it first (xz -dk sd.img.xz)" in refused("--image", str(xz), KIOSK)
    assert "not provisioned" in refused("--image", str(image), "k-chua-co")
    assert "no --ssh-key" in refused("--image", str(image), KIOSK, key=None)
    private = ssh_key.with_suffix("")
    assert "private key" in refused("--image", str(image), KIOSK, key=private)
    bad_key = tmp_path / "bad.pub"
    bad_key.write_text("ssh-ed25519 not-base64!! me\n")
    assert "not an OpenSSH public key" in refused("--image", str(image), KIOSK, key=bad_key)
    not_boot = tmp_path / "docs"
    not_boot.mkdir()
    (not_boot / "config.txt").write_text("")
    assert "not a Raspberry Pi boot partition (no cmdline.txt)" in refused("--boot", str(not_boot), KIOSK)
    assert "no wheelhouse" in refused("--image", str(image), KIOSK, bundle=tmp_path / "none")
    assert "--wifi-country needs --wifi-ssid" in refused("--image", str(image), KIOSK, "--wifi-country", "VN")
    monkeypatch.setenv("KIOSK_WIFI_PASSWORD", "ngan")
    err = refused("--image", str(image), KIOSK, "--wifi-ssid", "Nha Sach")
    assert "Wi-Fi password" in err and "ngan" not in err
    assert "Wi-Fi country" in refused("--image", str(image), KIOSK, "--wifi-ssid", "Nha Sach",
                                      "--wifi-country", "Vietnam")
    monkeypatch.delenv("KIOSK_WIFI_PASSWORD")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))   # not a terminal: no prompt
    assert "KIOSK_WIFI_PASSWORD" in refused("--image", str(image), KIOSK, "--wifi-ssid", "Nha Sach")
    # nothing was written by any of them
    listing = sh("mdir", "-b", "-i", f"{image}@@{FAT_START * SECTOR}", "::/").decode().split()
    assert sorted(p.rsplit("/", 1)[-1] for p in listing) == ["cmdline.txt", "config.txt"]


def test_firstboot_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(ROOT / "provisioning" / "firstboot.sh")], check=True)


def test_yaml_writer_round_trips_awkward_strings():
    value = {"ssids": {"true": 1, "yes": 2, "Quán \"Ba\" \\ #1": 3, "123": 4, "a: b": 5},
             "items": ["", "null", "~", "- x", "tab\there", "đường Lê Lợi", "line\nbreak"],
             "script": "#!/bin/sh\necho 'hi'  # comment\n\n  indented\n",
             "nested": [{"a": [1, 2], "b": {}}, []], "flags": [True, False, 0]}
    assert yaml.safe_load(yamltext.dump(value)) == value


def test_one_identity_on_two_cards_is_warned_about(tmp_path, capsys, fleet, wheels, ssh_key):
    """Two cards with one identity knock each other off the broker: a second write is warned of."""
    kiosk = "dalat-cho-dup"
    assert main(["kiosk", "new", kiosk, "--venue", VENUE, "--staff", "Hoa", "--fleet", str(fleet.root)]) == 0
    capsys.readouterr()
    first, second = make_image(tmp_path / "first.img"), make_image(tmp_path / "second.img")

    def write(image):
        code = main(["write-boot", "--image", str(image), kiosk, "--fleet", str(fleet.root),
                     "--ssh-key", str(ssh_key), "--bundle", str(wheels)])
        assert code == 0
        return capsys.readouterr().err

    assert "warning" not in write(first)
    # A path is not a card (one --image or --boot serves card after card): every later write is
    # warned of, saying what to do whether it is the same card again or a second one.
    for image, last in ((first, first), (second, first)):
        err = write(image)
        assert f"kiosk {kiosk}'s identity was already written at " in err and str(last) in err
        assert "If that was this same card, ignore this" in err and "kiosk-provision kiosk new" in err
    ledger = fleet.kiosk_dir(kiosk) / "cards.log"
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600 and len(ledger.read_text().splitlines()) == 3
