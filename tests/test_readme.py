"""The README's commands work as a new user types them after the README's own install: the
console scripts live in .venv/bin, so a block that calls one bare first puts .venv/bin on PATH."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
SCRIPTS = ("kiosk-provision", "kiosk-collector", "kiosk")
#: Blocks run on a kiosk or the central server, where the units' own install puts them on PATH.
ELSEWHERE = re.compile(r"/opt/checkin-kiosk|/etc/checkin-(kiosk|collector)|on the kiosk|centrally|systemctl")


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:sh|console)\n(.*?)```", text, flags=re.S)


def test_laptop_blocks_put_the_venv_on_path_before_a_bare_command():
    offenders = []
    for block in shell_blocks(README.read_text(encoding="utf-8")):
        activated = False
        for line in block.splitlines():
            command = line.removeprefix("$ ").split("#", 1)[0].strip()
            if command.startswith((". .venv/bin/activate", "source .venv/bin/activate")):
                activated = True
            first = command.split(" ", 1)[0]
            if first in SCRIPTS and not activated and not ELSEWHERE.search(line):
                offenders.append(line)
    assert not offenders, "bare commands a new user's shell cannot find:\n" + "\n".join(offenders)
