"""The ``kiosk`` command: a thin shell over the library (run, decode, visits)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mqtt.plumbing.logs import setup_logging, use_timezone
from mqtt.plumbing.terminal import echo
from mqtt.wire.masking import mask_id, mask_name

from . import __version__
from .config import (
    DB_NAME,
    DEFAULT_CONFIG_PATH,
    DEFAULT_DATA_DIR,
    SIMULATION_DATA_DIR,
    Config,
    ConfigError,
    load_config,
)
from .credentials import Refused, recognise
from .health.questions import load_questions
from .printing import check_profile

log = logging.getLogger("kiosk")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Names are Vietnamese and JSON consumers expect UTF-8, whatever the locale says.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        config = _config(args)
    except ConfigError as exc:
        if args.command == "selftest":
            return args.func(args, exc)      # an invalid config is the self-test's first finding
        echo(f"kiosk: {exc}", file=sys.stderr)
        return 2
    use_timezone(config.kiosk.timezone)
    return args.func(args, config)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk", description="checkin-kiosk: QR check-in kiosk firmware")
    p.add_argument("--version", action="version", version=f"checkin-kiosk {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name, func, help):
        c = sub.add_parser(name, help=help, description=help)
        c.add_argument("--config", type=Path,
                       help=f"TOML config (default: $KIOSK_CONFIG, or {DEFAULT_CONFIG_PATH} if present)")
        c.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        c.set_defaults(func=func)
        return c

    run = command("run", _run, "run the kiosk")
    run.add_argument("--simulate", action="store_true",
                     help="image-folder camera, mock GPIO and file printer, data under ./var")

    test = command("selftest", _selftest, "check camera, code reading, lights, printer, broker, clock, disk, "
                   "config and certificates; report to the central side (stop the kiosk service first)")
    test.add_argument("--simulate", action="store_true", help="the simulated kiosk (as kiosk run --simulate)")
    test.add_argument("--lang", choices=("vi", "en"), help="the report's language (default: the config's)")
    test.add_argument("--code-timeout", type=float, default=30.0, metavar="S",
                      help="how long to wait for the test code to be shown to the camera (default 30)")
    test.add_argument("--broker-timeout", type=float, default=20.0, metavar="S",
                      help="how long to wait for the collector's ack of the report (default 20)")
    test.add_argument("--no-publish", action="store_true", help="do not send the report to the central side")

    dec = command("decode", _decode, "decode and recognise the codes in image files")
    dec.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    dec.add_argument("--json", action="store_true", help="one JSON object per line")
    dec.add_argument("--decoder", choices=("zxing", "zbar"), help="decoder backend (default: the config's)")

    sam = command("samples", _samples, "write synthetic sample codes (one of each kind) as images")
    sam.add_argument("folder", type=Path, help="where to write them (e.g. ./samples)")

    vis = command("visits", _visits, "the local visits, newest first")
    vis.add_argument("--open", action="store_true", help="only visits not yet checked out")
    vis.add_argument("--json", action="store_true", help="one JSON object per line")
    vis.add_argument("--limit", type=int, default=None, help="at most this many")
    vis.add_argument("--simulate", action="store_true", help="the simulated kiosk's data (./var)")

    staff = command("staff", _staff, "staff accounts for the staff pages (login name + PIN)")
    staff.add_argument("action", choices=("add", "list", "reset", "remove"),
                       help="add NAME (prints a one-time PIN) | list | reset NAME (new one-time PIN) | remove NAME")
    staff.add_argument("name", nargs="?", help="the staff member's login name")
    staff.add_argument("--simulate", action="store_true", help="the simulated kiosk's data (./var)")

    enr = command("enrol", _enrol, "give this kiosk its identity by scanning the code of `kiosk-provision enrol-qr`")
    enr.add_argument("--simulate", action="store_true",
                     help="image-folder camera; installs under ./var/enrolled instead of /etc and /var/lib")
    enr.add_argument("--timeout", type=float, default=None, metavar="S", help="give up after S seconds (default: wait)")
    enr.add_argument("--etc-dir", type=Path, default=None,
                     help="where the config and keys go (default /etc/checkin-kiosk)")
    enr.add_argument("--data-dir", type=Path, default=None, help="where kiosk.db goes (default /var/lib/checkin-kiosk)")
    return p


def _config(args) -> Config:
    path = args.config or (Path(os.environ["KIOSK_CONFIG"]) if os.environ.get("KIOSK_CONFIG") else None)
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    config = load_config(path)
    check_profile(config)          # [printer] profile: python-escpos's printer database, not the schema
    load_questions(config.declaration.questions)    # [declaration] questions: the venue's file, read now
    return config


# -- kiosk run --------------------------------------------------------------------------------

def _run(args, config: Config) -> int:
    from .app import build_kiosk
    from .instance import AlreadyRunning, single_instance
    from .store import StoreUnavailable

    try:
        kiosk = build_kiosk(config, simulate=args.simulate)
    except StoreUnavailable as exc:
        echo(f"kiosk: cannot open the data directory {config.kiosk.data_dir}: {exc}", file=sys.stderr)
        return 1
    try:
        with single_instance(kiosk.config.data_path):
            kiosk.run()
    except AlreadyRunning as exc:
        kiosk.close()
        echo(f"kiosk: {exc}", file=sys.stderr)
        return 1
    return 0


# -- kiosk selftest ---------------------------------------------------------------------------

def _selftest(args, config: Config | ConfigError) -> int:
    from .selftest import run_selftest

    return run_selftest(config, simulate=args.simulate, language=args.lang, code_timeout_s=args.code_timeout,
                        broker_timeout_s=args.broker_timeout, publish=not args.no_publish)


# -- kiosk decode -----------------------------------------------------------------------------

def _decode(args, config: Config) -> int:
    from .config.parts import decoder_from_config

    decoder = decoder_from_config(config, args.decoder)
    all_ok = True
    for path in args.images:
        for result in decode_image(path, decoder):
            all_ok &= "credential" in result
            if args.json:
                print(json.dumps(result, ensure_ascii=False), flush=True)
            else:
                echo(_human(result))
    decoder.close()
    return 0 if all_ok else 1


def decode_image(path: Path, decoder) -> list[dict]:
    """``kiosk decode`` for one file: a result per code found, or one error."""
    name = str(path)
    try:
        with Image.open(path) as im:
            frame = np.asarray(ImageOps.exif_transpose(im).convert("L"))
    except FileNotFoundError:
        return [{"file": name, "error": "file not found"}]
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        return [{"file": name, "error": f"not a readable image ({type(exc).__name__})"}]
    symbols = decoder.decode(frame)
    if not symbols:
        return [{"file": name, "error": "no code found"}]
    results = []
    for s in symbols:
        try:
            credential = recognise(s.data)
        except Refused as r:
            results.append({"file": name, "format": s.format, "error": f"refused: {r.code}"
                            + (f" ({r.detail})" if r.detail else ""), "reason": r.code})
        else:
            results.append({"file": name, "format": s.format, "credential": credential.to_json()})
    return results


def _human(result: dict) -> str:
    if "credential" not in result:
        return f"{result['file']}: {result['error']}"
    c = result["credential"]
    warn = f"  warnings: {', '.join(c['warnings'])}" if c["warnings"] else ""
    return (f"{result['file']}: {c['kind']} {mask_id(c['id'])} {mask_name(c['name'])} "
            f"{c['birth_date'] or '—'} {c['sex'] or '—'}{warn}  (--json shows every field)")


# -- kiosk samples ----------------------------------------------------------------------------

def _samples(args, config: Config) -> int:
    from .samples import write_samples

    for path in write_samples(args.folder):
        echo(path)
    return 0


# -- kiosk visits -----------------------------------------------------------------------------

def _data_dir(args, config: Config) -> Path:
    """The kiosk's data folder; on a development machine (no kiosk installed) the simulator's."""
    if args.simulate and not config.explicit_data_dir:
        return Path(SIMULATION_DATA_DIR)
    if not config.explicit_data_dir and not (Path(DEFAULT_DATA_DIR) / DB_NAME).exists():
        return Path(SIMULATION_DATA_DIR)
    return Path(config.kiosk.data_dir)


def _visits(args, config: Config) -> int:
    from .store import StoreUnavailable, VisitStore

    db = _data_dir(args, config) / DB_NAME
    if not db.exists():
        echo(f"kiosk: no visits yet ({db} does not exist)", file=sys.stderr)
        return 1
    try:
        store = VisitStore.open(db)
        visits = store.visits(open_only=args.open, limit=args.limit)
    except StoreUnavailable as exc:
        echo(f"kiosk: cannot read {db}: {exc}", file=sys.stderr)
        return 1
    for v in visits:
        if args.json:
            print(json.dumps(v, ensure_ascii=False))
        else:
            out = v["check_out_at"] or "(inside)"
            est = " (estimated)" if v["check_out_estimated"] else ""
            p = v["person"]
            echo(f"{v['visit_id'][:8]}  {v['check_in_at']}  {out}{est}  "
                 f"{p['kind']} {mask_id(p['id'])} {mask_name(p['name'])}")
    store.close()
    return 0


# -- kiosk staff ------------------------------------------------------------------------------

def _staff(args, config: Config) -> int:
    from . import messages
    from .staff.accounts import AccountError, StaffAccounts
    from .store import StoreUnavailable, VisitStore

    if args.action != "list" and not args.name:
        echo(f"kiosk: staff {args.action} needs a NAME", file=sys.stderr)
        return 2
    try:
        store = VisitStore.open(_data_dir(args, config) / DB_NAME)
    except StoreUnavailable as exc:
        echo(f"kiosk: cannot open the kiosk database: {exc}", file=sys.stderr)
        return 1
    accounts = StaffAccounts(store)
    try:
        if args.action == "list":
            for a in accounts.list():
                state = ("locked" if a["locked"] else "") or ("PIN set" if a["pin_set"]
                                                              else "one-time PIN not used yet")
                echo(f"{a['staff_id']}  {a['name']}  ({state})")
        elif args.action == "remove":
            accounts.remove(args.name)
            echo(f"{args.name}: removed")
        else:
            pin = accounts.add(args.name) if args.action == "add" else accounts.reset(args.name)
            # The one secret this command ever prints: shown once, never stored or logged.
            echo(f"{args.name}: one-time PIN {pin}")
            echo("  Log in with it once at the staff page and choose your own PIN. / "
                  "Đăng nhập một lần bằng mã này rồi đặt mã PIN riêng.")
    except AccountError as exc:
        echo(f"kiosk: {messages.text(exc.code, 'en')}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        echo(f"kiosk: cannot write the kiosk database: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0



# -- kiosk enrol ------------------------------------------------------------------------------

def _enrol(args, config: Config) -> int:
    from .enrolment.command import run

    return run(args, config)


if __name__ == "__main__":
    sys.exit(main())
