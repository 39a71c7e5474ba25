"""The kiosk's door without a camera, for tests of what crosses the wire: a credential goes
through the real check-in desk (fitting, rules, one transaction, the real event builder) into a
real kiosk database, and every event recorded is checked with the collector's validator."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

from codes import ManualTime
from kiosk.clock import Clock
from kiosk.credentials import Credential
from kiosk.door.autocheckout import AutoCheckout
from kiosk.door.checkin import CheckinDesk
from kiosk.store import VisitStore
from mqtt.wire.event import validate_event

KIOSK_ID = "k-door-01"
HOUR = 3600.0


class KioskAtTheDoor:
    """One kiosk database in ``directory`` for many examples (each example at a venue of its own);
    :meth:`close` closes it."""

    #: Wall-clock start and sync state: a synced clock, and unsynced ones as a Pi may boot with
    #: (1970 without a battery clock; far-off and absurd readings, which the clock clamps).
    CLOCKS = (
        (1_790_000_000.0, True),     # 2026-09-21
        (1_000.0, False),            # 1970, no NTP yet
        (1_560_000_000.0, False),    # 2019: an old image's fake-hwclock time
        (7_000_000_000.0, False),    # 2191
        (1e13, False),               # beyond year 9999
        (-5e9, False),               # before 1970
    )
    #: How the visit ends: checked out at the door, after the maximum stay, or by staff.
    ENDS = ("check_out", "auto_check_out", "staff_check_out")

    def __init__(self, directory: Path):
        self.store = VisitStore.open(directory / "kiosk.db")
        self.venues = itertools.count(1)
        self.checked = 0

    def close(self) -> None:
        self.store.close()

    def visit_and_check(self, credential: Credential, *, clock: tuple[float, bool], end: str) -> list[dict]:
        """Present ``credential``, end the visit as ``end`` says, and validate every event made."""
        start, synced = clock
        wall, uptime = ManualTime(start), ManualTime(100.0)
        kiosk_clock = Clock("Asia/Ho_Chi_Minh", wall=wall, monotonic=uptime, synced=lambda w: synced)
        kiosk_clock.boot_id = f"boot-{start:.0f}-{synced}"
        venue = f"cho-{next(self.venues)}"
        desk = CheckinDesk(self.store, kiosk_clock, kiosk_id=KIOSK_ID, venue_id=venue, mode="toggle")
        before = self._last_seq()
        first = desk.present(credential)
        assert first.kind in ("check_in", "refused"), first
        if first.kind == "refused":
            assert first.reason and self._last_seq() == before      # refused at the door: nothing recorded
            return []
        wall.advance(13 * HOUR)
        uptime.advance(13 * HOUR)
        if end == "check_out":
            assert desk.present(credential).kind == "check_out"
        elif end == "auto_check_out":
            assert AutoCheckout(self.store, kiosk_clock, kiosk_id=KIOSK_ID, venue_id=venue, max_stay_h=12).run() == 1
        else:
            assert desk.check_out_visits([first.visit_id], method="staff_phone", staff_id="s-1a2b3c4d") == 1
        # The collector receives them at once, its clock agreeing with a synced kiosk's.
        received = datetime.fromtimestamp(wall(), UTC) if synced else datetime.now(UTC)
        events = []
        for body in self._bodies_after(before):
            event = validate_event(body.encode("utf-8"), topic_kiosk_id=KIOSK_ID, now=received)
            assert (event["person"]["kind"], event["person"]["id"]) == (credential.kind, credential.id)
            events.append(event)
        assert [e["type"] for e in events][-1] == end.removeprefix("staff_") and len(events) == 2
        self.checked += len(events)
        return events

    def _last_seq(self) -> int:
        return self.store.db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]

    def _bodies_after(self, seq: int) -> list[str]:
        """The events exactly as the outbox hands them to the uplink."""
        return [r[0] for r in self.store.db.execute("SELECT body FROM events WHERE seq > ? ORDER BY seq", [seq])]
