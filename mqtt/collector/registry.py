"""The fleet registry: which venue each provisioned kiosk belongs to (``kiosks.toml``).

``kiosk-provision kiosk new`` writes it (``FLEET/collector/kiosks.toml``, beside ``collector.toml``)
and the collector reads it from ``[fleet] kiosks``::

    # kiosk id = venue id (kiosk-provision kiosk new); copy to /etc/checkin-collector/
    [kiosks]
    "ninhthuan-cho-phanrang-01" = "cho-phanrang"

    # where each venue is, for the committees' figures by district and province
    [venues.cho-phanrang]
    name = "Chợ Phan Rang"
    district = "Phan Rang–Tháp Chàm"
    province = "Ninh Thuận"

With a registry, an event is stored only when its kiosk is listed and the event's ``venue_id``
is that kiosk's venue; otherwise it is dead-lettered ``unknown_kiosk`` or ``venue_mismatch`` and
not acked, so it stays in the kiosk's outbox and is stored once the registry lists the kiosk
at that venue (the collector reads the file again when it changes). Status, health and self-test
reports of an unlisted kiosk are still recorded: the fleet view then shows a kiosk that is up
but not registered. Without a registry (``kiosks = ""``, the loopback development setup) any
kiosk may file events at any venue, as before.

``[venues]`` is optional: the collector copies it into the store (:meth:`~.store.SqlStore.set_venues`)
when it starts and whenever the file changes; a venue not listed is counted in no district.

>>> registry = parse_registry('[kiosks]\\n"k-01" = "cho-thu"\\n')
>>> registry["k-01"]
'cho-thu'
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..plumbing.tomlconfig import ConfigError, load_toml, read_text, toml_string
from ..wire.ids import ID
from .store_figures import MAX_PLACE_NAME, Venue, is_place_name

log = logging.getLogger("mqtt.collector")

#: A changed registry file is noticed within this long.
RELOAD_EVERY_S = 1.0
UNKNOWN_KIOSK = "unknown_kiosk"
VENUE_MISMATCH = "venue_mismatch"


def parse_registry(text: str, path: Path | None = None) -> dict[str, str]:
    """``{kiosk id: venue id}`` from a registry's text; :class:`ConfigError` naming the file and
    the key for anything else (unknown tables or keys, ids that are not kiosk or venue ids)."""
    where = str(path or "kiosks.toml")
    raw = load_toml(text, where)
    unknown = sorted(set(raw) - {"kiosks", "venues"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (a [kiosks] table: kiosk id = venue id, "
                          "and [venues.ID] tables)")
    parse_venues(raw.get("venues", {}), where)
    kiosks = raw.get("kiosks", {})
    if not isinstance(kiosks, dict):
        raise ConfigError(f"{where}: kiosks must be a [kiosks] table (kiosk id = venue id)")
    for kiosk_id, venue_id in kiosks.items():
        if not ID.fullmatch(kiosk_id):
            raise ConfigError(f"{where}: [kiosks] {kiosk_id!r}: not a kiosk id "
                              "(lower-case letters, digits and '-', at most 63)")
        if not isinstance(venue_id, str) or not ID.fullmatch(venue_id):
            raise ConfigError(f"{where}: [kiosks] {kiosk_id} = {venue_id!r}: must be a venue id "
                              "(lower-case letters, digits and '-', at most 63)")
    return dict(kiosks)


VENUE_KEYS = ("name", "district", "province")


def parse_venues(table: object, where: str) -> dict[str, Venue]:
    """``{venue id: Venue}`` from a registry's ``[venues]`` (each ``[venues.ID]`` with ``name``,
    ``district`` and ``province``, all optional); :class:`ConfigError` naming the key otherwise."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: venues must be [venues.ID] tables")
    out = {}
    for venue_id, fields in table.items():
        if not ID.fullmatch(venue_id):
            raise ConfigError(f"{where}: [venues] {venue_id!r}: not a venue id "
                              "(lower-case letters, digits and '-', at most 63)")
        if not isinstance(fields, dict):
            raise ConfigError(f"{where}: venues.{venue_id} must be a table (name, district, province)")
        unknown = sorted(set(fields) - set(VENUE_KEYS))
        if unknown:
            raise ConfigError(f"{where}: venues.{venue_id}: unknown key {unknown[0]!r} "
                              f"(only {', '.join(VENUE_KEYS)})")
        for key, value in fields.items():
            if not isinstance(value, str) or not is_place_name(value):
                raise ConfigError(f"{where}: venues.{venue_id}.{key} must be a name of at most "
                                  f"{MAX_PLACE_NAME} printable characters, without '|'")
        out[venue_id] = Venue(venue_id, **{k: fields.get(k, "") for k in VENUE_KEYS})
    return out


