"""The font slips and cards are drawn in: DejaVu Sans (Debian's ``fonts-dejavu-core``, which the
bootstrap installs), for its complete Vietnamese — stacked diacritics such as "ễ", "Ậ" included.

Found when first needed, not at import: through fontconfig's ``fc-match`` when it is there (it
also finds DejaVu where a distribution keeps it elsewhere), else at the usual paths.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

KNOWN_PATHS = {
    False: ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf"),
    True: ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
           "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf"),
}


class FontMissing(RuntimeError):
    """No usable font: slips cannot be drawn. The message says what to install."""


@lru_cache(maxsize=2)
def font_path(bold: bool = False) -> str:
    """The file of DejaVu Sans (``bold``: DejaVu Sans Bold). Raises :class:`FontMissing`."""
    candidates = list(KNOWN_PATHS[bold])
    fc_match = shutil.which("fc-match")
    if fc_match:
        pattern = "DejaVu Sans:bold:lang=vi" if bold else "DejaVu Sans:lang=vi"
        try:
            found = subprocess.run([fc_match, "--format=%{file}", pattern], capture_output=True, text=True,
                                   timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            found = ""
        if Path(found).name.startswith("DejaVuSans"):   # fc-match answers with a fallback when it is missing
            candidates.insert(0, found)
    for path in candidates:
        if Path(path).is_file():
            return path
    raise FontMissing(f"no DejaVu Sans{' Bold' if bold else ''} font to draw slips with: install it with "
                      "`apt install fonts-dejavu-core`")


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at ``size`` pixels."""
    return ImageFont.truetype(font_path(bold), size)
