"""What staff do at the door, on the kiosk's records: check people in and out by phone number,
declare someone on their behalf, see who is inside, close the day, and the day's figures.

Every action is done as a named staff member (``staff_id`` in the events) and written to the
audit trail in the action's own transaction: on a store that cannot write, neither is written.
Uses a store connection of its own (the web server's threads), serialised by one lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from mqtt.wire.masking import mask_name

from ..door.checkin import CheckinDesk
from ..door.outcome import Outcome
from ..health.declarations import HealthPolicy
from ..printing.queue import PrintQueue
from ..store import Reader, StoreUnavailable
from .accounts import Staff
from .audit import Audit
from .people import Declaration, People, Person


def phone_check_detail(check: dict) -> str:
    """A phone check as the audit trail says it: ``verified``, or ``unverified:<reason>``.

    >>> phone_check_detail({"verified": False, "reason": "no_phone_signal"})
    'unverified:no_phone_signal'
    """
    return "verified" if check["verified"] else f"unverified:{check['reason']}"


@dataclass(frozen=True)
class Member:
    """A person registered under a phone number, whether they are inside now, and their health
    declaration of today (None: none yet)."""

    person: Person
    visit_id: str | None
    check_in_at: str | None
    declaration: dict | None = None

    @property
    def inside(self) -> bool:
        return self.visit_id is not None

    @property
    def flagged(self) -> bool:
        return bool(self.declaration and self.declaration["flagged"])


#: What a staff check-in or check-out came to for one person (:attr:`StaffResult.code`).
DONE = ("check_in", "check_out")


@dataclass(frozen=True)
class StaffResult:
    """What a staff action came to for one person, for the staff page (never the visitor screen).

    code: ``check_in`` / ``check_out`` (done at ``at``); ``already_inside`` (nothing to do: inside
    since ``at``); ``not_inside`` (nothing to check out); ``venue_full``; ``not_recorded`` (the
    store could not be written); ``declaration_needed`` (the venue requires a health declaration
    today first); or another refusal of the check-in desk (``declaration_refused``, ``event_invalid``).
    outcome: the check-in desk's outcome, when it was asked.
    """

    person: Person
    code: str
    at: str | None = None
    outcome: Outcome | None = None

    @property
    def done(self) -> bool:
        return self.code in DONE


class StaffDesk:
    """desk: a :class:`CheckinDesk` on the staff connection (people, audit and prints on that same
    store: an action and its audit row are one transaction); on_outcome: told of each check-in or
    check-out staff made (the slip policy, the simulator's terminal). Never the visitor screen, and
    never the lights: the staff page says what happened, in staff wording."""

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
            people = self.people.by_phone(phone)
            declared = reader.declared_on([p.key for p in people], self.desk.today())
            out = []
            for p in people:
                visit = reader.open_visit(self.desk.venue_id, p.key)
                out.append(Member(p, visit.visit_id if visit else None, visit.check_in_at if visit else None,
                                  declared.get(p.key)))
        return out

    @property
    def health(self) -> HealthPolicy | None:
        """The venue's health declaration policy (None: no declarations)."""
        return self.desk.health

    def declare_health(self, staff: Staff, phone: str, answers: dict[str, dict[str, bool]]) -> list[Member]:
        """Keep the health declaration each member of the household made with staff today
        (``answers``: person id -> every question's answer), audited with whether it flagged them
        (never the answers). Returns the members declared, as they are now."""
        health = self.desk.health
        if health is None:
            raise ValueError("this kiosk takes no health declarations")
        with self.lock:
            members = {m.person.person_id: m for m in self.household(phone)}
            now = self.desk.clock.now()
            for person_id, given in answers.items():
                member = members.get(person_id)
                if member is None:
                    continue
                declaration = health.declaration(given, via="staff", at=now)
                with self.store.transaction():      # the declaration and its audit row, or neither
                    self.desk.keep_declaration(member.person.credential(), declaration, staff_id=staff.staff_id)
                    self.audit.record(staff.staff_id, "health_declared", subject=person_id,
                                      detail="flagged" if declaration["flagged"] else "clear")
            return [m for m in self.household(phone) if m.person.person_id in answers]

    def undeclared(self, phone: str, person_ids: list[str]) -> list[Member]:
        """Of the chosen members outside, those the venue would ask a declaration of first."""
        if self.desk.health is None or not self.desk.health.required:
            return []
        chosen = set(person_ids)
        return [m for m in self.household(phone)
                if m.person.person_id in chosen and not m.inside and m.declaration is None]

    def check_in(self, staff: Staff, phone: str, person_ids: list[str], *,
                 phone_check: dict | None = None) -> list[StaffResult]:
        """Check in the chosen members of a household (a family arriving together): one result
        per chosen member, those inside already included. phone_check: whether the phone was
        confirmed by a one-time code (the events' ``phone_check``; in the audit as its detail)."""
        return self._present(staff, phone, person_ids, "entry", "staff_phone", phone_check)

    def check_out(self, staff: Staff, phone: str, person_ids: list[str]) -> list[StaffResult]:
        return self._present(staff, phone, person_ids, "exit", "staff_phone")

    def _present(self, staff: Staff, phone: str, person_ids: list[str], mode: str, method: str,
                 phone_check: dict | None = None) -> list[StaffResult]:
        detail = None if phone_check is None else phone_check_detail(phone_check)
        with self.lock:
            members = {m.person.person_id: m for m in self.household(phone)}
            chosen = [members[i] for i in dict.fromkeys(person_ids) if i in members]
            results = []
            for member in chosen:
                person = member.person
                if mode == "entry" and member.inside:      # nothing to do (not a second visit)
                    results.append(StaffResult(person, "already_inside", at=member.check_in_at))
                    continue
                if mode == "exit" and not member.inside:   # a staff mistake: the door is not told
                    results.append(StaffResult(person, "not_inside"))
                    continue
                try:
                    with self.store.transaction():          # the visit change and its audit row, or neither
                        outcome = self.desk.present(person.credential(), method=method, staff_id=staff.staff_id,
                                                    mode=mode, phone_check=phone_check)
                        if outcome.accepted:
                            self.audit.record(staff.staff_id, outcome.kind, subject=outcome.visit_id, detail=detail)
                except StoreUnavailable:
                    results.append(StaffResult(person, "not_recorded"))
                    continue
                if outcome.accepted:
                    results.append(StaffResult(person, outcome.kind, at=outcome.at, outcome=outcome))
                elif outcome.kind == "declare":      # the venue requires a declaration first
                    results.append(StaffResult(person, "declaration_needed", outcome=outcome))
                else:   # changed meanwhile (someone left by the camera), the venue is full, a "yes"
                    results.append(StaffResult(person, outcome.reason or "not_recorded", outcome=outcome))
        for r in results:
            if r.done:
                self.on_outcome(r.outcome)
        return results

    def revoke(self, staff: Staff, phone: str, person_ids: list[str]) -> int:
        """Take chosen people off the phone number: their personal cards stop working."""
        with self.lock, self.store.transaction():
            members = {p.person_id for p in self.people.by_phone(phone)}
            n = 0
            for person_id in dict.fromkeys(person_ids):
                if person_id in members and self.people.revoke(person_id):
                    self.audit.record(staff.staff_id, "revoke", subject=person_id)
                    n += 1
        return n

    # -- declaring on someone's behalf ------------------------------------------------------------

    def declare(self, staff: Staff, declaration: Declaration,
                health: dict[str, bool] | None = None) -> tuple[Person, bool, StaffResult]:
        """Register (or find) the person under the phone number, keep their health declaration
        (``health``: every question's answer; None: none made) and check them in.
        Raises :class:`~kiosk.staff.people.PhoneFull` when the number has its maximum already, and
        :class:`~kiosk.store.StoreUnavailable` when nobody could be registered (nothing is)."""
        with self.lock:
            with self.store.transaction():          # registered with its audit row, or not at all
                person, new = self.people.register(declaration, staff_id=staff.staff_id)
                if new:
                    self.audit.record(staff.staff_id, "register", subject=person.person_id)
            if health is not None:
                self.declare_health(staff, person.phone, {person.person_id: health})
            [result] = self._present(staff, person.phone, [person.person_id], "entry", "staff_form")
        return person, new, result

    def print_card(self, staff: Staff, person_id: str) -> tuple[int, Person] | None:
        """Queue a personal QR card for a registered person: the job id and the person; None if
        there is no such person."""
        with self.lock, self.store.transaction():
            person = self.people.get(person_id)
            if person is None:
                return None
            job = self.prints.enqueue("card", person_id, staff_id=staff.staff_id)
            self.audit.record(staff.staff_id, "print_card", subject=person_id)
        return job, person

    def print_slips(self, staff: Staff, visit_ids: list[str]) -> int:
        """Queue check-in slips for chosen open visits (someone without a phone asks for one)."""
        with self.lock, self.store.transaction():
            open_ids = {v["visit_id"] for v in self.inside()}
            chosen = [v for v in dict.fromkeys(visit_ids) if v in open_ids]
            for visit_id in chosen:
                self.prints.enqueue("slip", visit_id, staff_id=staff.staff_id)
        return len(chosen)

    # -- who is inside ------------------------------------------------------------------------

    def inside(self) -> list[dict]:
        """Open visits, oldest first: visit id, masked name, check-in time, how they came in, and
        whether their health declaration flagged them (admitted flagged: staff see them at once)."""
        with self.lock:
            reader = self._reader()
            visits = reader.open_visits(self.desk.venue_id)
            flagged = reader.flagged_open_visits(self.desk.venue_id)
        return [{"visit_id": v.visit_id, "name": mask_name(v.person.get("name")), "check_in_at": v.check_in_at,
                 "method": v.check_in_method, "flagged": v.visit_id in flagged} for v in visits]

    def flagged_inside(self) -> int:
        """How many people inside now were admitted flagged by their health declaration."""
        with self.lock:
            return len(self._reader().flagged_open_visits(self.desk.venue_id))

    def _reader(self) -> Reader:
        """Reads only: no write transaction (it would take the store's write lock from the door)."""
        return self.store.reader()

    def check_out_visits(self, staff: Staff, visit_ids: list[str]) -> int:
        """Manual check-out of chosen visits (staff saw them leave)."""
        with self.lock, self.store.transaction():
            n = self.desk.check_out_visits(list(visit_ids), method="staff_phone", staff_id=staff.staff_id)
            if n:
                self.audit.record(staff.staff_id, "check_out", detail=f"{n} visit(s)")
        return n

    def check_out_everyone(self, staff: Staff) -> int:
        """Closing time: everyone still inside is checked out, marked estimated."""
        with self.lock, self.store.transaction():
            n = self.desk.check_out_visits(None, method="staff_phone", staff_id=staff.staff_id, estimated=True)
            self.audit.record(staff.staff_id, "check_out_all", detail=f"{n} visit(s)")
        return n

    # -- today ---------------------------------------------------------------------------------

    def today(self, now: datetime | None = None) -> dict:
        """The venue's day so far (local time): check-ins per hour and in all, check-outs (how many
        estimated), who is inside, refusals by reason, today's visits held centrally (every event of
        the visit delivered) against all of today's visits, check-ins/check-outs waiting to be sent
        (any day) or refused centrally, print jobs."""
        tz = self.desk.clock.tz
        now = (now or self.desk.clock.now()).astimezone(tz)
        day = now.date()

        def today(at: str | None) -> datetime | None:
            local = datetime.fromisoformat(at).astimezone(tz) if at else None
            return local if local and local.date() == day else None

        with self.lock:
            reader = self._reader()
            rows = reader.day_rows(self.desk.venue_id, day.isoformat())
            inside = reader.occupancy(self.desk.venue_id)
        began = [v for v in rows.visits if today(v.check_in_at)]
        ended = [v for v in rows.visits if today(v.check_out_at)]
        hours = Counter(today(v.check_in_at).hour for v in began)
        reasons = Counter(reason for at, reason in rows.refusals if today(at))
        return {"date": day, "check_ins_by_hour": [hours.get(h, 0) for h in range(24)],
                "check_ins": len(began), "check_outs": len(ended),
                "check_outs_estimated": sum(v.estimated for v in ended), "inside": inside,
                "refusals": dict(reasons.most_common()),
                "visits_sent": sum(v.sent for v in began),
                "waiting": rows.outbox.get("pending", 0) + rows.outbox.get("sent", 0),
                "quarantined": rows.outbox.get("quarantined", 0), "print_jobs": self.prints.counts()}
