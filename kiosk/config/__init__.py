r"""The kiosk's configuration: a TOML file validated strictly against this schema.

Every key has a default, so ``kiosk run --simulate`` needs no file. Unknown keys and bad values
are errors that name the key (and its line), so a typo never silently falls back to a default.

>>> load_config(None).kiosk.mode                  # all defaults
'toggle'
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:    # on a kiosk /etc/checkin-kiosk/kiosk.toml
...     path = Path(tmp, "kiosk.toml")
...     _ = path.write_text('[kiosk]\nid = "ninhthuan-cho-phanrang-01"\nmode = "entry"\n', encoding="utf-8")
...     cfg = load_config(path)
>>> cfg.kiosk.id, cfg.kiosk.mode, cfg.camera.source
('ninhthuan-cho-phanrang-01', 'entry', 'picamera2')
>>> parse_config('[kiosk]\nmdoe = "entry"\n')
Traceback (most recent call last):
...
mqtt.plumbing.tomlconfig.ConfigError: config line 2: [kiosk] mdoe: unknown key (known: id, venue_id, ...)
"""

from __future__ import annotations

import ipaddress
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

from mqtt.plumbing.sms import backend_options
from mqtt.plumbing.tomlconfig import (
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
from mqtt.plumbing.tomlconfig import timezone_name as _timezone
from mqtt.wire.ids import ID, ID_RULE

__all__ = ["Config", "ConfigError", "listen_addresses", "load_config", "parse_config"]

DEFAULT_CONFIG_PATH = Path("/etc/checkin-kiosk/kiosk.toml")
DEFAULT_DATA_DIR = "/var/lib/checkin-kiosk"
SIMULATION_DATA_DIR = "./var"
#: The id of a kiosk whose config names none (simulation, development).
DEFAULT_KIOSK_ID = "sim-kiosk-01"
#: The kiosk's SQLite store, in the data directory.
DB_NAME = "kiosk.db"


def _camera_source(v):
    if v != "picamera2" and not re.fullmatch(r"v4l2:\S+|dir:.+", v):
        return 'must be "picamera2", "v4l2:/dev/videoN" or "dir:PATH"'


def _symbologies(v):
    if not v or any(s not in ("qr_code", "code_128") for s in v) or len(set(v)) != len(v):
        return 'must be a non-empty list of "qr_code", "code_128"'


def _gpio_pin(v):
    if v is not None and not 0 <= v <= 27:
        return "must be a BCM GPIO number 0-27"


def _kiosk_id(v):
    problem = matches(ID.pattern, ID_RULE)(v)
    if problem:
        return problem
    if v.startswith("collector"):
        # The broker's ACL treats certificate names starting with "collector" as collectors.
        return 'must not start with "collector"'
    if v.endswith("-"):
        # The id is also the kiosk's hostname (a DNS label) and its MQTT client id.
        return 'must not end with "-" (it is also the hostname)'


#: ``[web] listen`` hosts that are not IP addresses: the loopback name, and the address of the
#: interface that carries the default route (the venue LAN), looked up when the server starts.
LISTEN_NAMES = ("localhost", "lan")


def _listen(v):
    entries = [v] if isinstance(v, str) else v
    if not entries:
        return 'must name at least one "HOST:PORT"'
    for entry in entries:
        if not _listen_entry(entry):
            return ('must be HOST:PORT or a list of them; HOST an IP address ("[::1]" for IPv6), "localhost" '
                    f'or "lan", PORT 0-65535, e.g. "127.0.0.1:8080" (not {entry!r})')
    if len(set(entries)) != len(entries):
        return "lists an address twice"


def _listen_entry(entry: str) -> bool:
    host, sep, port = entry.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or int(port) > 65535:
        return False
    if host in LISTEN_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
    except ValueError:
        return False
    return (address.version == 6) == host.startswith("[")


def listen_addresses(listen: str | list[str]) -> list[tuple[str, int]]:
    """``[web] listen`` (already checked) as (host, port) pairs; IPv6 hosts without brackets."""
    entries = [listen] if isinstance(listen, str) else listen
    return [(host.strip("[]"), int(port)) for host, _, port in (e.rpartition(":") for e in entries)]


@dataclass(frozen=True)
class KioskSection:
    id: str = key(_kiosk_id, default=DEFAULT_KIOSK_ID)
    venue_id: str = key(matches(ID.pattern, ID_RULE), default="sim-venue")
    venue_name: str = key(matches(r"[^\x00-\x1f\x7f]{1,80}", "1-80 printable characters"),
                           default="Địa điểm mô phỏng")
    mode: str = key(one_of("entry", "exit", "toggle"), default="toggle")
    data_dir: str = key(default=DEFAULT_DATA_DIR)
    language: str = key(one_of("vi", "en"), default="vi")
    timezone: str = key(_timezone, default=DEFAULT_TIMEZONE)
    #: Days a delivered event and its closed visit are kept on the kiosk.
    retention_days: float = key(in_range(1, 366), default=21.0)
    #: The venue's key for signing slips and cards (the same file on every kiosk of the venue,
    #: given at provisioning); "" = <data_dir>/venue-token.key. Simulation makes one.
    token_key: str = key(default="")


@dataclass(frozen=True)
class CameraSection:
    source: str = key(_camera_source, default="picamera2")
    width: int = key(in_range(160, 4096), default=640)
    height: int = key(in_range(120, 3072), default=480)
    fps: float = key(in_range(0, 120), default=15.0)
    lens_position: float | None = key(in_range(0.0, 32.0), default=None)
    autofocus: str = key(one_of("manual", "continuous"), default="manual")
    exposure_us: int | None = key(in_range(10, 1_000_000), default=None)
    analogue_gain: float | None = key(in_range(1.0, 64.0), default=None)
    presentation_s: float = key(in_range(0.01, 60.0), default=1.0)


@dataclass(frozen=True)
class DecoderSection:
    backend: str = key(one_of("zxing", "zbar"), default="zxing")
    symbologies: list[str] = key(_symbologies, default_factory=lambda: ["qr_code", "code_128"])
    try_downscale: bool = key(default=True)
    try_invert: bool = key(default=False)
    #: zxing: a frame where a code was found but not read may take this long in all, the second
    #: effort included (docs/benchmarks.md, "Hard frames": 10 ms here keeps a Pi 4 at 15 fps);
    #: 0 = the raw decoder alone.
    budget_ms: float = key(in_range(0, 60), default=10.0)


@dataclass(frozen=True)
class RulesSection:
    # At least 1 s: a code stays in view for many frames, and each must not toggle the visit.
    cooldown_s: float = key(in_range(1, 3600), default=10.0)
    max_stay_h: float = key(in_range(0.1, 24 * 7), default=12.0)
    closing_time: str = key(matches(r"|([01]\d|2[0-3]):[0-5]\d", '"HH:MM" or "" (no closing time)'), default="")
    capacity: int = key(in_range(0, 1_000_000), default=0)


@dataclass(frozen=True)
class StaffSection:
    #: People one phone number may stand for (a household without smartphones).
    max_per_phone: int = key(in_range(1, 20), default=5)
    #: Wrong PINs in a row before an account is locked, and for how long.
    max_failures: int = key(in_range(3, 20), default=5)
    lockout_min: float = key(in_range(1, 24 * 60), default=15.0)
    #: A staff session unused this long has ended.
    session_idle_min: float = key(in_range(5, 24 * 60), default=120.0)


@dataclass(frozen=True)
class DeclarationSection:
    """The health declaration (tờ khai y tế): staff ask it when they declare someone on their
    behalf; with ``required``, nobody is checked in without one made today, and the kiosk's screen
    asks its questions at the door."""

    required: bool = key(default=False)
    #: A "yes" to a question that flags: refuse (the screen sends them to the medical desk) or
    #: flag (admitted; the staff page shows them at once).
    on_yes: str = key(one_of("refuse", "flag"), default="refuse")
    #: The venue's question set (a TOML file of [[question]] tables); "" = the Ministry's.
    questions: str = key(default="")
    #: The screen goes back to waiting when a question is left this long without an answer.
    answer_s: int = key(in_range(5, 300), default=30)


@dataclass(frozen=True)
class GpioSection:
    green_led: int | None = key(_gpio_pin, default=17)
    red_led: int | None = key(_gpio_pin, default=27)
    buzzer: int | None = key(_gpio_pin, default=22)
    relay: int | None = key(_gpio_pin, default=None)
    relay_active_high: bool = key(default=True)
    relay_pulse_s: float = key(in_range(0.1, 30.0), default=1.0)
    button: int | None = key(_gpio_pin, default=None)


@dataclass(frozen=True)
class MqttSection:
    url: str = key(mqtt_url, default="mqtt://127.0.0.1:1883")
    tls_ca: str = key(default="")         # PEM paths, for mqtts://
    tls_cert: str = key(default="")
    tls_key: str = key(default="")
    health_interval_s: float = key(in_range(5, 3600), default=60.0)
    resend_after_s: float = key(in_range(5, 86400), default=120.0)


# -- [printer]: what the config may say; hardware.printers.open_printer takes what it means ----

#: How the printer is reached (``none``: no printer).
PRINTER_KINDS = ("usb", "serial", "network", "file", "none")
#: Dots per line: 58 mm paper (384) and 80 mm paper (576) at 203 dpi.
PRINTER_WIDTHS = (384, 576)
DEFAULT_NETWORK_PORT = 9100
DEFAULT_BAUD = 9600
BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)


