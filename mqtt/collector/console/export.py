"""A case's contact list as the calling teams take it: XLSX (openpyxl) and CSV, with Vietnamese
headers, times as ``dd/mm/yyyy HH:MM`` in the venues' zone, and the diacritics intact when the file
is opened in a spreadsheet (the CSV starts with a UTF-8 byte-order mark, which is how Excel knows).

Cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) are written as
text, so a hostile name cannot become one.

>>> rows = contact_rows({"contacts": [{"person": {"kind": "cccd", "id": "079190000001", "name": "Trần Văn An",
...     "phone": "0912345678"}, "overlap_s": 3600.0, "first_overlap": "2026-08-19T01:00:00.000+00:00",
...     "last_overlap": "2026-08-19T02:00:00.000+00:00", "venues": ["cho-thu"], "estimated": False, "open": False,
...     "visits": []}]}, "Asia/Ho_Chi_Minh")
>>> rows[0][:6]
['Trần Văn An', 'CCCD', '079190000001', '0912345678', 60, '19/08/2026 08:00']
>>> as_csv(rows)[:3] == "\\ufeff".encode() and as_csv(rows).decode("utf-8-sig").splitlines()[0].startswith("Họ tên")
True
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

HEADERS = ["Họ tên", "Loại giấy tờ", "Số giấy tờ", "Điện thoại", "Thời gian chung (phút)", "Từ", "Đến",
           "Địa điểm", "Giờ ra ước tính", "Còn ở trong", "Khai báo y tế có dấu hiệu", "SĐT đã xác minh"]
KIND_LABELS = {"cccd": "CCCD", "bhyt": "BHYT", "national_qr": "QR quốc gia", "kiosk_card": "Thẻ của máy",
               "slip": "Phiếu in"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _local(iso_time: str | None, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(iso_time).astimezone(zone).strftime("%d/%m/%Y %H:%M") if iso_time else ""


def _cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def contact_rows(found: dict, tz: str) -> list[list]:
    """One row per contact (the order of the case: longest shared time first), under :data:`HEADERS`."""
    zone = ZoneInfo(tz)
    out = []
    for c in found["contacts"]:
        p = c["person"]
        out.append([_cell(p.get("name") or ""), KIND_LABELS.get(p.get("kind"), p.get("kind")), _cell(p.get("id")),
                    _cell(p.get("phone") or ""), round(c["overlap_s"] / 60), _local(c["first_overlap"], zone),
                    _local(c["last_overlap"], zone), ", ".join(c["venues"]), "có" if c["estimated"] else "không",
                    "có" if c["open"] else "không", _declared(c), _phone_checked(c)])
    return out


def _declared(contact: dict) -> str:
    """Whether a health declaration of their shared visits flagged them: có, không, or "" (none made)."""
    if contact.get("declaration_flagged"):
        return "có"
    return "không" if any(v.get("declaration") for v in contact.get("visits", [])) else ""


def _phone_checked(contact: dict) -> str:
    """Of a contact checked in by staff with a phone: whether it was verified by a code (their latest
    such visit): có, không, or "" (never checked in that way)."""
    checked = [v["phone_verified"] for v in contact.get("visits", []) if v.get("phone_verified") is not None]
    return ("có" if checked[-1] else "không") if checked else ""


FIGURE_COUNTS = ["Lượt vào", "Số người", "Đông nhất cùng lúc", "Số máy"]
#: The columns that name the place, per level of the figures.
PLACE_HEADERS = {"venue": ["Địa điểm", "Tên địa điểm", "Huyện", "Tỉnh"], "district": ["Huyện", "Tỉnh"],
                 "province": ["Tỉnh"]}
UNPLACED = "(chưa xếp)"


def figure_rows(figures: list[dict], level: str = "venue") -> tuple[list[str], list[list]]:
    """The committees' figures (aggregates only) of one level: the headers and the rows, days as
    dd/mm/yyyy (by week: the week's Monday); above a venue, how many venues checked anyone in.

    >>> figure_rows([{"province": "Ninh Thuận", "district": "", "day": "2021-08-19", "check_ins": 9,
    ...     "visitors": 8, "peak_occupancy": 3, "kiosks": 2, "venues": 2}], "district")[1]
    [['(chưa xếp)', 'Ninh Thuận', '19/08/2021', 9, 8, 3, 2, 2]]
    """
    def place(r: dict) -> list:
        if level == "venue":
            return [r["venue_id"], _cell(r["venue_name"]), _cell(r["district"]), _cell(r["province"])]
        names = [r["district"]] if level == "district" else []
        return [_cell(name) or UNPLACED for name in [*names, r["province"]]]
    headers = PLACE_HEADERS[level] + ["Ngày"] + FIGURE_COUNTS + ([] if level == "venue" else ["Số điểm"])
    rows = [[*place(r), "/".join(reversed(r["day"].split("-"))), r["check_ins"], r["visitors"], r["peak_occupancy"],
             r["kiosks"], *([] if level == "venue" else [r["venues"]])] for r in figures]
    return headers, rows


def as_csv(rows: list[list], headers: list[str] = HEADERS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def as_xlsx(rows: list[list], title: str, headers: list[str] = HEADERS, sheet_title: str = "Tiếp xúc") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title
    sheet.append([title])
    sheet["A1"].font = Font(bold=True)
    sheet.append(headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"        # text, never a formula
    for column, width in zip("ABCDEFGHIJ", (28, 14, 18, 14, 12, 17, 17, 24, 10, 10)[:len(headers)], strict=False):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
