"""Mosquitto configuration templates for the central broker, and a small renderer.

Templates (plain text next to this file, ``{name}`` placeholders):

- ``mosquitto-production.conf``: the TLS listener with per-kiosk client certificates, the ACL
  and persistence (goes to /etc/mosquitto/conf.d/);
- ``acl``: kiosks are confined to ``kiosks/<CN>/``, collectors are listed by name;
- ``mosquitto-loopback.conf``: an anonymous loopback broker for the simulator.

>>> acl = render("acl", collector_blocks=collector_blocks(["collector-1"]))
>>> [line for line in acl.splitlines() if line.startswith(("user", "topic deny"))]
['user collector-1', 'topic deny kiosks/collector-1/#']

:func:`write_broker_config` renders and writes both files (on a server ``dest_dir`` is
/etc/mosquitto/conf.d and ``acl_path`` /etc/mosquitto/checkin-kiosk.acl):

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as conf_d:
...     files = write_broker_config(conf_d, cafile="/etc/mosquitto/ca.crt", certfile="/etc/mosquitto/broker.crt",
...                                 keyfile="/etc/mosquitto/broker.key", collectors=["collector-1"])
...     sorted(path.name for path in files.values())
['checkin-kiosk.acl', 'checkin-kiosk.conf']
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
            "topic write kiosks/+/acks\n"
            "topic write kiosks/+/cmd/#\n")
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


def write_broker_config(dest_dir: str | Path, *, kind: str = "production",
                        collectors: Iterable[str] = ("collector-1",),
                        cafile: str | Path | None = None, certfile: str | Path | None = None,
                        keyfile: str | Path | None = None, acl_path: str | Path | None = None,
                        port: int | None = None, bind: str | None = None,
                        persistence_location: str | Path | None = None,
                        log_dest: str | None = "syslog", conf_name: str | None = None,
                        crlfile: str | Path | None = None) -> dict[str, Path]:
    """Render and write a broker configuration; returns ``{"conf": path, "acl": path}``.

    kind="production": ``dest_dir/checkin-kiosk.conf`` and the ACL at ``acl_path`` (default
    ``dest_dir/checkin-kiosk.acl``; on a server use /etc/mosquitto/checkin-kiosk.acl, outside
    conf.d). cafile/certfile/keyfile are required.
    kind="loopback": ``dest_dir/mosquitto.conf`` (port default 1883, persistence in
    ``persistence_location`` or ``dest_dir``); no ACL.
    """
    dest = Path(dest_dir)
    # everything is rendered (and checked) before anything is created or written
    if kind == "loopback":
        location = Path(persistence_location) if persistence_location is not None else dest
        files = {"conf": (dest / (conf_name or "mosquitto.conf"),
                          render("mosquitto-loopback.conf", port=int(port or 1883),
                                 persistence_location=f"{str(location).rstrip('/')}/"))}
    elif kind == "production":
        if not (cafile and certfile and keyfile):
            raise ValueError("a production broker needs cafile, certfile and keyfile")
        acl = Path(acl_path) if acl_path is not None else dest / "checkin-kiosk.acl"
        files = {
            "conf": (dest / (conf_name or "checkin-kiosk.conf"),
                     render("mosquitto-production.conf", **production_values(
                         cafile=cafile, certfile=certfile, keyfile=keyfile, acl_file=acl, port=port or 8883,
                         bind=bind, persistence_location=persistence_location, log_dest=log_dest,
                         crlfile=crlfile))),
            "acl": (acl, render("acl", collector_blocks=collector_blocks(collectors))),
        }
    else:
        raise ValueError("kind must be 'production' or 'loopback'")
    for path, text in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return {name: path for name, (path, _) in files.items()}
