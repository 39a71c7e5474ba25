"""The national personal QR of the COVID apps (QĐ 1405/QĐ-BTTTT: PC-Covid, Sổ SKĐT, VHD…); formats.md §3.1.

``SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID|EXT`` with EXT = ``proxyQID<sex<BHYT<phone<signature``.
Default display mode masks parts with ``*``; the QID (platform ID) is the identifier.

>>> c = parse("******000001|NGUYEN THI MAU|1990-**-**|0|100000000000000001|<2<GD4799999999901<0912345678")
>>> c.id, c.name, c.birth_date, c.sex, c.phone
('100000000000000001', 'NGUYEN THI MAU', '1990', 'female', '0912345678')
"""

from __future__ import annotations

import datetime
import re
from typing import NoReturn

from .model import Credential, Refused
from .normalise import birth_in_future, collapse, make_date, name_problem, to_text
from .phone import normalise_phone

KIND = "national_qr"
QID = re.compile(r"[0-9A-Za-z]{6,64}")
_DATE = re.compile(r"([0-9*]{4})-([0-9*]{2})-([0-9*]{2})")
_SEX = {"1": "male", "2": "female"}  # 0 = unknown


def parse(data: bytes | str, *, today: datetime.date | None = None) -> Credential:
    """A national-QR credential, or ``Refused("malformed_national_qr")`` naming the bad field."""
    today = today or datetime.date.today()
    fields = [f.strip() for f in to_text(data).split("|")]
    if len(fields) != 6:
        _malformed(f"{len(fields)} fields, 6 expected")
    document, raw_name, raw_birth, declared, qid, ext = fields
    name = collapse(raw_name)
    problem = name_problem(name)
    if problem:
        _malformed(f"field 1 (name) {problem}")
    if declared not in ("0", "1"):
        _malformed("field 3 (declaration type) is not 0 or 1")
    if not QID.fullmatch(qid):
        _malformed("field 4 (QID) is not 6-64 letters or digits")

    warnings: list[str] = []
    birth_date, readable = _birth(raw_birth)
    if not readable:
        warnings.append("birth_date_unreadable")
    elif birth_in_future(birth_date, today):
        warnings.append("birth_date_in_future")

    parts = ext.split("<")

    def part(i: int) -> str:
        return parts[i].strip() if i < len(parts) else ""

    proxy_qid = part(0) or None
    if proxy_qid and not QID.fullmatch(proxy_qid):
        _malformed("EXT field 0 (proxy QID) is not 6-64 letters or digits")
    details = {
        "document_number": document or None,
        "proxy_declared": declared == "1",
        "proxy_qid": proxy_qid,
        "bhyt_number": part(2) or None,
        "signature": part(4) or None,
    }
    if len(parts) > 5:
        details["ext_extras"] = [p.strip() for p in parts[5:]]

    phone = None
    raw_phone = part(3)
    if "*" in raw_phone:
        details["phone_masked"] = raw_phone
    elif raw_phone:
        try:
            phone = normalise_phone(raw_phone)
        except ValueError:
            warnings.append("phone_invalid")  # e.g. 012… numbers in old examples: not a mobile since 2018

    return Credential(kind=KIND, id=qid, name=name, birth_date=birth_date, sex=_SEX.get(part(1)),
                      phone=phone, details=details, warnings=tuple(warnings))


def _birth(raw: str) -> tuple[str | None, bool]:
    """(birth date, readable): ``YYYY-MM-DD`` as is; ``YYYY`` when day or month is masked;
    None when the year is masked or the field is empty."""
    if not raw:
        return None, True
    m = _DATE.fullmatch(raw)
    if not m:
        return None, False
    year, month, day = m.groups()
    if "*" in year:
        return None, True
    masked = "*" in month or "*" in day
    # Check what is not masked, so that "1990-13-**" is not taken for a year of birth.
    parsed = make_date(year, "01" if "*" in month else month, "01" if "*" in day else day)
    if parsed is None:
        return None, False
    return (year if masked else parsed.isoformat()), True


def _malformed(detail: str) -> NoReturn:
    raise Refused("malformed_national_qr", detail)
