"""A kiosk's cloud-init seed for Raspberry Pi OS (Trixie): ``user-data``, ``meta-data`` and
``network-config`` as text. Pure rendering; ``provisioning.writeboot`` gathers the inputs and
``provisioning.bootmedia`` writes the files.

First boot (cloud-init, NoCloud from the FAT boot partition) then: sets the hostname (the kiosk
id), the timezone and NTP; creates the ``kiosk`` system user and the ``tech`` login (ssh key
only); installs the apt packages; writes /etc/checkin-kiosk and /var/lib/checkin-kiosk/kiosk.db;
runs ``firstboot.sh`` (venv from the wheelhouse on the boot partition, systemd units enabled,
secrets scrubbed from the boot partition).
"""

from __future__ import annotations

import base64
import gzip
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files as package_files
from pathlib import PurePosixPath

from . import yamltext
from .fleet import FleetError, check_kiosk_id

#: Where Raspberry Pi OS mounts the FAT boot partition (cloud-init's NoCloud seed). Passed to
#: firstboot.sh, with BUNDLE_DIR, so the script names neither.
BOOT = PurePosixPath("/boot/firmware")
#: The wheelhouse's folder on the boot partition.
BUNDLE_DIR = "checkin-kiosk"
FIRSTBOOT = PurePosixPath("/usr/local/sbin/checkin-kiosk-firstboot")
UNIT_DIR = PurePosixPath("/etc/systemd/system")
KIOSK_USER = "kiosk"
TECH_USER = "tech"
KIOSK_GROUPS = ["video", "gpio", "lp", "dialout"]
TIMEZONE = "Asia/Ho_Chi_Minh"
#: Vietnam's NTP pool zone first, the global pool as fallback (systemd-timesyncd tries in order).
NTP_POOLS = ["0.vn.pool.ntp.org", "1.vn.pool.ntp.org", "2.vn.pool.ntp.org",
             "0.pool.ntp.org", "1.pool.ntp.org"]
APT_PACKAGES = ["python3-picamera2", "python3-lgpio", "python3-opencv", "libzbar0", "python3-venv",
                "fonts-dejavu-core", "chromium", "cage", "libusb-1.0-0", "curl"]
SSH_KEY = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|"
                     r"sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,2})( [^\x00-\x1f\x7f]*)?")
COUNTRY = re.compile(r"[A-Z]{2}")
HEADER = ("#cloud-config\n"
          "# checkin-kiosk {kiosk}: written by kiosk-provision write-boot. It holds the kiosk's private key:\n"
          "# first boot replaces this file with a stub once it has installed the kiosk.\n")


@dataclass(frozen=True)
class KioskFile:
    """A file for the kiosk's root file system."""
    path: PurePosixPath
    content: bytes = field(repr=False)
    owner: str = "root:root"
    mode: int = 0o644
    gzip: bool = False

    def write_files_entry(self) -> dict:
        data = gzip.compress(self.content, mtime=0) if self.gzip else self.content
        entry = {"path": str(self.path), "encoding": "gz+b64" if self.gzip else "b64",
                 "content": base64.b64encode(data).decode("ascii"),
                 "owner": self.owner, "permissions": f"0{self.mode:o}"}
        # write_files runs before users are created; a file owned by the kiosk user or group
        # waits for the final stage.
        if KIOSK_USER in self.owner.split(":"):
            entry["defer"] = True
        return entry


@dataclass(frozen=True)
class Wifi:
    ssid: str
    password: str = field(repr=False)
    country: str = "VN"


def check_network(ssid: str, country: str) -> str:
    """FleetError for a bad SSID or country; the country upper-cased."""
    if not 1 <= len(ssid.encode("utf-8")) <= 32 or any(ord(c) < 0x20 or ord(c) == 0x7f for c in ssid):
        raise FleetError(f"Wi-Fi SSID {ssid!r}: 1-32 bytes, no control characters")
    if not COUNTRY.fullmatch(country.upper()):
        raise FleetError(f"Wi-Fi country {country!r}: a two-letter ISO 3166 code such as VN")
    return country.upper()


def check_wifi(ssid: str, password: str, country: str) -> Wifi:
    """A WPA-PSK network, or FleetError saying what is wrong (never echoing the password)."""
    country = check_network(ssid, country)
    hex_key = len(password) == 64 and all(c in "0123456789abcdefABCDEF" for c in password)
    if not hex_key and not (8 <= len(password) <= 63 and all(" " <= c <= "~" for c in password)):
        raise FleetError("Wi-Fi password: 8-63 printable ASCII characters (WPA2/WPA3 personal) "
                         "or 64 hex digits; open networks are not supported")
    return Wifi(ssid, password, country)


