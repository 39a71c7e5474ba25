"""A synthetic corpus of credential codes as the kiosk camera would see them (helper, no tests).

>>> sample = make_sample("cccd", "blur1.0", 0)
>>> sample.frame.shape, sample.expected["kind"]
((480, 640), 'cccd')

Payloads follow formats.md §1.5, §2.4 and §3.1 (and the layouts seen in the field that §1.3 and
§3.1 describe); every person, number and address is made up
("Mẫu" = sample, "Thử" = test). Everything is seeded: the same (kind, distortion, index) always
gives the same payload and the same frame.
"""

from __future__ import annotations

import copy
import datetime
import functools
import random
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import qrcode
import segno
from qrcode.util import MODE_8BIT_BYTE, QRData

FRAME_SIZE = (640, 480)  # width, height: the kiosk's camera frame
#: The date the payloads are checked against (cards are valid then, nobody is born later).
TODAY = datetime.date(2025, 6, 1)


# -- synthetic people -------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    name: str
    birth: datetime.date
    sex: str  # "male" / "female"
    address: str


PEOPLE = (
    Person("Nguyễn Thị Mẫu", datetime.date(1990, 1, 1), "female",
           "Số 1 Đường Thử Nghiệm, Phường Mẫu, Tỉnh Giả Định"),
    Person("Trần Văn Thử", datetime.date(1995, 2, 2), "male", "Phường Mẫu, Thành phố Hà Nội"),
    Person("Lê Hữu Phước", datetime.date(1978, 11, 23), "male",
           "Thôn Thử, Xã Mẫu, Huyện Giả Định, Tỉnh Thử Nghiệm"),
    Person("Đặng Quốc Bảo", datetime.date(2003, 7, 15), "male", "Xã Thử, Tỉnh Mẫu"),
    Person("Phạm Thị Ánh Tuyết", datetime.date(1964, 5, 30), "female",
           "Ấp Mẫu Đơn, Xã Thử Nghiệm, Huyện Giả, Tỉnh Mẫu"),
    Person("Võ Thị Ngọc Hằng", datetime.date(2001, 9, 9), "female",
           "Khu phố Thử, Phường Mẫu, Thành phố Thủ Đức, Thành phố Hồ Chí Minh"),
    Person("Hoàng Minh Đức", datetime.date(1985, 12, 31), "male",
           "Tổ 5, Phường Mẫu, Thành phố Giả Định, Tỉnh Thử"),
    Person("Ngô Bảo Ngọc", datetime.date(2019, 4, 4), "female", "Phường Mẫu"),
)
PARENTS = ("Ngô Văn Cha", "Đỗ Thị Mẹ")
PROVINCES = ("001", "079", "048", "031", "092", "036")
MOBILE_PREFIXES = ("091", "098", "086", "090", "070", "083", "032", "097", "056", "088")


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def cccd_number(rng: random.Random, person: Person) -> str:
    """A 12-digit number whose digit 4 (century + sex) and digits 5-6 (year) match the person."""
    g = (person.birth.year // 100 - 19) * 2 + (person.sex == "female")
    return f"{rng.choice(PROVINCES)}{g}{person.birth.year % 100:02d}{digits(rng, 6)}"


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + digits(rng, 7)


def ascii_upper(name: str) -> str:
    """The national QR's spelling of a name: upper case, no diacritics ("Đặng" -> "DANG")."""
    plain = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in plain if unicodedata.category(c) != "Mn").upper()


def hexutf8(text: str) -> str:
    return text.encode("utf-8").hex()


def expected(kind: str, id: str, name: str, birth_date: str | None, sex: str | None,
             phone: str | None = None) -> dict:
    """The fields recognise() must return exactly."""
    return dict(kind=kind, id=id, name=name, birth_date=birth_date, sex=sex, phone=phone)


def ddmmyyyy(d: datetime.date, sep: str = "") -> str:
    return f"{d.day:02d}{sep}{d.month:02d}{sep}{d.year}"


