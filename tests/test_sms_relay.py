"""The centre's SMS relay for kiosks without a modem (issue 13): the wire messages
(``checkin.sms/1``, ``checkin.sms-state/1``), the collector's relay and its limits, the HTTP
gateway backend, and end to end on the production broker (TLS with the fleet's certificates, the
ACL): a kiosk's one-time code through its real uplink and the real collector into the centre's
file SMS, and a kiosk that cannot have the centre text on another kiosk's behalf."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker import free_port
from fleet_support import fleet_central
from kiosk.centre.outbox import KioskOutbox
from kiosk.centre.sms import ANSWER_WITHIN_S, CentreSms
from kiosk.config import ConfigError as KioskConfigError
from kiosk.config import parse_config as kiosk_config
from kiosk.staff.audit import Audit
from kiosk.staff.phone_codes import PhoneCodes
from kiosk.store import VisitStore
from mqtt.collector.config import ConfigError, parse_config
from mqtt.collector.sms_relay import GIVE_UP_S, PER_KIOSK, PER_PHONE, WINDOW_S, SmsRelay
from mqtt.plumbing.sms import MAX_TEXT, SmsError, open_sms
from mqtt.uplink import Uplink, UplinkSettings
from mqtt.wire.fields import InvalidEvent
from mqtt.wire.sms import (
    FAILURE_REASONS,
    MAX_SMS_BYTES,
    SmsRequest,
    decode_request,
    decode_state,
    encode_request,
    encode_state,
)
from mqtt.wire.topics import SMS_SEND, SMS_STATE, topic
from provisioning.fleet import Fleet
from test_broker_security import NOT_AUTHORIZED, Client
from test_kiosk_binding import FleetKiosk
from test_sms import GammuDaemon, gammu  # noqa: F401 - the fixture
from uplink_support import RawClient
from waiting import wait_for

PHONE, OTHER_PHONE = "0912345678", "0987654321"
VENUE, A, B, STRANGER = "cho-thu", "cho-thu-a", "cho-thu-b", "cho-thu-z"

# -- the wire ----------------------------------------------------------------------------------

phones = st.from_regex(r"0[0-9]{9}", fullmatch=True)
texts = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Co", "Zl", "Zp")), min_size=1,
                max_size=MAX_TEXT).filter(lambda t: t.isprintable())
request_ids = st.uuids().map(str)


@settings(max_examples=200, deadline=None)
@given(request_ids, phones, texts)
def test_any_valid_request_reads_back(request_id, to, text):
    assert decode_request(encode_request(request_id, to, text)) == SmsRequest(request_id, to, text)


@settings(max_examples=100, deadline=None)
@given(request_ids, st.sampled_from(["queued", "sent"]) | st.sampled_from(FAILURE_REASONS))
def test_any_valid_state_reads_back(request_id, outcome):
    state, reason = (outcome, None) if outcome in ("queued", "sent") else ("failed", outcome)
    answer = decode_state(encode_state(request_id, state, reason))
    assert (answer.request_id, answer.state, answer.reason) == (request_id, state, reason)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000) | st.builds(lambda o: json.dumps(o).encode(), st.dictionaries(
    st.sampled_from(["schema", "request_id", "to", "text", "state", "reason", "x"]),
    st.none() | st.integers() | st.text(max_size=30) | st.sampled_from(
        ["checkin.sms/1", "checkin.sms-state/1", str(uuid.uuid4()), PHONE, "failed", "sent", "rate_limited"]))))
def test_anything_else_is_refused_with_a_reason_both_ways(payload):
    for decode in (decode_request, decode_state):
        try:
            decode(payload)
        except InvalidEvent as exc:
            assert exc.reason in ("too_large", "not_json", "schema", "field")


def test_what_the_wire_refuses():
    rid = str(uuid.uuid4())
    for to, text in (("912345678", "x"), ("+84912345678", "x"), (PHONE, ""), (PHONE, "x" * (MAX_TEXT + 1)),
                     (PHONE, "mã\x00"), ("０９１２３４５６７８", "x")):
        with pytest.raises(ValueError):
            encode_request(rid, to, text)
    with pytest.raises(ValueError):
        encode_request("not-a-uuid", PHONE, "x")
    with pytest.raises(ValueError):
        encode_state(rid, "failed", None)               # a failure says why
    with pytest.raises(ValueError):
        encode_state(rid, "sent", "rate_limited")       # and only a failure
    with pytest.raises(InvalidEvent, match="too_large"):
        decode_request(b" " * (MAX_SMS_BYTES + 1))


# -- the relay ---------------------------------------------------------------------------------

class Relay:
    """A relay over ``sms`` that keeps what it publishes, on a clock the test moves."""

    def __init__(self, sms, **kw):
        self.t = 0.0
        self.published: list[tuple[str, bytes]] = []
        self.relay = SmsRelay(sms, publish=self.published.extend, monotonic=lambda: self.t, **kw)

    def ask(self, kiosk_id=A, to=PHONE, request_id=None):
        request = SmsRequest(request_id or str(uuid.uuid4()), to, "Mã xác nhận: 123456")
        self.relay.handle(kiosk_id, request)
        return request.request_id

    def answers(self, kiosk_id=A):
        return [(decode_state(p).request_id, decode_state(p).state, decode_state(p).reason)
                for t, p in self.published if t == topic(kiosk_id, SMS_STATE)]

    def last(self, kiosk_id=A):
        return self.answers(kiosk_id)[-1][1:]


def files(folder: Path) -> list[str]:
    return sorted(p.read_text(encoding="utf-8") for p in folder.glob("*.txt"))


def test_the_relay_sends_once_answers_the_kiosk_and_only_it(tmp_path):
    r = Relay(open_sms("file", folder=tmp_path / "out"))
    request_id = r.ask()
    assert r.answers() == [(request_id, "sent", None)]
    assert files(tmp_path / "out") == [f"{PHONE}\nMã xác nhận: 123456"]
    r.ask(request_id=request_id)                       # QoS 1 delivered it again: answered, not sent again
    assert r.answers() == [(request_id, "sent", None)] * 2 and len(files(tmp_path / "out")) == 1
    r.ask(kiosk_id=B, request_id=request_id)            # B names A's request: nothing, to nobody
    assert r.answers(B) == [] and len(r.published) == 2 and len(files(tmp_path / "out")) == 1


def test_the_relays_own_limits_per_phone_and_per_kiosk_hold_whatever_a_kiosk_claims(tmp_path):
    r = Relay(open_sms("file", folder=tmp_path / "out"))
    for _ in range(PER_PHONE):
        r.ask()
        assert r.last() == ("sent", None)
    r.ask()
    assert r.last() == ("failed", "rate_limited")
    assert r.ask(to=OTHER_PHONE) and r.last() == ("sent", None)     # another phone may still be texted
    for n in range(PER_KIOSK - PER_PHONE - 1):     # a refused text is not counted
        r.ask(to=f"09{n:08d}")
        assert r.last() == ("sent", None)
    r.ask(to="0811111111")
    assert r.last() == ("failed", "rate_limited")                   # the kiosk's 40 in 15 minutes
    assert r.ask(kiosk_id=B, to="0811111111") and r.last(B) == ("sent", None)   # per kiosk
    r.t += WINDOW_S
    r.ask()
    assert r.last() == ("sent", None)                               # the window has passed
    assert len(files(tmp_path / "out")) == PER_KIOSK + 2


def test_no_backend_an_unlisted_kiosk_and_a_backend_that_cannot_take_it_are_each_said(tmp_path):
    r = Relay(None)
    r.ask()
    assert r.last() == ("failed", "no_relay")
    r = Relay(open_sms("file", folder=tmp_path / "out"), knows=lambda kiosk_id: kiosk_id == A)
    r.ask(kiosk_id=STRANGER)
    assert r.last(STRANGER) == ("failed", "unknown_kiosk") and files(tmp_path / "out") == []
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    r = Relay(open_sms("file", folder=blocker / "out"))
    r.ask()
    assert r.last() == ("failed", "send_failed")


def test_the_relay_follows_a_text_the_gammu_daemon_holds_until_it_goes(gammu, tmp_path):
    r = Relay(open_sms("gammu", smsdrc=gammu.config))        # the daemon not started yet: it waits
    request_id = r.ask()
    assert r.answers() == [(request_id, "queued", None)]
    r.relay.poll()
    assert r.last() == ("queued", None)
    gammu.start()
    wait_for(lambda: (r.relay.poll(), r.last() == ("sent", None))[1], timeout=30, what="the daemon to send it")
    assert r.answers()[-1] == (request_id, "sent", None)


def test_a_text_the_backend_never_settles_is_given_up_on(tmp_path):
    held = SimpleNamespace(send=lambda phone, text: "t-1", state=lambda ticket: "queued")
    r = Relay(held)
    r.ask()
    r.relay.poll()
    assert r.last() == ("queued", None)
    r.t += GIVE_UP_S
    r.relay.poll()
    assert r.last() == ("failed", "not_delivered")


# -- the HTTP gateway --------------------------------------------------------------------------

class Gateway:
    """An SMS gateway's web API on loopback: keeps each POST, answers with ``status``."""

    def __init__(self, status: int = 202):
        self.status, self.posts = status, []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.posts.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(gateway.status)
                self.end_headers()
                self.wfile.write(b'{"id": "gw-1"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_http_gateway_gets_one_json_post_with_the_token_and_its_refusal_is_an_sms_error(tmp_path):
    gateway = Gateway()
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    try:
        options = parse_config(f'[sms]\nkind = "http"\nurl = "{gateway.url}"\ntoken_file = "{token}"\n').sms.options
        sms = open_sms("http", **options)
        assert sms.state(sms.send(PHONE, "Mã xác nhận: 123456")) == "sent"
        [(path, headers, body)] = gateway.posts
        assert path == "/v1/messages" and headers["Authorization"] == "Bearer s3cret-token"
        assert body == {"to": PHONE, "to_e164": "+84912345678", "text": "Mã xác nhận: 123456"}
        gateway.status = 503
        with pytest.raises(SmsError, match="answered 503") as refused:
            sms.send(PHONE, "Mã xác nhận: 123456")
        assert PHONE not in str(refused.value)
    finally:
        gateway.close()
    with pytest.raises(SmsError, match="cannot reach the SMS gateway"):
        sms.send(PHONE, "Mã xác nhận: 123456")


def test_sms_config_on_both_sides_is_strict_and_says_what_is_wrong():
    for text, words in (('kind = "http"\nurl = "http://sms.example.vn/x"\n', "must be https://"),
                        ('kind = "http"\n', "url: must be an https:// URL"),
                        ('kind = "file"\n', 'path: for kind = "file" must name the folder'),
                        ('kind = "centre"\n', "must be one of"), ('kind = "none"\nphone = "x"\n', "unknown key")):
        with pytest.raises(ConfigError, match=words):
            parse_config("[sms]\n" + text)
    assert parse_config('[sms]\nkind = "http"\nurl = "https://sms.example.vn/v1"\n').sms.options == {
        "url": "https://sms.example.vn/v1", "token_file": None}
    assert kiosk_config('[sms]\nkind = "centre"\n').sms.kind == "centre"
    with pytest.raises(KioskConfigError, match="takes no path"):
        kiosk_config('[sms]\nkind = "centre"\npath = "/tmp/x"\n')
    with pytest.raises(KioskConfigError, match="must be one of"):
        kiosk_config('[sms]\nkind = "http"\n')


# -- end to end: the production broker, the kiosk's uplink, the collector ---------------------

def kiosk_uplink(url: str, kiosk_id: str, db: Path, etc: Path | None = None) -> Uplink:
    """The kiosk's uplink; with ``etc`` (its provisioned folder) over TLS with its own certificate."""
    tls = {"tls_ca": str(etc / "ca.pem"), "tls_cert": str(etc / "kiosk.pem"),
           "tls_key": str(etc / "kiosk.key")} if etc else {}
    return Uplink(KioskOutbox(db), UplinkSettings(url=url, kiosk_id=kiosk_id, backoff_s=(0.1, 0.5), **tls), health=dict)


def test_a_kiosks_code_goes_through_the_centre_and_no_kiosk_texts_for_another(tmp_path):
    fleet = Fleet.init(tmp_path / "fleet", broker_host="127.0.0.1", broker_port=free_port())
    fleet.add_venue(VENUE, "Chợ Thử")
    for kiosk_id in (A, B):
        fleet.new_kiosk(kiosk_id, VENUE)
    outbox = tmp_path / "centre-sms"
    url = f"mqtts://127.0.0.1:{fleet.settings['broker_port']}"
    with fleet_central(fleet, tmp_path / "central", extra=f'[sms]\nkind = "file"\npath = "{outbox}"\n'):
        store = VisitStore.open(tmp_path / "kiosk.db")
        uplink = kiosk_uplink(url, A, tmp_path / "kiosk.db", fleet.kiosk_etc(A))
        sms = CentreSms(uplink)
        with pytest.raises(SmsError, match="cannot be reached"):
            sms.send(PHONE, "Mã xác nhận: 123456")       # not connected yet: at once, never a wait
        uplink.start()
        etc = fleet.kiosk_etc(A)                          # A's own certificate, in a raw client of its own
        intruder = Client(int(fleet.settings["broker_port"]), SimpleNamespace(cert=etc / "kiosk.pem",
                          key=etc / "kiosk.key"), ca=etc / "ca.pem", client_id=f"{A}-raw").start()
        b = FleetKiosk(fleet, B)
        try:
            wait_for(lambda: uplink.online, timeout=20, what="the kiosk's uplink")
            # The kiosk's one-time code, as the staff page sends it, through the centre.
            codes = PhoneCodes(store, sms, b"a kiosk's own key, 32 bytes long", Audit(store), venue_name="Chợ Thử")
            assert codes.send("s-1a2b3c4d", PHONE).state == "queued"      # asked; the centre answers
            wait_for(lambda: codes.delivery(PHONE) == "sent", timeout=20, what="the centre's answer")
            [message] = files(outbox)
            phone, _, body = message.partition("\n")
            assert phone == PHONE and "Chợ Thử" in body
            assert codes.check("s-1a2b3c4d", PHONE, body.split(": ", 1)[1][:6]) == "ok"
            ticket = sms.send(OTHER_PHONE, "Mã xác nhận: 222222")
            wait_for(lambda: sms.state(ticket) == "sent", timeout=20, what="the second text")

            # A, with its own valid certificate, asks on B's topic: the broker refuses it.
            forged = encode_request(str(uuid.uuid4()), "0900000009", "Mã xác nhận: 000000")
            assert intruder.publish(topic(B, SMS_SEND), forged) == NOT_AUTHORIZED
            # A listens for B's answers: the broker never delivers them.
            intruder.subscribe(topic(B, SMS_STATE), topic("+", SMS_STATE))
            assert b.subscribe(topic(B, SMS_STATE)) == [1]
            b_request = str(uuid.uuid4())
            assert b.publish(topic(B, SMS_SEND), encode_request(b_request, "0900000001", "Mã xác nhận: 111111")) == 0
            # B names A's request on its own topic: no text, no answer to B (A's was answered to A).
            assert b.publish(topic(B, SMS_SEND), encode_request(ticket, OTHER_PHONE, "Mã xác nhận: 333333")) == 0
            barrier = str(uuid.uuid4())
            assert b.publish(topic(B, SMS_SEND), encode_request(barrier, "0900000002", "Mã xác nhận: 2")) == 0
            b.wait_for(topic(B, SMS_STATE), 2)
            assert [(decode_state(p).request_id, decode_state(p).state) for p in b.received(topic(B, SMS_STATE))] \
                == [(b_request, "sent"), (barrier, "sent")]
            assert sorted(m.partition("\n")[0] for m in files(outbox)) == sorted(
                [PHONE, OTHER_PHONE, "0900000001", "0900000002"])
            assert not [t for t, _, _ in intruder.messages if t.startswith(f"kiosks/{B}/")]
        finally:
            intruder.stop()
            b.stop()
            uplink.stop()
            uplink.outbox.close()
            store.close()


def test_a_request_the_centre_does_not_answer_counts_as_failed_and_a_late_answer_still_counts(mosquitto, tmp_path):
    clock = SimpleNamespace(t=0.0)
    uplink = kiosk_uplink(mosquitto.url, A, tmp_path / "kiosk.db")
    sms = CentreSms(uplink, monotonic=lambda: clock.t)
    centre = RawClient(mosquitto.url, "no-collector-here", subscribe=[topic(A, SMS_SEND)])
    uplink.start()
    try:
        wait_for(lambda: uplink.online, timeout=20, what="the kiosk's uplink")
        ticket = sms.send(PHONE, "Mã xác nhận: 123456")
        [asked] = wait_for(lambda: centre.on(topic(A, SMS_SEND)), timeout=20, what="the request")
        assert decode_request(asked.payload) == SmsRequest(ticket, PHONE, "Mã xác nhận: 123456")
        assert sms.state(ticket) == "queued"
        clock.t += ANSWER_WITHIN_S + 1
        assert sms.state(ticket) == "failed"
        centre.client.publish(topic(A, SMS_STATE), b"not json", qos=1)            # ignored
        centre.client.publish(topic(A, SMS_STATE), encode_state(ticket, "sent"), qos=1)
        wait_for(lambda: sms.state(ticket) == "sent", timeout=20, what="the late answer")
        assert sms.state(str(uuid.uuid4())) == "failed"
    finally:
        centre.close()
        uplink.stop()
        uplink.outbox.close()


def test_the_staff_page_checks_a_household_in_with_the_code_the_centre_texted(mosquitto, tmp_path, clock):
    """``[sms] kind = "centre"`` on the kiosk: its staff page's code goes out through the collector's
    file SMS, and the code read back from that file checks the household in as verified."""
    from mqtt.collector.ingest import Collector
    from test_collector_ingest import collector_config
    from test_web_staff import PHONE as HOUSEHOLD_PHONE
    from test_web_staff import post
    from test_web_staff_codes import check_ins, household, staff_kiosk

    centre_sms = tmp_path / "centre-sms"
    config = collector_config(mosquitto.url, f"sqlite://{tmp_path}/central.db", client_id="collector-sms")
    collector = Collector(config.replace("sms", kind="file", path=str(centre_sms)))
    collector.start()
    uplink = kiosk_uplink(mosquitto.url, "k-01", tmp_path / "data" / "kiosk.db")
    services, client = staff_kiosk(tmp_path, clock, kind="centre", centre_sms=lambda: CentreSms(uplink))
    uplink.start()
    try:
        assert collector.wait_ready(10)
        wait_for(lambda: uplink.online, timeout=20, what="the kiosk's uplink")
        ids = household(client, services, "Bà Ngoại Thử")
        html = post(client, "/staff/phone", {"phone": HOUSEHOLD_PHONE, "action": "check_in",
                                             "person": ids}).get_data(as_text=True)
        assert 'name="otp"' in html
        [message] = wait_for(lambda: files(centre_sms), timeout=20, what="the centre's text")
        number, _, body = message.partition("\n")
        assert number == HOUSEHOLD_PHONE and "Chợ Thử" in body
        r = post(client, "/staff/phone/delivery", {"phone": HOUSEHOLD_PHONE})
        wait_for(lambda: post(client, "/staff/phone/delivery", {"phone": HOUSEHOLD_PHONE}).get_json()["state"]
                 == "sent", timeout=20, what="the page to learn the text went")
        assert r.status_code == 200
        code = body.split(": ", 1)[1][:6]
        r = post(client, "/staff/phone", {"phone": HOUSEHOLD_PHONE, "action": "confirm", "otp": code, "person": ids})
        assert r.status_code == 200
        [check_in] = check_ins(services)
        assert check_in["phone_check"] == {"verified": True, "reason": None}
    finally:
        uplink.stop()
        uplink.outbox.close()
        services.close()
        collector.stop()


@pytest.mark.parametrize("relay_said, suggested", [("rate_limited", "rate_limited"), ("no_relay", "sms_failed"),
                                                    ("not_delivered", "not_delivered")])
def test_what_the_relay_refused_is_the_reason_staff_are_offered(mosquitto, tmp_path, relay_said, suggested):
    """The staff page suggests why they let the household in without the code from the centre's own
    reason: its limits (rate_limited), nothing there to text (sms_failed), else not_delivered."""
    uplink = kiosk_uplink(mosquitto.url, A, tmp_path / "kiosk.db")
    sms = CentreSms(uplink)
    centre = RawClient(mosquitto.url, "a-centre", subscribe=[topic(A, SMS_SEND)])
    store = VisitStore.open(tmp_path / "kiosk.db")
    uplink.start()
    try:
        wait_for(lambda: uplink.online, timeout=20, what="the kiosk's uplink")
        codes = PhoneCodes(store, sms, b"a kiosk's own key, 32 bytes long", Audit(store), venue_name="Chợ Thử")
        assert codes.send("s-1a2b3c4d", PHONE).state == "queued"
        [asked] = wait_for(lambda: centre.on(topic(A, SMS_SEND)), timeout=20, what="the request")
        centre.client.publish(topic(A, SMS_STATE), encode_state(decode_request(asked.payload).request_id, "failed",
                                                                 relay_said), qos=1)
        wait_for(lambda: codes.delivery(PHONE) == "failed", timeout=20, what="the centre's answer")
        assert codes.failed_because(PHONE) == suggested
    finally:
        centre.close()
        uplink.stop()
        uplink.outbox.close()
        store.close()