def printer_target(kind: str, path: str) -> dict:
    """``[printer] path`` read for ``kind``: where the printer is, as the keyword arguments of
    :func:`hardware.printers.open_printer` for that kind (usb ``vendor``, ``product``, None for the
    first USB printer; serial ``device``, ``baud``; network ``host``, ``port``; file ``folder``;
    none: nothing). ValueError says what the path must be."""
    if kind == "none":
        return {}
    if kind == "usb":
        if path == "":
            return {"vendor": None, "product": None}
        m = re.fullmatch(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})", path)
        if not m:
            raise ValueError('for kind = "usb" must be "VID:PID" in hex (e.g. "04b8:0e15", see lsusb), '
                             'or "" for the first USB printer')
        return {"vendor": int(m.group(1), 16), "product": int(m.group(2), 16)}
    if kind == "serial":
        m = re.fullmatch(r"(/dev/[^\s:]+)(?::(\d+))?", path)
        if not m or (m.group(2) and int(m.group(2)) not in BAUD_RATES):
            raise ValueError('for kind = "serial" must be a device such as "/dev/ttyUSB0", optionally with '
                             f'":BAUD" ({", ".join(map(str, BAUD_RATES))})')
        return {"device": m.group(1), "baud": int(m.group(2) or DEFAULT_BAUD)}
    if kind == "network":
        m = re.fullmatch(r"([A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))(?::(\d{1,5}))?", path)
        if not m or not 0 < int(m.group(2) or DEFAULT_NETWORK_PORT) < 65536:
            raise ValueError('for kind = "network" must be "HOST" or "HOST:PORT" (an IPv4 address or a host '
                             f'name; port {DEFAULT_NETWORK_PORT} unless given)')
        return {"host": m.group(1), "port": int(m.group(2) or DEFAULT_NETWORK_PORT)}
    if kind == "file":
        if not path.strip() or re.search(r"[\x00-\x1f\x7f]", path):
            raise ValueError('for kind = "file" must name the folder that receives the print jobs')
        return {"folder": path}
    raise ValueError(f"printer kind must be one of {PRINTER_KINDS}, got {kind!r}")


