"""People staff register under a phone number: households without smartphones.

One phone number stands for at most ``max_per_phone`` people (5 by default: the 2021 rule a
relative's or a manager's number may be used for a household). The ID number is optional
(children, foreigners); with a 12-digit CCCD number the person is identified as ``cccd:<number>``,
so their visits join those of their ID card at the camera, otherwise as ``kiosk_card:<person_id>``
(the id their printed personal card will carry).

>>> import tempfile
>>> from pathlib import Path
>>> declaration = parse_declaration({"name": "Trần Văn Thử", "phone": "+84 912 345 678", "birth": "1950"})
>>> mother = parse_declaration({"name": "Nguyễn Thị Mẫu", "phone": "0912345678", "birth": "5/3/1990",
...                             "id_number": "079 190 000 001"})
>>> with tempfile.TemporaryDirectory() as tmp:
...     store = VisitStore.open(Path(tmp, "kiosk.db"))
...     people = People(store)
...     person, new = people.register(declaration, staff_id="s-1a2b3c4d")
...     again, new_again = people.register(declaration, staff_id="s-1a2b3c4d")      # the form sent twice
...     registered, _ = people.register(mother, staff_id="s-1a2b3c4d")
...     household = [p.name for p in people.by_phone("0912345678")]
...     store.close()
>>> person.phone, new, again == person, new_again, person.key.startswith("kiosk_card:P"), household
('0912345678', True, True, False, True, ['Trần Văn Thử', 'Nguyễn Thị Mẫu'])
>>> registered.birth_date, registered.key
('1990-03-05', 'cccd:079190000001')
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from dataclasses import astuple, dataclass

from ..credentials import Credential
from ..credentials.normalise import collapse, is_ascii_digits, make_date, name_problem
from ..credentials.phone import PhoneError, normalise_phone
from ..store import VisitStore

DEFAULT_MAX_PER_PHONE = 5
MAX_ADDRESS_CHARS = 200
#: A passport number: letters and digits, 6-9 characters, at least one letter (VN: 1 letter + 7 digits).
_PASSPORT = re.compile(r"(?=.*[A-Z])[A-Z0-9]{6,9}")
_ID_SEPARATORS = re.compile(r"[\s.\-]")
_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I: read aloud or retyped from a card


class DeclarationError(ValueError):
    """Form input refused: ``field`` it concerns and a :mod:`kiosk.messages` ``code``."""

    def __init__(self, field: str, code: str, values: dict | None = None):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code
        self.values = values or {}    # the message's placeholders


class PhoneFull(Exception):
    """The phone number already stands for the maximum number of people."""

    def __init__(self, limit: int):
        super().__init__(f"at most {limit} people per phone number")
        self.limit = limit


@dataclass(frozen=True)
class Declaration:
    """Validated form input for one person."""

    name: str
    phone: str
    birth_date: str | None = None      # YYYY-MM-DD or YYYY
    sex: str | None = None             # male | female
    id_type: str | None = None         # cccd | cmnd | passport
    id_number: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Person:
    person_id: str
    phone: str
    name: str
    birth_date: str | None
    sex: str | None
    id_type: str | None
    id_number: str | None
    address: str | None
    created_at: str

    @property
    def key(self) -> str:
        return self.credential().key

    def credential(self) -> Credential:
        """How the person is checked in: their CCCD identity when staff typed one, else their card id."""
        if self.id_type == "cccd":
            kind, ident = "cccd", self.id_number
        else:
            kind, ident = "kiosk_card", self.person_id
        return Credential(kind=kind, id=ident, name=self.name, birth_date=self.birth_date, sex=self.sex,
                          phone=self.phone)


def parse_declaration(form: dict, *, today: dt.date | None = None) -> Declaration:
    """Validate the declare form (``name``, ``phone``, ``birth``, ``sex``, ``id_number``, ``address``).

    ``birth`` may be ``YYYY``, ``YYYY-MM-DD``, or day first as Vietnamese write it: ``D/M/YYYY``,
    ``D-M-YYYY`` or ``D.M.YYYY`` (one or two digits for the day and the month).
    Raises :class:`DeclarationError` naming the first bad field.
    """
    today = today or dt.date.today()
    name = collapse(form.get("name") or "")
    if not name:
        raise DeclarationError("name", "name_required")
    if name_problem(name):
        raise DeclarationError("name", "name_invalid")
    try:
        phone = normalise_phone(form.get("phone") or "")
    except PhoneError as exc:
        raise DeclarationError("phone", exc.code, exc.values) from None
    birth = _birth(collapse(form.get("birth") or ""), today)
    sex = (form.get("sex") or "").strip() or None
    if sex not in (None, "male", "female"):
        raise DeclarationError("sex", "sex_invalid")
    id_type, id_number = _id_number(form.get("id_number") or "")
    address = collapse(form.get("address") or "") or None
    if address and (len(address) > MAX_ADDRESS_CHARS or not address.isprintable()):
        raise DeclarationError("address", "address_invalid")
    return Declaration(name, phone, birth, sex, id_type, id_number, address)


#: ISO ``1950-03-05``, or day first as Vietnamese write it: ``5/3/1950``, ``05-03-1950``, ``5.3.1950``
#: (the same separator twice, spaces around it allowed).
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DAY_FIRST = re.compile(r"([0-9]{1,2}) ?([/.-]) ?([0-9]{1,2}) ?\2 ?([0-9]{4})")


def _birth(text: str, today: dt.date) -> str | None:
    if not text:
        return None
    if is_ascii_digits(text, 4):
        if not 1900 <= int(text) <= today.year:
            raise DeclarationError("birth", "birth_invalid")
        return text
    if m := _ISO_DATE.fullmatch(text):
        y, mo, d = m[1], m[2], m[3]
    elif m := _DAY_FIRST.fullmatch(text):
        y, mo, d = m[4], m[3].zfill(2), m[1].zfill(2)
    else:
        raise DeclarationError("birth", "birth_invalid")
    date = make_date(y, mo, d)
    if date is None or date > today or date.year < 1900:
        raise DeclarationError("birth", "birth_invalid")
    return date.isoformat()


def _id_number(text: str) -> tuple[str | None, str | None]:
    compact = _ID_SEPARATORS.sub("", text).upper()
    if not compact:
        return None, None
    if is_ascii_digits(compact):
        if len(compact) == 12:
            return "cccd", compact
        if len(compact) == 9:
            return "cmnd", compact
        raise DeclarationError("id_number", "id_number_length")
    if compact.isascii() and _PASSPORT.fullmatch(compact):
        return "passport", compact
    raise DeclarationError("id_number", "id_number_invalid")


class People:
    """The registry. Thread-safe (one lock around the connection)."""

    def __init__(self, store: VisitStore, *, lock: threading.RLock | None = None,
                 max_per_phone: int = DEFAULT_MAX_PER_PHONE, now=None):
        self.store = store
        self.lock = lock or threading.RLock()
        self.max_per_phone = max_per_phone
        self._now = now or (lambda: dt.datetime.now(dt.UTC))

    def _now_iso(self) -> str:
        return self._now().astimezone(dt.UTC).isoformat(timespec="seconds")

    def by_phone(self, phone: str) -> list[Person]:
        """The people registered under ``phone`` (canonical form), oldest first."""
        with self.lock:
            rows = self.store.reader().people_by_phone(phone)
        return [Person(*r) for r in rows]

    def get(self, person_id: str) -> Person | None:
        with self.lock:
            row = self.store.reader().person_row(person_id)
        return Person(*row) if row else None

    def register(self, d: Declaration, *, staff_id: str | None) -> tuple[Person, bool]:
        """The registered person and whether they are new. The same name and birth under the same
        phone is the same person (a form sent twice), not a new one. Raises :class:`PhoneFull`."""
        with self.lock, self.store.transaction() as tx:
            rows = tx.people_by_phone(d.phone)
            for row in rows:
                known = Person(*row)
                if known.name.casefold() == d.name.casefold() and known.birth_date == d.birth_date:
                    return known, False
            if len(rows) >= self.max_per_phone:
                raise PhoneFull(self.max_per_phone)
            now = self._now_iso()
            person = Person("P" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(9)), d.phone, d.name,
                            d.birth_date, d.sex, d.id_type, d.id_number, d.address, now)
            tx.add_person(astuple(person), created_by=staff_id)
        return person, True

    def revoke(self, person_id: str) -> bool:
        """Take a person off their phone number (their card stops working)."""
        with self.lock, self.store.transaction() as tx:
            return tx.revoke_person(person_id, self._now_iso())
