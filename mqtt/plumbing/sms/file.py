"""The file SMS (the contract's ``[sms] kind = "file"``): each message is one UTF-8 text file
``<stamp>.txt`` in the folder, the phone number on its first line and the text after it; ``<stamp>``
is the UTC time and a counter, so names sort by time. Written to a hidden temporary name (0600: a
phone number is personal data), flushed and renamed: a reader never sees half a message.
A message written is "sent" (nothing else takes part in it).
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from pathlib import Path

from ..files import replace_file, sync_folder
from . import SmsError, check_message


class FileSms:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def send(self, phone: str, text: str) -> str:
        check_message(phone, text)
        with self._lock:
            name = f"{datetime.now(UTC):%Y%m%dT%H%M%S.%f}Z-{next(self._numbers):04d}.txt"
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                replace_file(self.folder / name, f"{phone}\n{text}".encode())
                sync_folder(self.folder)
            except OSError as exc:
                raise SmsError(f"cannot write messages to {self.folder}: {exc}") from exc
        return name

    def state(self, ticket: str) -> str:
        return "sent" if (self.folder / ticket).is_file() else "failed"
