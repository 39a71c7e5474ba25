"""``kiosk-provision``: give kiosks their identity and configuration (technician's laptop).

    kiosk-provision init FLEET_DIR [--broker-host HOST] [--broker-port N] [--days N]
    kiosk-provision venue add VENUE_ID --name "Chợ Phan Rang" [--district D --province P] [--fleet FLEET_DIR]
    kiosk-provision venue place VENUE_ID --district "Phan Rang–Tháp Chàm" --province "Ninh Thuận"
    kiosk-provision venue list [--fleet FLEET_DIR]
    kiosk-provision kiosk list [--venue VENUE_ID] [--fleet FLEET_DIR]
    kiosk-provision kiosk web-cert KIOSK_ID [--fleet FLEET_DIR]
    kiosk-provision kiosk new KIOSK_ID --venue VENUE_ID [--mode toggle] [--staff NAME] [--fleet FLEET_DIR]
    kiosk-provision kiosk revoke KIOSK_ID --reason TEXT [--fleet FLEET_DIR]
    kiosk-provision bundle [OUT_DIR] [--python 3.13] [--fleet FLEET_DIR]
    kiosk-provision write-boot (--image SD.img | --boot DIR) (KIOSK_ID | --unenrolled) --ssh-key KEY.pub
                    [--ssh-key ...] [--wifi-ssid SSID [--wifi-country VN]] [--bundle DIR] [--fleet FLEET_DIR]
    kiosk-provision enrol-qr KIOSK_ID [--listen lan:8470] [--minutes 15] [--png FILE] [--fleet FLEET_DIR]

FLEET_DIR for ``venue``, ``kiosk``, ``bundle`` and ``write-boot``: ``--fleet``, else
$KIOSK_FLEET_DIR, else the current directory. Refusals (missing fleet, unknown venue, existing
kiosk, bad ids, an image without a FAT partition, no ssh key...) exit with status 2.
The staff member's one-time PIN is printed once on stdout and written nowhere. Without
``--staff`` the kiosk gets no staff account (there is no default one), and ``kiosk new`` says so.

``bundle`` makes the kiosks' offline wheelhouse (aarch64, default FLEET_DIR/bundle).
``write-boot`` writes a provisioned kiosk onto a flashed Raspberry Pi OS card or image as a
cloud-init seed (user-data, meta-data, network-config) plus the wheelhouse, without root: into
the image's FAT partition with mtools, or into the mounted boot folder. The Wi-Fi password comes
from $KIOSK_WIFI_PASSWORD or is asked, never from the command line. With ``--unenrolled`` the
card gets the software but no identity: the kiosk boots into "scan the enrolment code", and
``enrol-qr`` shows that code (a one-time token; the laptop serves the encrypted identity once).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk.door.rules import MODES
from mqtt.plumbing.terminal import echo

from . import bundle, cards, enrol, inventory, writeboot
from .args import fleet_arg, place_args
from .bootmedia import open_media
from .fleet import Fleet, FleetError

#: The kiosk command where the kiosk has it (cloud-init installs it there).
KIOSK_COMMAND = "/opt/checkin-kiosk/.venv/bin/kiosk"

#: A command's old name that technicians' scripts still use -> its name (not shown in --help).
OLD_NAMES = {"enroll-qr": "enrol-qr"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-provision", description="Provision check-in kiosks.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create a fleet directory: CA, broker and collector identities")
    p.add_argument("fleet_dir", metavar="FLEET_DIR")
    p.add_argument("--broker-host", default="localhost", help="the broker's DNS name or IPv4 address")
    p.add_argument("--broker-port", type=int, default=8883)
    p.add_argument("--days", type=int, default=825, help="validity of issued certificates (default 825)")

    venue = sub.add_parser("venue", help="venues").add_subparsers(dest="venue_command", required=True)
    p = venue.add_parser("add", help="add a venue and create its token-signing key")
    p.add_argument("venue_id", metavar="VENUE_ID")
    p.add_argument("--name", required=True, help="the venue's display name")
    place_args(p, required=False)
    fleet_arg(p)
    fleet_arg(venue.add_parser("list", help="the venues, with how many kiosks each has"))
    p = venue.add_parser("place", help="record a venue's district and province (the console's figures by area)")
    p.add_argument("venue_id", metavar="VENUE_ID")
    place_args(p, required=True)
    fleet_arg(p)

    kiosk = sub.add_parser("kiosk", help="kiosks").add_subparsers(dest="kiosk_command", required=True)
    p = kiosk.add_parser("new", help="issue a kiosk's certificate, kiosk.toml and first staff account")
    p.add_argument("kiosk_id", metavar="KIOSK_ID")
    p.add_argument("--venue", required=True, metavar="VENUE_ID")
    p.add_argument("--mode", default="toggle", choices=MODES)
    p.add_argument("--staff", metavar="NAME",
                   help="the first staff account (prints its one-time PIN); without it the kiosk has none")
    fleet_arg(p)
    p = kiosk.add_parser("web-cert", help="give a kiosk provisioned before HTTPS its staff-pages certificate")
    p.add_argument("kiosk_id", metavar="KIOSK_ID")
    fleet_arg(p)
    p = kiosk.add_parser("list", help="the kiosks: venue, certificate validity, the cards their identity went to")
    p.add_argument("--venue", metavar="VENUE_ID", help="only this venue's kiosks")
    fleet_arg(p)
    p = kiosk.add_parser("revoke",
                         help="revoke a kiosk's certificate (lost, stolen, replaced): rewrites the broker's CRL")
    p.add_argument("kiosk_id", metavar="KIOSK_ID")
    p.add_argument("--reason", required=True, help="why, for the record (e.g. \"stolen 2026-11-20\")")
    fleet_arg(p)

    p = sub.add_parser("bundle", help="make the kiosks' offline wheelhouse (aarch64)")
    p.add_argument("out_dir", metavar="OUT_DIR", nargs="?", help="default: FLEET_DIR/bundle")
    p.add_argument("--python", default=bundle.DEFAULT_PYTHON, metavar="X.Y",
                   help="the kiosk's Python (default 3.13: Raspberry Pi OS Trixie; Bookworm has 3.11)")
    fleet_arg(p)

    p = sub.add_parser("write-boot", help="write a kiosk's cloud-init seed and wheelhouse onto a card's boot partition")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--image", metavar="SD.img", help="a flashed disk image (or the card's device)")
    where.add_argument("--boot", metavar="DIR", help="the card's mounted boot partition (bootfs)")
    p.add_argument("kiosk_id", metavar="KIOSK_ID", nargs="?", help="a kiosk made with `kiosk new`")
    p.add_argument("--unenrolled", action="store_true",
                   help="no identity: the kiosk enrols itself by scanning `enrol-qr` (instead of KIOSK_ID)")
    p.add_argument("--ssh-key", action="append", default=[], metavar="FILE",
                   help="the technician's public key (authorized_keys format); repeatable")
    p.add_argument("--wifi-ssid", metavar="SSID", help="a Wi-Fi network (password: $KIOSK_WIFI_PASSWORD or asked)")
    p.add_argument("--wifi-country", metavar="CC", help="the Wi-Fi regulatory country (default VN)")
    p.add_argument("--bundle", metavar="DIR", help="the wheelhouse (default: FLEET_DIR/bundle)")
    fleet_arg(p)

    enrol.add_parser(sub)
    return parser


def _bundle(args) -> None:
    out = Path(args.out_dir) if args.out_dir else Fleet.open(args.fleet).root / "bundle"
    made = bundle.make(out, python=args.python)
    print(f"wheelhouse for checkin-kiosk {made.version}, Python {made.python} aarch64: {made.root}")
    print(f"  {len(made.files)} wheels, {made.size / 1e6:.1f} MB; verified to install with no index")
    print(f"  next: kiosk-provision write-boot --image SD.img KIOSK_ID --ssh-key KEY.pub --bundle {made.root}")


def _write_boot(args) -> None:
    if bool(args.kiosk_id) == args.unenrolled:
        raise FleetError("write-boot needs a KIOSK_ID, or --unenrolled for a kiosk that enrols itself by QR code")
    fleet = Fleet.open(args.fleet)
    if args.unenrolled:
        args.kiosk_id, files = writeboot.unenrolled_hostname(), []
    else:
        files = writeboot.kiosk_files(fleet, args.kiosk_id)
    keys = writeboot.ssh_keys(args.ssh_key)
    wheels = bundle.load(Path(args.bundle) if args.bundle else fleet.root / "bundle")
    media = open_media(image=args.image, boot=args.boot)
    network = writeboot.wifi(args.wifi_ssid, args.wifi_country)   # asks last, when all else is right
    done = writeboot.write_boot(media, args.kiosk_id, files=files, keys=keys, network=network, wheels=wheels)
    if not args.unenrolled:
        warn = cards.warning(args.kiosk_id, cards.record(fleet.kiosk_dir(args.kiosk_id), done.media), done.media)
        if warn:
            print(f"kiosk-provision: {warn}", file=sys.stderr)
    what = f"an unenrolled kiosk (hostname {args.kiosk_id})" if args.unenrolled else f"kiosk {args.kiosk_id}"
    print(f"{what} written to {done.media} in {done.seconds:.1f} s:")
    for name, size in done.files.items():
        print(f"  {name:<15} {size:>9,} bytes")
    print(f"  {writeboot.BUNDLE_DIR + '/':<15} {done.wheel_bytes:>9,} bytes ({done.wheels} wheels)")
    print(f"  instance-id {done.instance_id}; {len(keys)} ssh key(s) for user tech; network: eth0 (DHCP)"
          + (f" and Wi-Fi {network.ssid!r} ({network.country})" if network else ""))
    if args.unenrolled:
        print("the kiosk will show 'Quét mã đăng ký / Scan the enrolment code': "
              "kiosk-provision enrol-qr KIOSK_ID on this laptop shows it.")
    else:
        print("user-data holds the kiosk's private key until first boot removes it: keep the card safe.")
    if args.image:
        print(f"next: flash {args.image} onto the card (unless it is the card's own device),")
    print("next: put the card in the kiosk, connect the network, power on, and wait 10-20 minutes")
    print(f"      (apt packages are installed on first boot). Then: ssh tech@{args.kiosk_id}.local and")
    print("      cloud-init status --long; systemctl status checkin-kiosk; "
          "less /var/log/cloud-init-output.log")


def _venue_list(fleet: Fleet) -> None:
    rows = inventory.venues(fleet)
    for v in rows:
        echo(f"{v.venue_id:<24} {v.kiosks:>3} kiosk(s)  {v.name}")
    print(f"({len(rows)} venue(s) in {fleet.root})")


def _kiosk_list(fleet: Fleet, venue: str | None) -> None:
    now = inventory.now()
    rows = [k for k in inventory.kiosks(fleet) if venue is None or k.venue_id == venue]
    for k in rows:
        last = k.cards[-1] if k.cards else None
        card = (f"{len(k.cards)} card(s), last {last.media} {last.at}" if last else "not written to a card yet")
        echo(f"{k.kiosk_id:<32} {k.venue_id or '?':<20} {k.state(now)}; {card}")
    print(f"({len(rows)} kiosk(s){f' at {venue}' if venue else ''}; revoked ones are in {fleet.revoked_file.name})")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in OLD_NAMES:
        argv[0] = OLD_NAMES[argv[0]]
    args = build_parser().parse_args(argv)
    try:
        if args.command == "init":
            fleet = Fleet.init(args.fleet_dir, broker_host=args.broker_host, broker_port=args.broker_port,
                               days=args.days)
            print(f"fleet created in {fleet.root}")
            print(f"  CA certificate:  {fleet.ca_cert}  (keep {fleet.ca_key.name} offline)")
            print(f"  broker config:   {fleet.broker_dir}  -> /etc/mosquitto/ on {args.broker_host}")
            print(f"  broker drop-in:  {fleet.broker_dropin}  -> /etc/systemd/system/mosquitto.service.d/")
            print(f"  collector:       {fleet.collector_dir}  (with collector.toml) -> /etc/checkin-collector/")
        elif args.command == "venue" and args.venue_command == "list":
            _venue_list(Fleet.open(args.fleet))
        elif args.command == "kiosk" and args.kiosk_command == "list":
            _kiosk_list(Fleet.open(args.fleet), args.venue)
        elif args.command == "kiosk" and args.kiosk_command == "web-cert":
            web = Fleet.open(args.fleet).add_web_cert(args.kiosk_id)
            print(f"kiosk {args.kiosk_id}: staff-pages certificate {web} (for {args.kiosk_id}.local) and the [web] "
                  "block of its kiosk.toml; write-boot or enrol-qr it again to put them on its card")
        elif args.command == "venue" and args.venue_command == "place":
            fleet = Fleet.open(args.fleet)
            venue = fleet.place_venue(args.venue_id, district=args.district, province=args.province)
            print(f"venue {venue.venue_id}: {venue.district}, {venue.province}; copy {fleet.registry_file} to "
                  "/etc/checkin-collector/ on the collector")
        elif args.command == "venue":
            fleet = Fleet.open(args.fleet)
            if (args.district is None) != (args.province is None):
                raise FleetError("--district and --province go together")
            key = fleet.add_venue(args.venue_id, args.name)
            print(f"venue {args.venue_id} added; token key {key}")
            if args.district is not None:
                fleet.place_venue(args.venue_id, district=args.district, province=args.province)
                print(f"  in {args.district}, {args.province}: copy {fleet.registry_file} to /etc/checkin-collector/")
        elif args.command == "kiosk" and args.kiosk_command == "revoke":
            fleet = Fleet.open(args.fleet)
            serial, aside = fleet.revoke_kiosk(args.kiosk_id, args.reason)
            print(f"kiosk {args.kiosk_id}: certificate {serial} revoked; its files are kept in {aside}")
            print(f"  broker: copy {fleet.crl_file} to /etc/mosquitto/certs/ and `systemctl restart mosquitto`")
            print(f"  collector: copy {fleet.registry_file} to /etc/checkin-collector/ (the kiosk is no longer in it)")
            print(f"  a replacement kiosk may now be issued: kiosk-provision kiosk new {args.kiosk_id} --venue …")
        elif args.command == "kiosk":
            fleet = Fleet.open(args.fleet)
            folder, pin = fleet.new_kiosk(args.kiosk_id, args.venue, mode=args.mode, staff=args.staff)
            print(f"kiosk {args.kiosk_id} provisioned in {folder}")
            print(f"  fleet registry: {fleet.registry_file} now has {args.kiosk_id} = {args.venue}; copy it to "
                  "/etc/checkin-collector/ on the collector (one whose collector.toml names it in [fleet] "
                  "kiosks holds this kiosk's events until then)")
            print(f"  next: kiosk-provision write-boot --image SD.img {args.kiosk_id} --ssh-key KEY.pub "
                  f"(a flashed card), or kiosk-provision enrol-qr {args.kiosk_id} (a card written --unenrolled)")
            if pin is None:
                print(f"staff: NO staff account on this kiosk (no --staff NAME): nobody can log in to its staff "
                      f"pages until one is added; on the kiosk: sudo -u kiosk {KIOSK_COMMAND} staff add NAME")
            else:
                print(f"staff {args.staff!r} one-time PIN: {pin}  (shown once; to be changed at first login)")
        elif args.command == "bundle":
            _bundle(args)
        elif args.command == "write-boot":
            _write_boot(args)
        elif args.command == "enrol-qr":
            return enrol.run(args)
    except FleetError as exc:
        print(f"kiosk-provision: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
