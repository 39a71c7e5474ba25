"""A small block-style YAML writer for the cloud-init files (no YAML library on the laptop).

Handles what ``provisioning.cloudinit`` builds: dicts, lists, strings, ints and bools. Every
string is written double-quoted (JSON's escapes are valid YAML double-quoted escapes), except a
multi-line text ending in a newline, which becomes a ``|`` literal block so that scripts and
unit files stay readable in ``user-data``.
"""

from __future__ import annotations

import json
import re

PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
#: Plain words YAML 1.1 reads as booleans or null: quoted when they are keys.
SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}

INDENT = "  "


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _key(key: str) -> str:
    return key if PLAIN_KEY.fullmatch(key) and key.lower() not in SPECIAL else _scalar(key)


def _literal(text: str) -> bool:
    return ("\n" in text.rstrip("\n") and text.endswith("\n") and not text.endswith("\n\n")
            and all(ch == "\n" or ch == "\t" or ch >= " " for ch in text)
            and not text[0].isspace())


def _lines(value, depth: int) -> list[str]:
    pad = INDENT * depth
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{_key(key)}:"
            out.extend(_item(head, item, depth))
    elif isinstance(value, list):
        for item in value:
            out.extend(_item(f"{pad}-", item, depth))
    else:
        out.append(pad + _scalar(value))
    return out


def _item(head: str, item, depth: int) -> list[str]:
    if isinstance(item, dict) and item and head.endswith("-"):
        first, *rest = _lines(item, depth + 1)   # "- key: value" with the other keys below it
        return [f"{head} {first.lstrip()}", *rest]
    if isinstance(item, (dict, list)) and item:
        return [head, *_lines(item, depth + 1)]
    if isinstance(item, dict):
        return [f"{head} {{}}"]
    if isinstance(item, list):
        return [f"{head} []"]
    if isinstance(item, str) and _literal(item):
        pad = INDENT * (depth + 1)
        return [f"{head} |", *(pad + line if line else "" for line in item.rstrip("\n").split("\n"))]
    return [f"{head} {_scalar(item)}"]


def dump(value: dict, header: str = "") -> str:
    """``value`` as a YAML document, after ``header`` (e.g. ``#cloud-config`` and comments)."""
    return header + "\n".join(_lines(value, 0)) + "\n"
