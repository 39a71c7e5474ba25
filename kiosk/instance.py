"""One kiosk process per data directory: ``kiosk run`` and ``kiosk selftest`` hold this lock.

Two of them on one data directory would fight over the camera, the door and the broker session
(the client id is the kiosk id), so the second is refused with a sentence saying what to do.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = "kiosk.lock"


class AlreadyRunning(RuntimeError):
    """Another kiosk process holds the data directory."""


@contextmanager
def single_instance(data_dir: Path):
    """Hold the data directory's lock for the block; raises :class:`AlreadyRunning`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"another kiosk process is using {data_dir} (the kiosk service?); stop it first: "
                "sudo systemctl stop checkin-kiosk") from None
        yield
    finally:
        os.close(fd)
