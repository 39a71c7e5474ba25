"""What a recognised code is (:class:`Credential`) and why a code is refused (:class:`Refused`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mqtt.wire.event import PERSON_KINDS

#: The kinds of credential the kiosk accepts: the event contract's ``person.kind``, defined there.
KINDS = PERSON_KINDS
#: The event ``method`` of a code shown to the camera: ``camera``, or the kiosk code it came by.
CAMERA_METHODS = ("camera", "slip", "kiosk_card")


@dataclass(frozen=True)
class Credential:
    """A person's identity as read from a code.

    >>> c = Credential(kind="cccd", id="079190000001", name="Nguyễn Thị Mẫu",
    ...                birth_date="1990-01-01", sex="female")
    >>> c.key
    'cccd:079190000001'

    kind: one of :data:`KINDS`.
    id: the identifier within the kind (CCCD number, BHYT card number, the national QR's QID,
        the kiosk token's id).
    name: full name as printed (NFC), or None.
    birth_date: ``YYYY-MM-DD``, ``YYYY`` when only the year is known, or None.
    sex: ``"male"``, ``"female"`` or None.
    phone: canonical ``0`` + 9 digits, or None.
    details: kind-specific fields (addresses, dates of issue, check values, extras); JSON-able.
    warnings: soft inconsistencies (never a reason to refuse), as short codes.
    """

    kind: str
    id: str
    name: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    phone: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """How a person is identified across the system: ``kind:id``."""
        return f"{self.kind}:{self.id}"

    @property
    def camera_method(self) -> str:
        """The event's ``method`` when this is shown to the camera: the slip or card it came by
        (``details["via"]``), else ``camera``."""
        return self.details.get("via") or "camera"

    def person(self) -> dict[str, Any]:
        """The ``person`` object of the event contract (no details, no address)."""
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "birth_date": self.birth_date,
            "sex": self.sex,
            "phone": self.phone,
        }

    def to_json(self) -> dict[str, Any]:
        """The ``credential`` object of ``kiosk decode --json``."""
        out = self.person()
        out["details"] = self.details
        out["warnings"] = list(self.warnings)
        return out


class Refused(Exception):
    """A code that is not an acceptable credential.

    code: a stable reason code (see :mod:`kiosk.messages` for the sentences shown to people).
    detail: a short English explanation for technicians; never contains personal data.
    """

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