def random_date(rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
    return first + datetime.timedelta(days=rng.randrange((last - first).days + 1))


# -- payload builders: (rng, person) -> (payload, expected) -----------------------------------

def _cccd_fields(rng: random.Random, p: Person, first_issue: datetime.date,
                 last_issue: datetime.date) -> tuple[list[str], str]:
    """The 7 fields of a citizen-ID QR (title-case name, as cards carry it) and the number."""
    number = cccd_number(rng, p)
    old_id = "" if rng.random() < 0.35 or p.birth.year >= 2010 else digits(rng, 9)
    issued = random_date(rng, max(p.birth + datetime.timedelta(days=30), first_issue), last_issue)
    return [number, old_id, p.name, ddmmyyyy(p.birth), "Nam" if p.sex == "male" else "Nữ", p.address,
            ddmmyyyy(issued)], number


def build_cccd(rng: random.Random, p: Person) -> tuple[str, dict]:
    """Chip CCCD QR (2021 - June 2024): 7 fields, sometimes no old ID."""
    fields, number = _cccd_fields(rng, p, datetime.date(2021, 1, 1), datetime.date(2024, 6, 30))
    return "|".join(fields), expected("cccd", number, p.name, p.birth.isoformat(), p.sex)


def build_can_cuoc(rng: random.Random, p: Person) -> tuple[str, dict]:
    """Căn cước QR (from July 2024): the same 7 fields, then 4 empty ones (formats.md §1.3)."""
    fields, number = _cccd_fields(rng, p, datetime.date(2024, 7, 1), datetime.date(2025, 5, 1))
    return "|".join(fields + [""] * 4), expected("cccd", number, p.name, p.birth.isoformat(), p.sex)


def _bhyt_common(rng: random.Random, p: Person) -> tuple[str, str, str]:
    """(BHXH number, birth field, expected birth_date): sometimes only the year is known."""
    bhxh = rng.choice(PROVINCES)[1:] + digits(rng, 8)
    if rng.random() < 0.2:
        return bhxh, str(p.birth.year), str(p.birth.year)
    return bhxh, ddmmyyyy(p.birth, "/"), p.birth.isoformat()


def _check_value(rng: random.Random) -> str:
    """16 hex digits, or 15 as on some cards, then "-" and 4 more."""
    return "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice((15, 16, 16)))) + "-" + \
        "".join(rng.choice("0123456789abcdef") for _ in range(4))


def build_bhyt_old(rng: random.Random, p: Person) -> tuple[str, dict]:
    """BHYT QR, old layout: 15-character card number, hex name and address, 15 tokens."""
    bhxh, birth, birth_expected = _bhyt_common(rng, p)
    group, level = rng.choice((("GD", "4"), ("HT", "3"), ("DN", "4"), ("TE", "1"), ("CN", "3")))
    card = f"{group}{level}{bhxh[:2]}{bhxh}"
    province = bhxh[:2]
    # A child's card names a guardian: in hex like the name, or plain (a name, or a phone number).
    guardian = rng.choice((hexutf8(PARENTS[0]), PARENTS[1], mobile(rng))) if group == "TE" else "-"
    tokens = [card, hexutf8(p.name), birth, "1" if p.sex == "male" else "2", hexutf8(p.address),
              f"{province} - {digits(rng, 3)}", "01/01/2025", "31/12/2035", "15/12/2024",
              province + digits(rng, 2) + bhxh, guardian, rng.choice("4445"), "01/01/2029",
              _check_value(rng), "$"]
    return "|".join(tokens), expected("bhyt", card, p.name, birth_expected, p.sex)


def build_bhyt_new(rng: random.Random, p: Person) -> tuple[str, dict]:
    """BHYT QR, new layout: 10-digit number, no address, no end date, place of issue, 17 tokens."""
    bhxh, birth, birth_expected = _bhyt_common(rng, p)
    tokens = [bhxh, hexutf8(p.name), birth, "1" if p.sex == "male" else "2", "-",
              f"{bhxh[:2]} - {digits(rng, 3)}", "01/01/2024", "-", "15/01/2024",
              bhxh[:2] + digits(rng, 2) + bhxh, "-", "4", " 01/01/2029", _check_value(rng), "4",
              hexutf8(rng.choice(("Bảo hiểm xã hội Mẫu", "Bảo hiểm xã hội Thành phố Thử Nghiệm"))), "$"]
    return "|".join(tokens), expected("bhyt", bhxh, p.name, birth_expected, p.sex)


def _national(rng: random.Random, p: Person, masked: bool, layout: str = "published") -> tuple[str, dict]:
    """layout: "published" (EXT = proxy<sex<BHYT<phone, QĐ 1405's order) or "pccovid" (as several
    public scanner projects captured it: proxy<sex<00<<phone or proxy<sex<00<phone)."""
    number, qid, phone = cccd_number(rng, p), digits(rng, 18), mobile(rng)
    proxy = rng.random() < 0.25
    sex_code = "0" if rng.random() < 0.2 else {"male": "1", "female": "2"}[p.sex]  # 0 = not declared
    bhyt_no = f"GD4{number[1:3]}{digits(rng, 10)}"
    phone_field, phone_expected = phone, phone
    if masked:
        number = "******" + number[6:] if layout == "published" or rng.random() < 0.5 else number[:9] + "***"
        bhyt_no = bhyt_no[:6] + "*" * 7 + bhyt_no[13:]
        if rng.random() < 0.4:
            phone_field, phone_expected = rng.choice((phone[:4] + "******", phone[:7] + "***")), None
    birth = f"{p.birth.year}-**-**" if masked else p.birth.isoformat()
    head = f"{digits(rng, 18) if proxy else ''}<{sex_code}<"
    if layout == "published":
        ext = f"{head}{bhyt_no}<{phone_field}"
    else:
        ext = f"{head}00<{rng.choice(('<', ''))}{phone_field}"
    payload = "|".join([number, ascii_upper(p.name), birth, "1" if proxy else "0", qid, ext])
    sex = {"1": "male", "2": "female", "0": None}[sex_code]
    return payload, expected("national_qr", qid, ascii_upper(p.name), birth[:4] if masked else birth,
                             sex, phone_expected)


def build_national_masked(rng: random.Random, p: Person) -> tuple[str, dict]:
    """National personal QR (QĐ 1405) in default display mode: ID, birth date (and phone) masked."""
    return _national(rng, p, masked=True)


def build_national_full(rng: random.Random, p: Person) -> tuple[str, dict]:
    """National personal QR in full display mode."""
    return _national(rng, p, masked=False)


def build_national_pccovid(rng: random.Random, p: Person) -> tuple[str, dict]:
    """National personal QR with EXT as PC-Covid wrote it, in either display mode."""
    return _national(rng, p, masked=rng.random() < 0.5, layout="pccovid")


BUILDERS: dict[str, Callable[[random.Random, Person], tuple[str, dict]]] = {
    "cccd": build_cccd,
    "bhyt_old": build_bhyt_old,
    "bhyt_new": build_bhyt_new,
    "national_masked": build_national_masked,
    "national_full": build_national_full,
    "can_cuoc": build_can_cuoc,
    "national_pccovid": build_national_pccovid,
}


# -- look-alikes and garbage: (name, payload, symbology, refusal code) ------------------------

def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, the EMVCo QR checksum (tag 63)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def vietqr_payload() -> str:
    """A VietQR (EMVCo) transfer code to a made-up account, with a correct CRC."""
    account = _tlv("00", "A000000727") + _tlv("01", _tlv("00", "970436") + _tlv("01", "0001234567890")) \
        + _tlv("02", "QRIBFTTA")
    body = _tlv("00", "01") + _tlv("01", "12") + _tlv("38", account) + _tlv("53", "704") \
        + _tlv("54", "50000") + _tlv("58", "VN") + _tlv("62", _tlv("08", "Thanh toan thu")) + "6304"
    return body + f"{crc16_ccitt(body.encode()):04X}"


def lookalikes() -> list[tuple[str, str, str, str]]:
    """Codes the kiosk must refuse: (name, payload, symbology, refusal code)."""
    rng = random.Random(1405)
    b45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    cccd_11 = "07919000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1 Đường Thử Nghiệm, Phường Mẫu|15072021"
    return [
        ("vietqr", vietqr_payload(), "qr_code", "payment_qr"),
        ("momo", "2|99|0912345678|Nguyen Thi Mau||0|0|50000|Thu mau|transfer_myqr", "qr_code", "payment_qr"),
        ("url", "https://example.invalid/checkin?venue=cho-mau-01", "qr_code", "url"),
        ("hc1", "HC1:NCF" + "".join(rng.choice(b45) for _ in range(240)), "qr_code", "vaccine_passport"),
        ("random_text", "Xin chào! Đây là mã QR thử nghiệm, không phải giấy tờ tùy thân.", "qr_code",
         "unknown_format"),
        ("cccd_11_digits", cccd_11, "qr_code", "malformed_cccd"),
        ("code128_text", "KHO-" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6)),
         "code_128", "unknown_format"),
    ]


