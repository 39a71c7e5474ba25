"""The kiosk's configuration: a TOML file validated strictly against this schema.

Every key has a default, so ``kiosk run --simulate`` needs no file. Unknown keys and bad values
are errors that name the key (and its line), so a typo never silently falls back to a default.

>>> cfg = load_config(None)                       # all defaults
>>> cfg = load_config(Path("/etc/checkin-kiosk/kiosk.toml"))
>>> cfg.kiosk.mode
'toggle'
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path("/etc/checkin-kiosk/kiosk.toml")
DEFAULT_DATA_DIR = "/var/lib/checkin-kiosk"
SIMULATION_DATA_DIR = "./var"


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


def _camera_source(v):
    if v != "picamera2" and not re.fullmatch(r"v4l2:\S+|dir:.+", v):
        return 'must be "picamera2", "v4l2:/dev/videoN" or "dir:PATH"'


def _symbologies(v):
    if not v or any(s not in ("qr_code", "code_128") for s in v) or len(set(v)) != len(v):
        return 'must be a non-empty list of "qr_code", "code_128"'


def _timezone(v):
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return 'must be an IANA time zone such as "Asia/Ho_Chi_Minh"'


def _gpio_pin(v):
    if v is not None and not 0 <= v <= 27:
        return "must be a BCM GPIO number 0-27"


def _kiosk_id(v):
    problem = _matches(r"[a-z0-9][a-z0-9-]{0,62}", "lower-case letters, digits and '-' (at most 63)")(v)
    if problem:
        return problem
    if v.startswith("collector"):
        # The broker's ACL treats certificate names starting with "collector" as collectors.
        return 'must not start with "collector"'


def _listen(v):
    if not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}", v) or not 0 < int(v.rsplit(":", 1)[1]) < 65536:
        return 'must be HOST:PORT, e.g. "127.0.0.1:8080"'


def _mqtt_url(v):
    if not re.fullmatch(r"mqtts?://[^/\s:]+(:\d{1,5})?/?", v):
        return 'must be "mqtt://HOST:PORT" or "mqtts://HOST:PORT"'


def _key(check=None, **kw):
    return field(metadata={"check": check}, **kw)


@dataclass(frozen=True)
class KioskSection:
    id: str = _key(_kiosk_id, default="sim-kiosk-01")
    venue_id: str = _key(_matches(r"[a-z0-9][a-z0-9-]{0,62}", "lower-case letters, digits and '-' (at most 63)"),
                         default="sim-venue")
    venue_name: str = _key(_matches(r"[^\x00-\x1f\x7f]{1,80}", "1-80 printable characters"),
                           default="Địa điểm mô phỏng")
    mode: str = _key(_one_of("entry", "exit", "toggle"), default="toggle")
    data_dir: str = _key(default=DEFAULT_DATA_DIR)
    language: str = _key(_one_of("vi", "en"), default="vi")
    timezone: str = _key(_timezone, default="Asia/Ho_Chi_Minh")
    #: Days a delivered event and its closed visit are kept on the kiosk.
    retention_days: float = _key(_range(1, 366), default=21.0)


@dataclass(frozen=True)
class CameraSection:
    source: str = _key(_camera_source, default="picamera2")
    width: int = _key(_range(160, 4096), default=640)
    height: int = _key(_range(120, 3072), default=480)
    fps: float = _key(_range(0, 120), default=15.0)
    lens_position: float | None = _key(_range(0.0, 32.0), default=None)
    autofocus: str = _key(_one_of("manual", "continuous"), default="manual")
    exposure_us: int | None = _key(_range(10, 1_000_000), default=None)
    analogue_gain: float | None = _key(_range(1.0, 64.0), default=None)
    presentation_s: float = _key(_range(0.01, 60.0), default=1.0)


@dataclass(frozen=True)
class DecoderSection:
    backend: str = _key(_one_of("zxing", "zbar"), default="zxing")
    symbologies: list[str] = _key(_symbologies, default_factory=lambda: ["qr_code", "code_128"])
    try_downscale: bool = _key(default=True)
    try_invert: bool = _key(default=False)


@dataclass(frozen=True)
class RulesSection:
    # At least 1 s: a code stays in view for many frames, and each must not toggle the visit.
    cooldown_s: float = _key(_range(1, 3600), default=10.0)
    max_stay_h: float = _key(_range(0.1, 24 * 7), default=12.0)
    closing_time: str = _key(_matches(r"|([01]\d|2[0-3]):[0-5]\d", '"HH:MM" or "" (no closing time)'), default="")
    capacity: int = _key(_range(0, 1_000_000), default=0)


@dataclass(frozen=True)
class GpioSection:
    green_led: int | None = _key(_gpio_pin, default=17)
    red_led: int | None = _key(_gpio_pin, default=27)
    buzzer: int | None = _key(_gpio_pin, default=22)
    relay: int | None = _key(_gpio_pin, default=None)
    relay_active_high: bool = _key(default=True)
    relay_pulse_s: float = _key(_range(0.1, 30.0), default=1.0)
    button: int | None = _key(_gpio_pin, default=None)


@dataclass(frozen=True)
class MqttSection:
    url: str = _key(_mqtt_url, default="mqtt://127.0.0.1:1883")
    tls_ca: str = _key(default="")         # PEM paths, for mqtts://
    tls_cert: str = _key(default="")
    tls_key: str = _key(default="")
    health_interval_s: float = _key(_range(5, 3600), default=60.0)
    resend_after_s: float = _key(_range(5, 86400), default=120.0)


@dataclass(frozen=True)
class PrinterSection:
    kind: str = _key(_one_of("usb", "serial", "network", "file", "none"), default="none")
    path: str = _key(default="")
    slips: str = _key(_one_of("always", "on_request", "never"), default="on_request")


@dataclass(frozen=True)
class WebSection:
    listen: str = _key(_listen, default="127.0.0.1:8080")


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection = field(default_factory=KioskSection)
    camera: CameraSection = field(default_factory=CameraSection)
    decoder: DecoderSection = field(default_factory=DecoderSection)
    rules: RulesSection = field(default_factory=RulesSection)
    gpio: GpioSection = field(default_factory=GpioSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    printer: PrinterSection = field(default_factory=PrinterSection)
    web: WebSection = field(default_factory=WebSection)
    #: Where the config came from (None: defaults only), and whether the file set data_dir.
    source: Path | None = None
    explicit_data_dir: bool = False

    @property
    def data_path(self) -> Path:
        return Path(self.kiosk.data_dir)

    def replace(self, section: str, **changes) -> "Config":
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})


_SECTIONS = {name: hint for name, hint in typing.get_type_hints(Config).items()
             if name not in ("source", "explicit_data_dir")}


def load_config(path: Path | None) -> Config:
    """Read and validate ``path`` (None: defaults). Raises :class:`ConfigError`."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path | None = None) -> Config:
    where = str(path or "config")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    sections = {}
    for name, value in raw.items():
        if name not in _SECTIONS and not isinstance(value, dict):
            raise ConfigError(f"{where}: unknown top-level key {name!r} (keys belong in a [section])")
        if name not in _SECTIONS:
            raise ConfigError(f"{where}{_line(text, None, name)}: unknown section [{name}] "
                              f"(known: {', '.join(_SECTIONS)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}{_line(text, None, name)}: {name} must be a [section]")
        sections[name] = _section(_SECTIONS[name], name, value, text, where)
    return Config(**sections, source=path, explicit_data_dir="data_dir" in raw.get("kiosk", {}))


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
    origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{loc}: must be a list of strings")
        return value
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
