"""kiosk-provision: a real fleet directory, real certificates, a real kiosk database and broker."""

from __future__ import annotations

import re
import shutil
import ssl
import stat
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from paho.mqtt.enums import CallbackAPIVersion

from broker import Mosquitto, free_port
from fleet_support import fleet_broker_config
from kiosk.config import load_config, parse_config
from kiosk.staff.accounts import StaffAccounts
from kiosk.store import VisitStore
from mqtt.wire.slip_codes import VenueKey
from provisioning.cli import main
from provisioning.fleet import Fleet, FleetError

VENUE = "cho-phanrang"
KIOSK = "ninhthuan-cho-phanrang-01"
PIN_LINE = re.compile(r"one-time PIN: (\d{6,12})")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory):
    """One fleet with one venue and one kiosk (certificate and argon2 work done once)."""
    root = tmp_path_factory.mktemp("prov") / "fleet"
    import io
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["init", str(root), "--broker-host", "127.0.0.1", "--days", "30"]) == 0
        assert main(["venue", "add", VENUE, "--name", "Chợ Phan Rang", "--fleet", str(root)]) == 0
        assert main(["kiosk", "new", KIOSK, "--venue", VENUE, "--staff", "Lan", "--fleet", str(root)]) == 0
    return Fleet.open(root), buf.getvalue()


def etc(fleet: Fleet) -> Path:
    return fleet.kiosk_dir(KIOSK) / "etc" / "checkin-kiosk"


def verify(ca_cert: x509.Certificate, leaf: x509.Certificate) -> None:
    ca_cert.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm))
    assert leaf.issuer == ca_cert.subject


def test_ca_signs_kiosk_broker_and_collector(fleet_run):
    fleet, _ = fleet_run
    load = lambda p: x509.load_pem_x509_certificate(p.read_bytes())  # noqa: E731
    ca = load(fleet.ca_cert)
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    kiosk, server, collector = (load(etc(fleet) / "kiosk.pem"), load(fleet.server_cert),
                                load(fleet.collector_dir / "collector-1.pem"))
    for leaf in (kiosk, server, collector):
        verify(ca, leaf)
    cn = lambda c: c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value  # noqa: E731
    assert cn(kiosk) == KIOSK and cn(collector) == "collector-1"
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    if shutil.which("openssl"):
        subprocess.run(["openssl", "verify", "-CAfile", str(fleet.ca_cert), str(etc(fleet) / "kiosk.pem"),
                        str(fleet.server_cert), str(fleet.collector_dir / "collector-1.pem")],
                       check=True, capture_output=True)


def test_permissions(fleet_run):
    fleet, _ = fleet_run
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    for secret in (fleet.ca_key, fleet.server_key, fleet.collector_dir / "collector-1.key",
                   fleet.venue_key(VENUE), etc(fleet) / "kiosk.key", etc(fleet) / "venue-token.key",
                   fleet.kiosk_dir(KIOSK) / "var" / "lib" / "checkin-kiosk" / "kiosk.db"):
        assert mode(secret) == 0o600, secret
    dirs = [d for d in fleet.root.rglob("*") if d.is_dir()] + [fleet.root]
    assert dirs and all(mode(d) == 0o700 for d in dirs), [(d, oct(mode(d))) for d in dirs if mode(d) != 0o700]
    assert not list(fleet.root.glob("kiosks/.*"))  # no half-made kiosk left


