"""The documents keep up with the code (in the style of sqlite-utils' test_docs.py): every
subcommand the CLIs' parsers define is in its command table, every key the strict config schemas
accept is in its documented config block, and every relative link in README.md and docs/*.md
lands on a file and heading that exist. A new subcommand or key fails here until it is documented."""

from __future__ import annotations

import argparse
import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from kiosk import config as kiosk_config
from kiosk.cli import _parser as kiosk_parser
from mqtt.collector import config as collector_config
from mqtt.collector.cli import _parser as collector_parser
from provisioning.cli import build_parser as provision_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DOCUMENTS = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

#: Each CLI, its parser, and the one document that holds its command table.
CLIS = {"kiosk": (kiosk_parser, DOCS / "technician.md"),
        "kiosk-collector": (collector_parser, DOCS / "operator.md"),
        "kiosk-provision": (provision_parser, DOCS / "technician.md")}

#: Each config, its module (the schema it validates against), the document and the heading over
#: its documented block.
CONFIGS = {"kiosk.toml": (kiosk_config, DOCS / "technician.md", "Configuration: kiosk.toml"),
           "collector.toml": (collector_config, DOCS / "operator.md", "Configuration: collector.toml")}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# -- commands ---------------------------------------------------------------------------------

def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every leaf command under ``parser``: argparse subparsers, nested, and a positional with
    choices (``kiosk staff add|list|reset|remove``) as one more level."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += subcommands(sub, (*prefix, name)) or [(*prefix, name)]
        elif not action.option_strings and action.choices and len(prefix) > 1:
            found += [(*prefix, str(choice)) for choice in action.choices]
    return found


COMMANDS = [(prog, " ".join(path)) for prog, (build, _) in CLIS.items() for path in subcommands(build(), (prog,))]


def table_commands(text: str, prog: str) -> list[str]:
    """The commands in the first cells of ``text``'s table rows that are ``prog``'s."""
    cells = re.findall(r"^\| `([^`]+)`", text, flags=re.M)
    return [c for c in cells if c == prog or c.startswith(prog + " ")]


def test_every_cli_has_subcommands():
    # The walk itself must find what is known to be there, or the tests below check nothing.
    names = {command for _, command in COMMANDS}
    assert {"kiosk run", "kiosk staff add", "kiosk-collector trace", "kiosk-provision kiosk revoke",
            "kiosk-provision enrol-qr"} <= names


@pytest.mark.parametrize("prog, command", COMMANDS, ids=[c for _, c in COMMANDS])
def test_subcommand_is_in_its_command_table(prog, command):
    document = CLIS[prog][1]
    rows = table_commands(document.read_text(encoding="utf-8"), prog)
    assert any(row == command or row.startswith(command + " ") for row in rows), \
        f"`{command}` is not in the command table of {rel(document)}"


@pytest.mark.parametrize("prog", CLIS)
def test_command_table_lives_in_one_document(prog):
    holders = [rel(d) for d in DOCUMENTS if table_commands(d.read_text(encoding="utf-8"), prog)]
    assert holders == [rel(CLIS[prog][1])]


# -- config keys ------------------------------------------------------------------------------

def schema_keys(module) -> list[tuple[str, str]]:
    return [(section, f.name) for section, cls in module._SECTIONS.items() for f in dataclasses.fields(cls)]


KEYS = [(name, section, key) for name, (module, _, _) in CONFIGS.items() for section, key in schema_keys(module)]


def documented_block(document: Path, heading: str) -> str:
    """The ```toml block under ``## heading`` (before the next heading of that level)."""
    text = document.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    [block] = re.findall(r"```toml\n(.*?)```", text[start:end if end > 0 else None], flags=re.S)
    return block


def block_keys(block: str) -> set[tuple[str, str]]:
    """(section, key) of every ``key = `` line of the block, a commented-out one (``# key = ``,
    a key without a default value to show) included."""
    keys, section = set(), None
    for line in block.splitlines():
        if m := re.match(r"\[([a-z_]+)\]", line):
            section = m.group(1)
        elif m := re.match(r"(?:# )?([a-z_]+) = ", line):
            keys.add((section, m.group(1)))
    return keys


def test_every_config_has_keys():
    assert ("kiosk.toml", "kiosk", "token_key") in KEYS and ("collector.toml", "store", "url") in KEYS


@pytest.mark.parametrize("name, section, key", KEYS, ids=[f"{n}:[{s}] {k}" for n, s, k in KEYS])
def test_config_key_is_documented_in_its_section(name, section, key):
    _, document, heading = CONFIGS[name]
    assert (section, key) in block_keys(documented_block(document, heading)), \
        f"{rel(document)}, {heading}: [{section}] {key} = … is not documented"


@pytest.mark.parametrize("name", CONFIGS)
def test_documented_config_block_is_a_valid_config(name):
    module, document, heading = CONFIGS[name]
    block = documented_block(document, heading)
    tomllib.loads(block)
    module.parse_config(block)          # the code's own strict parser: no unknown key, no bad value


# -- links ------------------------------------------------------------------------------------

def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", t)]


LINKS = [(document, target) for document in DOCUMENTS for target in links(document)]


def test_the_documents_link_to_each_other():
    assert len(LINKS) > 20


@pytest.mark.parametrize("document, target", LINKS, ids=[f"{rel(d)}->{t}" for d, t in LINKS])
def test_relative_link_lands(document, target):
    file_part, _, anchor = target.partition("#")
    path = (document.parent / file_part).resolve() if file_part else document
    assert path.exists(), f"{rel(document)}: {target}: no such file"
    if anchor:
        assert path.suffix == ".md", f"{rel(document)}: {target}: an anchor into a file that is not markdown"
        assert anchor in anchors(path), f"{rel(document)}: {target}: no such heading in {rel(path)}"
