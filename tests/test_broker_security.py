"""The production broker template, run for real: TLS with per-kiosk certificates, and the ACL.

A Mosquitto broker on a free loopback port is started with mqtt/broker's production template,
rendered for a test CA (tests/pki.py). Raw paho-mqtt 2.x clients (MQTT v5) then check what a kiosk
and a collector can and cannot do.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker import Mosquitto, free_port
from mqtt.broker import collector_blocks, production_values, render
from mqtt.loopback.mosquitto import LoopbackBroker
from mqtt.wire.topics import acks_topic, cmd_topic, events_topic, status_topic
from pki import issue, make_ca
from waiting import wait_for

TIMEOUT = 5.0
NOT_AUTHORIZED = 135
COLLECTORS = ["collector-1", "collector-2"]


# -- fixtures ---------------------------------------------------------------------------------

class PKI:
    def __init__(self, root: Path):
        self.ca = make_ca(root / "ca", "fleet-ca")
        self.server = issue(self.ca, "localhost", server=True, name="server")
        self.certs = {cn: issue(self.ca, cn) for cn in ["k-001", "k-002", *COLLECTORS]}
        self.expired = issue(self.ca, "k-001", days=-1, name="k-001-expired")
        self.other_ca = make_ca(root / "other", "other-ca")
        self.foreign = issue(self.other_ca, "k-001", name="k-001-foreign")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("pki"))


def production_conf(pki: PKI, work: Path, port: int, collectors: list[str], **values) -> str:
    """The production template rendered for the test CA on 127.0.0.1:``port``, its ACL (for
    ``collectors``) written to ``work/checkin-kiosk.acl``, as provisioning/fleet.py renders both."""
    acl = work / "checkin-kiosk.acl"
    acl.write_text(render("acl", collector_blocks=collector_blocks(collectors)), encoding="utf-8")
    return render("mosquitto-production.conf", **production_values(
        cafile=pki.ca.cert, certfile=pki.server.cert, keyfile=pki.server.key, acl_file=acl, port=port,
        bind="127.0.0.1", **values))


@pytest.fixture(scope="module")
def tls_broker(pki, tmp_path_factory):
    """Mosquitto with the production template. tests/broker.py already writes the persistence and
    log lines, so the template's persistence_location and log_dest are left out (None) here,
    just as when the file goes into Debian's conf.d/."""
    work = tmp_path_factory.mktemp("tls-broker")
    port = free_port()
    conf = production_conf(pki, work, port, COLLECTORS, persistence_location=None, log_dest=None)
    broker = Mosquitto(work, port=port, config=conf).start()
    yield broker
    broker.stop()