def test_kiosk_toml_parses_and_points_at_written_files(fleet_run):
    fleet, _ = fleet_run
    cfg = load_config(etc(fleet) / "kiosk.toml")
    assert (cfg.kiosk.id, cfg.kiosk.venue_id, cfg.kiosk.venue_name) == (KIOSK, VENUE, "Chợ Phan Rang")
    assert cfg.mqtt.url == "mqtts://127.0.0.1:8883"
    assert cfg.kiosk.data_dir == "/var/lib/checkin-kiosk"
    card = fleet.kiosk_dir(KIOSK)
    for on_kiosk in (cfg.mqtt.tls_ca, cfg.mqtt.tls_cert, cfg.mqtt.tls_key, cfg.kiosk.token_key,
                     cfg.kiosk.data_dir + "/kiosk.db"):
        assert on_kiosk.startswith("/")
        assert (card / on_kiosk.lstrip("/")).is_file(), on_kiosk
    assert (card / cfg.kiosk.token_key.lstrip("/")).read_bytes() == fleet.venue_key(VENUE).read_bytes()
    VenueKey.load(card / cfg.kiosk.token_key.lstrip("/"))
    assert (card / cfg.mqtt.tls_ca.lstrip("/")).read_bytes() == fleet.ca_cert.read_bytes()
    # the broker's ACL confines kiosks with pattern rules: no per-kiosk line needed
    assert "pattern write kiosks/%u/events" in fleet.broker_acl.read_text()
    assert "user collector-1" in fleet.broker_acl.read_text()


def test_kiosk_new_issues_the_staff_pages_https_certificate_for_its_mdns_name(fleet_run, tmp_path):
    """web.pem: serverAuth from the fleet CA for <id>.local and <id> (no IP: not known yet);
    web.key 0600; kiosk.toml serves HTTPS on the LAN with it and plain HTTP on loopback only; and
    the kiosk's own TLS listener loads the pair."""
    from kiosk.web.tls import server_context
    fleet, _ = fleet_run
    ca = x509.load_pem_x509_certificate(fleet.ca_cert.read_bytes())
    web = x509.load_pem_x509_certificate((etc(fleet) / "web.pem").read_bytes())
    verify(ca, web)
    san = web.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [f"{KIOSK}.local", KIOSK]
    assert san.get_values_for_type(x509.IPAddress) == []
    eku = web.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert stat.S_IMODE((etc(fleet) / "web.key").stat().st_mode) == 0o600
    cfg = load_config(etc(fleet) / "kiosk.toml")
    assert (cfg.web.listen, cfg.web.tls_listen) == ("127.0.0.1:8080", "lan:8443")
    card = fleet.kiosk_dir(KIOSK)
    assert [(card / p.lstrip("/")).is_file() for p in (cfg.web.tls_cert, cfg.web.tls_key)] == [True, True]
    server_context(str(card / cfg.web.tls_cert.lstrip("/")), str(card / cfg.web.tls_key.lstrip("/")))


def test_pin_printed_once_and_logs_in(fleet_run):
    fleet, out = fleet_run
    pins = PIN_LINE.findall(out)
    assert len(pins) == 1
    pin = pins[0]
    assert out.count(pin) == 1
    for f in fleet.root.rglob("*"):
        if f.is_file() and f.suffix != ".db":
            assert pin.encode() not in f.read_bytes(), f
    store = VisitStore.open(fleet.kiosk_dir(KIOSK) / "var" / "lib" / "checkin-kiosk" / "kiosk.db")
    try:
        result = StaffAccounts(store).login("lan", pin)
        assert result.ok and result.must_change
    finally:
        store.db.conn.close()


