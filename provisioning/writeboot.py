"""``kiosk-provision write-boot``: a provisioned kiosk (``kiosk new``) onto a flashed card's boot
partition as a cloud-init seed, with the wheelhouse (``bundle``) beside it."""

from __future__ import annotations

import getpass
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kiosk.enrolment.bundle import FILES

from . import bundle as wheelhouse
from .cloudinit import (
    BUNDLE_DIR,
    KioskFile,
    Wifi,
    check_network,
    check_wifi,
    meta_data,
    network_config,
    new_instance_id,
    parse_ssh_keys,
    user_data,
)
from .fleet import UNIT_SOURCE, Fleet, FleetError

#: Every kiosk gets the enrolment unit too: it runs only while there is no kiosk.toml.
UNITS = ("checkin-kiosk.service", "checkin-kiosk-screen.service", "checkin-kiosk-enrol.service")
PASSWORD_ENV = "KIOSK_WIFI_PASSWORD"


@dataclass
class Written:
    media: str
    files: dict[str, int]        # name on the boot partition -> bytes
    wheels: int
    wheel_bytes: int
    instance_id: str
    seconds: float


def kiosk_files(fleet: Fleet, kiosk_id: str) -> list[KioskFile]:
    """The provisioned kiosk's files for cloud-init, owners and modes as QR enrolment installs them."""
    data = fleet.kiosk_files(kiosk_id)
    return [KioskFile(spec.path, data[spec.name], spec.owner, spec.mode, gzip=spec.name.endswith(".db"))
            for spec in FILES]


def unenrolled_hostname() -> str:
    """A card without identity: a hostname of its own until enrolment (several may share a LAN)."""
    return f"kiosk-unenrolled-{secrets.token_hex(3)}"


def ssh_keys(paths: list[str]) -> list[str]:
    if not paths:
        raise FleetError("no --ssh-key: the technician would have no way into the kiosk "
                         "(give a public key file, e.g. --ssh-key ~/.ssh/id_ed25519.pub)")
    keys: list[str] = []
    for p in paths:
        try:
            text = Path(p).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FleetError(f"--ssh-key {p}: cannot read it ({exc.__class__.__name__})") from None
        keys += [k for k in parse_ssh_keys(text, p) if k not in keys]
    return keys


def wifi(ssid: str | None, country: str | None, *, environ: Mapping[str, str] = os.environ,
         ask: Callable[[str], str] = getpass.getpass) -> Wifi | None:
    """The Wi-Fi network, its password from $KIOSK_WIFI_PASSWORD or asked (never the command line)."""
    if ssid is None:
        if country is not None:
            raise FleetError("--wifi-country needs --wifi-ssid")
        return None
    check_network(ssid, country or "VN")
    password = environ.get(PASSWORD_ENV)
    if password is None:
        if not sys.stdin.isatty():
            raise FleetError(f"the Wi-Fi password: set ${PASSWORD_ENV} or run in a terminal to be asked")
        password = ask(f"Wi-Fi password for {ssid!r}: ")
    return check_wifi(ssid, password, country or "VN")


def units() -> dict[str, str]:
    found = {}
    for name in UNITS:
        path = UNIT_SOURCE / name
        if not path.is_file():
            raise FleetError(f"{path}: missing; write-boot runs from a checkin-kiosk checkout")
        found[name] = path.read_text(encoding="utf-8")
    return found


def write_boot(media, kiosk_id: str, *, files: list[KioskFile], keys: list[str], network: Wifi | None,
               wheels: wheelhouse.Bundle) -> Written:
    """Renders the seed and writes it, with the wheelhouse, onto ``media`` (bootmedia)."""
    started = time.monotonic()
    instance_id = new_instance_id(kiosk_id)
    seed = {
        "user-data": user_data(kiosk_id, files=files, ssh_keys=keys, units=units(),
                               python=wheels.python, requirement=wheels.requirement).encode("utf-8"),
        "network-config": network_config(network).encode("utf-8"),
        # last: a new instance-id is what makes first boot run, so it goes with a complete seed
        "meta-data": meta_data(kiosk_id, instance_id).encode("utf-8"),
    }
    # The wheelhouse first: a card whose copy fails keeps its previous seed, not a seed without wheels.
    media.replace_dir(BUNDLE_DIR, wheels.root)
    for name, data in seed.items():
        media.write_file(name, data)
    return Written(media.describe(), {n: len(d) for n, d in seed.items()}, len(wheels.files),
                   wheels.size, instance_id, time.monotonic() - started)