@dataclass(frozen=True)
class PrinterSection:
    kind: str = key(one_of(*PRINTER_KINDS), default="none")
    #: usb "VID:PID" (or "" for the first USB printer), serial "/dev/ttyUSB0[:BAUD]", network
    #: "HOST[:PORT]", file: the folder that receives the jobs. Checked against kind below.
    path: str = key(default="")
    slips: str = key(one_of("always", "on_request", "never"), default="on_request")
    #: Dots per line: 576 for 80 mm paper, 384 for 58 mm.
    width: int = key(lambda v: None if v in PRINTER_WIDTHS else "must be 384 (58 mm paper) or 576 (80 mm paper)",
                     default=576)
    #: A python-escpos printer profile (e.g. "TM-T20II"); none: python-escpos's default. Whether
    #: python-escpos knows it, and it prints ``width``, is the kiosk's check where it reads its
    #: config (:func:`kiosk.printing.check_profile`): the printer database is python-escpos's.
    profile: str | None = key(default=None)

    def __post_init__(self):
        # path means something only with kind: checked once both are known.
        try:
            printer_target(self.kind, self.path)
        except ValueError as exc:
            raise ConfigError(f"[printer] path = {self.path!r}: {exc}") from None

    @property
    def target(self) -> dict:
        """Where the printer is: :func:`printer_target` of kind and path."""
        return printer_target(self.kind, self.path)


#: centre: texts go through the centre's relay (the uplink's broker; no modem at the venue).
SMS_KINDS = ("file", "gammu", "centre", "none")
CENTRE_SMS = "centre"


@dataclass(frozen=True)
class SmsSection:
    """Text messages to a citizen's phone (the one-time code of a staff phone check-in)."""

    kind: str = key(one_of(*SMS_KINDS), default="none")
    #: file: the folder that receives the messages; gammu: the Gammu SMS daemon's config.
    path: str = key(default="")

    def __post_init__(self):
        if self.kind == CENTRE_SMS:
            if self.path:
                raise ConfigError('[sms] path: kind = "centre" takes no path (the centre has the modem)')
            return
        try:
            backend_options(self.kind, path=self.path)
        except ValueError as exc:
            raise ConfigError(f"[sms] {exc}") from None

    @property
    def target(self) -> dict:
        """The keyword arguments of :func:`mqtt.plumbing.sms.open_sms` (none for the centre's relay)."""
        return {} if self.kind == CENTRE_SMS else backend_options(self.kind, path=self.path)


