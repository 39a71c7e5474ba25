"""What a fleet directory holds, for ``venue list`` and ``kiosk list``: the venues and their kiosks,
each kiosk's certificate validity and the cards its identity went to.

>>> [v.venue_id for v in venues(fleet)]
['cho-phanrang']
>>> kiosks(fleet)[0].expires
datetime.datetime(2028, 3, 7, 3, 12, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import cards
from .fleet import Fleet
from .pki import load_cert


@dataclass(frozen=True)
class Venue:
    venue_id: str
    name: str
    kiosks: int


@dataclass(frozen=True)
class Kiosk:
    kiosk_id: str
    venue_id: str | None
    expires: datetime | None          # the certificate's end of validity (None: unreadable)
    cards: list[cards.Card]

    def state(self, now: datetime) -> str:
        if self.expires is None:
            return "certificate missing"
        if self.expires <= now:
            return "certificate EXPIRED"
        days = (self.expires - now).days
        return f"certificate valid {days} more day(s)" + (" (reissue soon)" if days < 30 else "")


def kiosks(fleet: Fleet) -> list[Kiosk]:
    """The kiosks provisioned (revoked ones are kept aside and not listed), by id."""
    registry = fleet.registry()
    folder = fleet.root / "kiosks"
    out = []
    for d in sorted(folder.iterdir() if folder.is_dir() else []):
        if not d.is_dir() or d.name.startswith("."):
            continue
        out.append(Kiosk(d.name, registry.get(d.name) or _toml_venue(fleet.kiosk_etc(d.name) / "kiosk.toml"),
                         _expiry(fleet.kiosk_etc(d.name) / "kiosk.pem"), cards.read(d / cards.LEDGER)))
    return out


def venues(fleet: Fleet) -> list[Venue]:
    counts: dict[str, int] = {}
    for k in kiosks(fleet):
        counts[k.venue_id or ""] = counts.get(k.venue_id or "", 0) + 1
    return [Venue(v, name, counts.get(v, 0)) for v, name in sorted(fleet.venues().items())]


def _toml_venue(path: Path) -> str | None:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))["kiosk"]["venue_id"]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return None


def _expiry(path: Path) -> datetime | None:
    try:
        return load_cert(path).not_valid_after_utc
    except (OSError, ValueError):
        return None


def now() -> datetime:
    return datetime.now(timezone.utc)
