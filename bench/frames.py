"""The benchmark's inputs: CCCD payloads, their QR images, and 640x480 camera-like frames.

Everything is generated from fixed seeds, so every run decodes exactly the same pixels.
"""

from __future__ import annotations

import io

import numpy as np
import segno
from PIL import Image, ImageFilter

WIDTH, HEIGHT = 640, 480
QR_PX = 200  # about the size a CCCD held 20-25 cm from the Pi camera occupies in a 640x480 frame

#: The reference payload: the CCCD QR layout with Vietnamese UTF-8 (fake person, fake address).
PAYLOAD = ("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|"
           "Số 1 Đường Thử Nghiệm, Phường Mẫu, Tỉnh Giả Định|15072021")

_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"]
_MIDDLE = ["Thị", "Văn", "Hữu", "Minh", "Ngọc"]
_GIVEN = ["Mẫu", "Thử", "Anh", "Bình", "Châu", "Dũng", "Hạnh", "Khoa", "Lan", "Phúc", "Quỳnh", "Sơn"]


def person_payload(i: int) -> str:
    """A distinct, well-formed CCCD payload for person ``i`` (consistent ID structure, so no warnings)."""
    female = i % 2 == 0
    year = 1960 + i % 40
    number = f"079{1 if female else 0}{year % 100:02d}{i:06d}"
    name = f"{_FAMILY[i % 10]} {_MIDDLE[i % 5]} {_GIVEN[i % 12]}"
    return (f"{number}|{i % 1_000_000_000:09d}|{name}|15{(i % 12) + 1:02d}{year}|{'Nữ' if female else 'Nam'}|"
            f"Số {i % 200 + 1} Đường Thử Nghiệm, Phường Mẫu, Tỉnh Giả Định|15072021")


def qr_image(payload: str, scale: int = 4) -> Image.Image:
    """The payload as a QR code (byte mode, UTF-8, ECC M as on the card), black on white with a quiet zone."""
    qr = segno.make_qr(payload, error="m", encoding="utf-8")
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=4)
    buf.seek(0)
    with Image.open(buf) as im:
        return im.convert("L")


def qr_png_bytes(payload: str, scale: int = 3) -> bytes:
    """A small PNG of the code alone, for the image-folder camera (it centres it in an empty scene)."""
    buf = io.BytesIO()
    segno.make_qr(payload, error="m", encoding="utf-8").save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def _scene(rng: np.random.Generator) -> Image.Image:
    """A textured, unevenly lit background: a gradient, smoothed noise and a few hard edges.

    A flat grey frame would flatter the decoders: real scenes have edges that look a little like
    finder patterns and cost the detector time.
    """
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = 120 + 50 * (x / WIDTH) - 30 * (y / HEIGHT)
    coarse = rng.normal(0, 25, (HEIGHT // 16 + 1, WIDTH // 16 + 1)).astype(np.float32)
    coarse = np.asarray(Image.fromarray(coarse, mode="F").resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC))
    scene = np.clip(base + coarse, 0, 255).astype(np.uint8)
    for _ in range(12):  # boxes and bars: a counter edge, a sleeve, a printed poster
        x0, y0 = int(rng.integers(0, WIDTH - 40)), int(rng.integers(0, HEIGHT - 40))
        w, h = int(rng.integers(10, 160)), int(rng.integers(4, 120))
        scene[y0:y0 + h, x0:x0 + w] = int(rng.integers(20, 235))
    return Image.fromarray(scene)


def _camera(img: Image.Image, rng: np.random.Generator, blur: float) -> np.ndarray:
    """Mild optical blur and sensor noise, as a 2-D uint8 array (a Y plane)."""
    img = img.filter(ImageFilter.GaussianBlur(blur))
    noisy = np.asarray(img, np.float32) + rng.normal(0, 4.0, (HEIGHT, WIDTH))
    return np.ascontiguousarray(np.clip(noisy, 0, 255).astype(np.uint8))


def code_frames(n: int = 8, payload: str = PAYLOAD, seed: int = 1) -> list[np.ndarray]:
    """``n`` frames of the same code held up (a held card): it moves a little, blur and noise vary."""
    rng = np.random.default_rng(seed)
    code = qr_image(payload)
    frames = []
    for _ in range(n):
        scene = _scene(rng)
        size = QR_PX + int(rng.integers(-12, 13))
        qr = code.resize((size, size), Image.Resampling.BILINEAR).rotate(
            float(rng.uniform(-8, 8)), resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
        # White corners from the rotation read as the card around the code.
        x = (WIDTH - qr.width) // 2 + int(rng.integers(-120, 121))
        y = (HEIGHT - qr.height) // 2 + int(rng.integers(-60, 61))
        scene.paste(qr, (x, y))
        frames.append(_camera(scene, rng, blur=float(rng.uniform(0.6, 1.1))))
    return frames


def empty_frames(n: int = 8, seed: int = 2) -> list[np.ndarray]:
    """``n`` textured scenes with no code in them (what the kiosk sees most of the day)."""
    rng = np.random.default_rng(seed)
    return [_camera(_scene(rng), rng, blur=float(rng.uniform(0.6, 1.1))) for _ in range(n)]