def test_refusals(fleet_run, capsys, tmp_path):
    fleet, _ = fleet_run
    f = str(fleet.root)
    code, out, err = run(capsys, "kiosk", "new", "collector-2", "--venue", VENUE, "--fleet", f)
    assert code == 2 and "collector" in err and not out
    code, _, err = run(capsys, "kiosk", "new", "Bad_Id", "--venue", VENUE, "--fleet", f)
    assert code == 2 and "Bad_Id" in err
    code, _, err = run(capsys, "kiosk", "new", "k-new-", "--venue", VENUE, "--fleet", f)
    assert code == 2 and 'must not end with "-"' in err          # the id is the kiosk's hostname too
    code, _, err = run(capsys, "kiosk", "new", KIOSK, "--venue", VENUE, "--fleet", f)
    assert code == 2 and "already exists" in err
    code, _, err = run(capsys, "kiosk", "new", "k-new", "--venue", "cho-khac", "--fleet", f)
    assert code == 2 and "unknown venue" in err
    code, _, err = run(capsys, "venue", "add", VENUE, "--name", "x", "--fleet", f)
    assert code == 2 and "already exists" in err
    code, _, err = run(capsys, "venue", "add", "Bad Venue", "--name", "x", "--fleet", f)
    assert code == 2
    code, _, err = run(capsys, "kiosk", "new", "k-new", "--venue", VENUE, "--fleet", str(tmp_path / "none"))
    assert code == 2 and "not a fleet directory" in err
    code, _, err = run(capsys, "init", f)
    assert code == 2 and "refusing" in err
    assert not fleet.kiosk_dir("collector-2").exists() and not fleet.kiosk_dir("k-new").exists()
    assert sorted(p.name for p in (fleet.root / "kiosks").iterdir()) == [KIOSK]


def test_kiosk_files_are_the_identity_files_and_refuse_a_partial_kiosk_or_an_open_database(fleet_run):
    from kiosk.enrolment.bundle import FILES
    from provisioning.fleet import FleetError

    fleet, _ = fleet_run
    files = fleet.kiosk_files(KIOSK)
    assert list(files) == [s.name for s in FILES]
    assert fleet.kiosk_etc(KIOSK) == etc(fleet)
    assert files["kiosk.toml"] == (etc(fleet) / "kiosk.toml").read_bytes()
    assert files["kiosk.db"] == (fleet.kiosk_data(KIOSK) / "kiosk.db").read_bytes()
    with pytest.raises(FleetError, match="not provisioned"):
        fleet.kiosk_files("k-chua-co")
    key = etc(fleet) / "venue-token.key"
    key.rename(key.with_name("aside"))
    try:
        with pytest.raises(FleetError, match=r"not provisioned .*missing .*venue-token\.key"):
            fleet.kiosk_files(KIOSK)
    finally:
        key.with_name("aside").rename(key)
    wal = fleet.kiosk_data(KIOSK) / "kiosk.db-wal"
    wal.write_bytes(b"\0" * 32)
    try:
        with pytest.raises(FleetError, match="open elsewhere"):
            fleet.kiosk_files(KIOSK)
    finally:
        wal.unlink()
    assert fleet.kiosk_files(KIOSK) == files


def test_generated_config_is_valid_for_every_mode(fleet_run):
    fleet, _ = fleet_run
    for mode in ("entry", "exit", "toggle"):
        assert parse_config(fleet.kiosk_toml("k-x", VENUE, 'Quán "Ba" \\ Tư', mode)).kiosk.mode == mode


@pytest.mark.skipif(not shutil.which("mosquitto") and not Path("/usr/sbin/mosquitto").exists(),
                    reason="mosquitto not installed")
def test_broker_with_fleet_certs_accepts_the_kiosk(fleet_run, tmp_path):
    """Mosquitto with the production template and the fleet's CA/server cert: the kiosk's
    certificate connects and may publish its own events."""
    fleet, _ = fleet_run
    port = free_port()
    broker = Mosquitto(tmp_path, port=port, config=fleet_broker_config(fleet, port)).start()
    try:
        cond = threading.Condition()
        result: dict = {"pubacks": {}}

        def note(fn):
            with cond:
                fn()
                cond.notify_all()

        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=KIOSK, protocol=mqtt.MQTTv5)
        context = ssl.create_default_context(cafile=str(fleet.ca_cert))  # as mqtt/uplink.py does
        context.load_cert_chain(str(etc(fleet) / "kiosk.pem"), str(etc(fleet) / "kiosk.key"))
        c.tls_set_context(context)
        c.on_connect = lambda cl, u, fl, rc, pr: note(lambda: result.__setitem__("connack", rc.value))
        c.on_publish = lambda cl, u, mid, rc, pr: note(lambda: result["pubacks"].__setitem__(mid, rc.value))
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        try:
            with cond:
                assert cond.wait_for(lambda: "connack" in result, 10), result
            assert result["connack"] == 0
            own = c.publish(f"kiosks/{KIOSK}/events", b"{}", qos=1).mid
            other = c.publish("kiosks/k-other/events", b"{}", qos=1).mid
            with cond:
                assert cond.wait_for(lambda: {own, other} <= result["pubacks"].keys(), 10), result
        finally:
            c.loop_stop()
            c.disconnect()
        # own subtree accepted (0, or 16 "no matching subscribers"); another kiosk's refused
        assert result["pubacks"][own] < 128
        assert result["pubacks"][other] == 135
    finally:
        broker.stop()


