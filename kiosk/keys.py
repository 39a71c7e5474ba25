"""The kiosk's own secrets, each a file in its data folder, made on first use.

>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as tmp:
...     key = key_file(Path(tmp, "web-secret"))
...     len(key), key_file(Path(tmp, "web-secret")) == key, oct(Path(tmp, "web-secret").stat().st_mode & 0o777)
(64, True, '0o600')
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from hardware.atomic import write_atomically

log = logging.getLogger(__name__)

#: A key is this many hex characters (256 bits).
KEY_HEX_CHARS = 64


def key_file(path: Path) -> bytes:
    """The key in ``path``; made on first use (0600, written whole or not at all). A damaged file
    (a power cut at the first start) is replaced: that ends what the key guarded (sessions, codes
    on their way), never the kiosk."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        key = None
    if key is not None and len(key) >= KEY_HEX_CHARS:
        return key
    if key is not None:
        log.warning("%s is damaged: making a new one", path)
    key = secrets.token_hex(KEY_HEX_CHARS // 2).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, key)                                                 # 0600
    return key
