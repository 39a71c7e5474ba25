"""``kiosk-provision``: give kiosks their identity and configuration (technician's laptop).

    kiosk-provision init FLEET_DIR [--broker-host HOST] [--broker-port N] [--days N]
    kiosk-provision venue add VENUE_ID --name "Chợ Phan Rang" [--fleet FLEET_DIR]
    kiosk-provision kiosk new KIOSK_ID --venue VENUE_ID [--mode toggle] [--staff NAME] [--fleet FLEET_DIR]

FLEET_DIR for ``venue`` and ``kiosk``: ``--fleet``, else $KIOSK_FLEET_DIR, else the current
directory. Refusals (missing fleet, unknown venue, existing kiosk, bad ids) exit with status 2.
The staff member's one-time PIN is printed once on stdout and written nowhere.
"""

from __future__ import annotations

import argparse
import os
import sys

from .fleet import Fleet, FleetError


def _fleet_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fleet", metavar="FLEET_DIR", default=os.environ.get("KIOSK_FLEET_DIR", "."),
                   help="the fleet directory (default: $KIOSK_FLEET_DIR or the current directory)")


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
    _fleet_arg(p)

    kiosk = sub.add_parser("kiosk", help="kiosks").add_subparsers(dest="kiosk_command", required=True)
    p = kiosk.add_parser("new", help="issue a kiosk's certificate, kiosk.toml and first staff account")
    p.add_argument("kiosk_id", metavar="KIOSK_ID")
    p.add_argument("--venue", required=True, metavar="VENUE_ID")
    p.add_argument("--mode", default="toggle", choices=["entry", "exit", "toggle"])
    p.add_argument("--staff", default="admin", metavar="NAME", help="the first staff account (default admin)")
    _fleet_arg(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "init":
            fleet = Fleet.init(args.fleet_dir, broker_host=args.broker_host, broker_port=args.broker_port,
                               days=args.days)
            print(f"fleet created in {fleet.root}")
            print(f"  CA certificate:  {fleet.ca_cert}  (keep {fleet.ca_key.name} offline)")
            print(f"  broker config:   {fleet.broker_dir}  -> /etc/mosquitto/ on {args.broker_host}")
            print(f"  collector:       {fleet.collector_dir}")
        elif args.command == "venue":
            fleet = Fleet.open(args.fleet)
            key = fleet.add_venue(args.venue_id, args.name)
            print(f"venue {args.venue_id} added; token key {key}")
        elif args.command == "kiosk":
            fleet = Fleet.open(args.fleet)
            folder, pin = fleet.new_kiosk(args.kiosk_id, args.venue, mode=args.mode, staff=args.staff)
            print(f"kiosk {args.kiosk_id} provisioned in {folder}")
            print(f"  copy {folder}/etc/checkin-kiosk/ and {folder}/var/lib/checkin-kiosk/ onto the SD card")
            print(f"staff {args.staff!r} one-time PIN: {pin}  (shown once; to be changed at first login)")
    except FleetError as exc:
        print(f"kiosk-provision: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
