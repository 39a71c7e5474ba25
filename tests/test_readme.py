"""The README's commands, and those of the documents it links to, work as a new user types them
after the README's own install: the console scripts live in .venv/bin, so a block that calls one
bare first puts .venv/bin on PATH. The README itself keeps the two commands and the Try-it scenario."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The README and the documents beside the code that hold the commands moved out of it.
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
SCRIPTS = ("kiosk-provision", "kiosk-collector", "kiosk")
#: Blocks run on a kiosk or the central server, where the units' own install puts them on PATH.
ELSEWHERE = re.compile(r"/opt/checkin-kiosk|/etc/checkin-(kiosk|collector)|on the kiosk|centrally|systemctl")


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:sh|console)\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_laptop_blocks_put_the_venv_on_path_before_a_bare_command(document):
    offenders = []
    for block in shell_blocks(document.read_text(encoding="utf-8")):
        activated = False
        for line in block.splitlines():
            command = line.removeprefix("$ ").split("#", 1)[0].strip()
            if command.startswith((". .venv/bin/activate", "source .venv/bin/activate")):
                activated = True
            first = command.split(" ", 1)[0]
            if first in SCRIPTS and not activated and not ELSEWHERE.search(line):
                offenders.append(line)
    assert not offenders, "bare commands a new user's shell cannot find:\n" + "\n".join(offenders)


def test_the_readme_holds_the_two_commands_and_the_try_it_scenario():
    text = README.read_text(encoding="utf-8")
    assert "## The two commands" in text and "### Try it" in text
    [two_commands, *_] = shell_blocks(text)
    assert "provisioning/bootstrap.sh run" in two_commands and "provisioning/bootstrap.sh test" in two_commands
    try_it = text[text.index("### Try it"):]
    for step in (".venv/bin/kiosk samples ./samples", "cp samples/cccd-nguyen-thi-mau.png var/camera/",
                 "$ .venv/bin/kiosk visits", "$ .venv/bin/kiosk-collector trace cccd:079190000001",
                 "$ .venv/bin/kiosk decode samples/*.png", ".venv/bin/kiosk staff add Lan"):
        assert step in try_it, step
    assert len(text.splitlines()) <= 250, "the README is a front door: the rest goes in docs/"
