"""Room on the data disk for what recording writes, proved by writing it.

A check-in appends its pages to the WAL (up to 17 pages, ~70 KB, measured on this schema when
index pages split; ~10 on average), the WAL index (``-shm``) grows by 32 KB every 4,096 pages, and
a checkpoint copies pages into the database file, which grows with it. On a full disk every one of
those needs new blocks, while a small write into room SQLite already holds (the tail of a WAL that
a failed commit extended, free pages) still succeeds: that is how a one-page probe said "working"
while check-ins failed. So the room is proved the only way that cannot be satisfied from room
already held: a new file of :data:`ROOM_BYTES`, written, fsynced and deleted.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

#: Room for a dozen check-ins at their largest, plus the WAL index and a checkpoint's growth.
ROOM_BYTES = 1 << 20
PROBE_NAME = ".room-probe"
#: Errors that mean "no room" rather than "broken disk".
NO_ROOM = (errno.ENOSPC, errno.EDQUOT)


def prove_room(folder: Path, size: int = ROOM_BYTES) -> None:
    """Allocate ``size`` new bytes on ``folder``'s disk, durably (fsync), then give them back.

    Raises :class:`OSError` (``errno`` in :data:`NO_ROOM` when the disk has no room)."""
    path = folder / PROBE_NAME
    # Not zeros: a compressing filesystem would store them in nothing and prove nothing.
    data = memoryview(os.urandom(size))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        written = 0
        while written < size:
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def out_of_room(folder: Path, size: int = ROOM_BYTES) -> bool:
    """Whether the disk holding ``folder`` has less than ``size`` bytes free (False when it cannot tell)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < size
