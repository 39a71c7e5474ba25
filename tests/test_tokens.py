"""Signed slips and cards: forged, altered, replayed, expired, revoked and other-venue codes are
refused; a slip checks out its visit once; a card checks its holder in and out at every kiosk of
the venue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

import kiosk_db
from codes import cccd_payload
from configs import write_collector_config
from kiosk.credentials import Refused, recognise
from kiosk.door.checkin import CheckinDesk
from kiosk.printing.codes import KioskTokens, venue_key
from kiosk.staff.people import People, parse_declaration
from mqtt.wire.slip_codes import TokenRefused, VenueKey, decode_b32, encode_b32, open_token, sign_card, sign_slip

VENUE = "cho-thu"


@pytest.fixture
def key(tmp_path):
    return VenueKey.create(tmp_path / "venue-token.key")


@pytest.fixture
def tokens(key, store, clock):
    return KioskTokens(key, venue_id=VENUE, store=store, clock=clock, slip_valid_h=12)


@pytest.fixture
def camera_desk(store, clock):
    return CheckinDesk(store, clock, kiosk_id="k-01", venue_id=VENUE, mode="toggle")


def refusal(token: str, tokens) -> str:
    with pytest.raises(Refused) as e:
        recognise(token.encode(), verifier=tokens)
    return e.value.code


def test_the_key_file_is_private_and_a_real_kiosk_never_makes_its_own(tmp_path):
    path = tmp_path / "k" / "venue-token.key"
    assert venue_key(path, create=False) is None                    # a real kiosk: no key, no tokens
    made = venue_key(path, create=True)                             # simulation: one kiosk, its own
    assert (path.stat().st_mode & 0o777) == 0o600 and VenueKey.load(path) == made
    path.write_text("not hex\n")
    assert venue_key(path, create=True) is None                     # damaged: never replaced silently


def test_a_venue_key_parses_from_its_hex_text(tmp_path):
    made = VenueKey.create(tmp_path / "venue-token.key")
    assert VenueKey.parse(f"  {made.secret.hex()}\n") == made
    for bad in ("", "not hex", made.secret.hex()[:-2]):
        with pytest.raises(ValueError, match="not a venue token key"):
            VenueKey.parse(bad)
    (tmp_path / "short.key").write_text("abcd\n")
    with pytest.raises(ValueError, match=r"short\.key: not a venue token key \(64 hex digits\)"):
        VenueKey.load(tmp_path / "short.key")


def test_tokens_are_short_ascii_in_the_qr_alphanumeric_set(key, clock):
    slip = sign_slip(key, VENUE, "2c7cbcd8-8d3e-4c1a-9f0e-0123456789ab", issued=clock.now())
    card = sign_card(key, VENUE, "PABCDEFGHJ", issued=clock.now())
    for token in (slip, card):
        assert set(token) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    # Small codes scan at arm's length: a slip fits QR version 4, a card version 3 (error correction M).
    assert segno.make(slip, error="m", micro=False, boost_error=False).version <= 4
    assert segno.make(card, error="m", micro=False, boost_error=False).version <= 3


def reveals(token: str, visit_id: str) -> bool:
    """Whether a code shows the visit id in any spelling: as text, hex, or its 16 bytes in the body."""
    raw = uuid.UUID(visit_id).bytes
    body = decode_b32(token.split(".")[2])
    return (visit_id in token.lower() or raw.hex() in token.lower() or raw in body
            or encode_b32(raw) in token or any(raw[i:i + 6] in body for i in range(11)))


def test_a_slip_does_not_show_its_visit_id_and_still_checks_it_out(tokens, key, camera_desk, clock, tmp_path):
    """Field fix 4: what a slip carries cannot be used to address its visit at the centre (an
    event with that visit id); only the venue's key turns it back into the visit."""
    visit = camera_desk.present(recognise(cccd_payload(6)))
    slip = tokens.slip(visit.visit_id, issued=clock.now())
    assert not reveals(slip, visit.visit_id)
    other = sign_slip(VenueKey.create(tmp_path / "other.key"), VENUE, visit.visit_id, issued=clock.now())
    assert other.split(".")[2] != slip.split(".")[2]               # another key, another reference
    assert open_token(key, VENUE, slip).visit_id == visit.visit_id
    assert recognise(slip.encode(), verifier=tokens).details["via"] == "slip"
    assert camera_desk.present(recognise(slip.encode(), verifier=tokens), method="slip").kind == "check_out"


@settings(max_examples=200, deadline=None)
@given(st.uuids(version=4))
def test_any_visit_id_round_trips_through_a_slip_without_showing(visit):
    key = VenueKey(b"k" * 32)
    slip = sign_slip(key, VENUE, str(visit), issued=datetime(2026, 11, 1, tzinfo=UTC))
    assert open_token(key, VENUE, slip).visit_id == str(visit) and not reveals(slip, str(visit))


def test_a_slip_checks_out_its_visit_once(tokens, camera_desk, clock, store):
    visit = camera_desk.present(recognise(cccd_payload(1)))
    slip = tokens.slip(visit.visit_id, issued=clock.now())
    credential = recognise(slip.encode(), verifier=tokens)
    assert (credential.kind, credential.id, credential.details["via"]) == ("cccd", "079190000001", "slip")
    out = camera_desk.present(credential, method="slip")
    assert out.kind == "check_out" and out.visit_id == visit.visit_id
    last = kiosk_db.events(store)[-1]
    assert last["method"] == "slip" and last["person"]["id"] == "079190000001"
    assert refusal(slip, tokens) == "token_used"                     # replayed


