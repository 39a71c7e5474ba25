"""Log lines carry the venue's local time with its offset (the time the screen and slips show),
not the machine's UTC clock without one."""

from __future__ import annotations

import io
import logging

from mqtt.plumbing.logs import VenueTimeFormatter, use_timezone


def _line(formatter: logging.Formatter, created: float) -> str:
    record = logging.LogRecord("kiosk.app", logging.INFO, __file__, 1, "kiosk %s running", ("k-01",), None)
    record.created = created
    return formatter.format(record)


def test_lines_are_stamped_in_the_venue_zone_with_the_offset():
    fmt = VenueTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    # 2026-12-02 06:23:02.822 UTC is 13:23:02.822 in Vietnam
    assert _line(fmt, 1796192582.822) == "2026-12-02 13:23:02.822+07:00 INFO kiosk.app: kiosk k-01 running"


def test_the_config_zone_takes_over_once_known():
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(VenueTimeFormatter("%(asctime)s %(message)s"))
    root.addHandler(handler)
    try:
        use_timezone("Asia/Tokyo")
        assert _line(handler.formatter, 1796192582.822).startswith("2026-12-02 15:23:02.822+09:00 ")
    finally:
        root.removeHandler(handler)