def test_broker_gets_a_systemd_drop_in_for_mosquitto(fleet_run):
    fleet, _ = fleet_run
    import configparser
    dropin = configparser.ConfigParser(strict=False)
    dropin.read_string(fleet.broker_dropin.read_text())
    assert fleet.broker_dropin.parts[-2:] == ("mosquitto.service.d", "checkin-kiosk.conf")
    assert int(dropin["Service"]["LimitNOFILE"]) >= 16384        # one descriptor per kiosk connection
    assert "network-online.target" in dropin["Unit"]["After"]


def test_enrol_qr_is_a_subcommand_and_refuses_an_unknown_kiosk(fleet_run, capsys):
    fleet, _ = fleet_run
    code, out, err = run(capsys, "enrol-qr", "k-chua-co", "--fleet", str(fleet.root), "--listen", "127.0.0.1:0")
    assert code == 2 and not out
    assert "k-chua-co" in err


def test_enroll_qr_the_old_spelling_still_runs_enrol_qr_and_is_not_in_the_help(fleet_run, capsys):
    # Technicians' scripts say enroll-qr: it stays a hidden alias of enrol-qr.
    fleet, _ = fleet_run
    code, out, err = run(capsys, "enroll-qr", "k-chua-co", "--fleet", str(fleet.root), "--listen", "127.0.0.1:0")
    assert code == 2 and not out
    assert "k-chua-co" in err and "invalid choice" not in err
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    assert "enrol-qr" in shown and "enroll" not in shown


def test_collector_toml_is_written_for_the_central_server(fleet_run):
    from mqtt.collector.config import load_config as load_collector

    fleet, _ = fleet_run
    config = load_collector(fleet.collector_dir / "collector.toml")
    assert config.mqtt.url == "mqtts://127.0.0.1:8883"
    assert config.mqtt.client_id == "collector-1"
    assert config.mqtt.tls_cert == "/etc/checkin-collector/collector-1.pem"
    assert config.store.url.startswith("sqlite:///var/lib/checkin-collector/")


