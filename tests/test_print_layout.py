"""Slips and cards: their QR reads back (from the image, and from the printed ESC/POS bytes) with
both of the kiosk's decoders, also at camera scale; what they say (masked name, venue, time,
instruction); names of any length or content stay on the paper. Previews go to test-artifacts/."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageFilter, ImageOps

from hardware.decoders import open_decoder
from hardware.escpos_raster import raster_images
from hardware.printers import open_printer
from kiosk.printing.fonts import font, font_path
from kiosk.printing.layout import STYLES, Line, card_lines, clean, qr_image, render_card, render_slip, slip_lines, wrap

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# Tokens as the kiosk signs them (kiosk/printed_codes.py): slip 24-byte body, card 16-byte body, 10-byte MAC.
SLIP_TOKEN = "CK1.S.AAQCAMBAEAHAQB4YNBA2GZZQFRGGXYOQBF4G2VPNSCO3XZ6U.7AAKFBL4GXBHFNWQ"
CARD_TOKEN = "CK1.C.AAQCAMBAEAHAQB4YNBA2GZZQFRGG.7AAKFBL4GXBHFNWQ"
AT = datetime(2026, 11, 21, 8, 31, tzinfo=timezone(timedelta(hours=7)))
LONG_NAME = ("Nguyễn Thị Minh Khai Phương Thảo " * 10)[:300]
HOSTILE_NAME = "\x1b@\x1dV\x00Trần\x1b!\x30\x10\x04\x01 Văn\r\n\u202eThử" + "\u0301" * 40 + "X" * 280


def slip(width: int, name: str | None = "Nguyễn Thị Mẫu", language: str = "vi") -> Image.Image:
    return render_slip(venue="Chợ Phan Rang", check_in_at=AT, name=name, visit_number="4812", token=SLIP_TOKEN,
                       width=width, language=language)


def card(width: int, name: str | None = "Trần Văn Thử", phone: str | None = "0912 345 678") -> Image.Image:
    return render_card(venue="Chợ Phan Rang", name=name, phone=phone, token=CARD_TOKEN, width=width)


def read(image: Image.Image, backend: str) -> list[str]:
    decoder = open_decoder(backend, symbologies=("qr_code",))
    try:
        return [s.text for s in decoder.decode(np.asarray(image.convert("L")))]
    finally:
        decoder.close()


def ink(image: Image.Image) -> Image.Image:
    """Black dots as non-zero."""
    return ImageOps.invert(image.convert("L"))


def save(image: Image.Image, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / f"{name}.png")


@pytest.mark.parametrize("width", [384, 576])
@pytest.mark.parametrize("kind", ["slip", "card"])
def test_the_qr_reads_back_from_the_image_and_from_the_printed_bytes(tmp_path, kind, width):
    image, token = (slip(width), SLIP_TOKEN) if kind == "slip" else (card(width), CARD_TOKEN)
    assert image.mode == "1" and image.width == width
    save(image, f"{kind}-{width}")
    printer = open_printer("file", folder=str(tmp_path), width=width)
    printer.print_image(image)
    [job] = tmp_path.glob("*.bin")
    [printed] = raster_images(job.read_bytes())
    for backend in ("zxing", "zbar"):
        assert read(image, backend) == [token]
        assert read(printed, backend) == [token]


@pytest.mark.parametrize("width", [384, 576])
def test_the_qr_still_reads_at_camera_scale(width):
    """Held up to the door camera the 1 mm modules are ~2.5 pixels: the slip, shrunk that much
    (smoothly, as a lens does) and slightly blurred, still reads with both decoders."""
    image = slip(width).convert("L")
    small = image.resize((round(image.width * 0.32), round(image.height * 0.32)), Image.Resampling.LANCZOS)
    small = small.filter(ImageFilter.GaussianBlur(0.6))
    for backend in ("zxing", "zbar"):
        assert read(small, backend) == [SLIP_TOKEN]


def test_tokens_use_the_qr_alphanumeric_mode_with_a_quiet_zone_and_1_mm_modules():
    # 69 characters: version 4 (33 modules) alphanumeric at level M; byte mode would need version 5.
    code = qr_image(SLIP_TOKEN, 352)
    assert code.size == ((33 + 8) * 8, (33 + 8) * 8)
    edge = ink(code)
    assert edge.crop((0, 0, code.width, 32)).getbbox() is None and edge.crop((0, 0, 32, code.height)).getbbox() is None
    assert qr_image("lower-case works too", 352).width <= 352


def test_a_slip_says_where_when_who_and_what_to_do():
    lines = slip_lines(venue="Chợ Phan Rang", check_in_at=AT, name="Nguyễn Thị Mẫu", visit_number="4812")
    assert lines == [Line("title", "Chợ Phan Rang"), Line("body", "Vào lúc 08:31 — 21/11/2026"), Line("rule"),
                     Line("name", "Nguyễn T. M."), Line("body", "Lượt số 4812"), Line("qr"),
                     Line("note", "Đưa mã này vào camera khi ra về")]
    english = slip_lines(venue="Chợ Phan Rang", check_in_at=AT, name=None, visit_number="4812", language="en")
    assert Line("name", "—") in english and Line("note", "Show this code to the camera on your way out") in english
    assert Line("body", "Arrived 08:31 — 21/11/2026") in english


def test_a_card_shows_the_masked_name_and_only_the_phones_last_digits():
    lines = card_lines(venue="Chợ Phan Rang", name="Trần Văn Thử", phone="0912 345 678")
    assert Line("name", "Trần V. T.") in lines and Line("body", "SĐT: ***678") in lines
    assert Line("title", "Chợ Phan Rang") in lines and Line("body", "Thẻ QR cá nhân — dùng để vào/ra") in lines
    assert not any("0912" in line.text or "345" in line.text for line in lines)
    assert not any("SĐT" in line.text for line in card_lines(venue="V", name="A B", phone=None))


@pytest.mark.parametrize("width", [384, 576])
@pytest.mark.parametrize("name", [LONG_NAME, HOSTILE_NAME, "X" * 300, "Nguyễn" + "\u0323\u0302" * 100])
def test_long_and_hostile_names_stay_inside_the_paper(width, name):
    for image, token in ((slip(width, name=name), SLIP_TOKEN), (card(width, name=name), CARD_TOKEN)):
        assert image.mode == "1" and image.width == width and image.height < 1000
        blank = width // 48                              # half the margin: nothing is ever drawn there
        assert ink(image).crop((0, 0, blank, image.height)).getbbox() is None
        assert ink(image).crop((width - blank, 0, width, image.height)).getbbox() is None
        assert read(image, "zxing") == [token]
    if name == HOSTILE_NAME:
        save(slip(width, name=name), f"slip-hostile-{width}")


@pytest.mark.parametrize("width", [384, 576])
def test_wrapping_fits_the_measure_and_cuts_with_an_ellipsis(width):
    bold, size, max_lines = STYLES["name"]
    face = font(size, bold)
    inner = width - 2 * (width // 24)
    for text in (clean(LONG_NAME), clean(HOSTILE_NAME), "X" * 300, "Đưa mã này vào camera khi ra về"):
        rows = wrap(text, face, inner, max_lines)
        assert 1 <= len(rows) <= max_lines and all(face.getlength(r) <= inner for r in rows)
        if len(text) > 100:
            assert rows[-1].endswith("…")
    assert wrap("Nguyễn T. M.", face, inner, 2) == ["Nguyễn T. M."]
    assert wrap("Đưa mã này vào camera khi ra về", font(22), 250, 3) == ["Đưa mã này vào", "camera khi ra về"]


def test_text_is_cleaned_of_commands_and_normalised():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Mẫu")
    assert clean(decomposed) == "Nguyễn Thị Mẫu" and len(clean(decomposed)) == len("Nguyễn Thị Mẫu")
    assert clean("\x1b@A\x1dV\x00n\u202eh\ttest\r\nX\x7f") == "@A Vnh test X"
    assert clean("e" + "\u0301" * 50) == "\u00e9\u0301\u0301"      # NFC makes the first one é
    assert clean(None) == "" and clean("\x00\x1b") == ""


def test_the_font_is_dejavu_with_vietnamese_letters():
    assert Path(font_path()).name == "DejaVuSans.ttf" and Path(font_path(True)).name == "DejaVuSans-Bold.ttf"
    face = font(28)
    # The accents are drawn (not a fallback box): the same letters with and without them differ.
    with_marks, without = face.getmask("Nguyễn Ậ Đ ơ ư"), face.getmask("Nguyen A D o u")
    assert with_marks.size[1] > without.size[1] or bytes(with_marks) != bytes(without)
    missing = face.getmask("\U000f0000")                  # a private-use character: DejaVu's empty box
    assert bytes(face.getmask("ễ")) != bytes(missing)


def test_slips_are_small():
    """Bytes per slip: every row is width / 8 bytes over the wire; compact layout, no black areas."""
    for width in (384, 576):
        for image in (slip(width), card(width)):
            assert image.height <= 640
            black = ImageChops.invert(image.convert("L")).histogram()[255] / (image.width * image.height)
            assert black < 0.25