# -- rendering: module matrices (True = dark), 1 pixel per module, quiet zone included ---------

def qr_segno(payload: str, error: str = "m") -> np.ndarray:
    """QR matrix by segno, byte mode (UTF-8), no error-level boost."""
    qr = segno.make_qr(payload.encode("utf-8"), error=error, mode="byte", boost_error=False)
    return np.pad(np.array(qr.matrix, dtype=bool), 4)


def qr_qrcode(payload: str, error: str = "m") -> np.ndarray:
    """QR matrix by python-qrcode, one byte-mode segment (UTF-8)."""
    level = {"l": qrcode.constants.ERROR_CORRECT_L, "m": qrcode.constants.ERROR_CORRECT_M,
             "q": qrcode.constants.ERROR_CORRECT_Q, "h": qrcode.constants.ERROR_CORRECT_H}[error]
    qr = qrcode.QRCode(error_correction=level, border=4, box_size=1)
    qr.add_data(QRData(payload.encode("utf-8"), mode=MODE_8BIT_BYTE))
    qr.make(fit=True)
    return np.array(qr.get_matrix(), dtype=bool)


# Code 128 symbol patterns (bar, space, bar, space, bar, space widths), values 0-105; then stop.
_C128 = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232 122132 "
    "122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122 321221 312212 "
    "322112 322211 212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 231113 231311 "
    "112133 112331 132131 113123 113321 133121 313121 211331 231131 213113 213311 213131 311123 311321 "
    "331121 312113 312311 332111 314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 "
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 111242 121142 121241 114212 "
    "124112 124211 411212 421112 421211 212141 214121 412121 111143 111341 131141 114113 114311 411113 "
    "411311 113141 114131 311141 411131 211412 211214 211232"
).split()
_C128_STOP = "2331112"
_START_B = 104


