"""What the enrolling kiosk shows: one state, told to the terminal and read by the web page.

>>> screen = EnrolScreen(out=sys.stdout)
>>> screen.show("enrol_scan")
Quét mã đăng ký / Scan the enrolment code
>>> screen.show("enrol_scan")                      # no change: the terminal is not told again
>>> screen.snapshot()
{'state': 'scanning', 'code': 'enrol_scan', 'seq': 1,
 'message': {'vi': 'Quét mã đăng ký', 'en': 'Scan the enrolment code'}}
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from mqtt.plumbing.terminal import echo

from .. import messages

#: state of each message: waiting for a code, working on one, refused one, done.
STATES = {"enrol_scan": "scanning", "enrol_fetching": "working", "enrol_installing": "working",
          "enrol_done": "done"}


class EnrolScreen:
    def __init__(self, out: TextIO | None = None):
        self.out = out if out is not None else sys.stdout
        self._lock = threading.Lock()
        self._code: str | None = None          # nothing shown yet: the page says "scan"
        self._values, self._seq = {}, 0
        self._since = time.monotonic()

    def show(self, code: str, **values: str) -> None:
        """Show message ``code`` (kiosk.messages) in both languages; the terminal gets it once per change."""
        with self._lock:
            if (code, values) == (self._code, self._values):
                return
            self._code, self._values, self._seq = code, dict(values), self._seq + 1
            self._since = time.monotonic()
        vi, en = messages.text(code, "vi", **values), messages.text(code, "en", **values)
        echo(f"{vi} / {en}", file=self.out)

    @property
    def code(self) -> str:
        return self._code or "enrol_scan"

    def snapshot(self) -> dict:
        """For the web page: the state, the message in both languages, and a change counter."""
        with self._lock:
            code, values, seq = self._code or "enrol_scan", self._values, self._seq
        return {"state": STATES.get(code, "refused"), "code": code, "seq": seq,
                "message": {lang: messages.text(code, lang, **values) for lang in ("vi", "en")}}
