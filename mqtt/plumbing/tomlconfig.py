"""Strict TOML configs: sections are frozen dataclasses; unknown keys and bad values are errors.

Shared by the kiosk's ``kiosk.toml`` and the collector's ``collector.toml`` (it lives in ``mqtt``
because the collector is installed without the kiosk). Every error names the file, the line and
the key, and says what is allowed:

    kiosk.toml line 7: [camera] sorce: unknown key (known: source, width, …)

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Web:
...     listen: str = key(matches(r"\\S+:\\d+", "HOST:PORT"), default="127.0.0.1:8080")
>>> sections, raw = parse_sections('[web]\\nlisten = "0.0.0.0:80"', None, {"web": Web})
>>> sections["web"]
Web(listen='0.0.0.0:80')
>>> parse_sections('[web]\\nlisten = "80"', Path("kiosk.toml"), {"web": Web})
Traceback (most recent call last):
mqtt.plumbing.tomlconfig.ConfigError: kiosk.toml line 2: [web] listen = '80': must be HOST:PORT
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any, Self


class ConfigError(ValueError):
    """The config cannot be used; the message names the file, line and key, and what is allowed."""


# -- checks: each returns None when the value is fine, else what it must be ------------------

def one_of(*allowed) -> Callable:
    def check(v):
        if v not in allowed:
            return "must be one of " + ", ".join(f'"{a}"' for a in allowed)
    return check


def in_range(lo, hi) -> Callable:
    def check(v):
        if not lo <= v <= hi:
            return f"must be between {lo} and {hi}"
    return check


def matches(pattern: str, what: str) -> Callable:
    rx = re.compile(pattern)

    def check(v):
        if not rx.fullmatch(v):
            return f"must be {what}"
    return check


#: The venues' time zone unless a config says otherwise (kiosk, collector, logs).
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def timezone_name(v):
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return 'must be an IANA time zone such as "Asia/Ho_Chi_Minh"'


def mqtt_url(v):
    if not re.fullmatch(r"mqtts?://[^/\s:]+(:\d{1,5})?/?", v):
        return 'must be "mqtt://HOST:PORT" or "mqtts://HOST:PORT"'


class ReplaceKeys:
    """For a config dataclass of sections: ``config.replace("kiosk", data_dir="./var")``."""

    def replace(self, section: str, **changes) -> Self:
        # self is the dataclass this is mixed into (mypy cannot know that of a mixin).
        whole: Any = self
        return dataclasses.replace(whole, **{section: dataclasses.replace(getattr(self, section), **changes)})


def key(check=None, **kw):
    """A config key: a dataclass field with its check (called only on values the file sets)."""
    return field(metadata={"check": check}, **kw)


# -- reading ----------------------------------------------------------------------------------

def toml_string(value: str) -> str:
    """``value`` as a TOML basic string.

    >>> toml_string('Chợ "Thủ"')
    '"Chợ \\\\"Thủ\\\\""'
    """
    # A JSON string is a valid TOML basic string (\" \\ \n \uXXXX escapes).
    return json.dumps(value, ensure_ascii=False)


def read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from None


def load_toml(text: str, where: str) -> dict[str, Any]:
    """``text`` as TOML, or a :class:`ConfigError` that names ``where`` (nesting thousands deep,
    which makes tomllib recurse out of stack, included)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid TOML (nested too deep)") from None


def parse_sections(text: str, path: Path | None, schema: dict[str, type]) -> tuple[dict[str, Any], dict]:
    """Validate ``text`` against ``schema`` ({section name: dataclass}); returns the section
    objects the file sets, and the raw TOML (to tell which keys were given)."""
    where = str(path or "config")
    raw = load_toml(text, where)
    sections = {}
    for name, value in raw.items():
        if name not in schema and not isinstance(value, dict):
            raise ConfigError(f"{where}: unknown top-level key {name!r} (keys belong in a [section])")
        if name not in schema:
            raise ConfigError(f"{where}{_line(text, None, name)}: unknown section [{name}] "
                              f"(known: {', '.join(schema)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}{_line(text, None, name)}: {name} must be a [section]")
        sections[name] = _section(schema[name], name, value, text, where)
    return sections, raw


def _section(cls, name: str, values: dict, text: str, where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    out = {}
    for k, value in values.items():
        loc = f"{where}{_line(text, name, k)}: [{name}] {k}"
        if k not in fields:
            raise ConfigError(f"{loc}: unknown key (known: {', '.join(fields)})")
        value = _coerce(hints[k], value, loc)
        check = fields[k].metadata.get("check")
        problem = check(value) if check and value is not None else None
        if problem:
            raise ConfigError(f"{loc} = {value!r}: {problem}")
        out[k] = value
    return cls(**out)


def _coerce(hint, value: Any, loc: str):
    optional = False
    if isinstance(hint, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) > 1:   # e.g. ``str | list[str]``: the value must fit one of them
            return _coerce_either(args, value, loc)
        hint = args[0]
    if typing.get_origin(hint) is list:
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


def _coerce_either(hints: list, value: Any, loc: str):
    for hint in hints:
        try:
            return _coerce(hint, value, loc)
        except ConfigError:
            continue
    kinds = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    raise ConfigError(f"{loc}: must be " + " or ".join(
        "a list of strings" if typing.get_origin(h) is list else kinds[h] for h in hints))


def _line(text: str, section: str | None, name: str) -> str:
    """' line N' where ``name`` (a key in ``[section]``, or a section) is written, or ''."""
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        m = re.fullmatch(r"\[\s*([^\]\s]+)\s*\].*", stripped)
        if m:
            current = m.group(1)
            if section is None and current == name:
                return f" line {n}"
            continue
        if current == section and re.match(rf'["\']?{re.escape(name)}["\']?\s*=', stripped):
            return f" line {n}"
    return ""
