"""The national personal QR of the COVID apps (QĐ 1405/QĐ-BTTTT: PC-Covid, Sổ SKĐT, VHD…); formats.md §3.1.

``SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID|EXT`` with EXT = ``proxyQID<sex<BHYT<phone<signature``.
Default display mode masks parts with ``*``; the QID (platform ID) is the identifier.

>>> c = parse("******000001|NGUYEN THI MAU|1990-**-**|0|100000000000000001|<2<GD4799999999901<0912345678")
>>> c.id, c.name, c.birth_date, c.sex, c.phone
('100000000000000001', 'NGUYEN THI MAU', '1990', 'female', '0912345678')

EXT as apps really write it differs from that order (formats.md §3.1): PC-Covid puts ``00`` where no
BHYT number was declared and often an empty part before the phone (``<1<00<<0912345678``). So EXT is
read by what each part is (a sex code, a BHYT-shaped number, a 10-digit or masked phone, the
signature after the phone), not by position, and a part that is none of these is a warning:

>>> c = parse("079190000001|NGUYEN THI MAU|1990-01-01|0|100000000000000001|<2<00<<0912345678")
>>> c.phone, c.details["bhyt_number"], c.details["signature"], c.warnings
('0912345678', None, None, ())
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

from .model import Credential, Refused
from .normalise import (
    birth_in_future,
    collapse,
    is_ascii_digits,
    make_date,
    name_problem,
    to_text,
)
from .phone import normalise_phone

KIND = "national_qr"
QID = re.compile(r"[0-9A-Za-z]{6,64}")
_DATE = re.compile(r"([0-9*]{4})-([0-9*]{2})-([0-9*]{2})")
_SEX = {"1": "male", "2": "female"}  # 0 = unknown
_SEX_CODES = frozenset(("0", "1", "2"))
# A phone masked by the app: 10 characters from 0, digits and "*" (0943******, 0908246***).
_MASKED_PHONE = re.compile(r"0[0-9*]{9}")
# A BHYT number: the 15-character card number (apps mask part of it and may shorten it:
# GD4877*******), the 10-digit social-insurance number or the 12-digit personal ID.
_BHYT = re.compile(r"[A-Z]{2}[1-5][0-9A-Z*]{10,12}|[0-9*]{10}|[0-9*]{12}")
# What PC-Covid writes in the BHYT place when none was declared.
_NO_BHYT = re.compile(r"0+")
# Where the phone and the signature stand in the published order (proxy<sex<BHYT<phone<signature);
# the signature's place says where EXT ends when no phone shows it.
_PHONE_SLOT = 3
_SIGNATURE_SLOT = 4
_EXT_UNREADABLE = "national_qr_ext_unreadable"


def parse(data: bytes | str, *, today: datetime.date | None = None) -> Credential:
    """A national-QR credential, or ``Refused("malformed_national_qr")`` naming the bad field.

    Only the top level can refuse the code (6 fields, a name, the declaration type, the QID);
    an unreadable part of EXT is the warning ``national_qr_ext_unreadable``, its text kept in
    ``details["ext_extras"]``.
    """
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

    ext_fields = _read_ext(ext)
    warnings += ext_fields.warnings
    details: dict[str, Any] = {
        "document_number": document or None,
        "proxy_declared": declared == "1",
        "proxy_qid": ext_fields.proxy_qid,
        "bhyt_number": ext_fields.bhyt_number,
        "signature": ext_fields.signature,
    }
    if ext_fields.phone_masked:
        details["phone_masked"] = ext_fields.phone_masked
    if ext_fields.extras:
        details["ext_extras"] = ext_fields.extras
    return Credential(kind=KIND, id=qid, name=name, birth_date=birth_date, sex=ext_fields.sex,
                      phone=ext_fields.phone, details=details, warnings=tuple(warnings))


@dataclass
class _Ext:
    proxy_qid: str | None = None
    sex: str | None = None
    bhyt_number: str | None = None
    phone: str | None = None
    phone_masked: str | None = None
    signature: str | None = None
    extras: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def unreadable(self, text: str) -> None:
        self.extras.append(text)
        if _EXT_UNREADABLE not in self.warnings:
            self.warnings.append(_EXT_UNREADABLE)


def _read_ext(ext: str) -> _Ext:
    """The parts of EXT, recognised by their shape.

    The proxy's QID comes first (empty when self-declared; EXT written without its leading ``<``
    starts with the sex code), then the sex code. The others may come in any order, empty or
    ``00``: the phone is the last part shaped like one (10 digits from 0, or masked with ``*``)
    in the phone's place or after it; before that place, where the BHYT number stands, only a
    mobile number is taken for the phone (a 10-digit social-insurance number from 0 is shaped like
    a phone too). So a social-insurance number before the phone, or in the BHYT place of an EXT
    without a phone, is the BHYT number, as in the published order; the first part after the phone
    (or, without a phone, in the signature's place) that is neither is the signature, and later
    ones are extension values kept in ``extras``.
    """
    out = _Ext()
    parts = [p.strip() for p in ext.split("<")]
    if parts[0] in _SEX_CODES:
        parts.insert(0, "")
    if parts[0]:
        if QID.fullmatch(parts[0]):
            out.proxy_qid = parts[0]
        else:
            out.unreadable(parts[0])
    rest = list(enumerate(parts))[1:]
    if rest and rest[0][1] in _SEX_CODES:
        out.sex = _SEX.get(rest.pop(0)[1])

    present = [(slot, p) for slot, p in rest if p and not _NO_BHYT.fullmatch(p)]
    phones = [(slot, p) for slot, p in present if (_phone_shaped(p) if slot >= _PHONE_SLOT else _mobile(p))]
    phone_slot = phones[-1][0] if phones else None
    # Parts after this slot are the signature and further extension values.
    end = phone_slot if phone_slot is not None else _SIGNATURE_SLOT - 1
    for slot, p in present:
        if slot == phone_slot:
            _set_phone(out, p)
        elif slot <= end and _BHYT.fullmatch(p) and out.bhyt_number is None:
            out.bhyt_number = p
        elif slot > end and out.signature is None:
            out.signature = p
        elif slot > end:
            out.extras.append(p)  # extension values after the signature: allowed, kept
        else:
            out.unreadable(p)
    return out


def _phone_shaped(text: str) -> bool:
    if "*" in text:
        return _MASKED_PHONE.fullmatch(text) is not None
    if is_ascii_digits(text, 10) and text[0] == "0":
        return True  # a mobile, or an old 012… number that no longer is one
    return _mobile(text)


def _mobile(text: str) -> bool:
    try:
        normalise_phone(text)
    except ValueError:
        return False
    return True


def _set_phone(out: _Ext, text: str) -> None:
    if "*" in text:
        out.phone_masked = text
        return
    try:
        out.phone = normalise_phone(text)
    except ValueError:
        out.warnings.append("phone_invalid")  # e.g. 012… numbers in old examples: not a mobile since 2018


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
