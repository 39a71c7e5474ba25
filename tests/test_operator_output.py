"""What reaches an operator's terminal (issue 10, item 25): text from outside is shown escaped in
every human output of ``kiosk-collector`` and ``kiosk``; ``visits`` ends its table with its count."""

from __future__ import annotations

import json
import unicodedata
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.cli import main as kiosk_main
from mqtt.collector.cli import main as collector_main
from mqtt.collector.store import DeadLetter, open_store
from mqtt.plumbing.terminal import for_terminal
from mqtt.wire.event import validate_event
from mqtt.wire.fields import InvalidEvent
from mqtt.wire.topics import events_topic
from test_collector_queries import cli_config  # noqa: F401 - the fixture: a central store with visits
from test_contract import BASE

ESC_TITLE = "\x1b]0;pwned\x07"       # retitles the terminal window
CLEAR = "\x1b[2J\x1b[H"              # clears the screen
FORGED_ROW = "\n99 2026-01-01 00:00 kiosk-z ok"
SHOWN_ESCAPED = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}


def raw_controls(text: str) -> list[str]:
    return [ch for ch in text if ch != "\n" and unicodedata.category(ch) in SHOWN_ESCAPED]


def refused(payload: bytes) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as err:
        validate_event(payload, topic_kiosk_id="k-001")
    return err.value


def test_dead_letters_show_an_events_unknown_key_escaped(cli_config, capsys):
    key = ESC_TITLE + CLEAR + "\u202eevil" + FORGED_ROW
    payload = json.dumps({**BASE, "event_id": str(uuid.uuid4()), key: 1}).encode()
    err = refused(payload)
    assert err.reason == "schema" and ESC_TITLE in err.detail          # the detail quotes the key
    url = cli_config.read_text().split('"')[1]
    with open_store(url) as store:
        store.add_dead_letters([DeadLetter(events_topic("k-001"), "k-001", err.reason, err.detail, payload,
                                           datetime.now(UTC))])
    assert collector_main(["dead-letters", "--config", str(cli_config)]) == 0
    out = capsys.readouterr().out
    assert raw_controls(out) == [] and out.count("\n") == 1             # one dead letter, one line
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[H\\u202eevil\\x0a99" in out
    # The JSON output is the JSON encoder's: the key comes back exactly.
    assert collector_main(["dead-letters", "--json", "--config", str(cli_config)]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert ESC_TITLE in row["detail"]


def test_visits_end_their_table_with_the_count_on_stdout(cli_config, capsys):
    assert collector_main(["visits", "--config", str(cli_config)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[-1] == f"{len(lines) - 1} visit(s)" and len(lines) > 1
    assert captured.out.endswith(" visit(s)\n") and captured.err == ""


def test_kiosk_decode_shows_a_file_name_escaped(tmp_path, capsys):
    name = tmp_path / f"{CLEAR}{ESC_TITLE}.png"
    assert kiosk_main(["decode", str(name)]) == 1
    out = capsys.readouterr().out
    assert raw_controls(out) == [] and "\\x1b[2J\\x1b[H\\x1b]0;pwned\\x07.png: file not found" in out


def test_kiosk_errors_are_escaped_too(tmp_path, capsys):
    bad = tmp_path / "kiosk.toml"
    bad.write_text('[kiosk]\nvenue_name = "Chợ"\n"\\u001b]0;pwned\\u0007" = 1\n')    # TOML escapes: a key with ESC
    assert kiosk_main(["visits", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert raw_controls(err) == [] and "\\x1b]0;pwned\\x07" in err


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_for_terminal_leaves_no_control_character_and_keeps_printable_text(text):
    shown = for_terminal(text)
    assert [ch for ch in shown if unicodedata.category(ch) in SHOWN_ESCAPED] == []
    shown.encode("utf-8")                                              # no lone surrogate left to crash on
    if text.isprintable():
        assert shown == text
    assert for_terminal(shown) == shown
