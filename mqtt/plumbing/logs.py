"""Logging for every process of the project: to stderr, which systemd hands to journald.

Outside systemd each line starts with the venue's local time and its offset
(``2026-12-02 13:23:02.822+07:00``), the time the kiosk's screen and slips show, so a log line can
be matched with what a visitor saw; under systemd journald adds the time itself.

>>> record = logging.makeLogRecord({"name": "mqtt.uplink", "levelname": "INFO", "msg": "connected",
...                                  "created": 1795051382.822})
>>> VenueTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "Asia/Ho_Chi_Minh").format(record)
'2026-11-19 08:23:02.822+07:00 INFO mqtt.uplink: connected'

A process sets up its root logger once, at its start::

    setup_logging(logging.INFO)
    use_timezone("Asia/Ho_Chi_Minh")      # once the config says which zone the venue is in
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from .tomlconfig import DEFAULT_TIMEZONE


class VenueTimeFormatter(logging.Formatter):
    """``%(asctime)s`` as ISO 8601 local time in ``zone``, with milliseconds and the offset."""

    def __init__(self, fmt: str, zone: str = DEFAULT_TIMEZONE):
        super().__init__(fmt)
        self.zone = ZoneInfo(zone)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, self.zone).isoformat(sep=" ", timespec="milliseconds")


def setup_logging(level: int, timezone: str = DEFAULT_TIMEZONE) -> None:
    fmt = "%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") else \
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VenueTimeFormatter(fmt, timezone))
    logging.basicConfig(level=level, handlers=[handler])


def use_timezone(timezone: str) -> None:
    """Stamp the log lines of this process in ``timezone`` from now on (the config's venue zone)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, VenueTimeFormatter):
            handler.formatter.zone = ZoneInfo(timezone)
