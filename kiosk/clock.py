"""Time as the kiosk knows it: wall time, whether it is synced, the boot id and the uptime.

A Raspberry Pi has no battery clock; until NTP syncs, wall time can be years off. Every event
records all four so the collector can correct unsynced times from a later synced event of the
same boot.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from mqtt.wire.event import EARLIEST_SYNCED_AT, UNSYNCED_RANGE

#: Wall times before this cannot be right (the firmware did not exist): treat as unsynced. The
#: event contract's floor for a synced clock, so the centre never refuses a synced kiosk time.
EARLIEST_PLAUSIBLE = EARLIEST_SYNCED_AT.timestamp()
#: An unsynced reading is kept within the range the contract takes for unsynced times (it says
#: nothing the centre uses: it corrects the time from the uptime and a synced event of the boot).
_UNSYNCED_LOW = UNSYNCED_RANGE[0].timestamp()
_UNSYNCED_HIGH = UNSYNCED_RANGE[1].timestamp() - 0.001
_TIME_ERROR = 5  # adjtimex() result when the kernel's clock is not synchronised (STA_UNSYNC)


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>: 20 longs/ints of fields plus 11 reserved ints; only
    # ``modes`` (0 = read-only query) matters here, the rest is room for the kernel to write.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 256)]


@functools.cache
def _adjtimex():
    # Looked up once: find_library runs ldconfig in a subprocess (milliseconds per call).
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).adjtimex
    except (OSError, AttributeError):
        return None


#: systemd-timesyncd's flag file: present once it has synchronised the clock (systemd ≥ 239).
TIMESYNC_FLAG = "/run/systemd/timesync/synchronized"


def _kernel_synced() -> bool | None:
    """What the kernel says (the same source timedatectl uses), or None where it cannot tell.

    Under the kiosk's systemd unit, ProtectClock= and the system-call filter refuse adjtimex()
    even for reading (EPERM): then systemd-timesyncd's flag file tells (the kiosk image's NTP
    client is timesyncd, so no flag means not synchronised)."""
    adjtimex = _adjtimex()
    state = adjtimex(ctypes.byref(_Timex())) if adjtimex is not None else -1
    if state >= 0:
        return state != _TIME_ERROR
    if adjtimex is not None and ctypes.get_errno() == errno.EPERM:
        return os.path.exists(TIMESYNC_FLAG)
    return None


def _read_boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        # Not Linux: a per-process id still tells events of this run apart.
        return str(uuid.uuid4())


@dataclass(frozen=True)
class Stamp:
    """One reading of the clock, as recorded with an event."""

    at: datetime
    synced: bool
    boot_id: str
    uptime_s: float

    def as_event_clock(self) -> dict:
        return {"synced": self.synced, "boot_id": self.boot_id, "uptime_s": round(self.uptime_s, 3)}


class Clock:
    """The kiosk's clock.

    >>> clock = Clock("Asia/Ho_Chi_Minh", wall=lambda: 1787103062.153, monotonic=lambda: 1000.0,
    ...               synced=lambda wall: True)            # a kiosk whose NTP has synced
    >>> stamp = clock.stamp()
    >>> stamp.at.isoformat(timespec="milliseconds"), stamp.synced, stamp.uptime_s
    ('2026-08-19T08:31:02.153+07:00', True, 1000.0)
    >>> Clock("Asia/Ho_Chi_Minh", wall=lambda: 1000.0).stamp().synced      # just booted, the clock in 1970
    False

    timezone: IANA zone for local times (events carry the offset).
    wall: the wall-clock function (``time.time``); monotonic: uptime since boot.
    synced: the sync test; by default the kernel's adjtimex state plus a plausibility floor.
    """

    def __init__(self, timezone: str = "Asia/Ho_Chi_Minh", *, wall=time.time,
                 monotonic=lambda: time.clock_gettime(time.CLOCK_BOOTTIME), synced=None):
        self.tz = ZoneInfo(timezone)
        self._wall = wall
        self._monotonic = monotonic
        self._synced = synced or self._default_synced
        self.boot_id = _read_boot_id()

    def _default_synced(self, wall: float) -> bool:
        return wall >= EARLIEST_PLAUSIBLE and _kernel_synced() is not False

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), self.tz)

    def uptime(self) -> float:
        return self._monotonic()

    def stamp(self) -> Stamp:
        wall = self._wall()
        synced = self._synced(wall)
        if not synced:
            wall = _unsynced_reading(wall)      # before the datetime: a reading may lie past year 9999
        return Stamp(datetime.fromtimestamp(wall, self.tz), synced, self.boot_id, self._monotonic())


def _unsynced_reading(wall: float) -> float:
    """An unsynced reading (seconds since the epoch) moved into the contract's range for unsynced
    times: the one place that range is applied."""
    return min(max(wall, _UNSYNCED_LOW), _UNSYNCED_HIGH)


def within_unsynced_range(at: datetime) -> datetime:
    """An unsynced time (a reading, or one reckoned from a reading) moved into the contract's range
    for unsynced times, as :meth:`Clock.stamp` does with its readings."""
    wall = _unsynced_reading(at.timestamp())
    return at if wall == at.timestamp() else datetime.fromtimestamp(wall, at.tzinfo)


def iso(at: datetime) -> str:
    """The event contract's time format: local time with offset, milliseconds."""
    return at.isoformat(timespec="milliseconds")
