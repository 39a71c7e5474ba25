"""A fleet directory: the CA, the broker's and collector's identities, venues, and one folder per
kiosk laid out as it is copied onto the kiosk's SD card.

Layout (directories 0700, private keys and other secrets 0600)::

    FLEET/fleet.toml                          broker host/port, certificate validity
    FLEET/venues.toml                         venue id = "name"
    FLEET/ca/fleet-ca.pem, fleet-ca.key       the certificate authority (keep the key offline)
    FLEET/broker/etc/mosquitto/conf.d/checkin-kiosk.conf    rendered by mqtt.broker
    FLEET/broker/etc/mosquitto/checkin-kiosk.acl
    FLEET/broker/etc/mosquitto/certs/fleet-ca.pem, server.pem, server.key, fleet-ca.crl (revocations)
    FLEET/broker/etc/systemd/system/mosquitto.service.d/checkin-kiosk.conf  (systemd drop-in)
    FLEET/collector/collector-1.pem, collector-1.key, fleet-ca.pem, collector.toml   -> /etc/checkin-collector/
    FLEET/collector/kiosks.toml               the fleet registry: kiosk id = venue id (kiosk new)
    FLEET/venues/<venue>/venue-token.key      the venue's slip/card signing key
    FLEET/kiosks/<id>/etc/checkin-kiosk/kiosk.toml, kiosk.pem, kiosk.key, ca.pem, venue-token.key
    FLEET/kiosks/<id>/var/lib/checkin-kiosk/kiosk.db          the first staff account (--staff), if any
    FLEET/revoked.toml                        revoked kiosk certificates (kiosk revoke); their
    FLEET/kiosks/.revoked/<id>-<time>/        folders, kept aside so the id can be issued again

The broker's ACL needs no per-kiosk line: its ``pattern`` rules confine every certificate CN to
``kiosks/<CN>/``, so adding a kiosk only issues a certificate.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from kiosk.config import DEFAULT_DATA_DIR, ConfigError, _kiosk_id, parse_config
from kiosk.door.rules import MODES
from kiosk.enrolment.bundle import FILES, PLACES, place_under
from kiosk.lan import STAFF_HTTPS_PORT, web_names
from mqtt.broker import collector_blocks, production_values, render
from mqtt.collector.registry import parse_registry, registry_venues, render_registry
from mqtt.collector.store_figures import MAX_PLACE_NAME, Venue, is_place_name
from mqtt.plumbing.files import replace_file
from mqtt.plumbing.tomlconfig import toml_string
from mqtt.wire.ids import ID_RULE, is_id
from mqtt.wire.slip_codes import VenueKey

from .pki import CertificateAuthority, load_cert, write_cert, write_crl, write_private_key, write_secret_bytes

COLLECTOR_ID = "collector-1"
#: The repository's systemd folder (kiosk-provision runs from a checkout, see docs/technician.md).
UNIT_SOURCE = Path(__file__).resolve().parent.parent / "systemd"
#: The kiosk's config folder, as on the kiosk (kiosk.toml names its files there).
ETC = PLACES["etc"]
#: Where the broker's files go on the central server.
BROKER_ETC = PurePosixPath("/etc/mosquitto")
VENUE_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,80}")
REASON = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


class FleetError(Exception):
    """A refused provisioning step; the CLI prints it and exits 2."""


def _mkdir(path: Path) -> Path:
    """``path`` and any missing parents, each 0700 (whatever the umask)."""
    for d in [*reversed(path.parents), path]:
        if not d.exists():
            d.mkdir(mode=0o700)
            os.chmod(d, 0o700)
    os.chmod(path, 0o700)
    return path


def check_kiosk_id(kiosk_id: str) -> None:
    problem = _kiosk_id(kiosk_id)
    if problem:
        raise FleetError(f"kiosk id {kiosk_id!r}: {problem}")


def check_venue_id(venue_id: str) -> None:
    if not is_id(venue_id):
        raise FleetError(f"venue id {venue_id!r}: {ID_RULE}, starting with a letter or digit")


def _web_block(kiosk_id: str) -> str:
    """kiosk.toml's [web]: plain HTTP for the kiosk's own screen, HTTPS for staff phones."""
    return ("\n[web]\n"
            "# plain HTTP for the kiosk's own screen; HTTPS (the fleet CA's certificate for "
            f"{kiosk_id}.local) for staff phones\n"
            'listen = "127.0.0.1:8080"\n'
            f'tls_listen = "lan:{STAFF_HTTPS_PORT}"\n'
            f"tls_cert = {toml_string(str(ETC / 'web.pem'))}\n"
            f"tls_key = {toml_string(str(ETC / 'web.key'))}\n")


@dataclass
class Fleet:
    root: Path

    # -- paths -------------------------------------------------------------------------------
    @property
    def fleet_file(self) -> Path: return self.root / "fleet.toml"
    @property
    def venues_file(self) -> Path: return self.root / "venues.toml"
    @property
    def ca_cert(self) -> Path: return self.root / "ca" / "fleet-ca.pem"
    @property
    def ca_key(self) -> Path: return self.root / "ca" / "fleet-ca.key"
    @property
    def broker_dir(self) -> Path: return self.root / "broker" / "etc" / "mosquitto"
    @property
    def server_cert(self) -> Path: return self.broker_dir / "certs" / "server.pem"
    @property
    def server_key(self) -> Path: return self.broker_dir / "certs" / "server.key"
    @property
    def broker_conf(self) -> Path: return self.broker_dir / "conf.d" / "checkin-kiosk.conf"
    @property
    def broker_acl(self) -> Path: return self.broker_dir / "checkin-kiosk.acl"
    @property
    def crl_file(self) -> Path: return self.broker_dir / "certs" / "fleet-ca.crl"
    @property
    def revoked_file(self) -> Path: return self.root / "revoked.toml"
    @property
    def broker_dropin(self) -> Path:
        return self.root / "broker" / "etc" / "systemd" / "system" / "mosquitto.service.d" / "checkin-kiosk.conf"
    @property
    def collector_dir(self) -> Path: return self.root / "collector"
    @property
    def registry_file(self) -> Path:
        """The fleet registry the collector reads ([fleet] kiosks): which venue each kiosk is for."""
        return self.collector_dir / "kiosks.toml"

    def venue_key(self, venue_id: str) -> Path:
        return self.root / "venues" / venue_id / "venue-token.key"

    def kiosk_dir(self, kiosk_id: str) -> Path:
        return self.root / "kiosks" / kiosk_id

    def kiosk_etc(self, kiosk_id: str) -> Path:
        """kiosks/<id>/etc/checkin-kiosk: the kiosk's /etc/checkin-kiosk."""
        return place_under(self.kiosk_dir(kiosk_id), "etc")

    def kiosk_data(self, kiosk_id: str) -> Path:
        """kiosks/<id>/var/lib/checkin-kiosk: the kiosk's /var/lib/checkin-kiosk."""
        return place_under(self.kiosk_dir(kiosk_id), "data")

    def kiosk_files(self, kiosk_id: str) -> dict[str, bytes]:
        """A provisioned kiosk's files (:data:`kiosk.enrolment.bundle.FILES`, in its order) by name.
        FleetError for a kiosk not (or not completely) provisioned, and for a database open
        elsewhere (its write-ahead log is not empty: the copy would miss what is in it)."""
        check_kiosk_id(kiosk_id)
        folder = self.kiosk_dir(kiosk_id)
        places = {"etc": self.kiosk_etc(kiosk_id), "data": self.kiosk_data(kiosk_id)}
        paths = {spec.name: places[spec.place] / spec.name for spec in FILES}
        missing = [str(p) for p in paths.values() if not p.is_file()]
        if missing and all(Path(m).name in ("web.pem", "web.key") for m in missing) and folder.is_dir():
            raise FleetError(f"kiosk {kiosk_id!r} was provisioned before the staff pages had HTTPS (no web.pem); "
                             f"run `kiosk-provision kiosk web-cert {kiosk_id}` first")
        if missing:
            what = "" if not folder.is_dir() else f" (missing {', '.join(missing)})"
            raise FleetError(f"kiosk {kiosk_id!r} is not provisioned in {self.root}{what}; "
                             f"run `kiosk-provision kiosk new {kiosk_id} --venue VENUE_ID` first")
        wal = places["data"] / "kiosk.db-wal"
        if wal.exists() and wal.stat().st_size:
            raise FleetError(f"{wal}: the kiosk database is open elsewhere; close it first")
        return {name: path.read_bytes() for name, path in paths.items()}

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, root: str | Path) -> Fleet:
        fleet = cls(Path(root))
        if not fleet.fleet_file.is_file():
            raise FleetError(f"{fleet.root}: not a fleet directory (no fleet.toml); "
                             "create one with `kiosk-provision init DIR`")
        return fleet

    @property
    def settings(self) -> dict:
        return tomllib.loads(self.fleet_file.read_text(encoding="utf-8"))["fleet"]

    def venues(self) -> dict[str, str]:
        return tomllib.loads(self.venues_file.read_text(encoding="utf-8")).get("venues", {})

    @contextmanager
    def lock(self):
        """Serialises changes (several technicians, or terminals, on one fleet directory)."""
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- init --------------------------------------------------------------------------------
    @classmethod
    def init(cls, root: str | Path, *, broker_host: str = "localhost", broker_port: int = 8883,
             days: int = 825, ca_days: int = 3650) -> Fleet:
        root = Path(root)
        if not HOST.fullmatch(broker_host):
            raise FleetError(f"broker host {broker_host!r}: a DNS name or IPv4 address")
        if not 1 <= broker_port <= 65535:
            raise FleetError(f"broker port {broker_port}: 1-65535")
        if days < 1:
            raise FleetError("--days must be at least 1")
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise FleetError(f"{root}: already exists and is not empty; refusing to overwrite a fleet")
        fleet = cls(root)
        _mkdir(root)
        for d in (root / "ca", fleet.broker_dir / "certs", fleet.broker_dir / "conf.d", fleet.broker_dropin.parent,
                  fleet.collector_dir, root / "venues", root / "kiosks"):
            _mkdir(d)
        ca = CertificateAuthority.create("checkin-kiosk fleet CA", days=max(ca_days, days))
        ca.write(fleet.ca_cert, fleet.ca_key)
        # the broker: server certificate, CA copy, rendered config and ACL
        cert, key = ca.issue(broker_host, days=days, server_names=[broker_host])
        write_cert(fleet.server_cert, cert)
        write_private_key(fleet.server_key, key)
        shutil.copyfile(fleet.ca_cert, fleet.broker_dir / "certs" / "fleet-ca.pem")
        certs = BROKER_ETC / "certs"
        fleet.broker_conf.write_text(render("mosquitto-production.conf", **production_values(
            cafile=certs / "fleet-ca.pem", certfile=certs / "server.pem", keyfile=certs / "server.key",
            acl_file=BROKER_ETC / "checkin-kiosk.acl", port=broker_port, crlfile=certs / "fleet-ca.crl")),
            encoding="utf-8")
        write_crl(fleet.crl_file, ca.crl([]))
        fleet.revoked_file.write_text("# revoked kiosk certificates (kiosk-provision kiosk revoke); "
                                      "the broker's CRL is made from these\n", encoding="utf-8")
        fleet.broker_acl.write_text(render("acl", collector_blocks=collector_blocks([COLLECTOR_ID])),
                                    encoding="utf-8")
        shutil.copyfile(UNIT_SOURCE / "mosquitto.service.d" / "checkin-kiosk.conf", fleet.broker_dropin)
        # the collector's client certificate
        cert, key = ca.issue(COLLECTOR_ID, days=days)
        write_cert(fleet.collector_dir / f"{COLLECTOR_ID}.pem", cert)
        write_private_key(fleet.collector_dir / f"{COLLECTOR_ID}.key", key)
        shutil.copyfile(fleet.ca_cert, fleet.collector_dir / "fleet-ca.pem")
        fleet.registry_file.write_text(render_registry({}), encoding="utf-8")
        fleet.collector_toml(broker_host, broker_port)
        fleet.venues_file.write_text("# venue id = name (kiosk-provision venue add)\n[venues]\n", encoding="utf-8")
        fleet.fleet_file.write_text(
            "# written by kiosk-provision init\n[fleet]\n"
            f"broker_host = {toml_string(broker_host)}\nbroker_port = {broker_port}\ncert_days = {days}\n",
            encoding="utf-8")
        return fleet

    def collector_toml(self, broker_host: str, broker_port: int) -> Path:
        """The collector's config, with paths as on the central server (/etc/checkin-collector/)."""
        from mqtt.collector.config import parse_config as parse_collector

        etc = PurePosixPath("/etc/checkin-collector")
        text = ("# written by kiosk-provision init; copy this folder to /etc/checkin-collector/\n"
                "[mqtt]\n"
                f"url = {toml_string(f'mqtts://{broker_host}:{broker_port}')}\n"
                f"client_id = {toml_string(COLLECTOR_ID)}\n"
                f"tls_ca = {toml_string(str(etc / 'fleet-ca.pem'))}\n"
                f"tls_cert = {toml_string(str(etc / f'{COLLECTOR_ID}.pem'))}\n"
                f"tls_key = {toml_string(str(etc / f'{COLLECTOR_ID}.key'))}\n"
                "\n[store]\n"
                'url = "sqlite:///var/lib/checkin-collector/central.db"   # or postgresql://… for several collectors\n'
                "\n[fleet]\n"
                "# kiosk id = venue id, kept by kiosk-provision kiosk new: events of other kiosks, or for\n"
                "# another venue, are refused (dead letters). Copy it here again after adding kiosks.\n"
                f"kiosks = {toml_string(str(etc / 'kiosks.toml'))}\n"
                "\n[collector]\n"
                'status_file = "/run/checkin-collector/status.json"   # for kiosk-collector fleet\n')
        parse_collector(text)          # the collector's own strict parser: a mistake here fails init
        path = self.collector_dir / "collector.toml"
        path.write_text(text, encoding="utf-8")
        return path

    # -- venues ------------------------------------------------------------------------------
    def add_venue(self, venue_id: str, name: str) -> Path:
        check_venue_id(venue_id)
        name = name.strip()
        if not VENUE_NAME.fullmatch(name):
            raise FleetError(f"venue name {name!r}: 1-80 printable characters")
        with self.lock():
            if venue_id in self.venues():
                raise FleetError(f"venue {venue_id!r} already exists")
            key_path = self.venue_key(venue_id)
            if key_path.exists():
                raise FleetError(f"{key_path} already exists; refusing to replace a venue key")
            _mkdir(key_path.parent)
            VenueKey.create(key_path)
            with self.venues_file.open("a", encoding="utf-8") as f:
                f.write(f"{toml_string(venue_id)} = {toml_string(name)}\n")
        return key_path

    # -- kiosks ------------------------------------------------------------------------------
    def kiosk_toml(self, kiosk_id: str, venue_id: str, venue_name: str, mode: str) -> str:
        s = self.settings
        url = "mqtts://{}:{}".format(s["broker_host"], s["broker_port"])
        return (
            "# written by kiosk-provision; paths are as on the kiosk\n"
            "[kiosk]\n"
            f"id = {toml_string(kiosk_id)}\n"
            f"venue_id = {toml_string(venue_id)}\n"
            f"venue_name = {toml_string(venue_name)}\n"
            f"mode = {toml_string(mode)}\n"
            f"data_dir = {toml_string(DEFAULT_DATA_DIR)}\n"
            f"token_key = {toml_string(str(ETC / 'venue-token.key'))}\n"
            "\n[mqtt]\n"
            f"url = {toml_string(url)}\n"
            f"tls_ca = {toml_string(str(ETC / 'ca.pem'))}\n"
            f"tls_cert = {toml_string(str(ETC / 'kiosk.pem'))}\n"
            f"tls_key = {toml_string(str(ETC / 'kiosk.key'))}\n"
            + _web_block(kiosk_id))

    def add_web_cert(self, kiosk_id: str) -> Path:
        """Give a kiosk provisioned before the staff pages had HTTPS its web certificate (and the
        [web] block of its kiosk.toml), so write-boot and enrol-qr take it again; returns web.pem."""
        check_kiosk_id(kiosk_id)
        with self.lock():
            etc = self.kiosk_etc(kiosk_id)
            toml_path = etc / "kiosk.toml"
            if not (etc / "kiosk.pem").is_file() or not toml_path.is_file():
                raise FleetError(f"kiosk {kiosk_id!r} is not provisioned in {self.root}")
            if (etc / "web.pem").exists():
                raise FleetError(f"kiosk {kiosk_id!r} has a web certificate already ({etc / 'web.pem'}); "
                                 "to replace it, revoke the kiosk and issue it again")
            text = toml_path.read_text(encoding="utf-8")
            if "web" in tomllib.loads(text):
                raise FleetError(f"{toml_path} has a [web] section of its own: give it tls_listen = "
                                 f'"lan:{STAFF_HTTPS_PORT}", tls_cert and tls_key by hand, then run this again')
            text = text.rstrip("\n") + "\n" + _web_block(kiosk_id)
            try:
                parse_config(text)
            except ConfigError as exc:
                raise FleetError(f"{toml_path} with a [web] block is not valid: {exc}") from None
            ca = CertificateAuthority.load(self.ca_cert, self.ca_key)
            web_cert, web_key = ca.issue(kiosk_id, days=int(self.settings["cert_days"]),
                                         server_names=web_names(kiosk_id))
            write_cert(etc / "web.pem", web_cert)
            write_private_key(etc / "web.key", web_key)
            replace_file(toml_path, text.encode("utf-8"), mode=0o644)
        return etc / "web.pem"

    def _registry_to_extend(self) -> dict[str, str]:
        """The registry a new kiosk is added to. A fleet that predates the registry gets one listing
        its earlier kiosks too (from their kiosk.toml), so pointing the collector at it never turns
        them away as unknown."""
        return self.registry() if self.registry_file.is_file() else self._provisioned()

    def _write_registry(self, kiosks: dict[str, str], venues: dict[str, Venue] | None = None) -> None:
        """The registry with these kiosks, and these venues' places (default: those it lists)."""
        if venues is None:
            venues = self.placed_venues()
        replace_file(self.registry_file, render_registry(kiosks, venues).encode("utf-8"), mode=0o644)

    def placed_venues(self) -> dict[str, Venue]:
        """Where the registry says each venue is (its [venues]: name, district, province)."""
        return self._read_registry(registry_venues)

    def place_venue(self, venue_id: str, *, district: str, province: str) -> Venue:
        """Record the venue's district and province in the registry, for the committees' figures
        (the collector reads them with the registry)."""
        names = self.venues()
        if venue_id not in names:
            raise FleetError(f"venue {venue_id!r} does not exist (kiosk-provision venue add)")
        for what, value in (("district", district), ("province", province)):
            if not value.strip() or not is_place_name(value.strip()):
                raise FleetError(f"{what} {value!r}: 1-{MAX_PLACE_NAME} printable characters, without '|'")
        venue = Venue(venue_id, names[venue_id], district.strip(), province.strip())
        with self.lock():
            self._write_registry(self._registry_to_extend(), {**self.placed_venues(), venue_id: venue})
        return venue

    def registry(self) -> dict[str, str]:
        """The fleet registry: kiosk id → venue id (FleetError when the file is not a registry)."""
        return self._read_registry(parse_registry)

    def _read_registry(self, parse):
        """``parse(text, path)`` of the registry file ({} when there is none yet)."""
        path = self.registry_file
        try:
            return parse(path.read_text(encoding="utf-8"), path) if path.is_file() else {}
        except ConfigError as exc:
            raise FleetError(f"{exc}; fix or restore it (kiosk id = venue id under [kiosks], "
                             "[venues.ID] tables)") from None

    def _provisioned(self) -> dict[str, str]:
        """Kiosk id → venue id of the kiosks in kiosks/, read from their own kiosk.toml."""
        found = {}
        for d in sorted((self.root / "kiosks").glob("*/")):
            try:
                text = (self.kiosk_etc(d.name) / "kiosk.toml").read_text(encoding="utf-8")
                found[d.name] = tomllib.loads(text)["kiosk"]["venue_id"]
            except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
                continue            # not a kiosk folder (.revoked/, a half-made one)
        return found


    def revoked(self) -> list[dict]:
        return tomllib.loads(self.revoked_file.read_text(encoding="utf-8")).get("revoked", [])

    def revoke_kiosk(self, kiosk_id: str, reason: str) -> tuple[str, Path]:
        """Revoke the kiosk's certificate: recorded in revoked.toml, the broker's CRL rewritten, the
        kiosk's folder kept aside (so a replacement may get the id). Returns (serial, that folder)."""
        check_kiosk_id(kiosk_id)
        reason = " ".join(reason.split())
        if not REASON.fullmatch(reason):
            raise FleetError("--reason: 1-200 printable characters (lost, stolen, replaced…)")
        with self.lock():
            folder = self.kiosk_dir(kiosk_id)
            cert_path = self.kiosk_etc(kiosk_id) / "kiosk.pem"
            if not cert_path.is_file():
                raise FleetError(f"kiosk {kiosk_id!r} is not provisioned in {self.root} (no {cert_path})")
            if not self.revoked_file.is_file():
                raise FleetError(f"{self.revoked_file}: missing; this fleet predates revocation "
                                 "(create the file empty, then render the broker config with crlfile)")
            serial = load_cert(cert_path).serial_number
            # Its staff pages' certificate too (a stolen kiosk's web.key would pass as <id>.local):
            # in the CRL for whatever checks it; phones do not, which docs/technician.md says.
            web_path = self.kiosk_etc(kiosk_id) / "web.pem"
            serials = [serial] + ([load_cert(web_path).serial_number] if web_path.is_file() else [])
            at = datetime.now(UTC).replace(microsecond=0)
            entries = [(int(e["serial"], 16), datetime.fromisoformat(e["at"])) for e in self.revoked()]
            ca = CertificateAuthority.load(self.ca_cert, self.ca_key)
            write_crl(self.crl_file, ca.crl([*entries, *((n, at) for n in serials)]))
            with self.revoked_file.open("a", encoding="utf-8") as f:
                for n in serials:
                    f.write(f"\n[[revoked]]\nkiosk_id = {toml_string(kiosk_id)}\nserial = \"{n:x}\"\n"
                            f"at = \"{at.isoformat()}\"\nreason = {toml_string(reason)}\n")
            aside = _mkdir(self.root / "kiosks" / ".revoked") / f"{kiosk_id}-{at:%Y%m%dT%H%M%SZ}"
            os.rename(folder, aside)
            registered = self.registry()
            if kiosk_id in registered:          # its events are no longer any venue's
                del registered[kiosk_id]
                self._write_registry(registered)
        return f"{serial:x}", aside

    def new_kiosk(self, kiosk_id: str, venue_id: str, *, mode: str = "toggle",
                  staff: str | None = None) -> tuple[Path, str | None]:
        """Everything for one kiosk under kiosks/<id>/; returns (that folder, the one-time PIN of the
        staff account ``staff``, or None: no account, nobody can use the staff pages until one is
        added with ``kiosk staff add NAME`` on the kiosk)."""
        from kiosk.staff.accounts import AccountError, StaffAccounts, check_name
        from kiosk.store import VisitStore

        check_kiosk_id(kiosk_id)
        check_venue_id(venue_id)
        if mode not in MODES:
            raise FleetError(f"mode {mode!r}: one of {', '.join(MODES)}")
        try:
            staff = check_name(staff) if staff is not None else None
        except AccountError:
            raise FleetError(f"staff name {staff!r}: 1-40 printable characters") from None
        with self.lock():
            venues = self.venues()
            if venue_id not in venues:
                raise FleetError(f"unknown venue {venue_id!r}; add it with `kiosk-provision venue add`")
            final = self.kiosk_dir(kiosk_id)
            if final.exists():
                raise FleetError(f"kiosk {kiosk_id!r} already exists ({final}); refusing to overwrite it")
            text = self.kiosk_toml(kiosk_id, venue_id, venues[venue_id], mode)
            try:
                parse_config(text)
            except ConfigError as exc:
                raise FleetError(f"the generated kiosk.toml is not valid: {exc}") from None
            registered = self._registry_to_extend()     # a bad registry is refused before anything is made
            work = _mkdir(self.root / "kiosks" / f".{kiosk_id}.partial")
            try:
                etc = _mkdir(place_under(work, "etc"))
                data = _mkdir(place_under(work, "data"))
                ca = CertificateAuthority.load(self.ca_cert, self.ca_key)
                cert, key = ca.issue(kiosk_id, days=int(self.settings["cert_days"]))
                write_cert(etc / "kiosk.pem", cert)
                write_private_key(etc / "kiosk.key", key)
                # The staff pages' HTTPS certificate: the names a staff phone reaches the kiosk by.
                web_cert, web_key = ca.issue(kiosk_id, days=int(self.settings["cert_days"]),
                                             server_names=web_names(kiosk_id))
                write_cert(etc / "web.pem", web_cert)
                write_private_key(etc / "web.key", web_key)
                shutil.copyfile(self.ca_cert, etc / "ca.pem")
                write_secret_bytes(etc / "venue-token.key", self.venue_key(venue_id).read_bytes())
                (etc / "kiosk.toml").write_text(text, encoding="utf-8")
                db_path = data / "kiosk.db"
                store = VisitStore.open(db_path)
                try:
                    pin = StaffAccounts(store).add(staff) if staff is not None else None
                    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    store.db.conn.close()
                for p in data.iterdir():
                    os.chmod(p, 0o600)
                os.rename(work, final)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
            self._write_registry({**registered, kiosk_id: venue_id})
        return final, pin
