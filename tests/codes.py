"""Synthetic codes for tests: payloads, rendered QR images and camera frames, a hand-moved clock."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import segno
from PIL import Image

CCCD_MAU = "079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1 Đường Thử Nghiệm, Phường Mẫu, Tỉnh Giả Định|15072021"
CCCD_THU = "001095000002||Trần Văn Thử|02021995|Nam|Phường Mẫu, Thành phố Hà Nội|10102024"
NATIONAL_QR_MASKED = "******000001|NGUYEN THI MAU|1990-**-**|0|100000000000000001|<2<GD4799999999901<0912345678"
#: The BHYT examples of formats.md §2.2: the old layout (card GD4799999999901, "Nguyễn Thị Mẫu") and the new
#: one (card 7999999901, "Trần Văn Thử"); names and addresses are hex UTF-8, as the cards hold them.
BHYT_OLD = (
    "GD4799999999901|4e677579e1bb856e205468e1bb8b204de1baab75|01/01/1990|2|"
    "53e1bb91203120c490c6b0e1bb9d6e67205468e1bbad204e676869e1bb876d2c205068c6b0e1bb9d6e67204de1baab752c20"
    "54e1bb896e68204769e1baa320c490e1bb8b6e68|79 - 999|01/01/2020|31/12/2020|15/12/2019|79999999999901|-|4|"
    "01/01/2025|0123456789abcdef-0000|$"
)
BHYT_NEW = (
    "7999999901|5472e1baa76e2056c4836e205468e1bbad|02/02/1995|1|-|01 - 999|01/01/2024|-|15/01/2024|"
    "01997999999901|-|4| 01/01/2029|fedcba9876543210-0000|4|42e1baa36f206869e1bb836d2078c3a32068e1bb9969204de1baab75|$"
)


def cccd_payload(n: int) -> str:
    """A synthetic CCCD payload for person number ``n`` (distinct 12-digit ids, consistent digits)."""
    return f"079190{n:06d}||Người Thử Số {_words(n)}|01011990|Nữ|Phường Mẫu|15072021"


def bhyt_payload(base: str = BHYT_NEW, *, name: str | None = None, **fields: str) -> str:
    """A synthetic BHYT card QR: ``base`` (the new-layout example unless told) with its holder's
    ``name`` (written as hex UTF-8, as the card holds it) and any field by index (``f7="31/12/2030"``,
    the text as the QR holds it) replaced."""
    tokens = base.split("|")
    if name is not None:
        tokens[1] = name.encode("utf-8").hex()
    for index, value in fields.items():
        tokens[int(index.removeprefix("f"))] = value
    return "|".join(tokens)


def _words(n: int) -> str:
    digits = ["Không", "Một", "Hai", "Ba", "Bốn", "Năm", "Sáu", "Bảy", "Tám", "Chín"]
    return " ".join(digits[int(d)] for d in str(n))


def qr_image(payload: str, *, scale: int = 4, border: int = 4) -> Image.Image:
    buf = io.BytesIO()
    segno.make(payload, encoding="utf-8", micro=False).save(buf, kind="png", scale=scale, border=border)
    buf.seek(0)
    return Image.open(buf).convert("L")


def qr_frame(payload: str, size=(640, 480)) -> np.ndarray:
    """A camera frame (grayscale, 640x480) with the code in the middle of an even scene."""
    code = qr_image(payload)
    scene = Image.new("L", size, 170)
    scene.paste(code, ((size[0] - code.width) // 2, (size[1] - code.height) // 2))
    return np.asarray(scene)


def write_qr(path: Path, payload: str) -> Path:
    qr_image(payload).save(path)
    return path


class ManualTime:
    """A time source tests move by hand (for wall clock, uptime and monotonic time)."""

    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
