"""Command-line arguments shared by kiosk-provision's subcommands."""

from __future__ import annotations

import argparse
import os


def fleet_arg(p: argparse.ArgumentParser) -> None:
    """``--fleet FLEET_DIR``: default $KIOSK_FLEET_DIR, else the current directory."""
    p.add_argument("--fleet", metavar="FLEET_DIR", default=os.environ.get("KIOSK_FLEET_DIR", "."),
                   help="the fleet directory (default: $KIOSK_FLEET_DIR or the current directory)")


def place_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    """``--district`` and ``--province``: where a venue is, for the console's figures by area."""
    p.add_argument("--district", required=required, help="its district (huyện, quận, thị xã, thành phố)")
    p.add_argument("--province", required=required, help="its province (tỉnh, thành phố trực thuộc trung ương)")
