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


def cccd_payload(n: int) -> str:
    """A synthetic CCCD payload for person number ``n`` (distinct 12-digit ids, consistent digits)."""
    return f"079190{n:06d}||Người Thử Số {_words(n)}|01011990|Nữ|Phường Mẫu|15072021"


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