class Client:
    """A paho client with threaded loop that records what it receives, and PUBACK/SUBACK codes."""

    def __init__(self, port: int, cert=None, *, ca=None, client_id: str = "", tls: bool = True,
                 will: tuple[str, bytes] | None = None):
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if tls:
            self.c.tls_set(ca_certs=str(ca), certfile=str(cert.cert) if cert else None,
                           keyfile=str(cert.key) if cert else None)
        if will:
            self.c.will_set(will[0], will[1], qos=1, retain=True)
        self.port = port
        self.cond = threading.Condition()
        self.messages: list[tuple[str, bytes, bool]] = []
        self.pubacks: dict[int, int] = {}
        self.subacks: dict[int, list[int]] = {}
        self.connected: int | None = None
        self.disconnected = False
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.on_publish = self._on_publish
        self.c.on_subscribe = self._on_subscribe

    # callbacks
    def _notify(self, fn):
        with self.cond:
            fn()
            self.cond.notify_all()

    def _on_connect(self, c, u, flags, rc, props):
        self._notify(lambda: setattr(self, "connected", rc.value))

    def _on_disconnect(self, c, u, flags, rc, props):
        self._notify(lambda: setattr(self, "disconnected", True))

    def _on_message(self, c, u, msg):
        self._notify(lambda: self.messages.append((msg.topic, msg.payload, msg.retain)))

    def _on_publish(self, c, u, mid, rc, props):
        self._notify(lambda: self.pubacks.__setitem__(mid, rc.value))

    def _on_subscribe(self, c, u, mid, rcs, props):
        self._notify(lambda: self.subacks.__setitem__(mid, [r.value for r in rcs]))

    def wait(self, predicate, timeout: float = TIMEOUT):
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise TimeoutError(f"timed out; messages={self.messages} pubacks={self.pubacks}")

    # actions
    def start(self) -> Client:
        self.c.connect("127.0.0.1", self.port, keepalive=30)
        self.c.loop_start()
        self.wait(lambda: self.connected is not None)
        assert self.connected == 0, f"CONNACK {self.connected}"
        return self

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> int:
        """QoS 1; returns the PUBACK reason code."""
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        self.wait(lambda: info.mid in self.pubacks)
        return self.pubacks[info.mid]

    def subscribe(self, *topics: str) -> list[int]:
        """Returns the SUBACK reason codes."""
        rc, mid = self.c.subscribe([(t, 1) for t in topics])
        assert rc == mqtt.MQTT_ERR_SUCCESS
        self.wait(lambda: mid in self.subacks)
        return self.subacks[mid]

    def received(self, topic: str) -> list[bytes]:
        with self.cond:
            return [p for t, p, _ in self.messages if t == topic]

    def wait_for(self, topic: str, count: int = 1) -> list[bytes]:
        self.wait(lambda: len([1 for t, _, _ in self.messages if t == topic]) >= count)
        return self.received(topic)

    def stop(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def clients(tls_broker, pki):
    """connect("k-001") -> a started Client with that certificate; all stopped afterwards."""
    made: list[Client] = []

    def connect(cn: str, **kw) -> Client:
        client = Client(tls_broker.port, pki.certs[cn], ca=pki.ca.cert, client_id=kw.pop("client_id", cn), **kw)
        made.append(client)
        return client.start()

    yield connect
    for client in made:
        client.stop()


def refused(port: int, *, ca, cert=None, tls: bool = True, timeout: float = 3.0) -> str:
    """Try to connect (no background thread, no reconnect); '' if a CONNACK 0 came, else why not."""
    client = Client(port, cert, ca=ca, client_id="k-001", tls=tls)
    try:
        client.c.connect("127.0.0.1", port, keepalive=30)
    except (ssl.SSLError, OSError) as exc:
        return f"connect: {type(exc).__name__}: {exc}"
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            rc = client.c.loop(0.1)
            if client.connected == 0:
                return ""
            if client.connected is not None:
                return f"CONNACK {client.connected}"
            if rc != mqtt.MQTT_ERR_SUCCESS or client.disconnected:
                return f"loop: {mqtt.error_string(rc)}"
        return "timeout"
    except (ssl.SSLError, OSError) as exc:
        return f"loop: {type(exc).__name__}: {exc}"
    finally:
        try:
            client.c.disconnect()
        except Exception:  # noqa: BLE001 - cleanup of a client the broker may have dropped already
            pass
        client.c.socket() and client.c.socket().close()


# -- templates --------------------------------------------------------------------------------

def test_acl_renders_pattern_lines_and_collector_blocks(tmp_path):
    acl = render("acl", collector_blocks=collector_blocks(COLLECTORS))
    rules = [line for line in acl.splitlines() if line and not line.startswith("#")]
    assert rules[:8] == ["pattern write kiosks/%u/events", "pattern write kiosks/%u/status",
                         "pattern write kiosks/%u/health", "pattern write kiosks/%u/selftest",
                         "pattern write kiosks/%u/sms/send",
                         "pattern read kiosks/%u/acks", "pattern read kiosks/%u/cmd/#",
                         "pattern read kiosks/%u/sms/state"]
    assert "user collector-2" in rules and "topic deny kiosks/collector-2/#" in rules
    assert not any("readwrite" in r or r.endswith(" #") or r.endswith("kiosks/#") for r in rules)
    with pytest.raises(ValueError):
        collector_blocks(["k-001"])  # a kiosk id is never a collector
    with pytest.raises(KeyError):
        render("acl")
    with pytest.raises(ValueError, match="cafile contains a control character"):  # no config injection
        render("mosquitto-production.conf", **production_values(
            cafile="x\nallow_anonymous true", certfile="c", keyfile="k", acl_file="a"))


class RenderedBroker(LoopbackBroker):
    """The product's launcher running a rendered config file exactly as written."""

    def __init__(self, workdir, rendered, port):
        self.rendered = rendered
        super().__init__(workdir, port=port)

    def config_text(self) -> str:
        return self.rendered


def test_full_production_template_parses_and_starts(pki, tmp_path):
    """All of it, persistence_location and log_dest included, as 2.0.11 reads it."""
    port = free_port()
    conf = production_conf(pki, tmp_path, port, ["collector-1"], persistence_location=tmp_path / "db",
                           log_dest="stderr")
    (tmp_path / "db").mkdir()
    broker = RenderedBroker(tmp_path / "run", conf, port).start()
    try:
        kiosk = Client(port, pki.certs["k-001"], ca=pki.ca.cert, client_id="k-001").start()
        assert kiosk.publish(events_topic("k-001"), b"{}") in (0, 16)
        kiosk.stop()
    finally:
        broker.stop()
    log = broker.log.read_text(errors="replace")
    assert "Error" not in log, log


def test_loopback_template_accepts_anonymous_on_127_0_0_1(tmp_path):
    port = free_port()
    broker = LoopbackBroker(tmp_path / "run", port=port)   # the launcher the run command uses
    text = broker.conf.read_text()
    assert f"listener {port} 127.0.0.1" in text and "allow_anonymous true" in text
    assert f"persistence_location {broker.workdir}/" in text
    with broker:
        anon = Client(port, tls=False, client_id="").start()
        anon.subscribe("kiosks/#")
        assert anon.publish(events_topic("sim-01"), b"hello") == 0
        assert anon.wait_for(events_topic("sim-01")) == [b"hello"]
        anon.stop()


# -- kiosk confinement ------------------------------------------------------------------------

def test_kiosk_publishes_only_under_its_own_id(clients):
    collector = clients("collector-1")
    collector.subscribe("kiosks/+/events")
    kiosk = clients("k-001")
    assert kiosk.publish(events_topic("k-001"), b"own") in (0, 16)  # 16: no matching subscribers
    assert kiosk.publish(events_topic("k-002"), b"forged") == NOT_AUTHORIZED
    assert kiosk.publish("kiosks/k-002/status", b"offline", retain=True) == NOT_AUTHORIZED
    assert kiosk.publish("elsewhere/x", b"x") == NOT_AUTHORIZED
    assert kiosk.publish(events_topic("k-001"), b"own-2") in (0, 16)
    # in order on one connection: once own-2 has arrived, the forgery would have too
    assert collector.wait_for(events_topic("k-001"), 2) == [b"own", b"own-2"]
    assert collector.received(events_topic("k-002")) == []


def test_kiosk_cannot_publish_acks_or_commands(clients):
    kiosk = clients("k-001")
    for topic in (acks_topic("k-001"), acks_topic("k-002"), cmd_topic("k-002", "reboot"), cmd_topic("k-001", "x")):
        assert kiosk.publish(topic, b"x") == NOT_AUTHORIZED, topic


def test_kiosk_receives_its_own_acks_and_commands_only(clients):
    kiosk = clients("k-001")
    codes = kiosk.subscribe(acks_topic("k-002"), "kiosks/k-002/cmd/#", "$share/g/kiosks/k-002/acks",
                            acks_topic("k-001"), "kiosks/k-001/cmd/#")
    assert codes == [1, 1, 1, 1, 1]  # 2.0.11 grants every subscription; the ACL acts on delivery
    collector = clients("collector-1")
    for topic in (acks_topic("k-002"), cmd_topic("k-002", "reboot"), acks_topic("k-001"), cmd_topic("k-001", "reboot")):
        assert collector.publish(topic, b"x") in (0, 16)
    kiosk.wait_for(cmd_topic("k-001", "reboot"))  # the last one; the others were published before
    assert kiosk.received(acks_topic("k-001")) == [b"x"]
    assert kiosk.received(acks_topic("k-002")) == [] and kiosk.received(cmd_topic("k-002", "reboot")) == []


def test_kiosk_cannot_read_other_kiosks_events_or_status(clients):
    other = clients("k-002")
    assert other.publish(status_topic("k-002"), b"online", retain=True) in (0, 16)
    kiosk = clients("k-001")
    assert kiosk.subscribe("kiosks/+/events", "kiosks/+/status", "#") == [1, 1, 1]
    assert other.publish(events_topic("k-002"), b"private") in (0, 16)
    assert kiosk.publish(events_topic("k-001"), b"mine") in (0, 16)
    collector = clients("collector-1")
    assert collector.publish(acks_topic("k-001"), b"sync") in (0, 16)
    kiosk.wait_for(acks_topic("k-001"))  # the barrier: everything before it was delivered already
    assert [t for t, _, _ in kiosk.messages] == [acks_topic("k-001")]  # not even its own events


def test_client_id_is_the_certificate_cn(clients, tls_broker, pki):
    """use_username_as_clientid: k-001 claiming client id 'k-002' does not take over k-002's session."""
    victim = clients("k-002")
    intruder = clients("k-001", client_id="k-002")
    assert intruder.publish(events_topic("k-001"), b"x") in (0, 16)
    assert victim.publish(events_topic("k-002"), b"still here") in (0, 16)
    assert not victim.disconnected


# -- collectors -------------------------------------------------------------------------------

def test_collector_reads_all_kiosks_also_through_shared_subscription(clients):
    plain = clients("collector-1")
    shared = clients("collector-2")
    assert plain.subscribe("kiosks/+/events", "kiosks/+/status", "kiosks/+/health") == [1, 1, 1]
    assert shared.subscribe("$share/collectors/kiosks/+/events") == [1]
    for cn in ("k-001", "k-002"):
        kiosk = clients(cn)
        assert kiosk.publish(events_topic(cn), f"e-{cn}") == 0
        assert kiosk.publish(f"kiosks/{cn}/health", b"{}", retain=True) == 0
    for c in (plain, shared):
        assert c.wait_for(events_topic("k-002")) == [b"e-k-002"]
        assert c.received(events_topic("k-001")) == [b"e-k-001"]
    assert plain.wait_for("kiosks/k-002/health")


def test_collector_acks_any_kiosk_but_cannot_pose_as_one(clients):
    collector = clients("collector-1")
    assert collector.publish(acks_topic("k-001"), b"a") in (0, 16)
    assert collector.publish(acks_topic("k-002"), b"a") in (0, 16)
    assert collector.publish(cmd_topic("k-002", "reboot"), b"a") in (0, 16)
    assert collector.publish(events_topic("k-001"), b"forged") == NOT_AUTHORIZED
    # the kiosk pattern rules apply to every user, but the deny rule comes first
    assert collector.publish(events_topic("collector-1"), b"forged") == NOT_AUTHORIZED
    assert collector.publish(status_topic("collector-1"), b"x") == NOT_AUTHORIZED


# -- refused connections ----------------------------------------------------------------------

def test_connections_without_a_valid_fleet_certificate_are_refused(tls_broker, pki):
    port, ca = tls_broker.port, pki.ca.cert
    assert refused(port, ca=ca, cert=pki.certs["k-001"]) == ""  # the control: a good one works
    assert refused(port, ca=ca) != ""  # no client certificate
    assert refused(port, ca=ca, cert=pki.foreign) != ""  # right CN, other CA
    assert refused(port, ca=ca, cert=pki.expired) != ""  # expired yesterday
    assert refused(port, ca=ca, tls=False) != ""  # plain MQTT to the TLS port
    # the client only sees a dropped connection; the broker's log says why (2.0.11 wording)
    for reason in ("peer did not return a certificate", "certificate verify failed", "wrong version number"):
        wait_for_log(tls_broker, reason)


def wait_for_log(broker: Mosquitto, text: str) -> None:
    wait_for(lambda: broker.log.exists() and text in broker.log.read_text(errors="replace"), 3.0,
             f"{text!r} in the broker's log")


# -- Last Will --------------------------------------------------------------------------------

WILL_CLIENT = textwrap.dedent("""
    import sys, time
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    port, ca, cert, key = sys.argv[1:5]
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="k-001", protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
    c.will_set("kiosks/k-001/status", b"offline", qos=1, retain=True)
    c.connect("127.0.0.1", int(port), keepalive=30)
    c.loop_start()
    c.publish("kiosks/k-001/status", b"online", qos=1, retain=True).wait_for_publish(5)
    print("online", flush=True)
    time.sleep(60)
""")


def test_unclean_disconnect_leaves_retained_offline(tls_broker, pki, clients):
    cert = pki.certs["k-001"]
    proc = subprocess.Popen([sys.executable, "-c", WILL_CLIENT, str(tls_broker.port), str(pki.ca.cert),
                             str(cert.cert), str(cert.key)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "online"
        watcher = clients("collector-1")
        watcher.subscribe(status_topic("k-001"))
        assert watcher.wait_for(status_topic("k-001")) == [b"online"]
        proc.kill()  # no DISCONNECT: the broker sees the socket close and sends the will
        assert watcher.wait_for(status_topic("k-001"), 2)[-1] == b"offline"
    finally:
        proc.kill()
        proc.wait(5)
    late = clients("collector-2")
    late.subscribe(status_topic("k-001"))
    assert late.wait_for(status_topic("k-001")) == [b"offline"]
    assert late.messages[0][2] is True  # delivered as retained


def test_oversize_packet_is_refused(clients):
    """max_packet_size 65536: an event is at most 4 kB and an ack about 40 kB."""
    kiosk = clients("k-001")
    kiosk.c.publish(events_topic("k-001"), b"x" * 70_000, qos=1)
    kiosk.wait(lambda: kiosk.disconnected)
