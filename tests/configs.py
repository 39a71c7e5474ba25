"""The tests' config files: one writer for a kiosk.toml and one for a collector.toml.

Each section is a keyword argument holding a dict of its keys; values are Python values (a str
or Path is a TOML string), so a test says what it sets and never spells TOML quoting itself.

>>> print(config_text(kiosk={"id": "k-01", "data_dir": Path("/tmp/k")}, rules={"cooldown_s": 1.0}), end="")
[kiosk]
id = "k-01"
data_dir = "/tmp/k"
[rules]
cooldown_s = 1.0
"""

from __future__ import annotations

import json
from pathlib import Path


def config_text(**sections: dict) -> str:
    """TOML for ``sections`` in the order given; a key set to None is left out (its default holds)."""
    lines = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_value(value)}" for key, value in keys.items() if value is not None]
    return "".join(line + "\n" for line in lines)


def write_kiosk_config(path: Path, **sections: dict) -> Path:
    """A kiosk.toml at ``path`` (``[kiosk]``, ``[camera]``, ``[rules]``, …: see docs/technician.md)."""
    path.write_text(config_text(**sections), encoding="utf-8")
    return path


def write_collector_config(path: Path, **sections: dict) -> Path:
    """A collector.toml at ``path`` (``[mqtt]``, ``[store]``, ``[collector]``, …: see docs/operator.md)."""
    path.write_text(config_text(**sections), encoding="utf-8")
    return path


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)     # a JSON string is a TOML basic string
    raise TypeError(f"no TOML for {value!r} in a test config")
