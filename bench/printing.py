"""Print jobs: bytes per slip and card, what that costs on the wire, and what drawing them costs.

bytes: the ESC/POS stream of one job as every backend sends it (``hardware.escpos_job.job_bytes``:
``ESC @``, the ``GS v 0`` raster, feed, cut). Each dot row is width / 8 bytes, so the height of
the layout is the figure that matters.

transfer: estimated from the bytes: USB full speed at ~1 MB/s effective, serial at 115200 baud
8N1 (10 bits a byte). The printer's own speed (~100-250 mm/s) is not included.

render: ours = ``render_slip``/``render_card`` + ``job_bytes`` (drawing, then python-escpos encoding
the job); raw = python-escpos printing the same finished image directly to its ``Dummy`` printer
(``Dummy(profile="TM-T20II").image(img)``: a profile that knows its paper width, so python-escpos
does not print its unknown-width warning on every image). Alternated, median of the repeats.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from hardware.escpos_job import escpos_package, job_bytes
from kiosk.printing.layout import render_card, render_slip

from .report import median

USB_BYTES_PER_S = 1_000_000
SERIAL_BAUD = 115_200
WIDTHS = (384, 576)
# Tokens as the kiosk signs them (kiosk/printed_codes.py): slip 24-byte body, card 16-byte body, 10-byte MAC.
SLIP_TOKEN = "CK1.S.AAQCAMBAEAHAQB4YNBA2GZZQFRGGXYOQBF4G2VPNSCO3XZ6U.7AAKFBL4GXBHFNWQ"
CARD_TOKEN = "CK1.C.AAQCAMBAEAHAQB4YNBA2GZZQFRGG.7AAKFBL4GXBHFNWQ"


def _drawings(width: int) -> dict:
    at = datetime(2026, 11, 21, 8, 31, tzinfo=timezone(timedelta(hours=7)))
    return {
        "slip": lambda: render_slip(venue="Chợ Phan Rang", check_in_at=at, name="Nguyễn Thị Mẫu",
                                    visit_number="4812", token=SLIP_TOKEN, width=width),
        "card": lambda: render_card(venue="Chợ Phan Rang", name="Trần Văn Thử", phone="0912345678",
                                    token=CARD_TOKEN, width=width),
    }


def _seconds(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(repeats: int) -> dict:
    dummy = escpos_package().printer.Dummy
    out = {"repeats": repeats, "usb_bytes_per_s": USB_BYTES_PER_S, "serial_baud": SERIAL_BAUD}
    for width in WIDTHS:
        for kind, draw in _drawings(width).items():
            image = draw()
            data = job_bytes(image, width=width)

            def raw(image=image):
                dummy(profile="TM-T20II").image(image, impl="bitImageRaster")

            raw()                                      # warm: fonts, python-escpos's profile
            drawn, encoded, ours, base = [], [], [], []
            for _ in range(repeats):
                started = time.perf_counter()
                fresh = draw()
                middle = time.perf_counter()
                job_bytes(fresh, width=width)
                ended = time.perf_counter()
                drawn.append(middle - started)
                encoded.append(ended - middle)
                ours.append(ended - started)
                base.append(_seconds(raw))
            out[f"{kind}_{width}"] = {
                "kind": kind, "width": width, "height": image.height, "bytes": len(data),
                "usb_ms": len(data) / USB_BYTES_PER_S * 1000, "serial_s": len(data) * 10 / SERIAL_BAUD,
                "render_ms": median(drawn) * 1000, "encode_ms": median(encoded) * 1000,
                "ours_ms": median(ours) * 1000, "raw_ms": median(base) * 1000,
                "ratio": median(ours) / median(base),
            }
    return out
