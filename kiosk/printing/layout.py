"""Check-in slips and personal QR cards, drawn as 1-bit images ``width`` dots wide (384 for 58 mm
paper, 576 for 80 mm) for :mod:`hardware.printers`.

>>> from zoneinfo import ZoneInfo
>>> at = datetime(2026, 8, 19, 8, 31, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
>>> image = render_slip(venue="Chợ Phan Rang", check_in_at=at, name="Nguyễn Thị Mẫu", visit_number="4812",
...                     token="CK1.S.L3H5SGF6RGY7EPVPOR6GIPBUATPM3K3RAHEM42A.EWXMTH6ZHALNJG77", width=384)
>>> image.mode, image.width
('1', 384)
>>> [line.text for line in slip_lines(venue="Chợ Phan Rang", check_in_at=at, name="Nguyễn Thị Mẫu",
...                                   visit_number="4812")]
['Chợ Phan Rang', 'Vào lúc 08:31 — 19/08/2026', '', 'Nguyễn T. M.', 'Lượt số 4812', '',
 'Đưa mã này vào camera khi ra về']

What is drawn comes from :func:`slip_lines` / :func:`card_lines` (so tests can check it without
reading pixels): names are masked here (``mqtt.wire.masking.mask_name``), so no caller can print a
full name by forgetting to; phones show their last three digits. Every text is cleaned
(control and format characters, a pile of combining marks) and wrapped to the width, cut with
"…" after a few lines, so no name — 300 characters, no spaces, hostile bytes — leaves the paper.

Compact on purpose: the printer receives every row as 48 or 72 bytes, so a slip is short, has
no black areas, and its QR is sized in modules of at most 1 mm (8 dots), large enough for the
door camera at arm's length.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont

from mqtt.wire.masking import mask_name

from ..messages import text
from .fonts import font

#: Quiet zone around the QR, in modules (the standard's minimum).
QUIET_MODULES = 4
#: QR module size in dots: at most 1 mm at 203 dpi, and at least what a 640x480 door camera
#: still resolves with the code held at arm's length.
MAX_MODULE_DOTS, MIN_MODULE_DOTS = 8, 4
#: Characters of the QR alphanumeric mode: our tokens (``CK1.S.<BASE32>.<BASE32>``) stay in it.
_ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]+")
#: Styles: (bold, size in dots at 384 wide, most lines before "…").
STYLES = {
    "title": (True, 28, 2),      # the venue
    "name": (True, 28, 2),       # the masked name
    "body": (False, 22, 2),
    "note": (False, 22, 3),      # the instruction
}
_MAX_INPUT = 2000                # characters of any one text looked at
_DASHES = ("—", "–", "-")


@dataclass(frozen=True)
class Line:
    """One thing the layout draws, top to bottom: ``style`` is a key of :data:`STYLES`, or
    ``"rule"`` (a thin line) or ``"qr"`` (``text`` is the token)."""

    style: str
    text: str = ""


def slip_lines(*, venue: str, check_in_at: datetime, name: str | None, visit_number: str,
               language: str = "vi") -> list[Line]:
    """What a check-in slip shows. ``check_in_at`` is shown as it is: pass it in the venue's time zone."""
    return [
        Line("title", clean(venue)),
        Line("body", text("print_slip_time", language, time=f"{check_in_at:%H:%M}",
                          date=f"{check_in_at:%d/%m/%Y}")),
        Line("rule"),
        Line("name", masked_name(name)),
        Line("body", text("print_slip_visit", language, number=clean(visit_number))),
        Line("qr"),
        Line("note", text("print_slip_instruction", language)),
    ]


def card_lines(*, venue: str, name: str | None, phone: str | None, language: str = "vi") -> list[Line]:
    """What a personal QR card shows (no QR token here: :func:`render_card` adds it)."""
    lines = [Line("body", text("print_card_title", language)), Line("title", clean(venue)), Line("rule"),
             Line("name", masked_name(name))]
    if phone_tail(phone):
        lines.append(Line("body", text("print_card_phone", language, phone=phone_tail(phone))))
    return lines + [Line("qr"), Line("note", text("print_card_instruction", language))]


def render_slip(*, venue: str, check_in_at: datetime, name: str | None, visit_number: str, token: str,
                width: int, language: str = "vi") -> Image.Image:
    """The slip as a mode "1" image ``width`` dots wide (black = printed)."""
    return render(slip_lines(venue=venue, check_in_at=check_in_at, name=name, visit_number=visit_number,
                             language=language), token, width)


def render_card(*, venue: str, name: str | None, phone: str | None, token: str, width: int,
                language: str = "vi") -> Image.Image:
    """The personal card as a mode "1" image ``width`` dots wide (black = printed)."""
    return render(card_lines(venue=venue, name=name, phone=phone, language=language), token, width)


# -- what is written ---------------------------------------------------------------------------

def clean(value: str | None) -> str:
    """Text fit to print: NFC; control, format, private-use and unassigned characters dropped
    (those that separate words become spaces); at most two combining marks on a letter (Vietnamese
    needs two at most); runs of spaces made one."""
    out, marks = [], 0
    for ch in unicodedata.normalize("NFC", (value or "")[:_MAX_INPUT]):
        category = unicodedata.category(ch)
        marks = marks + 1 if category[0] == "M" else 0
        if marks > 2:
            continue
        if category[0] == "Z" or (category == "Cc" and ch.isspace()):
            out.append(" ")
        elif category[0] != "C":
            out.append(ch)
    return " ".join("".join(out).split())


