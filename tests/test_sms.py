"""Text messages (mqtt/plumbing/sms/): the contract's file SMS, and Gammu's own SMS daemon
(``gammu-smsd`` from Debian) against its dummy phone — a phone emulated in a folder — started
here on its own folders and stopped after."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqtt.plumbing.sms import MAX_TEXT, SmsError, open_sms
from waiting import wait_for

CODE_TEXT = "Mã xác nhận check-in: 482915. Đọc mã cho nhân viên; mã hết hạn sau 5 phút."


# -- the file SMS (the contract) -------------------------------------------------------------------

def test_each_message_is_one_file_number_first_owner_only(tmp_path):
    sms = open_sms("file", folder=tmp_path / "sms")
    tickets = [sms.send("0912345678", CODE_TEXT), sms.send("0387654321", "Mã: 000111")]
    files = sorted((tmp_path / "sms").glob("*.txt"))
    assert [f.name for f in files] == sorted(tickets)                    # names sort by time
    assert files[0].read_text(encoding="utf-8") == f"0912345678\n{CODE_TEXT}"
    assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in files)  # a phone number: personal
    assert [sms.state(t) for t in tickets] == ["sent", "sent"]
    assert not [p for p in (tmp_path / "sms").iterdir() if p.name.startswith(".")]     # no half message


@settings(max_examples=100, deadline=None)
@given(phone=st.from_regex(r"0[0-9]{9}", fullmatch=True),
       text=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
                    max_size=MAX_TEXT).filter(str.isprintable))
def test_any_valid_message_reads_back_from_its_file(tmp_path_factory, phone, text):
    folder = tmp_path_factory.mktemp("sms")
    sms = open_sms("file", folder=folder)
    ticket = sms.send(phone, text)
    number, _, body = (folder / ticket).read_text(encoding="utf-8").partition("\n")
    assert (number, body) == (phone, text)


@pytest.mark.parametrize("phone, text", [("912345678", "x"), ("+84912345678", "x"), ("0912345678", ""),
                                         ("0912345678", "x" * (MAX_TEXT + 1)), ("0912345678", "a\x00b")])
def test_a_malformed_message_is_refused_before_anything_is_written(tmp_path, phone, text):
    sms = open_sms("file", folder=tmp_path)
    with pytest.raises(ValueError):
        sms.send(phone, text)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_written_is_an_sms_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(SmsError, match="cannot write messages"):
        open_sms("file", folder=blocker / "sms").send("0912345678", CODE_TEXT)


def test_kinds():
    assert open_sms("none") is None
    with pytest.raises(ValueError, match="unknown sms kind"):
        open_sms("pigeon")


# -- Gammu's SMS daemon and its dummy phone ------------------------------------------------------

class GammuDaemon:
    """gammu-smsd with the files service, on a dummy phone in ``root/phone``."""

    def __init__(self, root: Path):
        self.root = root
        for name in ("phone", "inbox", "outbox", "sent", "error"):
            (root / name).mkdir(parents=True, exist_ok=True)
        self.config = root / "smsdrc"
        self.config.write_text(
            "[gammu]\nmodel = dummy\nconnection = none\n"
            f"device = {root / 'phone'}\n\n"
            "[smsd]\nservice = files\n"
            + "".join(f"{key} = {root / folder}/\n" for key, folder in (
                ("inboxpath", "inbox"), ("outboxpath", "outbox"), ("sentsmspath", "sent"), ("errorsmspath", "error")))
            + f"logfile = {root / 'smsd.log'}\ndebuglevel = 0\nloopsleep = 1\ncommtimeout = 1\nsendtimeout = 10\n"
            "receivefrequency = 3600\ncheckbattery = 0\nchecksignal = 0\ncheckSecurity = 0\nphoneid = kiosk\n",
            encoding="utf-8")
        self.proc: subprocess.Popen | None = None

    def start(self) -> GammuDaemon:
        self.proc = subprocess.Popen(["gammu-smsd", "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: "Starting phone communication" in self.log(), timeout=20, what="gammu-smsd to start")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def log(self) -> str:
        path = self.root / "smsd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def sent_text(self, ticket: str) -> str:
        """The text of a message in the daemon's sent folder, its parts joined (Gammu's backup
        format: a section a part, its text as UTF-16 hex in Text00, Text01, …)."""
        parts = configparser.ConfigParser(strict=False, interpolation=None)
        parts.read_string((self.root / "sent" / ticket).read_text(errors="replace"))
        return "".join(bytes.fromhex(parts[section][key]).decode("utf-16-be")
                       for section in sorted(parts.sections())
                       for key in sorted(k for k in parts[section] if k.startswith("text")))


@pytest.fixture
def gammu(tmp_path):
    if shutil.which("gammu-smsd") is None:
        pytest.fail("gammu-smsd is not installed: the test command installs it (apt-get install gammu-smsd)",
                    pytrace=False)
    daemon = GammuDaemon(tmp_path / "gammu")
    yield daemon
    daemon.stop()


def test_a_code_goes_through_the_real_daemon_to_the_dummy_phone(gammu):
    gammu.start()
    sms = open_sms("gammu", smsdrc=gammu.config)
    ticket = sms.send("0912345678", CODE_TEXT)
    wait_for(lambda: (gammu.root / "sent" / ticket).exists(), timeout=30, what="the daemon to send it")
    assert f"Transmitted {ticket} (total: 2) to 0912345678" in gammu.log()     # two Unicode parts
    assert gammu.sent_text(ticket) == CODE_TEXT                                # Vietnamese intact
    assert sms.state(ticket) == "sent"
    # once its fate is known, the message's file (number and code) is gone from the daemon's folders
    assert list((gammu.root / "sent").iterdir()) == [] and list((gammu.root / "outbox").iterdir()) == []
    assert sms.state(ticket) == "sent"
    assert "482915" not in gammu.log()                            # the daemon logs no text at level 0


def test_with_the_daemon_down_a_message_waits_queued_then_goes(gammu):
    sms = open_sms("gammu", smsdrc=gammu.config)
    ticket = sms.send("0912345678", CODE_TEXT)                    # handed over: the daemon is not running
    time.sleep(1.5)
    assert sms.state(ticket) == "queued"
    gammu.start()
    wait_for(lambda: sms.state(ticket) == "sent", timeout=30, what="the daemon to send it once started")


def test_the_daemons_error_folder_is_a_failure(gammu):
    sms = open_sms("gammu", smsdrc=gammu.config)
    ticket = sms.send("0912345678", CODE_TEXT)
    # the daemon moves a message it could not send to its error folder (as a modem without credit makes it)
    os.replace(gammu.root / "outbox" / ticket, gammu.root / "error" / ticket)
    assert sms.state(ticket) == "failed" and not (gammu.root / "error" / ticket).exists()


def test_a_missing_tool_or_a_config_without_folders_is_an_sms_error(gammu, tmp_path, monkeypatch):
    bad = tmp_path / "bad-smsdrc"
    bad.write_text("[smsd]\nservice = files\n")
    with pytest.raises(SmsError, match="outboxpath is not set"):
        open_sms("gammu", smsdrc=bad)
    with pytest.raises(SmsError, match="cannot read"):
        open_sms("gammu", smsdrc=tmp_path / "missing")
    sms = open_sms("gammu", smsdrc=gammu.config)
    monkeypatch.setenv("PATH", str(tmp_path))                     # no gammu-smsd-inject on the PATH
    with pytest.raises(SmsError, match="not installed"):
        sms.send("0912345678", CODE_TEXT)