def registry_venues(text: str, path: Path | None = None) -> dict[str, Venue]:
    """The ``[venues]`` of a registry's text (checked as :func:`parse_registry` checks it)."""
    parse_registry(text, path)
    return parse_venues(load_toml(text, str(path or "kiosks.toml")).get("venues", {}), str(path or "kiosks.toml"))


def render_registry(kiosks: dict[str, str], venues: dict[str, Venue] | None = None) -> str:
    """The registry's text for ``kiosks`` and ``venues`` (sorted; what :func:`parse_registry`
    and :func:`registry_venues` read back)."""
    lines = ["# kiosk id = venue id (written by kiosk-provision kiosk new); copy to /etc/checkin-collector/",
             "[kiosks]"]
    lines += [f'"{kiosk_id}" = "{venue_id}"' for kiosk_id, venue_id in sorted(kiosks.items())]
    for venue_id, venue in sorted((venues or {}).items()):
        lines += ["", f"[venues.{venue_id}]"]
        lines += [f"{key} = {toml_string(getattr(venue, key))}" for key in VENUE_KEYS]
    return "\n".join(lines) + "\n"


class Registry:
    """The registry file, read again when it changes (checked at most every :data:`RELOAD_EVERY_S`).

    A file that cannot be read or parsed any more keeps the last good registry (logged); one that
    is bad from the start is an error, as a bad config is."""

    def __init__(self, path: Path, *, monotonic=time.monotonic):
        self.path = Path(path)
        self._monotonic = monotonic
        self._stamp = self._stat()
        text = read_text(self.path)
        self.kiosks = parse_registry(text, self.path)
        #: Where each venue is (``[venues]``); ``version`` counts the readings that changed anything.
        self.venues = registry_venues(text, self.path)
        self.version = 1
        self._next_check = monotonic() + RELOAD_EVERY_S

    def _stat(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _refresh(self) -> None:
        now = self._monotonic()
        if now < self._next_check:
            return
        self._next_check = now + RELOAD_EVERY_S
        stamp = self._stat()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            text = read_text(self.path)
            self.kiosks, self.venues = parse_registry(text, self.path), registry_venues(text, self.path)
        except ConfigError as exc:
            log.error("collector: the fleet registry could not be read again; keeping the last one (%s)", exc)
            return
        self.version += 1
        log.info("collector: fleet registry %s read again: %d kiosk(s)", self.path, len(self.kiosks))

    def current(self) -> Registry:
        """This registry, read again first if the file changed."""
        self._refresh()
        return self

    def venue_of(self, kiosk_id: str) -> str | None:
        """The venue ``kiosk_id`` is provisioned for, or None when the registry does not list it."""
        self._refresh()
        return self.kiosks.get(kiosk_id)

    def refusal(self, event: dict) -> tuple[str, str] | None:
        """(reason, detail) when ``event`` may not be stored for its kiosk, else None."""
        self._refresh()
        venue = self.kiosks.get(event["kiosk_id"])
        if venue is None:
            return UNKNOWN_KIOSK, "the kiosk is not in the fleet registry"
        if venue != event["venue_id"]:
            return VENUE_MISMATCH, f"the kiosk is provisioned for venue {venue}, not {event['venue_id']}"
        return None
