"""The QR of the chip citizen-ID card (CCCD, 2021) and of the Căn cước card (2024); formats.md §1.

``SoCCCD|SoCMNDcu|HoTen|NgaySinh(ddmmyyyy)|GioiTinh|NoiThuongTru|NgayCap(ddmmyyyy)[|extras…]``

The chip card has these 7 fields; the Căn cước card has 11, the same 7 then 4 that are usually
empty (``details["layout"]`` says which). More or fewer extras are read the same way.

>>> c = parse("001095000002||Trần Văn Thử|02021995|Nam|Phường Mẫu, Thành phố Hà Nội|10102024")
>>> c.id, c.name, c.birth_date, c.sex, c.details["old_id"]
('001095000002', 'Trần Văn Thử', '1995-02-02', 'male', None)
"""

from __future__ import annotations

import datetime
from typing import NoReturn

from .model import Credential, Refused
from .normalise import (
    birth_in_future,
    collapse,
    is_ascii_digits,
    make_date,
    name_problem,
    to_text,
)

KIND = "cccd"
MAX_ADDRESS_CHARS = 300
_LAYOUTS = {7: "chip_2021", 11: "can_cuoc_2024"}
_SEX = {"nam": "male", "nữ": "female", "nu": "female"}


def parse(data: bytes | str, *, today: datetime.date | None = None) -> Credential:
    """A CCCD / Căn cước credential, or ``Refused("malformed_cccd")`` naming the bad field."""
    today = today or datetime.date.today()
    fields = [f.strip() for f in to_text(data).split("|")]
    if len(fields) < 7:
        _malformed(f"{len(fields)} fields, at least 7 expected")

    number, old_id, raw_name, raw_birth, raw_sex, raw_address, raw_issue = fields[:7]
    if not is_ascii_digits(number, 12):
        _malformed("field 0 (ID number) is not 12 digits")
    name = collapse(raw_name)
    problem = name_problem(name)
    if problem:
        _malformed(f"field 2 (name) {problem}")
    birth = _ddmmyyyy(raw_birth)
    if birth is None:
        _malformed("field 3 (birth date) is not a ddmmyyyy date")
    sex = _SEX.get(raw_sex.casefold())
    if sex is None:
        _malformed("field 4 (sex) is not Nam or Nữ")
    address = collapse(raw_address) or None
    if address and len(address) > MAX_ADDRESS_CHARS:
        _malformed(f"field 5 (address) is longer than {MAX_ADDRESS_CHARS} characters")

    warnings = []
    if old_id and not (is_ascii_digits(old_id, 9) or is_ascii_digits(old_id, 12)):
        warnings.append("cccd_old_id_length")
    issue = _ddmmyyyy(raw_issue)
    if raw_issue and issue is None:
        warnings.append("cccd_issue_date_invalid")
    warnings += _number_warnings(number, birth, sex)
    birth_date = birth.isoformat()
    if birth_in_future(birth_date, today):
        warnings.append("birth_date_in_future")

    return Credential(
        kind=KIND,
        id=number,
        name=name,
        birth_date=birth_date,
        sex=sex,
        phone=None,
        details={
            "old_id": old_id or None,
            "address": address,
            "issue_date": issue.isoformat() if issue else None,
            "layout": _LAYOUTS.get(len(fields), "other"),
            # What follows field 6, when any of it is filled in (cancelled ID numbers, parents'
            # names are expected there; undocumented).
            "extras": fields[7:] if any(fields[7:]) else [],
        },
        warnings=tuple(warnings),
    )


def _number_warnings(number: str, birth: datetime.date, sex: str) -> list[str]:
    """Soft checks of the PPP-G-YY-RRRRRR structure (a forger must also fake a consistent number).

    Only warnings: the structure comes from a circular that expired in 2024 (formats.md §1.4).
    """
    g = int(number[3])
    out = []
    if 1900 + 100 * (g // 2) != birth.year // 100 * 100 or ("male" if g % 2 == 0 else "female") != sex:
        out.append("cccd_century_sex_mismatch")
    if number[4:6] != f"{birth.year % 100:02d}":
        out.append("cccd_birth_year_mismatch")
    return out


def _ddmmyyyy(text: str) -> datetime.date | None:
    if len(text) != 8:
        return None
    return make_date(text[4:], text[2:4], text[:2])


def _malformed(detail: str) -> NoReturn:
    raise Refused("malformed_cccd", detail)
