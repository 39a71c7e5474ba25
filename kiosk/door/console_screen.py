"""The simulator's screen: what the kiosk's display would say, one line per presentation, on stdout.

Used only in simulation (on a kiosk, stdout goes to the journal, and names never go there).
Names are masked, as on the real screen.
"""

from __future__ import annotations

import sys
from datetime import datetime

from hardware.feedback import PATTERNS
from mqtt.plumbing.terminal import echo
from mqtt.wire.masking import mask_name

from .. import messages
from .outcome import Outcome

_MARK = {"check_in": "✔ VÀO", "check_out": "✔ RA ", "refused": "✘ TỪ CHỐI", "error": "⚠ LỖI",
         "declare": "? KHAI BÁO"}
_LIGHTS = {"vi": {"green": "đèn xanh", "red": "đèn đỏ", "beep": "bíp", "relay": "mở cửa"},
           "en": {"green": "green light", "red": "red light", "beep": "beep", "relay": "door opens"}}


class ConsoleScreen:
    """Prints outcomes and status changes.

    >>> import io
    >>> from kiosk.credentials import recognise
    >>> out = io.StringIO()                         # stdout by default
    >>> screen = ConsoleScreen(language="vi", venue_name="Chợ Phan Rang", relay=True, out=out)
    >>> card = recognise("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1|15072021")
    >>> screen.show(Outcome("check_in", card, "3f2a9c1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
    ...                     "2026-08-19T08:31:02.153+07:00", occupancy=12))
    >>> screen.show(Outcome("refused", reason="payment_qr"))
    >>> for line in out.getvalue().splitlines():
    ...     print(line[len("08:31:02 "):])          # each line starts with the time it was shown
    ✔ VÀO  Xin chào Nguyễn T. M. — đã vào lúc 08:31  [đèn xanh · bíp ×1 · mở cửa]  visit 3f2a9c1e · 12 người
    ✘ TỪ CHỐI  Mã này là mã thanh toán, không phải giấy tờ tùy thân.  [đèn đỏ · bíp ×1 (dài)]
    """

    def __init__(self, *, language: str = "vi", venue_name: str = "", relay: bool = False, out=None, tz=None):
        self.tz = tz
        self.language = language
        self.venue_name = venue_name
        self.relay = relay
        self.out = out or sys.stdout
        self._status: str | None = None

    def show(self, outcome: Outcome) -> None:
        now = datetime.now(self.tz).strftime("%H:%M:%S")
        if outcome.accepted:
            name = mask_name(outcome.credential.name if outcome.credential else None)
            hhmm = datetime.fromisoformat(outcome.at).strftime("%H:%M")
            text = messages.text(outcome.kind, self.language, name=name, time=hhmm)
            extra = self._visit(outcome)
        elif outcome.kind == "declare":
            name = mask_name(outcome.credential.name if outcome.credential else None)
            text = messages.text("declare_console", self.language, name=name)
            extra = ""
        else:
            text = messages.text(outcome.reason or "unknown_format", self.language)
            extra = ""
        self._print(f"{now} {_MARK[outcome.kind]}  {text}  [{self._signals(outcome.kind)}]{extra}")

    def show_staff(self, outcome: Outcome) -> None:
        """A check-in or check-out staff made on their page: said as theirs, with no lights or
        beeps (the door's signals are for visitors at the camera, and staff actions give none).

        08:40:11 ✔ VÀO  Nhân viên — Đã cho Trần T. B. vào lúc 08:40.  visit 5b1e0c2a · 3 người
        """
        now = datetime.now(self.tz).strftime("%H:%M:%S")
        name = mask_name(outcome.credential.name if outcome.credential else None)
        hhmm = datetime.fromisoformat(outcome.at).strftime("%H:%M")
        done = messages.text(f"staff_did_{outcome.kind}", self.language, name=name, time=hhmm)
        text = messages.text("console_staff", self.language, text=done)
        self._print(f"{now} {_MARK[outcome.kind]}  {text}{self._visit(outcome)}")

    def _visit(self, outcome: Outcome) -> str:
        inside = messages.text("console_inside", self.language, n=str(outcome.occupancy))
        return f"  visit {outcome.visit_id[:8]} · {inside}"

    def status(self, code: str | None) -> None:
        if code == self._status:
            return
        self._status = code
        self._print(datetime.now(self.tz).strftime("%H:%M:%S ") + "⚠ " + messages.text(code, self.language) if code else
                    "✔ " + ("Máy hoạt động bình thường" if self.language == "vi" else "Kiosk working normally"))

    def idle(self, camera_dir: str | None, screen_url: str | None = None) -> None:
        self._print(f"{self.venue_name}: {messages.text('idle', self.language)}")
        if camera_dir:
            hint = "Thả ảnh mã QR vào" if self.language == "vi" else "Drop QR images into"
            self._print(f"(mô phỏng / simulation) {hint} {camera_dir}")
        if screen_url:
            self._print(f"{'Màn hình' if self.language == 'vi' else 'Screen'}: {screen_url}")

    def _signals(self, kind: str) -> str:
        words = _LIGHTS[self.language]
        p = PATTERNS[kind]
        parts = []
        if p.green:
            parts.append(words["green"] + (f" ×{p.green.n}" if p.green.n > 1 else ""))
        if p.red:
            parts.append(words["red"])
        if p.buzzer:
            parts.append(f"{words['beep']} ×{p.buzzer.n}"
                         + (" (dài)" if p.buzzer.on_time >= 0.5 and self.language == "vi" else ""))
        if p.relay and self.relay:
            parts.append(words["relay"])
        return " · ".join(parts)

    def _print(self, line: str) -> None:
        echo(line, file=self.out)
