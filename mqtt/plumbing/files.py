"""Durable file writes for the kiosk, the collector and provisioning: a file replaced whole or
not at all (:func:`replace_file`), a secret created once (:func:`create_new`), and the stores of
personal data readable and writable by their owner only (:func:`owner_only`).

``hardware/atomic.py`` keeps its own two-line copy of the replace-by-rename pattern: ``hardware``
imports nothing of the project.

Files that hold personal data (the kiosk's and the collector's SQLite stores) are made readable
and writable by their owner only, whatever the umask or an earlier version left.

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
import tempfile
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


def replace_file(path: Path, data: bytes, *, mode: int = MODE) -> None:
    """Replace ``path`` with ``data`` whole or not at all: written to a hidden temporary name
    beside it (created 0600, then given ``mode``), flushed to disk, then one rename. A reader (the
    broker reading a CRL, ``kiosk-collector fleet`` reading the status file) sees the old file or
    the new one, and so does the file after a power cut. Raises OSError; nothing is left behind.
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if mode != MODE:
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def sync_folder(folder: Path) -> None:
    """Make the renames and new names in ``folder`` themselves durable (a message file handed to
    another process stays handed over after a power cut)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_new(path: Path, data: bytes, *, mode: int = MODE) -> None:
    """Write ``data`` to ``path``, a new file (``FileExistsError`` if there is one: a key or a
    secret is never written over), ``mode`` from its creation on, flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    with os.fdopen(fd, "wb") as f:
        if stat.S_IMODE(os.fstat(f.fileno()).st_mode) != mode:      # the umask narrowed it
            os.fchmod(f.fileno(), mode)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
