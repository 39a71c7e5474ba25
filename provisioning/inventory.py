"""What a fleet directory holds, for ``venue list`` and ``kiosk list``: the venues and their kiosks,
each kiosk's certificate validity and the cards its identity went to.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     fleet = Fleet.init(Path(tmp, "fleet"), broker_host="broker.example", days=825)
...     _ = fleet.add_venue("cho-phanrang", "Chợ Phan Rang")
...     _ = fleet.add_venue("truong-hoc", "Trường Tiểu học Đô Vinh")
...     _ = fleet.new_kiosk("ninhthuan-cho-phanrang-01", "cho-phanrang")
...     _ = cards.given(fleet.kiosk_dir("ninhthuan-cho-phanrang-01"), "ninhthuan-cho-phanrang-01",
...                     "folder /media/tech/bootfs")
...     [(v.venue_id, v.name, v.kiosks) for v in venues(fleet)]
...     [(k.kiosk_id, k.venue_id, k.state(now()), [c.media for c in k.cards]) for k in kiosks(fleet)]
[('cho-phanrang', 'Chợ Phan Rang', 1), ('truong-hoc', 'Trường Tiểu học Đô Vinh', 0)]
[('ninhthuan-cho-phanrang-01', 'cho-phanrang', 'certificate valid 824 more day(s)', ['folder /media/tech/bootfs'])]

(The certificate was issued for 825 days a moment before: 824 whole days remain.)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
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
    return datetime.now(UTC)
