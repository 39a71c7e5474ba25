"""What staff do at the door, on the kiosk's records: check people in and out by phone number,
declare someone on their behalf, see who is inside, close the day, and the day's figures.

Every action is done as a named staff member (``staff_id`` in the events) and written to the
audit trail. Uses a store connection of its own (the web server's threads), serialised by one lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from mqtt.masking import mask_name

from ..checkin import CheckinDesk
from ..outcome import Outcome
from ..printqueue import PrintQueue
from ..store import Transaction
from .accounts import Staff
from .audit import Audit
from .people import Declaration, People, Person


@dataclass(frozen=True)
class Member:
    """A person registered under a phone number, and whether they are inside now."""

    person: Person
    visit_id: str | None
    check_in_at: str | None

    @property
    def inside(self) -> bool:
        return self.visit_id is not None


class StaffDesk:
    """desk: a :class:`CheckinDesk` on the staff connection; on_outcome: told of each person's
    outcome (the kiosk screen shows it)."""

    def __init__(self, desk: CheckinDesk, people: People, audit: Audit, prints: PrintQueue, *,
                 lock: threading.RLock, on_outcome=None):
        self.desk = desk
        self.people = people
        self.audit = audit
        self.prints = prints
        self.lock = lock
        self.on_outcome = on_outcome or (lambda outcome: None)

    @property
    def store(self):
        return self.desk.store

    # -- by phone number ----------------------------------------------------------------------

    def household(self, phone: str) -> list[Member]:
        with self.lock:
            reader = self._reader()
            out = []
            for p in self.people.by_phone(phone):
                visit = reader.open_visit(self.desk.venue_id, p.key)
                out.append(Member(p, visit.visit_id if visit else None, visit.check_in_at if visit else None))
        return out

    def check_in(self, staff: Staff, phone: str, person_ids: list[str], *, method: str = "staff_phone") -> list[tuple[Person, Outcome]]:
        """Check in the chosen members of a household (a family arriving together)."""
        return self._present(staff, phone, person_ids, "entry", method)

    def check_out(self, staff: Staff, phone: str, person_ids: list[str]) -> list[tuple[Person, Outcome]]:
        return self._present(staff, phone, person_ids, "exit", "staff_phone")

    def _present(self, staff: Staff, phone: str, person_ids: list[str], mode: str, method: str):
        with self.lock:
            members = {m.person.person_id: m for m in self.household(phone)}
            chosen = [members[i].person for i in dict.fromkeys(person_ids) if i in members]
            results = []
            for person in chosen:
                if mode == "entry" and members[person.person_id].inside:
                    continue       # already inside: nothing to do (not a second visit)
                outcome = self.desk.present(person.credential(), method=method, staff_id=staff.staff_id, mode=mode)
                results.append((person, outcome))
                if outcome.accepted:
                    self.audit.record(staff.staff_id, outcome.kind, subject=outcome.visit_id)
        for _, outcome in results:
            self.on_outcome(outcome)
        return results

    def revoke(self, staff: Staff, phone: str, person_ids: list[str]) -> int:
        """Take chosen people off the phone number: their personal cards stop working."""
        with self.lock:
            members = {p.person_id for p in self.people.by_phone(phone)}
            n = 0
            for person_id in dict.fromkeys(person_ids):
                if person_id in members and self.people.revoke(person_id):
                    self.audit.record(staff.staff_id, "revoke", subject=person_id)
                    n += 1
        return n

    # -- declaring on someone's behalf ------------------------------------------------------------

    def declare(self, staff: Staff, declaration: Declaration) -> tuple[Person, bool, Outcome | None]:
        """Register (or find) the person under the phone number and check them in.
        Raises :class:`~kiosk.staff.people.PhoneFull` when the number has its maximum already."""
        with self.lock:
            person, new = self.people.register(declaration, staff_id=staff.staff_id)
            if new:
                self.audit.record(staff.staff_id, "register", subject=person.person_id)
            results = self._present(staff, person.phone, [person.person_id], "entry", "staff_form")
        return person, new, results[0][1] if results else None

    def print_card(self, staff: Staff, person_id: str) -> tuple[int, Person] | None:
        """Queue a personal QR card for a registered person: the job id and the person; None if
        there is no such person."""
        with self.lock:
            person = self.people.get(person_id)
            if person is None:
                return None
            job = self.prints.enqueue("card", person_id, staff_id=staff.staff_id)
            self.audit.record(staff.staff_id, "print_card", subject=person_id)
        return job, person

    def print_slips(self, staff: Staff, visit_ids: list[str]) -> int:
        """Queue check-in slips for chosen open visits (someone without a phone asks for one)."""
        with self.lock:
            open_ids = {v["visit_id"] for v in self.inside()}
            chosen = [v for v in dict.fromkeys(visit_ids) if v in open_ids]
            for visit_id in chosen:
                self.prints.enqueue("slip", visit_id, staff_id=staff.staff_id)
        return len(chosen)

    # -- who is inside ------------------------------------------------------------------------

    def inside(self) -> list[dict]:
        """Open visits, oldest first: visit id, masked name, check-in time, how they came in."""
        with self.lock:
            visits = self._reader().open_visits(self.desk.venue_id)
        return [{"visit_id": v.visit_id, "name": mask_name(v.person.get("name")), "check_in_at": v.check_in_at,
                 "method": v.check_in_method} for v in visits]

    def _reader(self) -> Transaction:
        """Reads only: no write transaction (it would take the store's write lock from the door)."""
        return Transaction(self.store.db)

    def check_out_visits(self, staff: Staff, visit_ids: list[str]) -> int:
        """Manual check-out of chosen visits (staff saw them leave)."""
        with self.lock:
            n = self.desk.check_out_visits(list(visit_ids), method="staff_phone", staff_id=staff.staff_id)
            if n:
                self.audit.record(staff.staff_id, "check_out", detail=f"{n} visit(s)")
        return n

    def check_out_everyone(self, staff: Staff) -> int:
        """Closing time: everyone still inside is checked out, marked estimated."""
        with self.lock:
            n = self.desk.check_out_visits(None, method="staff_phone", staff_id=staff.staff_id, estimated=True)
            self.audit.record(staff.staff_id, "check_out_all", detail=f"{n} visit(s)")
        return n

    # -- today ---------------------------------------------------------------------------------

    def today(self, now: datetime | None = None) -> dict:
        """Check-ins per hour (local time), refusals by reason, events delivered vs waiting, print jobs."""
        tz = self.desk.clock.tz
        now = (now or self.desk.clock.now()).astimezone(tz)
        day = now.date()
        with self.lock:
            check_ins = [r[0] for r in self.store.db.execute(
                "SELECT check_in_at FROM visits WHERE venue_id = ? AND check_in_at >= ?",
                [self.desk.venue_id, day.isoformat()]).fetchall()]
            refusals = self.store.db.execute("SELECT at, reason FROM refusals WHERE at >= ?",
                                             [day.isoformat()]).fetchall()
            outbox = dict(self.store.db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
            inside = self._reader().occupancy(self.desk.venue_id)
        hours = Counter(t.hour for t in (datetime.fromisoformat(x).astimezone(tz) for x in check_ins) if t.date() == day)
        reasons = Counter(reason for at, reason in refusals if datetime.fromisoformat(at).astimezone(tz).date() == day)
        return {"date": day.isoformat(), "check_ins_by_hour": [hours.get(h, 0) for h in range(24)],
                "check_ins": sum(hours.values()), "inside": inside, "refusals": dict(reasons.most_common()),
                "delivered": outbox.get("delivered", 0),
                "waiting": outbox.get("pending", 0) + outbox.get("sent", 0),
                "quarantined": outbox.get("quarantined", 0), "print_jobs": self.prints.counts()}