def parse_ssh_keys(text: str, source: str) -> list[str]:
    """The public keys in an authorized_keys-style text; FleetError for anything else."""
    if "PRIVATE KEY" in text:
        raise FleetError(f"{source} is a private key: give the public key (the .pub file)")
    keys = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = SSH_KEY.fullmatch(line)
        if not m or not _key_blob_ok(m.group(1), m.group(2)):
            raise FleetError(f"{source}:{n}: not an OpenSSH public key (ssh-ed25519 AAAA... comment)")
        keys.append(line)
    if not keys:
        raise FleetError(f"{source}: no public key in it")
    return keys


def _key_blob_ok(kind: str, blob: str) -> bool:
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        return False
    n = int.from_bytes(raw[:4], "big")
    return raw[4:4 + n] == kind.encode()


def new_instance_id(kiosk_id: str) -> str:
    """Unique per write: a rewritten card runs first boot again."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{kiosk_id}-{stamp}-{secrets.token_hex(4)}"


def meta_data(kiosk_id: str, instance_id: str) -> str:
    check_kiosk_id(kiosk_id)           # the kiosk id rule makes it a valid hostname too
    # Raspberry Pi OS's own meta-data spells it instance_id; cloud-init's NoCloud reads instance-id.
    return yamltext.dump({"dsmode": "local", "instance-id": instance_id, "instance_id": instance_id,
                          "local-hostname": kiosk_id},
                         header=f"# checkin-kiosk {kiosk_id}: written by kiosk-provision write-boot\n")


def network_config(wifi: Wifi | None) -> str:
    """netplan v2: DHCP on eth0 always, Wi-Fi (wlan0) when given. First boot installs packages, so
    one interface is required (optional: false): eth0 alone, or wlan0 when there is Wi-Fi."""
    net: dict = {"version": 2, "ethernets": {"eth0": {"dhcp4": True, "optional": wifi is not None}}}
    if wifi:
        net["wifis"] = {"wlan0": {"dhcp4": True, "optional": False, "regulatory-domain": wifi.country,
                                  "access-points": {wifi.ssid: {"password": wifi.password}}}}
    return yamltext.dump({"network": net}, header="# checkin-kiosk: written by kiosk-provision write-boot\n")


def firstboot_script() -> str:
    return package_files("provisioning").joinpath("firstboot.sh").read_text(encoding="utf-8")


def user_data(kiosk_id: str, *, files: list[KioskFile], ssh_keys: list[str], units: dict[str, str],
              python: str, requirement: str) -> str:
    """``#cloud-config`` for one kiosk. ``files`` go to the root file system, ``units`` (name ->
    text) to /etc/systemd/system; ``python`` and ``requirement`` are the wheelhouse's."""
    check_kiosk_id(kiosk_id)
    if not ssh_keys:
        raise FleetError("no ssh key: the technician would have no way into the kiosk (--ssh-key FILE)")
    write_files = [f.write_files_entry() for f in files]
    write_files += [{"path": str(UNIT_DIR / name), "content": text, "owner": "root:root",
                     "permissions": "0644"} for name, text in sorted(units.items())]
    write_files.append({"path": str(FIRSTBOOT), "content": firstboot_script(), "owner": "root:root",
                        "permissions": "0755"})
    config = {
        "hostname": kiosk_id,
        "timezone": TIMEZONE,
        "ntp": {"enabled": True, "ntp_client": "systemd-timesyncd", "pools": NTP_POOLS},
        "users": [
            {"name": KIOSK_USER, "gecos": "Check-in kiosk", "system": True, "primary_group": KIOSK_USER,
             "groups": KIOSK_GROUPS, "shell": "/usr/sbin/nologin", "lock_passwd": True,
             "homedir": "/var/lib/checkin-kiosk-screen", "no_create_home": True},
            {"name": TECH_USER, "gecos": "Kiosk technician", "groups": ["sudo", "adm", *KIOSK_GROUPS],
             "shell": "/bin/bash", "lock_passwd": True, "sudo": "ALL=(ALL) NOPASSWD:ALL",
             "ssh_authorized_keys": ssh_keys},
        ],
        "disable_root": True,
        "ssh_pwauth": False,
        # Raspberry Pi OS's key (as Raspberry Pi Imager writes it); firstboot.sh enables ssh too.
        "enable_ssh": True,
        "package_update": True,
        "packages": APT_PACKAGES,
        "write_files": write_files,
        "runcmd": [[str(FIRSTBOOT), python, requirement, str(BOOT), BUNDLE_DIR]],
    }
    return yamltext.dump(config, header=HEADER.format(kiosk=kiosk_id))
