"""The check-in desk: a recognised credential becomes a recorded visit change.

Reads who is inside, applies the rules and writes the visit, its event and the outbox row in
one transaction. Returns the :class:`~kiosk.door.outcome.Outcome` only after the COMMIT, so nobody
is told "recorded" about something that is not on disk.
"""

from __future__ import annotations

import functools
import logging
import uuid

from mqtt.wire.event import build_event
from mqtt.wire.fields import InvalidEvent

from ..clock import Clock, Stamp, iso
from ..credentials import Credential, Refused, fit_to_contract
from ..health.declarations import DECLARATION_REFUSED, HealthPolicy, day_of
from ..store import VisitStore
from .outcome import Outcome
from .rules import decide

log = logging.getLogger(__name__)

#: The refusal (a :mod:`kiosk.messages` code) of a presentation whose event the contract cannot carry.
EVENT_INVALID = "event_invalid"


class CheckinDesk:
    """Applies the visit rules for one kiosk.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from kiosk.credentials import recognise
    >>> card = recognise("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1 Đường Thử|15072021")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     store = VisitStore.open(Path(tmp, "kiosk.db"))
    ...     desk = CheckinDesk(store, Clock("Asia/Ho_Chi_Minh"), kiosk_id="k1", venue_id="cho-phanrang", mode="toggle")
    ...     first, second = desk.present(card, method="camera"), desk.present(card, method="camera")
    ...     store.close()
    >>> first.kind, first.occupancy, second.kind, second.occupancy, second.visit_id == first.visit_id
    ('check_in', 1, 'check_out', 0, True)

    mode: ``entry``, ``exit`` or ``toggle``; capacity: limit of people inside (0 = none);
    health: the venue's health declaration policy (None: no declarations). A check-in carries the
    visitor's declaration of the day; with ``required``, one without is answered ``declare`` (ask
    the questions, then present again with the answers), and a declaration the policy refuses is
    refused (:data:`~kiosk.health.declarations.DECLARATION_REFUSED`).
    Raises :class:`~kiosk.store.StoreUnavailable` when nothing could be recorded.
    An event the centre would refuse (:func:`mqtt.wire.event.check_event`) is never recorded: the
    presentation is refused (:data:`EVENT_INVALID`) and nothing of it is kept.
    """

    def __init__(self, store: VisitStore, clock: Clock, *, kiosk_id: str, venue_id: str,
                 mode: str = "toggle", capacity: int = 0, health: HealthPolicy | None = None):
        self.store = store
        self.health = health
        self.clock = clock
        self.kiosk_id = kiosk_id
        self.venue_id = venue_id
        self.mode = mode
        self.capacity = capacity

    def present(self, credential: Credential, *, method: str = "camera", staff_id: str | None = None,
                mode: str | None = None, phone_check: dict | None = None, declaration: dict | None = None
                ) -> Outcome:
        """mode: overrides the kiosk's (staff say "check in" or "check out" themselves; a slip
        only ever checks out); phone_check: of a staff phone check-in, whether the household's
        phone was confirmed by a one-time code (the event's ``phone_check``; a check-out ignores it);
        declaration: a health declaration the visitor has just made (kept as theirs of the day,
        also when the presentation turns out to be a check-out)."""
        if credential.details.get("via") == "slip":
            mode = "exit"
        try:
            # Camera codes are fitted by recognise() already; staff-made credentials are here.
            credential = fit_to_contract(credential)
        except Refused as refusal:
            return Outcome("refused", credential, reason=refusal.code, capacity=self.capacity)
        try:
            return self._record(credential, mode or self.mode, method, staff_id, phone_check, declaration)
        except InvalidEvent as exc:
            # Rolled back whole. A credential read at the door is fitted to the contract, so what
            # is left is a visit the store holds that the contract cannot carry (an earlier
            # firmware recorded it) or a clock it cannot; the detail names fields, never values.
            log.warning("presentation refused, nothing recorded: its event would break the contract (%s)", exc)
            return Outcome("refused", credential, reason=EVENT_INVALID, capacity=self.capacity)

    def _record(self, credential: Credential, mode: str, method: str, staff_id: str | None,
                phone_check: dict | None, declaration: dict | None) -> Outcome:
        """The rules and one transaction; raises ``InvalidEvent`` (rolled back) for an event the
        contract cannot carry."""
        stamp = self.clock.stamp()
        at = iso(stamp.at)
        person = credential.person()
        with self.store.transaction() as tx:
            visit = tx.open_visit(self.venue_id, credential.key)
            occupancy = tx.occupancy(self.venue_id)
            decision = decide(mode, inside=visit is not None, occupancy=occupancy,
                              capacity=self.capacity)
            day = day_of(stamp.at)
            if declaration is not None:     # kept whatever comes of it: not asked again today
                tx.save_declaration(person_key=credential.key, day=day, declaration=declaration, staff_id=staff_id)
            if decision.action == "refuse":
                return Outcome("refused", credential, reason=decision.reason, occupancy=occupancy,
                               capacity=self.capacity)
            if decision.action == "check_out":
                event = tx.check_out(visit, type="check_out", at=at, estimated=False, method=method,
                                     event=self._events(stamp, staff_id))
                return Outcome("check_out", credential, visit.visit_id, at, occupancy=occupancy - 1,
                               capacity=self.capacity, seq=event["seq"])
            if declaration is None and self.health is not None:   # a check-in: the one kept today, if any
                declaration = tx.declaration_of_day(credential.key, day)
            if self.health is not None and declaration is None and self.health.required:
                return Outcome("declare", credential, occupancy=occupancy, capacity=self.capacity)
            if self.health is not None and declaration is not None and self.health.refuses(declaration):
                return Outcome("refused", credential, reason=DECLARATION_REFUSED, occupancy=occupancy,
                               capacity=self.capacity)
            if decision.action == "reopen":
                # Still inside by the kiosk's records: that visit ended unseen (by the kiosk, no staff).
                tx.check_out(visit, type="auto_check_out", at=at, estimated=True, method=None,
                             event=self._events(stamp, None))
                occupancy -= 1
            visit_id = str(uuid.uuid4())
            event = tx.check_in(visit_id=visit_id, venue_id=self.venue_id, kiosk_id=self.kiosk_id,
                                person_key=credential.key, person=person, at=at, synced=stamp.synced,
                                boot_id=stamp.boot_id, uptime_s=stamp.uptime_s, method=method, staff_id=staff_id,
                                warnings=credential.warnings, declaration=declaration,
                                event=self._events(stamp, staff_id, phone_check=phone_check, declaration=declaration))
            return Outcome("check_in", credential, visit_id, at, occupancy=occupancy + 1,
                           capacity=self.capacity, seq=event["seq"])

    def keep_declaration(self, credential: Credential, declaration: dict, *, staff_id: str | None) -> None:
        """Keep ``declaration`` as the person's of today, without checking them in (staff declared
        for them ahead of their check-in)."""
        with self.store.transaction() as tx:
            tx.save_declaration(person_key=credential.key, day=self.today(), declaration=declaration,
                                staff_id=staff_id)

    def today(self) -> str:
        """The venue's day now, as declarations are kept by."""
        return day_of(self.clock.stamp().at)

    def check_out_visits(self, visit_ids: list[str] | None, *, method: str, staff_id: str | None,
                         estimated: bool = False) -> int:
        """Staff close open visits (``None``: every open visit at the venue, at closing time) in
        one transaction; ``estimated`` when nobody saw each person leave. Returns how many."""
        stamp = self.clock.stamp()
        at = iso(stamp.at)
        closed = 0
        with self.store.transaction() as tx:
            wanted = None if visit_ids is None else set(visit_ids)
            for visit in tx.open_visits(self.venue_id):
                if wanted is not None and visit.visit_id not in wanted:
                    continue
                tx.check_out(visit, type="check_out", at=at, estimated=estimated, method=method,
                             event=self._events(stamp, staff_id))
                closed += 1
        return closed

    def _events(self, stamp: Stamp, staff_id: str | None, **fields):
        """This kiosk's events of the clock reading ``stamp``, made by ``staff_id`` (None: not staff),
        with the optional ``fields`` of the contract."""
        return functools.partial(build_event, kiosk_id=self.kiosk_id, venue_id=self.venue_id,
                                 clock=stamp.as_event_clock(), now=stamp.at, staff_id=staff_id, **fields)