def code128_values(text: str) -> list[int]:
    """Symbol values for ``text`` in code set B: start B, data, checksum (mod 103); no stop."""
    if not all(32 <= ord(c) < 128 for c in text):
        raise ValueError("code set B encodes ASCII 32-127 only")
    values = [_START_B] + [ord(c) - 32 for c in text]
    checksum = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    return values + [checksum]


def code128(text: str, height_ratio: float = 0.25) -> np.ndarray:
    """Code 128 (set B) module image: 10-module quiet zones, bars ``height_ratio`` x width tall."""
    widths = "".join(_C128[v] for v in code128_values(text)) + _C128_STOP
    row = [False] * 10
    for i, w in enumerate(widths):
        row += [i % 2 == 0] * int(w)
    row += [False] * 10
    return np.tile(np.array(row, dtype=bool), (max(8, round(len(row) * height_ratio)), 1))


RENDERERS = {"segno": qr_segno, "qrcode": qr_qrcode}


# -- distortions: image -> image on grayscale uint8 -------------------------------------------

def rotate(img: np.ndarray, degrees: float, border: int = 0) -> np.ndarray:
    """Rotate about the centre; the canvas grows to hold the whole result."""
    h, w = img.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=border)


def keystone(img: np.ndarray, amount: float = 0.15, edge: str = "top", border: int = 0) -> np.ndarray:
    """Perspective: one edge shortened by ``amount`` of its length (a card tilted away from the camera)."""
    h, w = img.shape
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])  # top-left, top-right, bottom-right, bottom-left
    dx, dy = amount * w / 2, amount * h / 2
    moves = {"top": {0: (dx, 0), 1: (-dx, 0)}, "bottom": {3: (dx, 0), 2: (-dx, 0)},
             "left": {0: (0, dy), 3: (0, -dy)}, "right": {1: (0, dy), 2: (0, -dy)}}[edge]
    target = corners.copy()
    for corner, move in moves.items():
        target[corner] += move
    m = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=border)


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigma)


def gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def low_contrast(img: np.ndarray, lo: int = 60, hi: int = 110) -> np.ndarray:
    """Compress 0..255 into lo..hi (a dim, flat-lit scene)."""
    return np.round(lo + img.astype(np.float32) * ((hi - lo) / 255)).astype(np.uint8)