def _loopback_listen(v):
    problem = _listen(v)
    if problem:
        return problem
    for (host, _), entry in zip(listen_addresses(v), [v] if isinstance(v, str) else v, strict=True):
        if host != "localhost" and (host == "lan" or not ipaddress.ip_address(host).is_loopback):
            # Staff type PINs, names, phone and ID numbers on these pages: never in clear on the LAN.
            return (f"{entry!r} is not a loopback address: plain HTTP is only for the kiosk's own screen; "
                    'serve the LAN over HTTPS with [web] tls_listen (e.g. "lan:8443"), tls_cert and tls_key')


def _tls_listen(v):
    if v == []:
        return None
    return _listen(v)


@dataclass(frozen=True)
class WebSection:
    #: Where the screen (and staff) pages are served over plain HTTP: loopback only (the kiosk's own
    #: Chromium). "HOST:PORT" or a list of them.
    listen: str | list[str] = key(_loopback_listen, default="127.0.0.1:8080")
    #: Where the pages are served over HTTPS (staff phones on the venue LAN): "lan:8443", a list, or
    #: [] (none, the default without a certificate). Needs tls_cert and tls_key.
    tls_listen: str | list[str] = key(_tls_listen, default_factory=list)
    #: The kiosk's web certificate (PEM, issued by the fleet CA for <id>.local) and its private key.
    tls_cert: str = key(default="")
    tls_key: str = key(default="")
    #: The visitor screen is for the kiosk's own display: other machines get it only when this is true.
    screen_from_lan: bool = key(default=False)

    def __post_init__(self):
        if self.tls_listen and not (self.tls_cert and self.tls_key):
            raise ConfigError("[web] tls_listen: needs tls_cert and tls_key (the kiosk's web certificate "
                              "from kiosk-provision, e.g. /etc/checkin-kiosk/web.pem and web.key)")


@dataclass(frozen=True)
class Config(ReplaceKeys):
    kiosk: KioskSection = field(default_factory=KioskSection)
    camera: CameraSection = field(default_factory=CameraSection)
    decoder: DecoderSection = field(default_factory=DecoderSection)
    rules: RulesSection = field(default_factory=RulesSection)
    staff: StaffSection = field(default_factory=StaffSection)
    gpio: GpioSection = field(default_factory=GpioSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    printer: PrinterSection = field(default_factory=PrinterSection)
    sms: SmsSection = field(default_factory=SmsSection)
    declaration: DeclarationSection = field(default_factory=DeclarationSection)
    web: WebSection = field(default_factory=WebSection)
    #: Where the config came from (None: defaults only), and whether the file set data_dir.
    source: Path | None = None
    explicit_data_dir: bool = False

    @property
    def data_path(self) -> Path:
        return Path(self.kiosk.data_dir)

    @property
    def db_path(self) -> Path:
        return self.data_path / DB_NAME


_SECTIONS = {name: hint for name, hint in typing.get_type_hints(Config).items()
             if name not in ("source", "explicit_data_dir")}


def load_config(path: Path | None) -> Config:
    """Read and validate ``path`` (None: defaults). Raises :class:`ConfigError`."""
    if path is None:
        return Config()
    return parse_config(read_text(path), path)


def parse_config(text: str, path: Path | None = None) -> Config:
    sections, raw = parse_sections(text, path, _SECTIONS)
    return Config(**sections, source=path, explicit_data_dir="data_dir" in raw.get("kiosk", {}))


def simulation_config(config: Config) -> Config:
    """The config for a simulated kiosk: data under ./var (unless the file chose a data_dir),
    the image-folder camera (unless the file chose one), mock GPIO, the file printer (unless the
    file chose a printer). A provisioned kiosk.toml names the production data dir: a simulation on
    a laptop never writes there."""
    if not config.explicit_data_dir or config.kiosk.data_dir == DEFAULT_DATA_DIR:
        config = config.replace("kiosk", data_dir=SIMULATION_DATA_DIR)
    if not config.camera.source.startswith("dir:"):
        config = config.replace("camera", source=f"dir:{Path(config.kiosk.data_dir) / 'camera'}")
    if config.printer.kind == "none":
        # The contract's file printer: every check-in's slip lands in ./var/printer as ESC/POS + PNG.
        config = config.replace("printer", kind="file", path=str(Path(config.kiosk.data_dir) / "printer"),
                                slips="always")
    return config
