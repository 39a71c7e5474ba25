"""Mosquitto configuration templates for the central broker, and a small renderer.

Templates (plain text next to this file, ``{name}`` placeholders):

- ``mosquitto-production.conf``: the TLS listener with per-kiosk client certificates, the ACL
  and persistence (goes to /etc/mosquitto/conf.d/);
- ``acl``: kiosks are confined to ``kiosks/<CN>/``, collectors are listed by name;
- ``mosquitto-loopback.conf``: an anonymous loopback broker for the simulator.

>>> acl = render("acl", collector_blocks=collector_blocks(["collector-1"]))
>>> [line for line in acl.splitlines() if line.startswith(("user", "topic deny"))]
['user collector-1', 'topic deny kiosks/collector-1/#']

:func:`production_values` fills the production template; ``kiosk-provision init`` renders both files
into the fleet's ``broker/etc/mosquitto/`` (provisioning/fleet.py), laid out as they go on the server:

>>> conf = render("mosquitto-production.conf", **production_values(
...     cafile="/etc/mosquitto/certs/fleet-ca.pem", certfile="/etc/mosquitto/certs/server.pem",
...     keyfile="/etc/mosquitto/certs/server.key", acl_file="/etc/mosquitto/checkin-kiosk.acl"))
>>> [line for line in conf.splitlines() if line.startswith(("listener", "acl_file"))]
['listener 8883', 'acl_file /etc/mosquitto/checkin-kiosk.acl']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

TEMPLATES = ("mosquitto-production.conf", "acl", "mosquitto-loopback.conf")
HERE = Path(__file__).resolve().parent

#: A collector's certificate CN: "collector" or "collector-<something>". It can never be a kiosk
#: id, because provisioning refuses kiosk ids that start with "collector".
COLLECTOR_ID = re.compile(r"collector(-[a-z0-9][a-z0-9-]{0,52})?")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")  # a newline in a value would inject config lines

DEBIAN_PERSISTENCE_NOTE = ("# persistence_location: set once in /etc/mosquitto/mosquitto.conf (Debian); "
                           "2.0.11 refuses a second one")


def template_text(template_name: str) -> str:
    if template_name not in TEMPLATES:
        raise ValueError(f"unknown template {template_name!r}; one of {', '.join(TEMPLATES)}")
    return (HERE / template_name).read_text(encoding="utf-8")


def render(template_name: str, **values: object) -> str:
    """The template with every ``{name}`` replaced by ``str(values[name])``.

    A placeholder without a value raises KeyError; a value with a control character (newline)
    raises ValueError. Other braces are left as they are.
    """
    text = template_text(template_name)
    for key, value in values.items():
        if key != "collector_blocks" and _UNSAFE.search(str(value)):
            raise ValueError(f"{key} contains a control character")

    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in values:
            raise KeyError(f"template {template_name} needs a value for {{{name}}}")
        return str(values[name])

    return _PLACEHOLDER.sub(sub, text)


def collector_blocks(collectors: Iterable[str]) -> str:
    """One ACL ``user`` block per collector id (the collector certificate's CN)."""
    blocks = []
    seen = set()
    for cid in collectors:
        if not COLLECTOR_ID.fullmatch(cid):
            raise ValueError(f"collector id {cid!r} must be 'collector' or 'collector-<a-z0-9->'")
        if cid in seen:
            continue
        seen.add(cid)
        blocks.append(
            f"user {cid}\n"
            f"# never act as (or read as) a kiosk named {cid}; checked before every rule below\n"
            f"topic deny kiosks/{cid}/#\n"
            "topic read kiosks/+/events\n"
            "topic read kiosks/+/status\n"
            "topic read kiosks/+/health\n"
            "topic read kiosks/+/selftest\n"
            "topic read kiosks/+/sms/send\n"
            "topic write kiosks/+/acks\n"
            "topic write kiosks/+/cmd/#\n"
            "topic write kiosks/+/sms/state\n")
    if not blocks:
        raise ValueError("at least one collector id is needed")
    return "\n".join(blocks)


def production_values(*, cafile: str | Path, certfile: str | Path, keyfile: str | Path,
                      acl_file: str | Path, port: int = 8883, bind: str | None = None,
                      persistence_location: str | Path | None = None,
                      log_dest: str | None = "syslog", crlfile: str | Path | None = None) -> dict[str, str]:
    """The placeholder values of ``mosquitto-production.conf``.

    crlfile: the fleet CA's certificate revocation list (PEM); None: no revocation checks.
    bind: an address to listen on (default: all interfaces).
    persistence_location: None leaves it to the main mosquitto.conf (Debian sets
    /var/lib/mosquitto/ there, and 2.0.11 refuses a second value).
    log_dest: "syslog", "stderr", "file PATH"...; None leaves it to the main file.
    """
    if persistence_location is None:
        location_line = DEBIAN_PERSISTENCE_NOTE
    else:
        location_line = f"persistence_location {str(persistence_location).rstrip('/')}/"
    return {
        "port": str(int(port)),
        "bind": f" {bind}" if bind else "",
        "cafile": str(cafile), "certfile": str(certfile), "keyfile": str(keyfile),
        "acl_file": str(acl_file),
        "persistence_location_line": location_line,
        "log_dest_line": f"log_dest {log_dest}" if log_dest else "# log_dest: as in the main mosquitto.conf",
        "crlfile_line": f"crlfile {crlfile}" if crlfile else "# crlfile: none (no certificate is revoked)",
    }

