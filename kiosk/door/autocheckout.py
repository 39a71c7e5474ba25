"""Closing visits nobody checked out of: after the maximum stay, or at the venue's closing time.

Such check-outs are ``auto_check_out`` events marked estimated, timed at the moment the visit
is taken to have ended (check-in + max stay, or the closing time), not at the moment the kiosk
noticed.
"""

from __future__ import annotations

import functools
from datetime import datetime, time, timedelta

from mqtt.wire.event import build_event

from ..clock import Clock, Stamp, iso, within_unsynced_range
from ..store import OpenVisit, VisitStore


class AutoCheckout:
    """Closes overdue visits.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from kiosk.door.checkin import CheckinDesk
    >>> from kiosk.credentials import recognise
    >>> def clock_at(hours):        # one boot of the kiosk, ``hours`` after 08:31 on 19 August 2026
    ...     return Clock("Asia/Ho_Chi_Minh", wall=lambda: 1787103062.153 + hours * 3600,
    ...                  monotonic=lambda: 1000.0 + hours * 3600, synced=lambda wall: True)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     store = VisitStore.open(Path(tmp, "kiosk.db"))
    ...     desk = CheckinDesk(store, clock_at(0), kiosk_id="k1", venue_id="cho-phanrang")
    ...     _ = desk.present(recognise("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1|15072021"))
    ...     AutoCheckout(store, clock_at(13), kiosk_id="k1", venue_id="cho-phanrang", max_stay_h=12,
    ...                  closing_time="18:00").run()                  # visits closed
    ...     [(v["check_out_at"], v["check_out_type"], v["check_out_estimated"]) for v in store.visits()]
    ...     store.close()
    1
    [('2026-08-19T18:00:00.000+07:00', 'auto_check_out', True)]

    max_stay_h: hours after check-in a visit is taken to have ended.
    closing_time: ``"HH:MM"`` local time at which everyone still inside is checked out ("" = never).
    """

    def __init__(self, store: VisitStore, clock: Clock, *, kiosk_id: str, venue_id: str,
                 max_stay_h: float = 12.0, closing_time: str = ""):
        self.store = store
        self.clock = clock
        self.kiosk_id = kiosk_id
        self.venue_id = venue_id
        self.max_stay = timedelta(hours=max_stay_h)
        self.closing = time.fromisoformat(closing_time) if closing_time else None

    def run(self) -> int:
        """Close every overdue visit in one transaction; returns how many. Raises StoreUnavailable."""
        stamp = self.clock.stamp()
        closed = 0
        with self.store.transaction() as tx:
            for visit in tx.open_visits(self.venue_id):
                ended = self.ended_at(visit, stamp.at, stamp.synced, stamp.boot_id, stamp.uptime_s)
                if ended is None:
                    continue
                reading = self._reading_at(visit, ended, stamp)
                at = iso(reading.at)
                tx.check_out(visit, type="auto_check_out", at=at, estimated=True, method=None,
                             event=functools.partial(build_event, kiosk_id=self.kiosk_id, venue_id=self.venue_id,
                                                     clock=reading.as_event_clock(), now=reading.at, staff_id=None))
                closed += 1
        return closed

    def ended_at(self, visit: OpenVisit, now: datetime, synced: bool, boot_id: str, uptime_s: float) -> datetime | None:
        """When ``visit`` is taken to have ended, if that moment has passed; else None."""
        check_in = datetime.fromisoformat(visit.check_in_at)
        if visit.check_in_boot == boot_id:
            # Same boot: the uptime measures the stay even if the wall clock jumped (NTP sync).
            stayed = timedelta(seconds=uptime_s - visit.check_in_uptime)
        elif synced and visit.check_in_synced:
            stayed = now - check_in
        else:
            return None  # no trustworthy measure of the stay yet; wait for a synced clock
        deadlines = []
        if stayed >= self.max_stay:
            deadlines.append(check_in + self.max_stay)
        if self.closing is not None and synced and visit.check_in_synced:
            closing = self._first_closing_after(check_in)
            if now >= closing:
                deadlines.append(closing)
        return min(deadlines) if deadlines else None

    @staticmethod
    def _reading_at(visit: OpenVisit, ended: datetime, stamp: Stamp) -> Stamp:
        """The clock reading of the moment the visit ended, as its event carries it.

        In the boot of the check-in, the end's uptime follows from the check-in's, so the event
        says what the clock read then: an end reckoned from an unsynced check-in time is given
        its true time once the clock is synced (not passed off as a synced 1970 time), and while
        it is not, the centre corrects it by that uptime like any unsynced event.
        """
        if visit.check_in_boot != stamp.boot_id:
            return Stamp(ended, stamp.synced, stamp.boot_id, stamp.uptime_s)   # both ends synced
        end_uptime = visit.check_in_uptime + (ended - datetime.fromisoformat(visit.check_in_at)).total_seconds()
        if stamp.synced and not visit.check_in_synced:
            ended = stamp.at - timedelta(seconds=stamp.uptime_s - end_uptime)
        elif not stamp.synced:
            ended = within_unsynced_range(ended)    # 12 h after a reading of 2099 is still a reading
        return Stamp(ended, stamp.synced, stamp.boot_id, end_uptime)

    def _first_closing_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.clock.tz)
        closing = datetime.combine(local.date(), self.closing, tzinfo=self.clock.tz)
        return closing if closing > local else closing + timedelta(days=1)
