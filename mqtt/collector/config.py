"""The collector's configuration: ``collector.toml``, validated strictly against this schema.

Every key has a default, so a test or a first try needs no file. Unknown keys and bad values are
errors that name the key (and its line), so a typo never silently falls back to a default.

>>> cfg = parse_config('[store]\\nurl = "sqlite:///tmp/central.db"\\n')
>>> cfg.store.retention_days
21
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path("/etc/checkin-collector/collector.toml")
DEFAULT_STORE_URL = "sqlite:///var/lib/checkin-collector/central.db"
ENV_VAR = "COLLECTOR_CONFIG"


class ConfigError(ValueError):
    """The config cannot be used; the message names the file, line and key, and what is allowed."""


def _one_of(*allowed):
    def check(v):
        if v not in allowed:
            return "must be one of " + ", ".join(f'"{a}"' for a in allowed)
    return check


def _range(lo, hi):
    def check(v):
        if not lo <= v <= hi:
            return f"must be between {lo} and {hi}"
    return check


def _matches(pattern, what):
    rx = re.compile(pattern)

    def check(v):
        if not rx.fullmatch(v):
            return f"must be {what}"
    return check


def _mqtt_url(v):
    if not re.fullmatch(r"mqtts?://[^/\s:]+(:\d{1,5})?/?", v):
        return 'must be "mqtt://HOST:PORT" or "mqtts://HOST:PORT"'


def _store_url(v):
    if v.startswith("sqlite:///") and len(v) > len("sqlite:///"):
        return None
    if re.fullmatch(r"postgres(ql)?://\S+", v):
        return None
    return 'must be "sqlite:///PATH" (e.g. "sqlite:///var/lib/checkin-collector/central.db") or "postgresql://…"'


def _timezone(v):
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return 'must be an IANA time zone such as "Asia/Ho_Chi_Minh"'


def _key(check=None, **kw):
    return field(metadata={"check": check}, **kw)


_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"


@dataclass(frozen=True)
class MqttSection:
    url: str = _key(_mqtt_url, default="mqtt://127.0.0.1:1883")
    # Stable, so the broker keeps the collector's session (and queues events) while it restarts.
    client_id: str = _key(_matches(_NAME, "letters, digits, '_', '.', '-' (at most 63)"), default="collector-1")
    # "" = plain subscription; a name = $share/<name>/kiosks/+/events (several collectors).
    shared_group: str = _key(_matches(f"|{_NAME}", "empty or letters, digits, '_', '.', '-'"), default="")
    tls_ca: str | None = _key(default=None)
    tls_cert: str | None = _key(default=None)
    tls_key: str | None = _key(default=None)
    session_expiry_s: int = _key(_range(0, 2**32 - 1), default=7 * 24 * 3600)
    keepalive_s: int = _key(_range(5, 3600), default=30)


@dataclass(frozen=True)
class StoreSection:
    url: str = _key(_store_url, default=DEFAULT_STORE_URL)
    retention_days: int = _key(_range(1, 3650), default=21)
    batch_size: int = _key(_range(1, 10_000), default=200)
    batch_ms: int = _key(_range(1, 60_000), default=200)
    #: ``kiosk-collector run`` purges past the retention this often (0: only ``purge`` does it).
    purge_every_h: float = _key(_range(0, 24 * 7), default=6.0)


@dataclass(frozen=True)
class ReportSection:
    #: Days and hours of ``stats`` are counted in this zone.
    timezone: str = _key(_timezone, default="Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class Config:
    mqtt: MqttSection = field(default_factory=MqttSection)
    store: StoreSection = field(default_factory=StoreSection)
    report: ReportSection = field(default_factory=ReportSection)
    #: Where the config came from (None: defaults only).
    source: Path | None = None

    def replace(self, section: str, **changes) -> "Config":
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})


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
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from None
    return parse_config(text, Path(path))


def parse_config(text: str, path: Path | None = None) -> Config:
    where = str(path or "config")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    sections = {}
    for name, value in raw.items():
        if name not in _SECTIONS and not isinstance(value, dict):
            raise ConfigError(f"{where}{_line(text, None, name)}: unknown top-level key {name!r} "
                              "(keys belong in a [section])")
        if name not in _SECTIONS:
            raise ConfigError(f"{where}{_line(text, None, name)}: unknown section [{name}] "
                              f"(known: {', '.join(_SECTIONS)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}{_line(text, None, name)}: {name} must be a [section]")
        sections[name] = _section(_SECTIONS[name], name, value, text, where)
    cfg = Config(**sections, source=path)
    m = cfg.mqtt
    if (m.tls_cert is None) != (m.tls_key is None):
        key = "tls_key" if m.tls_key is None else "tls_cert"
        raise ConfigError(f"{where}: [mqtt] {key}: tls_cert and tls_key go together (set both or neither)")
    return cfg


def _section(cls, name: str, values: dict, text: str, where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    out = {}
    for key, value in values.items():
        loc = f"{where}{_line(text, name, key)}: [{name}] {key}"
        if key not in fields:
            raise ConfigError(f"{loc}: unknown key (known: {', '.join(fields)})")
        value = _coerce(hints[key], value, loc)
        check = fields[key].metadata.get("check")
        problem = check(value) if check and value is not None else None
        if problem:
            raise ConfigError(f"{loc} = {value!r}: {problem}")
        out[key] = value
    return cls(**out)


def _coerce(hint, value: Any, loc: str):
    optional = False
    if isinstance(hint, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = True, args[0]
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        kind = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}[hint]
        raise ConfigError(f"{loc}: must be {kind}" + (" (or leave the key out)" if optional else ""))
    return value


def _line(text: str, section: str | None, key: str) -> str:
    """' line N' where ``key`` (in ``[section]``) is written, or '' if it cannot be found."""
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        m = re.fullmatch(r"\[\s*([^\]\s]+)\s*\].*", stripped)
        if m:
            current = m.group(1)
            if section is None and current == key:
                return f" line {n}"
            continue
        if current == section and re.match(rf'["\']?{re.escape(key)}["\']?\s*=', stripped):
            return f" line {n}"
    return ""
