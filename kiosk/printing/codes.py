"""The kiosk's side of its printed codes: the venue key, issuing slips and cards, and checking
them against its records when they come back to the camera.

A slip checks out the one visit it was printed for: refused once that visit is closed (used, or
closed otherwise), after the maximum stay, or when this kiosk has no record of the visit. A card
stands for a person staff registered, and checks them in and out like their ID card; it stops
working when staff take the person off the phone number (revocation).

>>> import tempfile
>>> from kiosk.door.checkin import CheckinDesk
>>> from kiosk.clock import Clock
>>> from kiosk.credentials import recognise
>>> tmp = tempfile.TemporaryDirectory()
>>> store, clock = VisitStore.open(Path(tmp.name, "kiosk.db")), Clock("Asia/Ho_Chi_Minh")
>>> tokens = KioskTokens(VenueKey.create(Path(tmp.name, KEY_FILE)), venue_id="cho-phanrang", store=store, clock=clock)
>>> desk = CheckinDesk(store, clock, kiosk_id="k1", venue_id="cho-phanrang")
>>> visit = desk.present(recognise("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1|15072021"))
>>> slip = tokens.slip(visit.visit_id, issued=clock.now())       # the slip's QR
>>> slip.split(".")[:2]                                          # CK1.S.<body>.<signature>
['CK1', 'S']
>>> shown = recognise(slip, verifier=tokens)                     # at the camera on the way out
>>> shown.key, shown.details["via"], desk.present(shown, method="slip").kind
('cccd:079190000001', 'slip', 'check_out')
>>> recognise(slip, verifier=tokens)                             # the same slip again
Traceback (most recent call last):
...
kiosk.credentials.model.Refused: token_used: the slip's visit is closed
>>> store.close(); tmp.cleanup()
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from mqtt.wire.slip_codes import CardClaims, SlipClaims, TokenRefused, VenueKey, open_parts, sign_card, sign_slip

from ..credentials import Refused
from ..staff.people import People
from ..store import VisitStore

log = logging.getLogger(__name__)

KEY_FILE = "venue-token.key"


def venue_key(path: Path, *, create: bool) -> VenueKey | None:
    """The venue's token key from ``path``; made there when ``create`` (simulation: one kiosk is
    the whole venue). None, with an error logged, when a real kiosk has no usable key: its slips
    and cards are then refused as unverifiable and none are printed."""
    try:
        return VenueKey.load(path)
    except FileNotFoundError:
        if create:
            return VenueKey.create(path)
        log.error("no venue token key at %s: slips and cards cannot be printed or checked", path)
    except (OSError, ValueError) as exc:
        log.error("venue token key unusable: %s", exc)
    return None


class KioskTokens:
    """Issues and checks this venue's tokens (a :class:`~kiosk.credentials.TokenVerifier`).

    store: a connection used only by the calling thread (the scan loop's for checking);
    slip_valid_h: a slip is refused this long after it was printed (the maximum stay).
    """

    def __init__(self, key: VenueKey, *, venue_id: str, store: VisitStore, clock, slip_valid_h: float = 12.0):
        self.key = key
        self.venue_id = venue_id
        self.store = store
        self.clock = clock
        self.slip_valid = timedelta(hours=slip_valid_h)

    # -- issuing ------------------------------------------------------------------------------

    def slip(self, visit_id: str, *, issued: datetime) -> str:
        return sign_slip(self.key, self.venue_id, visit_id, issued=issued)

    def card(self, person_id: str, *, issued: datetime) -> str:
        return sign_card(self.key, self.venue_id, person_id, issued=issued)

    # -- checking (TokenVerifier) -------------------------------------------------------------

    def verify(self, code_type: str, body: str, signature: str) -> dict:
        try:
            claims = open_parts(self.key, self.venue_id, code_type, body, signature)
        except TokenRefused as exc:
            raise Refused(exc.code, exc.detail) from None
        if isinstance(claims, SlipClaims):
            return self._slip(claims)
        return self._card(claims)

    def _slip(self, claims: SlipClaims) -> dict:
        if self.clock.now() - claims.issued > self.slip_valid:
            raise Refused("token_expired", "the slip is older than the maximum stay")
        visit = self.store.reader().visit_state(claims.visit_id, self.venue_id)
        if visit is None:
            raise Refused("not_inside", "no record of the slip's visit at this kiosk")
        if visit.check_out_at is not None:
            raise Refused("token_used" if visit.check_out_method == "slip" else "token_visit_closed",
                          "the slip's visit is closed")
        return {"id": claims.visit_id, "visit_id": claims.visit_id, "person": visit.person}

    def _card(self, claims: CardClaims) -> dict:
        person = People(self.store).get(claims.person_id)
        if person is None:
            raise Refused("token_revoked", "the card's holder is no longer registered")
        return {"id": claims.person_id, "person_id": claims.person_id, "person": person.credential().person()}
