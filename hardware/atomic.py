"""Writing a file whole or not at all: a hidden temporary name beside it (0600), flushed to disk,
then one rename. A reader (the image-folder camera, whoever collects printed jobs) never sees half
a file, and a power cut leaves the old file or the new one.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     secret = Path(tmp, "web-secret")
...     write_atomically(secret, b"0123456789abcdef")
...     secret.read_bytes(), oct(secret.stat().st_mode & 0o777), os.listdir(tmp)     # no temporary left
(b'0123456789abcdef', '0o600', ['web-secret'])
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (replacing it) through ``.<name>-<random>`` in the same folder."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)     # 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def sync_folder(folder: Path) -> None:
    """Make the renames and new names in ``folder`` themselves durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