def masked_name(name: str | None) -> str:
    """The name as slips show it: family name, then initials (``"Nguyễn T. M."``); "—" when none."""
    return mask_name(clean(name) or None)


def phone_tail(phone: str | None) -> str | None:
    """``"0912345678"`` → ``"***678"``; None without at least three digits."""
    digits = re.sub(r"[^0-9]", "", phone or "")
    return f"***{digits[-3:]}" if len(digits) >= 3 else None


def wrap(value: str, face: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """``value`` in lines at most ``width`` dots long in ``face``, as even as the same number of
    lines allows (no lone last word); a word longer than a line is cut where it must; past
    ``max_lines`` the last line ends with "…"."""
    lines, cut = _fill(value, face, width, max_lines)
    if cut or len(lines) < 2:
        return lines
    lo, hi = 1, width                       # the narrowest measure that needs no more lines
    while lo < hi:
        mid = (lo + hi) // 2
        narrower, cut = _fill(value, face, mid, max_lines)
        if cut or len(narrower) > len(lines):
            lo = mid + 1
        else:
            hi = mid
    return _fill(value, face, lo, max_lines)[0]


def _fill(value: str, face: ImageFont.FreeTypeFont, width: int, max_lines: int) -> tuple[list[str], bool]:
    """Greedy line filling; also whether the text was cut after ``max_lines``."""
    lines: list[str] = []
    current = ""
    for word in _words(value):
        candidate = f"{current} {word}" if current else word
        if face.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while face.getlength(word) > width and len(lines) <= max_lines:
            cut = _longest_fit(word, face, width)
            lines.append(word[:cut])
            word = word[cut:]
        current = word
        if len(lines) > max_lines:
            break
    if current:
        lines.append(current)
    if len(lines) <= max_lines:
        return lines, False
    lines = lines[:max_lines]
    lines[-1] = lines[-1][:_longest_fit(lines[-1], face, width, suffix="…")].rstrip() + "…"
    return lines, True


def _words(value: str) -> list[str]:
    """The units lines break between: words, a dash kept with the word before it (so no line
    starts with one)."""
    words: list[str] = []
    for word in value.split(" "):
        if word in _DASHES and words:
            words[-1] += " " + word
        else:
            words.append(word)
    return words


def _longest_fit(word: str, face: ImageFont.FreeTypeFont, width: int, suffix: str = "") -> int:
    """How many leading characters of ``word`` (followed by ``suffix``) fit ``width``; at least 1
    without a suffix, so wrapping always moves on."""
    lo, hi = 0, len(word)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if face.getlength(word[:mid] + suffix) <= width:
            lo = mid
        else:
            hi = mid - 1
    return lo if suffix else max(lo, 1)


# -- drawing -----------------------------------------------------------------------------------

def qr_image(token: str, max_side: int) -> Image.Image:
    """The QR of ``token`` (alphanumeric mode when it fits it, error correction M or better at the
    same size) with its quiet zone, in whole dots per module, at most ``max_side`` dots."""
    mode = "alphanumeric" if _ALPHANUMERIC.fullmatch(token) else None
    qr = segno.make_qr(token, error="m", mode=mode)
    dark = np.pad(np.array(qr.matrix, dtype=bool), QUIET_MODULES)
    module = min(MAX_MODULE_DOTS, max_side // dark.shape[0])
    if module < MIN_MODULE_DOTS:
        raise ValueError(f"a token of {len(token)} characters makes a QR too dense for {max_side} dots")
    return Image.fromarray(~dark.repeat(module, axis=0).repeat(module, axis=1))


def render(lines: list[Line], token: str, width: int) -> Image.Image:
    """Draw ``lines`` top to bottom, centred, the ``"qr"`` line as the QR of ``token``."""
    scale = (width / 384) ** 0.5            # 80 mm paper: somewhat larger type, more per line
    margin = width // 24
    inner = width - 2 * margin
    gap = round(8 * scale)
    parts = []                              # (kind, payload, height)
    for line in lines:
        if line.style == "qr":
            image = qr_image(token, inner)
            parts.append(("image", image, image.height))   # its quiet zone is its spacing
        elif line.style == "rule":
            parts.append(("rule", None, 2 + 2 * gap))
        else:
            bold, size, max_lines = STYLES[line.style]
            face = font(round(size * scale), bold)
            ascent, descent = face.getmetrics()
            rows = wrap(line.text, face, inner, max_lines)
            parts.append(("text", (face, rows, ascent + descent), len(rows) * (ascent + descent) + gap))
    image = Image.new("1", (width, margin // 2 + sum(h for _, _, h in parts)), 1)
    draw = ImageDraw.Draw(image)
    y = margin // 2
    for kind, payload, height in parts:
        if kind == "image":
            image.paste(payload, ((width - payload.width) // 2, y))
        elif kind == "rule":
            draw.rectangle((margin, y + gap, width - margin - 1, y + gap + 1), fill=0)
        else:
            face, rows, row_height = payload
            for i, row in enumerate(rows):
                draw.text(((width - face.getlength(row)) / 2, y + i * row_height), row, font=face, fill=0)
        y += height
    return image
