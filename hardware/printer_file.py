"""The file printer (the contract's ``[printer] kind = "file"``): print jobs land in a folder.

Each job is one ``<stamp>.bin`` — the raw ESC/POS bytes a real printer would receive, made by
python-escpos's own ``Dummy`` printer — and a ``<stamp>.png`` preview of the image beside it.
``<stamp>`` is the UTC time of the job and a counter, ``20261121T013102.153204Z-0001``, so names
sort by time. Both files are written to a hidden temporary name, flushed to disk and renamed:
a reader never sees half a job. The ``.png`` is renamed first, so a ``.bin`` that exists is a
complete job with its preview.
"""

from __future__ import annotations

import io
import itertools
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

from .atomic import sync_folder, write_atomically
from .escpos_job import check_image, job_bytes
from .printers import PrinterError


class FilePrinter:
    def __init__(self, folder: str | Path, *, width: int, profile: str | None = None):
        self.folder = Path(folder)
        self.width = width
        self.profile = profile
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def print_image(self, image, *, cut: bool = True) -> None:
        check_image(image, self.width)
        data = job_bytes(image, cut=cut, width=self.width, profile=self.profile)
        preview = io.BytesIO()
        image.save(preview, "PNG")
        with self._lock:
            now = datetime.now(UTC)
            stem = f"{now:%Y%m%dT%H%M%S.%f}Z-{next(self._numbers):04d}"
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                write_atomically(self.folder / f"{stem}.png", preview.getvalue())
                write_atomically(self.folder / f"{stem}.bin", data)
                sync_folder(self.folder)
            except OSError as exc:
                raise PrinterError("offline", f"cannot write print jobs to {self.folder}: {exc}") from exc

    def status(self) -> str:
        """``"ok"`` when a file can be made in the folder (made if missing), else ``"offline"``."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.folder):
                pass
        except OSError:
            return "offline"
        return "ok"

    def close(self) -> None:
        pass

