"""Text for an operator's terminal: what came from outside is shown, never obeyed.

An event's unknown JSON key, a kiosk's error string or a scanned code can carry escape sequences
(retitle the window, clear the screen, move the cursor), bidi overrides that make a line read as
something it is not, or a newline that forges another row. Every line of human output of the
``kiosk`` and ``kiosk-collector`` commands goes through :func:`echo`, which shows such characters
as visible escapes. (``--json`` output is left to the JSON encoder, which escapes them itself.)

>>> for_terminal("Nguyễn\\x1b]0;pwned\\x07 \\u202eThị")
'Nguyễn\\\\x1b]0;pwned\\\\x07 \\\\u202eThị'
"""

from __future__ import annotations

import sys
import unicodedata
from typing import TextIO

#: Control (C0, DEL, C1), format (bidi, zero-width), surrogate, private-use, line and paragraph
#: separator characters.
_SHOWN_ESCAPED = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def for_terminal(text: str) -> str:
    """``text`` with every control-like character written as ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``
    (a newline too: one line of output stays one line)."""
    if text.isprintable():      # the common case, no per-character work (isprintable is False for all of them)
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in _SHOWN_ESCAPED else ch for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def echo(line: object = "", *, file: TextIO | None = None) -> None:
    """Print one line of human output, escaped for the terminal (stdout unless ``file``)."""
    print(for_terminal(str(line)), file=file if file is not None else sys.stdout, flush=True)