def test_a_revoked_kiosk_is_refused_by_the_broker_and_its_id_can_be_issued_again(tmp_path, capsys):
    """kiosk revoke: the broker, restarted with the new CRL, refuses the revoked certificate and
    still accepts the others; the replacement kiosk gets the id with a new certificate."""
    from broker import free_port
    from fleet_support import fleet_central

    code, _, _ = run(capsys, "init", str(tmp_path / "fleet"), "--broker-host", "127.0.0.1",
                     "--broker-port", str(free_port()))
    fleet = Fleet.open(tmp_path / "fleet")
    fleet.add_venue(VENUE, "Chợ Phan Rang")
    fleet.new_kiosk(KIOSK, VENUE)
    fleet.new_kiosk("ninhthuan-cho-phanrang-02", VENUE)
    assert "crlfile /etc/mosquitto/certs/fleet-ca.crl" in fleet.broker_conf.read_text()
    old_cert = (etc(fleet) / "kiosk.pem").read_bytes()
    issued = {x509.load_pem_x509_certificate((etc(fleet) / name).read_bytes()).serial_number
              for name in ("kiosk.pem", "web.pem")}          # its MQTT identity and its staff pages'

    code, out, err = run(capsys, "kiosk", "revoke", KIOSK, "--reason", "bị mất trộm / stolen", "--fleet",
                         str(fleet.root))
    assert code == 0, err
    assert "revoked" in out and "systemctl restart mosquitto" in out
    entries = fleet.revoked()
    assert {(e["kiosk_id"], e["reason"]) for e in entries} == {(KIOSK, "bị mất trộm / stolen")}
    assert {int(e["serial"], 16) for e in entries} == issued
    crl = x509.load_pem_x509_crl(fleet.crl_file.read_bytes())
    assert all(crl.get_revoked_certificate_by_serial_number(n) is not None for n in issued)
    assert KIOSK not in fleet.registry() and "ninhthuan-cho-phanrang-02" in fleet.registry()
    assert crl.next_update_utc == x509.load_pem_x509_certificate(fleet.ca_cert.read_bytes()).not_valid_after_utc
    assert not fleet.kiosk_dir(KIOSK).exists()
    [aside] = (fleet.root / "kiosks" / ".revoked").iterdir()
    assert (aside / "etc" / "checkin-kiosk" / "kiosk.pem").read_bytes() == old_cert

    # a replacement gets the id, with a new certificate
    fleet.new_kiosk(KIOSK, VENUE)
    assert (etc(fleet) / "kiosk.pem").read_bytes() != old_cert

    with fleet_central(fleet, tmp_path / "central"):
        port = int(fleet.settings["broker_port"])

        def connack(cert: Path, key: Path, client_id: str):
            result = {}
            done = threading.Event()
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
            context = ssl.create_default_context(cafile=str(fleet.ca_cert))
            context.load_cert_chain(str(cert), str(key))
            c.tls_set_context(context)
            c.on_connect = lambda cl, u, fl, rc, pr: (result.__setitem__("rc", rc.value), done.set())
            c.on_disconnect = lambda cl, u, fl, rc, pr: (result.setdefault("dropped", True), done.set())
            try:
                c.connect("127.0.0.1", port, keepalive=30)
                c.loop_start()
                done.wait(10)
            except (ssl.SSLError, OSError) as exc:
                result["error"] = exc
            finally:
                c.loop_stop()
                c.disconnect()
            return result

        revoked = aside / "etc" / "checkin-kiosk"
        refused = connack(revoked / "kiosk.pem", revoked / "kiosk.key", KIOSK)
        assert "rc" not in refused and ("error" in refused or refused.get("dropped")), refused   # TLS refused it
        replacement = connack(etc(fleet) / "kiosk.pem", etc(fleet) / "kiosk.key", KIOSK)
        assert replacement.get("rc") == 0, replacement
        other = fleet.kiosk_dir("ninhthuan-cho-phanrang-02") / "etc" / "checkin-kiosk"
        assert connack(other / "kiosk.pem", other / "kiosk.key", "ninhthuan-cho-phanrang-02").get("rc") == 0

    # refusals
    assert run(capsys, "kiosk", "revoke", "k-chua-co", "--reason", "x", "--fleet", str(fleet.root))[0] == 2
    assert run(capsys, "kiosk", "revoke", KIOSK, "--reason", "\x07", "--fleet", str(fleet.root))[0] == 2