def test_a_slip_never_checks_in_and_is_dead_once_its_visit_closed_otherwise(tokens, camera_desk, clock):
    visit = camera_desk.present(recognise(cccd_payload(2)))
    slip = tokens.slip(visit.visit_id, issued=clock.now())
    camera_desk.present(recognise(cccd_payload(2)))                  # left by showing the ID card
    assert refusal(slip, tokens) == "token_visit_closed"
    camera_desk.present(recognise(cccd_payload(2)))                  # came back: a new visit
    assert refusal(slip, tokens) == "token_visit_closed"             # the old slip is not a key to it


def test_a_slip_expires_after_the_maximum_stay(tokens, camera_desk, clock, wall):
    visit = camera_desk.present(recognise(cccd_payload(3)))
    slip = tokens.slip(visit.visit_id, issued=clock.now())
    wall.advance(12 * 3600 + 60)
    assert refusal(slip, tokens) == "token_expired"


def test_forged_altered_and_other_venue_codes_are_refused(tokens, key, camera_desk, clock, tmp_path):
    visit = camera_desk.present(recognise(cccd_payload(4)))
    slip = tokens.slip(visit.visit_id, issued=clock.now())
    _, letter, body, sig = slip.split(".")
    raw = bytearray(decode_b32(body))
    raw[10] ^= 0x01                                                  # another visit id
    assert refusal(f"CK1.{letter}.{encode_b32(bytes(raw))}.{sig}", tokens) == "token_forged"
    assert refusal(f"CK1.{letter}.{body}.{'A' * len(sig)}", tokens) == "token_forged"
    other_key = VenueKey.create(tmp_path / "other.key")
    assert refusal(sign_slip(other_key, VENUE, visit.visit_id, issued=clock.now()), tokens) == "token_forged"
    assert refusal(sign_slip(key, "cho-khac", visit.visit_id, issued=clock.now()), tokens) == "token_other_venue"
    assert refusal(f"CK1.C.{body}.{sig}", tokens) == "malformed_token"   # a slip's body as a card
    assert refusal("CK1.S.MZXW6YTB.MZXW6", tokens) == "malformed_token"
    # A visit this kiosk never saw (another door of the venue): not a crash, a reason.
    assert refusal(sign_slip(key, VENUE, "2c7cbcd8-8d3e-4c1a-9f0e-0123456789ab", issued=clock.now()),
                   tokens) == "not_inside"


def test_a_card_checks_its_holder_in_and_out_until_revoked(tokens, store, clock, camera_desk):
    people = People(store)
    holder, _ = people.register(parse_declaration({"name": "Trần Văn Thử", "phone": "0912345678"}), staff_id=None)
    card = tokens.card(holder.person_id, issued=clock.now())
    credential = recognise(card.encode(), verifier=tokens)
    assert (credential.kind, credential.id, credential.details["via"]) == ("kiosk_card", holder.person_id, "kiosk_card")
    assert camera_desk.present(credential, method="kiosk_card").kind == "check_in"
    assert camera_desk.present(recognise(card.encode(), verifier=tokens), method="kiosk_card").kind == "check_out"
    assert people.revoke(holder.person_id)
    assert refusal(card, tokens) == "token_revoked"


def test_a_card_of_someone_declared_with_a_cccd_is_their_cccd_identity(tokens, store, clock, camera_desk):
    holder, _ = People(store).register(parse_declaration({"name": "Nguyễn Thị Mẫu", "phone": "0912345678",
                                                          "id_number": "079190000005"}), staff_id=None)
    credential = recognise(tokens.card(holder.person_id, issued=clock.now()).encode(), verifier=tokens)
    assert credential.key == "cccd:079190000005"
    camera_desk.present(credential, method="kiosk_card")
    assert camera_desk.present(recognise(cccd_payload(5))).kind == "check_out"     # the ID card, same person


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80) | st.from_regex(r"CK1\.[SC]\.[A-Z2-7]{1,64}\.[A-Z2-7]{1,40}", fullmatch=True))
def test_any_text_is_opened_or_refused_with_a_reason(text):
    key = VenueKey(b"k" * 32)
    try:
        open_token(key, VENUE, text)
    except TokenRefused as e:
        assert e.code in ("malformed_token", "token_other_venue", "token_forged")
    else:
        raise AssertionError("an unsigned text was accepted")


def test_the_central_side_checks_a_code_with_the_venues_key(key, tmp_path, clock, capsys):
    """kiosk-collector token: the scheme is shared (mqtt/wire/slip_codes.py), so the centre verifies codes too."""
    import json

    from mqtt.collector.cli import main
    config = write_collector_config(tmp_path / "collector.toml", store={"url": f"sqlite://{tmp_path}/central.db"})
    key_file = tmp_path / "venue-token.key"
    slip = sign_slip(key, VENUE, "2c7cbcd8-8d3e-4c1a-9f0e-0123456789ab", issued=clock.now())
    args = ["--venue", VENUE, "--key", str(key_file), "--config", str(config)]
    assert main(["token", slip, "--json", *args]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["valid"], out["kind"], out["visit_id"]) == (True, "slip", "2c7cbcd8-8d3e-4c1a-9f0e-0123456789ab")
    altered = slip[:-1] + ("B" if slip.endswith("A") else "A")      # 80-bit MAC: 16 chars, no spare bits
    assert main(["token", altered, *args]) == 1
    assert "not valid: token_forged" in capsys.readouterr().out
    assert main(["token", sign_card(key, VENUE, "PABCDEFGHJ", issued=clock.now()), "--venue", "cho-khac",
                 "--key", str(key_file), "--config", str(config)]) == 1
    assert "token_other_venue" in capsys.readouterr().out
