"""Recognise a decoded code as a person's credential, or refuse it with a reason.

>>> c = recognise("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1 Đường Thử|15072021")
>>> c.key, c.name, c.birth_date, c.sex
('cccd:079190000001', 'Nguyễn Thị Mẫu', '1990-01-01', 'female')

The path of one payload: :mod:`.normalise` (bytes to clean text) -> :mod:`.classify` (which kind,
or not a credential) -> the kind's parser (:mod:`.cccd`, :mod:`.bhyt`, :mod:`.national_qr`,
:mod:`.kiosk_code`). Every step raises only :class:`Refused`.
"""

from __future__ import annotations

import datetime

from . import bhyt, cccd, kiosk_code, national_qr
from .classify import classify
from .kiosk_code import TokenVerifier
from .model import CAMERA_METHODS, KINDS, Credential, Refused
from .normalise import MAX_PAYLOAD_BYTES, fit_to_contract, to_text

__all__ = [
    "CAMERA_METHODS",
    "KINDS",
    "MAX_PAYLOAD_BYTES",
    "Credential",
    "Refused",
    "TokenVerifier",
    "fit_to_contract",
    "recognise",
]

_PARSERS = {"cccd": cccd.parse, "bhyt": bhyt.parse, "national_qr": national_qr.parse}


def recognise(
    data: bytes | str,
    *,
    verifier: TokenVerifier | None = None,
    today: datetime.date | None = None,
) -> Credential:
    """The :class:`Credential` in a decoded payload, or :class:`Refused` saying why not.

    data: what the decoder returned (bytes are preferred: they are checked for UTF-8 here).
    verifier: checks kiosk tokens (slips, cards); None refuses them as unverifiable.
    today: the date for soft checks (expired card, birth date in the future); default: today.

    The credential is fitted to the event contract (:func:`~.normalise.fit_to_contract`): what
    the kiosk accepts at the door, the centre accepts too.
    """
    text = to_text(data)
    kind = classify(text)
    if kind == "token":
        return fit_to_contract(kiosk_code.parse(text, verifier=verifier))
    return fit_to_contract(_PARSERS[kind](text, today=today))