def test_venue_list_and_kiosk_list(tmp_path, capsys):
    """A technician sees what the fleet holds without reading its folders."""
    root = tmp_path / "fleet"
    assert main(["init", str(root), "--broker-host", "127.0.0.1", "--days", "20"]) == 0
    for venue, name in ((VENUE, "Chợ Phan Rang"), ("benh-vien-tinh", "Bệnh viện tỉnh")):
        assert main(["venue", "add", venue, "--name", name, "--fleet", str(root)]) == 0
    assert main(["kiosk", "new", KIOSK, "--venue", VENUE, "--staff", "Lan", "--fleet", str(root)]) == 0
    assert main(["kiosk", "new", "ninhthuan-bvt-01", "--venue", "benh-vien-tinh", "--staff", "Hoa",
                 "--fleet", str(root)]) == 0
    capsys.readouterr()
    assert main(["venue", "list", "--fleet", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["benh-vien-tinh", "1", "kiosk(s)"] and out[1].split()[:3] == [VENUE, "1", "kiosk(s)"]
    assert out[-1].startswith("(2 venue(s) in ")
    assert main(["kiosk", "list", "--fleet", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in out[:2]] == [["ninhthuan-bvt-01", "benh-vien-tinh"], [KIOSK, VENUE]]
    assert "certificate valid 19 more day(s) (reissue soon); not written to a card yet" in out[0]
    assert out[-1].startswith("(2 kiosk(s);")
    assert main(["kiosk", "list", "--venue", VENUE, "--fleet", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith(KIOSK) and out[-1].startswith(f"(1 kiosk(s) at {VENUE};")


def test_a_broken_registry_is_refused_before_a_kiosk_is_made(tmp_path, capsys):
    root = tmp_path / "fleet"
    assert main(["init", str(root), "--broker-host", "127.0.0.1", "--days", "20"]) == 0
    assert main(["venue", "add", VENUE, "--name", "Chợ Phan Rang", "--fleet", str(root)]) == 0
    fleet = Fleet.open(root)
    fleet.registry_file.write_text("[kiosks]\nNot An Id = 3\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["kiosk", "new", KIOSK, "--venue", VENUE, "--fleet", str(root)]) == 2
    err = capsys.readouterr().err
    assert str(fleet.registry_file) in err and "Traceback" not in err
    assert not fleet.kiosk_dir(KIOSK).exists() and not list((root / "kiosks").glob(".*partial"))
    for listing in (["kiosk", "list"], ["venue", "list"]):
        assert main([*listing, "--fleet", str(root)]) == 2
        assert str(fleet.registry_file) in capsys.readouterr().err


def test_a_kiosk_from_before_https_gets_its_web_certificate(tmp_path, capsys):
    """A kiosk provisioned before the staff pages had HTTPS (no web.pem, no [web] in kiosk.toml):
    write-boot's file list refuses it and names the fix; `kiosk web-cert` makes it whole."""
    root = tmp_path / "fleet"
    assert main(["init", str(root), "--broker-host", "127.0.0.1", "--days", "20"]) == 0
    assert main(["venue", "add", VENUE, "--name", "Chợ Phan Rang", "--fleet", str(root)]) == 0
    assert main(["kiosk", "new", KIOSK, "--venue", VENUE, "--fleet", str(root)]) == 0
    fleet = Fleet.open(root)
    etc_dir = fleet.kiosk_etc(KIOSK)
    for name in ("web.pem", "web.key"):                 # as the previous version left it
        (etc_dir / name).unlink()
    toml = etc_dir / "kiosk.toml"
    toml.write_text(toml.read_text(encoding="utf-8").split("\n[web]\n")[0] + "\n", encoding="utf-8")
    with pytest.raises(FleetError, match=f"kiosk-provision kiosk web-cert {KIOSK}"):
        fleet.kiosk_files(KIOSK)
    capsys.readouterr()
    assert main(["kiosk", "web-cert", KIOSK, "--fleet", str(root)]) == 0
    assert "write-boot or enrol-qr it again" in capsys.readouterr().out
    assert set(fleet.kiosk_files(KIOSK)) >= {"web.pem", "web.key", "kiosk.toml"}
    web = load_config(toml).web
    assert web.tls_listen and web.tls_cert.endswith("web.pem") and web.listen in ("127.0.0.1:8080", ["127.0.0.1:8080"])
    cert = x509.load_pem_x509_certificate((etc_dir / "web.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert f"{KIOSK}.local" in names
    assert stat.S_IMODE((etc_dir / "web.key").stat().st_mode) == 0o600
    assert main(["kiosk", "web-cert", KIOSK, "--fleet", str(root)]) == 2    # once: a second is refused
    assert "has a web certificate already" in capsys.readouterr().err
