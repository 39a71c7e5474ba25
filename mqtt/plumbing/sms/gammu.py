"""The Gammu SMS daemon (``gammu-smsd`` from Debian) and the USB 3G/4G modem it drives.

The daemon runs as its own service with the ``files`` backend (``[smsd] service = files``); the
kiosk hands each message to it with Gammu's own ``gammu-smsd-inject`` (which writes it into the
daemon's outbox folder and prints its name) and reads its fate from where the daemon moves it:
the sent folder (the network took it) or the error folder. The three folders are read from the
daemon's config, so the kiosk and the daemon cannot disagree about them. Tests run the real
daemon against Gammu's dummy phone (``[gammu] model = dummy``: a phone emulated in a folder).

Texts go as Unicode (Vietnamese), up to three concatenated parts. A message's file (the number
in its name, the code in its text) is deleted once its fate has been read: what the kiosk needs
to remember is the fate, not the message.
"""

from __future__ import annotations

import configparser
import subprocess
import threading
from pathlib import Path

from . import MAX_TEXT, SmsError, check_message

INJECT = "gammu-smsd-inject"
#: gammu-smsd-inject only writes a file; it answers within this long or something is wrong.
INJECT_TIMEOUT_S = 10.0
_WRITTEN = "Written message with ID "
#: The fates remembered (a kiosk sends a few codes a day; the oldest are forgotten first).
MAX_FATES = 10_000


class GammuSms:
    def __init__(self, smsdrc: str | Path):
        self.smsdrc = Path(smsdrc)
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            with self.smsdrc.open(encoding="utf-8") as f:
                parser.read_file(f)
        except (OSError, configparser.Error) as exc:
            raise SmsError(f"cannot read the Gammu SMS daemon's config {self.smsdrc}: {exc}") from exc
        folders = {}
        for key in ("outboxpath", "sentsmspath", "errorsmspath"):
            value = parser.get("smsd", key, fallback="")
            if not value:
                raise SmsError(f"{self.smsdrc}: [smsd] {key} is not set (the files service's folders)")
            folders[key] = Path(value)
        self.outbox, self.sent, self.error = folders["outboxpath"], folders["sentsmspath"], folders["errorsmspath"]
        #: ticket -> "sent" / "failed", for the messages whose files are gone
        self._fates: dict[str, str] = {}
        self._lock = threading.Lock()

    def send(self, phone: str, text: str) -> str:
        check_message(phone, text)
        try:
            done = subprocess.run([INJECT, "-c", str(self.smsdrc), "TEXT", phone, "-unicode",
                                   "-len", str(MAX_TEXT), "-text", text],
                                  capture_output=True, text=True, timeout=INJECT_TIMEOUT_S, check=False)
        except FileNotFoundError:
            raise SmsError(f"{INJECT} is not installed (apt install gammu-smsd)") from None
        except subprocess.TimeoutExpired:
            raise SmsError(f"{INJECT} did not answer within {INJECT_TIMEOUT_S:.0f} s") from None
        written = [line[len(_WRITTEN):].strip() for line in done.stdout.splitlines() if line.startswith(_WRITTEN)]
        if done.returncode != 0 or not written:
            said = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
            raise SmsError(f"{INJECT} failed ({done.returncode}): {said}")
        return Path(written[0]).name

    def state(self, ticket: str) -> str:
        name = Path(ticket).name
        with self._lock:
            if name in self._fates:
                return self._fates[name]
            for folder, fate in ((self.sent, "sent"), (self.error, "failed")):
                try:
                    (folder / name).unlink()
                except FileNotFoundError:
                    continue
                except OSError:
                    pass                # not ours to delete: the fate is still known
                if len(self._fates) >= MAX_FATES:
                    self._fates.pop(next(iter(self._fates)))
                self._fates[name] = fate
                return fate
        return "queued"         # in the outbox, or being moved out of it
