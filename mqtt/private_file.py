"""Files that hold personal data (the kiosk's and the collector's SQLite stores): readable and
writable by their owner only, whatever the umask or an earlier version left.

SQLite gives a database's ``-wal`` and ``-shm`` files the mode of the database file itself, so
creating the database 0600 before SQLite opens it is enough for new files; ones an earlier
version made world-readable are tightened on the next start.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     wal = Path(tmp, "kiosk.db-wal")
...     wal.touch()
...     wal.chmod(0o644)                  # as an earlier version may have left it
...     owner_only(Path(tmp, "kiosk.db"))
...     [oct(p.stat().st_mode & 0o777) for p in (Path(tmp, "kiosk.db"), wal)]
['0o600', '0o600']
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MODE = 0o600
#: The files SQLite keeps beside a database in WAL mode.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def owner_only(path: Path, *, side_files: tuple[str, ...] = SQLITE_SIDE_FILES) -> None:
    """Create ``path`` empty (0600) if it does not exist; make it and its side files 0600 if not.
    Raises OSError (the caller says what it means for its store)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != MODE:
            os.fchmod(fd, MODE)
    finally:
        os.close(fd)
    for suffix in side_files:
        side = path.with_name(path.name + suffix)
        try:
            if stat.S_IMODE(side.lstat().st_mode) != MODE and not side.is_symlink():
                os.chmod(side, MODE)
        except FileNotFoundError:
            pass
