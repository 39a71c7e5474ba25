"""Which cards a kiosk's identity went to: ``kiosks/<id>/cards.log`` in the fleet directory.

Two cards with one identity are two kiosks with one certificate: the broker takes each one's
connection for the other's and drops it (``use_username_as_clientid``), the centre sees one kiosk
whose sequence numbers run twice. ``write-boot`` and ``enrol-qr`` record every card they give an
identity to and warn when it was given before, so a technician writing a spare card for the same
door learns it before both are in service.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as kiosk_dir:          # a fleet's kiosks/<id>/
...     given(kiosk_dir, "ninhthuan-cho-01", "folder /media/tech/bootfs") is None     # the first card
...     print(given(kiosk_dir, "ninhthuan-cho-01", "QR enrolment by 192.168.1.57"))    # a second one
...     [card.media for card in read(Path(kiosk_dir, LEDGER))]
True
warning: kiosk ninhthuan-cho-01's identity was already written at ... (folder /media/tech/bootfs). If that
was this same card, ignore this. Two cards with one identity knock each other off the broker: ...
['folder /media/tech/bootfs', 'QR enrolment by 192.168.1.57']
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

LEDGER = "cards.log"


@dataclass(frozen=True)
class Card:
    at: str          # local time, ISO 8601 with offset
    media: str       # what it was written to, as the writer described it


def given(kiosk_dir: Path, kiosk_id: str, media: str) -> str | None:
    """Record that the identity went to ``media``; the technician's warning if it went to another card before."""
    return warning(kiosk_id, record(kiosk_dir, media), media)


def record(kiosk_dir: Path, media: str, *, now: datetime | None = None) -> list[Card]:
    """Append ``media`` to the kiosk's ledger; the cards recorded before it (for :func:`warning`)."""
    path = Path(kiosk_dir) / LEDGER
    earlier = read(path)
    at = (now or datetime.now()).astimezone().isoformat(timespec="seconds")
    line = f"{at}\t{' '.join(media.split())}\n"       # one line per card, whatever the description
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return earlier


def read(path: Path) -> list[Card]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [Card(*line.split("\t", 1)) for line in text.splitlines() if "\t" in line]


def warning(kiosk_id: str, earlier: list[Card], media: str) -> str | None:
    """The technician's warning when the identity was given to a card before, else None.

    Every earlier write counts: a path says nothing of which card is behind it (the same
    ``--boot /media/…/bootfs`` or ``--image SD.img`` serves card after card), so the warning says
    what to do in both cases instead of guessing."""
    if not earlier:
        return None
    last = earlier[-1]
    more = f", and {len(earlier) - 1} time(s) before that" if len(earlier) > 1 else ""
    return (f"warning: kiosk {kiosk_id}'s identity was already written at {last.at} ({last.media}{more}). "
            "If that was this same card, ignore this. Two cards with one identity knock each other off "
            "the broker: wipe the other card, or for a second kiosk make a new one: "
            "kiosk-provision kiosk new <new id> --venue …")