def glare(img: np.ndarray, rng: np.random.Generator, area: float = 0.15) -> np.ndarray:
    """A specular highlight: an ellipse over ``area`` of the image, saturated at its centre and
    fading to its rim (a hemispherical profile), centred in the middle so the finders stay visible."""
    h, w = img.shape
    aspect = rng.uniform(1.2, 2.0)
    b = np.sqrt(area * w * h / (np.pi * aspect))
    a = b * aspect
    cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.6)
    angle = rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (xs - cx) * np.cos(angle) + (ys - cy) * np.sin(angle)
    v = (ys - cy) * np.cos(angle) - (xs - cx) * np.sin(angle)
    strength = np.sqrt(np.clip(1 - (u / a) ** 2 - (v / b) ** 2, 0, 1))
    return np.clip(img + (255 - img.astype(np.float32)) * strength, 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def motion_blur(img: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A straight smear of ``length`` pixels at a random angle (a phone moved during the exposure)."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    m = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, m, (length, length))
    return cv2.filter2D(img, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def dim(img: np.ndarray, rng: np.random.Generator, level: float = 0.3, noise: float = 10) -> np.ndarray:
    """A dim door at 7 a.m.: the light at ``level`` of full, the sensor's gain raising its noise."""
    return gaussian_noise(img.astype(np.float32) * level, noise, rng)


def crumpled(img: np.ndarray, rng: np.random.Generator, amount: float = 2.5) -> np.ndarray:
    """A paper card folded in a wallet and flattened again: a smooth random warp of up to ``amount``
    pixels, a crease across it, and the shading of its bumps."""
    h, w = img.shape
    def field(scale: float) -> np.ndarray:
        return cv2.resize(rng.uniform(-1, 1, (5, 5)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC) * scale
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    # A crease: a line through the card, the paper on one side shifted against the other.
    angle, offset = rng.uniform(0, np.pi), rng.uniform(-0.2, 0.2) * min(h, w)
    side = (xs - w / 2) * np.cos(angle) + (ys - h / 2) * np.sin(angle) - offset
    crease = np.tanh(side / 3.0)
    map_x = (xs + field(amount) + crease * amount * 0.4).astype(np.float32)
    map_y = (ys + field(amount) + crease * amount * 0.4).astype(np.float32)
    warped = cv2.remap(img.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderValue=0)
    shade = 1.0 + field(0.18) - 0.25 * np.exp(-(side / 4.0) ** 2)
    return np.clip(warped * shade, 0, 255).astype(np.uint8)


Step = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Distortion:
    """How a code is degraded: ``on_card`` (the printed card, before it is placed in the scene;
    geometric steps fill outside the card with 0), ``on_scene`` (the whole frame), ``module_px``
    (fixed pixels per module instead of a random code width)."""

    name: str
    on_card: Step | None = None
    on_scene: Step | None = None
    module_px: int | None = None


def _sign(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.5 else -1


def _realistic(lo: int, hi: int) -> Step:
    """Camera-like scene steps: low contrast, then lens blur 1.0, then sensor noise 8."""
    return lambda img, rng: gaussian_noise(gaussian_blur(low_contrast(img, lo, hi), 1.0), 8, rng)


DISTORTIONS = {d.name: d for d in (
    Distortion("clean"),
    Distortion("rot10", on_card=lambda img, rng: rotate(img, 10 * _sign(rng))),
    Distortion("rot30", on_card=lambda img, rng: rotate(img, 30 * _sign(rng))),
    Distortion("keystone15", on_card=lambda img, rng: keystone(
        img, 0.15, ("top", "bottom", "left", "right")[rng.integers(4)])),
    Distortion("blur1.0", on_scene=lambda img, rng: gaussian_blur(img, 1.0)),
    Distortion("blur1.5", on_scene=lambda img, rng: gaussian_blur(img, 1.5)),
    Distortion("noise10", on_scene=lambda img, rng: gaussian_noise(img, 10, rng)),
    Distortion("noise20", on_scene=lambda img, rng: gaussian_noise(img, 20, rng)),
    Distortion("low_contrast", on_scene=lambda img, rng: low_contrast(img, 60, 110)),
    Distortion("small_modules", module_px=2),
    Distortion("glare", on_card=lambda img, rng: glare(img, rng, 0.15)),
    Distortion("jpeg30", on_scene=lambda img, rng: jpeg(img, 30)),
    # Rotation 15° + blur 1.0 + noise 8 + the same low contrast (60..110) as "low_contrast".
    Distortion("realistic", on_card=lambda img, rng: rotate(img, 15 * _sign(rng)), on_scene=_realistic(60, 110)),
    # The same with a milder contrast loss (40..160), as after the camera's auto-exposure.
    Distortion("realistic_mild", on_card=lambda img, rng: rotate(img, 15 * _sign(rng)),
               on_scene=_realistic(40, 160)),
)}

#: The hard conditions of a market door at 7 a.m. (issue 14), where a raw decoder reads about half:
#: keystone up to 25 %, motion blur 5-9 px, glare on a laminated card, dim light with noise, a
#: crumpled paper card, codes at 2 pixels a module, and mixes of them.
HARD_DISTORTIONS = {d.name: d for d in (
    Distortion("keystone25", on_card=lambda img, rng: keystone(
        img, rng.uniform(0.18, 0.25), ("top", "bottom", "left", "right")[rng.integers(4)])),
    Distortion("motion5", on_scene=lambda img, rng: motion_blur(img, 5, rng)),
    Distortion("motion9", on_scene=lambda img, rng: motion_blur(img, int(rng.integers(7, 10)), rng)),
    Distortion("glare_laminated", on_card=lambda img, rng: glare(img, rng, rng.uniform(0.12, 0.22))),
    Distortion("dim_noise", on_scene=lambda img, rng: dim(img, rng, rng.uniform(0.22, 0.35), 10)),
    Distortion("crumpled", on_card=lambda img, rng: crumpled(img, rng, rng.uniform(1.5, 3.0))),
    Distortion("modules2", module_px=2, on_scene=lambda img, rng: gaussian_blur(img, 0.7)),
    Distortion("keystone_motion", on_card=lambda img, rng: keystone(
        img, 0.2, ("top", "bottom", "left", "right")[rng.integers(4)]),
               on_scene=lambda img, rng: motion_blur(img, 5, rng)),
    Distortion("dim_glare", on_card=lambda img, rng: glare(img, rng, 0.15),
               on_scene=lambda img, rng: dim(img, rng, 0.35, 8)),
    Distortion("crumpled_motion", on_card=lambda img, rng: crumpled(img, rng, 2.0),
               on_scene=lambda img, rng: motion_blur(img, 5, rng)),
)}


# -- the scene --------------------------------------------------------------------------------

def background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A textured, unevenly lit desk-like scene with some clutter (float32 0..255)."""
    low = cv2.resize(rng.uniform(100, 190, (6, 8)).astype(np.float32), (width, height),
                     interpolation=cv2.INTER_CUBIC)
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)
    scene = low + rng.uniform(-25, 25) * xs[None, :] + rng.uniform(-25, 25) * ys[:, None]
    for _ in range(int(rng.integers(3, 7))):  # clutter: other papers, edges, a pen
        centre = rng.uniform((0, 0), (width, height))
        pts = (centre + rng.uniform(-160, 160, (4, 2))).astype(np.int32)
        cv2.fillConvexPoly(scene, cv2.convexHull(pts), float(rng.uniform(40, 230)))
    for _ in range(int(rng.integers(2, 6))):
        p, q = rng.uniform((0, 0), (width, height), (2, 2)).astype(int)
        cv2.line(scene, tuple(map(int, p)), tuple(map(int, q)), float(rng.uniform(20, 240)),
                 int(rng.integers(1, 6)))
    grain = cv2.GaussianBlur(rng.standard_normal((height, width), np.float32) * 7, (0, 0), 1.2)
    return np.clip(scene + grain, 0, 255)


def scale_modules(modules: np.ndarray, width_px: float, rng: np.random.Generator) -> np.ndarray:
    """Modules scaled to ``width_px`` (float 0=dark..1=light) at a random sub-pixel phase, as a
    sensor sees them: module edges fall between pixels even at a whole number of pixels per module."""
    sub = 8  # sub-pixel steps per module
    big = np.kron((~modules).astype(np.float32), np.ones((sub, sub), np.float32))
    big = np.pad(big, ((int(rng.integers(sub)), 0), (int(rng.integers(sub)), 0)), constant_values=1.0)
    scale = width_px / (modules.shape[1] * sub)
    size = (round(big.shape[1] * scale), round(big.shape[0] * scale))
    return cv2.resize(big, size, interpolation=cv2.INTER_AREA)


def code_width(modules: np.ndarray, rng: np.random.Generator, one_d: bool) -> float:
    """A random on-screen width: QR 150-300 px at 3-4.5 px/module; 1-D 2.2-3 px/module."""
    if one_d:
        return modules.shape[1] * rng.uniform(2.2, 3.0)
    return float(np.clip(modules.shape[1] * rng.uniform(3.0, 4.5), 150, 300))


def place(scene: np.ndarray, card: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> None:
    """Alpha-blend ``card`` into ``scene`` at a random place (centre-cropped if too big)."""
    sh, sw = scene.shape
    ch, cw = card.shape
    if ch > sh or cw > sw:
        y, x = max(0, (ch - sh) // 2), max(0, (cw - sw) // 2)
        card, mask = card[y:y + sh, x:x + sw], mask[y:y + sh, x:x + sw]
        ch, cw = card.shape
    y0, x0 = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
    region = scene[y0:y0 + ch, x0:x0 + cw]
    region[:] = region * (1 - mask) + card * mask


def render_frame(modules: np.ndarray, distortion: Distortion, rng: np.random.Generator,
                 size: tuple[int, int] = FRAME_SIZE, width_px: float | None = None) -> np.ndarray:
    """The camera frame (uint8, height x width) of a printed code on a card lying in a scene."""
    one_d = modules.shape[0] != modules.shape[1]
    if distortion.module_px:
        width_px = modules.shape[1] * distortion.module_px
    elif width_px is None:
        width_px = code_width(modules, rng, one_d)
    dark, light = rng.uniform(15, 50), rng.uniform(210, 245)
    code = dark + scale_modules(modules, width_px, rng) * (light - dark)
    margin = max(4, round(0.05 * width_px))
    card = np.pad(code, margin, constant_values=light).astype(np.uint8)
    mask = np.full(card.shape, 255, np.uint8)
    if distortion.on_card:
        # The same random choices for the card and its mask.
        card, mask = distortion.on_card(card, copy.deepcopy(rng)), distortion.on_card(mask, rng)
    scene = background(rng, *size)
    place(scene, card.astype(np.float32), mask.astype(np.float32) / 255, rng)
    frame = np.round(scene).astype(np.uint8)
    if distortion.on_scene:
        frame = distortion.on_scene(frame, rng)
    return np.ascontiguousarray(frame)


# -- samples ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    kind: str
    distortion: str
    index: int
    renderer: str
    payload: str
    expected: dict
    frame: np.ndarray


def seed_for(*parts) -> int:
    """A stable seed (unlike hash(), the same in every process)."""
    return zlib.crc32("/".join(map(str, parts)).encode())


def make_payload(kind: str, index: int) -> tuple[str, dict]:
    """Payload ``index`` of ``kind``; consecutive indexes go through the people in turn."""
    person = PEOPLE[(index + 3 * list(BUILDERS).index(kind)) % len(PEOPLE)]
    return BUILDERS[kind](random.Random(seed_for("payload", kind, index)), person)


@functools.cache
def _modules(payload: str, renderer: str) -> np.ndarray:
    """QR encoding is the slow part of a sample; each distortion reuses the same code."""
    modules = RENDERERS[renderer](payload)
    modules.flags.writeable = False
    return modules


def make_sample(kind: str, distortion: str, index: int) -> Sample:
    """Sample ``index`` of (kind, distortion); even indexes are drawn by segno, odd by qrcode.

    The payload depends only on (kind, index), so each distortion degrades the same codes.
    """
    payload, want = make_payload(kind, index)
    renderer = "segno" if index % 2 == 0 else "qrcode"
    rng = np.random.default_rng(seed_for("frame", kind, distortion, index))
    frame = render_frame(_modules(payload, renderer), {**DISTORTIONS, **HARD_DISTORTIONS}[distortion], rng)
    return Sample(kind, distortion, index, renderer, payload, want, frame)


#: Frames of one presentation: a card held up for a second gives the camera about 15; the hard
#: corpus takes the first few, the same scene with the sensor's fresh noise in each.
PRESENTATION_FRAMES = 3


def presentation(sample: Sample, frames: int = PRESENTATION_FRAMES) -> list[np.ndarray]:
    """``frames`` frames of ``sample``'s scene: its own, then each with fresh sensor noise (σ 2)."""
    out = [sample.frame]
    for k in range(1, frames):
        rng = np.random.default_rng(seed_for("presentation", sample.kind, sample.distortion, sample.index, k))
        out.append(gaussian_noise(sample.frame.astype(np.float32), 2, rng))
    return out


def lookalike_frame(payload: str, symbology: str, seed: int) -> np.ndarray:
    """A clean frame of a look-alike code (QR by segno, or Code 128)."""
    modules = code128(payload) if symbology == "code_128" else qr_segno(payload)
    return render_frame(modules, DISTORTIONS["clean"], np.random.default_rng(seed))
