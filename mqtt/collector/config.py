"""The collector's configuration: ``collector.toml``, validated strictly against this schema.

Every key has a default, so a test or a first try needs no file. Unknown keys and bad values are
errors that name the key (and its line), so a typo never silently falls back to a default.

>>> cfg = parse_config('[store]\\nurl = "sqlite:///tmp/central.db"\\n')
>>> cfg.store.retention_days
21
"""

from __future__ import annotations

import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

from ..plumbing.sms import BACKENDS as SMS_BACKENDS
from ..plumbing.sms import backend_options
from ..plumbing.tomlconfig import (
    DEFAULT_TIMEZONE,
    ConfigError,
    ReplaceKeys,
    in_range,
    key,
    matches,
    mqtt_url,
    one_of,
    parse_sections,
    read_text,
)
from ..plumbing.tomlconfig import timezone_name as _timezone

__all__ = ["Config", "ConfigError", "load_config", "parse_config"]

DEFAULT_CONFIG_PATH = Path("/etc/checkin-collector/collector.toml")
DEFAULT_STORE_URL = "sqlite:///var/lib/checkin-collector/central.db"
ENV_VAR = "COLLECTOR_CONFIG"


def _store_url(v):
    if v.startswith("sqlite:///") and len(v) > len("sqlite:///"):
        return None
    if re.fullmatch(r"postgres(ql)?://\S+", v):
        return None
    return 'must be "sqlite:///PATH" (e.g. "sqlite:///var/lib/checkin-collector/central.db") or "postgresql://…"'


_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"


@dataclass(frozen=True)
class MqttSection:
    url: str = key(mqtt_url, default="mqtt://127.0.0.1:1883")
    # Stable, so the broker keeps the collector's session (and queues events) while it restarts.
    client_id: str = key(matches(_NAME, "letters, digits, '_', '.', '-' (at most 63)"), default="collector-1")
    # "" = plain subscription; a name = $share/<name>/kiosks/+/events (several collectors).
    shared_group: str = key(matches(f"|{_NAME}", "empty or letters, digits, '_', '.', '-'"), default="")
    tls_ca: str | None = key(default=None)
    tls_cert: str | None = key(default=None)
    tls_key: str | None = key(default=None)
    session_expiry_s: int = key(in_range(0, 2**32 - 1), default=7 * 24 * 3600)
    keepalive_s: int = key(in_range(5, 3600), default=30)


@dataclass(frozen=True)
class StoreSection:
    url: str = key(_store_url, default=DEFAULT_STORE_URL)
    retention_days: int = key(in_range(1, 3650), default=21)
    #: One transaction holds at most batch_size messages: what queued while the last one was
    #: stored, topped up while a burst lasts, for at most batch_ms.
    batch_size: int = key(in_range(1, 10_000), default=500)
    batch_ms: int = key(in_range(1, 60_000), default=200)
    #: ``kiosk-collector run`` purges past the retention this often (0: only ``purge`` does it).
    purge_every_h: float = key(in_range(0, 24 * 7), default=6.0)


@dataclass(frozen=True)
class FleetSection:
    #: The fleet registry (kiosk id = venue id, kiosk-provision writes it beside collector.toml):
    #: events of kiosks not in it, or for another venue, are dead-lettered and not acked.
    #: "" = no registry: any kiosk, any venue (the loopback development setup).
    kiosks: str = key(default="")


@dataclass(frozen=True)
class CollectorSection:
    #: ``kiosk-collector run`` keeps its state here (connected, store up or down, messages held),
    #: for ``kiosk-collector fleet``; on a tmpfs (kiosk-provision writes
    #: "/run/checkin-collector/status.json", the unit's RuntimeDirectory), so it is written even
    #: when the store's disk is full. "" = none.
    status_file: str = key(default="")


def _loopback_listen(v):
    host, sep, port = v.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        return 'must be "HOST:PORT", e.g. "127.0.0.1:8090"'
    if host.strip("[]") not in ("127.0.0.1", "localhost", "::1"):
        return ("must be a loopback address (127.0.0.1, localhost, [::1]): the console speaks plain HTTP, "
                "so it is reached through an HTTPS proxy on the same server (docs/operator.md)")
    return None


@dataclass(frozen=True)
class ConsoleSection:
    #: Where ``kiosk-collector console`` listens: loopback only, behind the operator's HTTPS proxy.
    listen: str = key(_loopback_listen, default="127.0.0.1:8090")
    #: A console session ends after this long without a request, and this long after the login.
    idle_minutes: int = key(in_range(1, 24 * 60), default=15)
    max_hours: int = key(in_range(1, 24), default=8)


@dataclass(frozen=True)
class ReportSection:
    #: Days and hours of ``stats`` are counted in this zone.
    timezone: str = key(_timezone, default=DEFAULT_TIMEZONE)


@dataclass(frozen=True)
class SmsSection:
    """The centre's SMS relay, for kiosks without a modem (``[sms] kind = "centre"`` on the
    kiosk): how the collector texts their one-time codes. none: kiosks that ask are told so."""

    kind: str = key(one_of(*SMS_BACKENDS, "none"), default="none")
    #: file: the folder that receives the messages; gammu: the Gammu SMS daemon's config.
    path: str = key(default="")
    #: http: the gateway's URL (https://, or http:// to loopback), and a file whose first line is
    #: its bearer token ("" for none).
    url: str = key(default="")
    token_file: str = key(default="")

    def __post_init__(self):
        try:
            backend_options(self.kind, path=self.path, url=self.url, token_file=self.token_file)
        except ValueError as exc:
            raise ConfigError(f"[sms] {exc}") from None

    @property
    def options(self) -> dict:
        """The keyword arguments of :func:`mqtt.plumbing.sms.open_sms` for ``kind``."""
        return backend_options(self.kind, path=self.path, url=self.url, token_file=self.token_file)


@dataclass(frozen=True)
class Config(ReplaceKeys):
    mqtt: MqttSection = field(default_factory=MqttSection)
    store: StoreSection = field(default_factory=StoreSection)
    report: ReportSection = field(default_factory=ReportSection)
    fleet: FleetSection = field(default_factory=FleetSection)
    collector: CollectorSection = field(default_factory=CollectorSection)
    console: ConsoleSection = field(default_factory=ConsoleSection)
    sms: SmsSection = field(default_factory=SmsSection)
    #: Where the config came from (None: defaults only).
    source: Path | None = None


_SECTIONS = {name: hint for name, hint in typing.get_type_hints(Config).items() if name != "source"}


def default_config_path() -> Path | None:
    """$COLLECTOR_CONFIG, else /etc/checkin-collector/collector.toml if it exists, else None (defaults)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_config(path: Path | None) -> Config:
    """Read and validate ``path`` (None: defaults). Raises :class:`ConfigError`."""
    if path is None:
        return Config()
    return parse_config(read_text(path), Path(path))


def parse_config(text: str, path: Path | None = None) -> Config:
    where = str(path or "config")
    sections, _raw = parse_sections(text, path, _SECTIONS)
    cfg = Config(**sections, source=path)
    m = cfg.mqtt
    if (m.tls_cert is None) != (m.tls_key is None):
        key = "tls_key" if m.tls_key is None else "tls_cert"
        raise ConfigError(f"{where}: [mqtt] {key}: tls_cert and tls_key go together (set both or neither)")
    return cfg
