"""The ``kiosk-collector`` command: a thin shell over :mod:`.ingest` and :mod:`.queries`.

Human output is for the central operator's screen, so names and ids are masked
("Nguyễn T. M.", "*********001"); ``--json`` (one object per line) is for machines and carries the
full person.

    kiosk-collector run --config /etc/checkin-collector/collector.toml
    kiosk-collector trace cccd:079190000001 --days 14 --json
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ..plumbing.logs import setup_logging, use_timezone
from ..plumbing.terminal import echo
from ..wire.event import PERSON_KINDS
from ..wire.masking import mask_id, mask_name
from . import queries
from .config import DEFAULT_CONFIG_PATH, ENV_VAR, Config, ConfigError, default_config_path, load_config
from .console.cli import add_commands as add_console_commands
from .store import TRACE_PHONE, StoreError, open_store

log = logging.getLogger("mqtt.collector")
#: What ``trace KIND:ID`` takes: a person kind, or ``phone`` (everyone checked in with it).
_TRACE_KINDS = (*PERSON_KINDS, TRACE_PHONE)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    setup_logging(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    try:
        config = load_config(args.config or default_config_path())
    except ConfigError as exc:
        echo(f"kiosk-collector: {exc}", file=sys.stderr)
        return 2
    use_timezone(config.report.timezone)
    try:
        return args.func(args, config)
    except StoreError as exc:
        echo(f"kiosk-collector: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:         # e.g. [fleet] kiosks names a registry that is missing or bad
        echo(f"kiosk-collector: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk-collector",
                                description="checkin-kiosk central collector: store events, trace contacts")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name, func, help, json_flag=True):
        c = sub.add_parser(name, help=help, description=help)
        c.add_argument("--config", type=Path,
                       help=f"TOML config (default: ${ENV_VAR}, or {DEFAULT_CONFIG_PATH} if present, else defaults)")
        c.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        if json_flag:
            c.add_argument("--json", action="store_true", help="one JSON object per line (full personal data)")
        c.set_defaults(func=func)
        return c

    command("run", _run, "run the collector (until SIGTERM/SIGINT)", json_flag=False)
    v = command("visits", _visits, "visits, newest first")
    v.add_argument("--venue", help="only this venue id")
    v.add_argument("--limit", type=int, default=None, help="at most this many")
    t = command("trace", _trace, "the contacts of KIND:ID: everyone whose visit overlapped one of theirs at the "
                "same venue, one line per person with the time shared")
    t.add_argument("person", metavar="KIND:ID",
                   help=f"e.g. cccd:079190000001 or phone:0912345678 (kinds: {', '.join(_TRACE_KINDS)})")
    t.add_argument("--days", type=int, default=queries.DEFAULT_TRACE_DAYS,
                   help=f"look back this many days (default {queries.DEFAULT_TRACE_DAYS})")
    s = command("stats", _stats, "check-ins per venue per day or hour")
    s.add_argument("--venue", help="only this venue id")
    s.add_argument("--by", choices=("day", "hour"), default="day")
    command("fleet", _fleet, "kiosks: status, last seen, outbox, seq gaps, latest self-test")
    pu = command("purge", _purge, "delete data older than the retention", json_flag=False)
    pu.add_argument("--days", type=int, default=None, help="retention in days (default: [store] retention_days)")
    tk = command("token", _token, "check a printed slip or card code against a venue's key")
    tk.add_argument("code", help="the code's text, CK1.S.… or CK1.C.…")
    tk.add_argument("--venue", required=True, help="the venue id the code should belong to")
    tk.add_argument("--key", type=Path, required=True, help="the venue's token key file (as on its kiosks)")
    d = command("dead-letters", _dead_letters, "messages refused as events, with the reason")
    d.add_argument("--limit", type=int, default=100)
    dd = command("demo-data", _demo_data, "fill an empty store with a synthetic province (districts, venues, "
                 "a fortnight of visits to today, a few cases) to try the console with", json_flag=False)
    dd.add_argument("--venues", type=int, default=28, help="venues over the seven districts (default 28)")
    dd.add_argument("--days", type=int, default=14, help="days of visits, to today (default 14)")
    dd.add_argument("--per-day", type=int, default=120, help="visits a venue a day (default 120)")
    dd.add_argument("--seed", type=int, default=1, help="the same seed makes the same people and visits")
    add_console_commands(sub, command)
    return p




def _demo_data(args, config: Config) -> int:
    from .demo import fill
    for name, value, most in (("--venues", args.venues, 500), ("--days", args.days, 60),
                              ("--per-day", args.per_day, 2000)):
        if not 1 <= value <= most:
            echo(f"kiosk-collector demo-data: {name} must be 1-{most}", file=sys.stderr)
            return 2
    with open_store(config.store.url) as store:
        try:
            done = fill(store, venues=args.venues, days=args.days, per_day=args.per_day, seed=args.seed,
                        tz=config.report.timezone)
        except ValueError as exc:
            echo(f"kiosk-collector demo-data: {exc}", file=sys.stderr)
            return 1
    echo(f"demo data: {done.venues} venues in {done.districts} districts of {done.province}, "
         f"{done.visits:,} visits ({done.events:,} events) over {args.days} day(s); "
         f"{len(done.cases)} confirmed case(s) open for the tracers: "
         + ", ".join(f"{c.split(':')[0]}:{mask_id(c.split(':')[1])}" for c in done.cases))
    return 0


def _who(person: dict) -> str:
    return f"{mask_name(person.get('name'))} ({person.get('kind')}:{mask_id(person.get('id'))})"


def _local(iso_time: str | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromisoformat(iso_time).astimezone(zone).strftime(fmt) if iso_time else "…"


def _print_json(rows) -> None:
    for row in rows:
        print(json.dumps(row, ensure_ascii=False, separators=(",", ":")))


# -- commands ---------------------------------------------------------------------------------

def _run(args, config: Config) -> int:
    from .ingest import run
    stop = threading.Event()

    def on_signal(signum, frame):
        log.info("collector: %s received, stopping", signal.Signals(signum).name)
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return run(config, stop)


def _visits(args, config: Config) -> int:
    with open_store(config.store.url) as store:
        rows = queries.visits(store, args.venue, args.limit)
    if args.json:
        _print_json(rows)
        return 0
    zone = ZoneInfo(config.report.timezone)
    for r in rows:
        out = _local(r["check_out_at"], zone, "%H:%M") if r["check_out_at"] else "(inside)"
        flag = " estimated" if r["check_out_estimated"] else ""
        echo(f"{_local(r['check_in_at'], zone)} → {out:8} {r['venue_id']:24} {_who(r['person'])}"
              f"  {r['check_out_type'] or ''}{flag}")
    # The count ends the table on stdout, as psql's "(N rows)" does: it stays with the rows when
    # the output is paged or saved, and the shell's next prompt starts on a line of its own.
    echo(f"{len(rows)} visit(s)")
    return 0


def _trace(args, config: Config) -> int:
    kind, sep, pid = args.person.partition(":")
    if not sep or kind not in _TRACE_KINDS or not pid:
        echo(f"kiosk-collector: trace needs KIND:ID with KIND one of {', '.join(_TRACE_KINDS)}", file=sys.stderr)
        return 2
    with open_store(config.store.url) as store:
        try:
            contacts = queries.trace(store, kind, pid, args.days)
        except ValueError as exc:          # a malformed phone number (queries.trace says what is wrong)
            echo(f"kiosk-collector: trace {kind}: {exc}", file=sys.stderr)
            return 2
    if args.json:
        _print_json(contacts)
        return 0
    zone = ZoneInfo(config.report.timezone)
    echo(f"{len(contacts)} contact(s) of {kind}:{mask_id(pid)} in the last {args.days} day(s)")
    for c in contacts:
        first, last = (datetime.fromisoformat(c[k]).astimezone(zone) for k in ("first_overlap", "last_overlap"))
        until = last.strftime("%H:%M" if last.date() == first.date() else "%Y-%m-%d %H:%M")
        flags = "".join(f" [{f}]" for f in ("estimated", "open", "corrected") if c[f])
        echo(f"{_who(c['person'])}  {_duration(c['overlap_s'])}  {first:%Y-%m-%d %H:%M} → {until}  "
             f"{', '.join(c['venues'])}  {c['visits']} visit(s){flags}")
    return 0


def _duration(seconds: float) -> str:
    """``1 h 05 min``, ``42 min``, ``< 1 min``."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "< 1 min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _stats(args, config: Config) -> int:
    with open_store(config.store.url) as store:
        rows = queries.stats(store, args.venue, args.by, config.report.timezone)
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        echo(f"{r['venue_id']:24} {r[args.by]:14} {r['check_ins']:6}")
    return 0


def _fleet(args, config: Config) -> int:
    with open_store(config.store.url) as store:
        rows = queries.fleet(store)
    if args.json:
        _print_json(rows)
        return 0
    zone = ZoneInfo(config.report.timezone)
    _collector_line(config, zone)
    for r in rows:
        gaps = ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in r["gaps"]) or "none"
        depth = "?" if r["outbox_depth"] is None else r["outbox_depth"]
        oldest = "" if r["oldest_undelivered_s"] is None else f" oldest {r['oldest_undelivered_s']:.0f}s"
        test = r["selftest"]
        tested = "" if test is None else "  selftest {} {}{}".format(
            "passed" if test["passed"] else "FAILED", test["at"],
            f" ({', '.join(test['failed'])})" if test["failed"] else "")
        echo(f"{r['kiosk_id']:32} {r['status'] or '?':8} seen {_local(r['last_seen'], zone)}  "
              f"outbox {depth}{oldest}  seq {r['seq_high_water']}/{r['seq_max']} gaps {gaps}{tested}")
    return 0


def _collector_line(config: Config, zone: ZoneInfo) -> None:
    """The running collector's own state first (from its status file): above all, a store that
    cannot write (then nothing is acked and the kiosks' outboxes fill)."""
    from .status import read_status
    if not config.collector.status_file:
        return
    state = read_status(Path(config.collector.status_file), datetime.now().astimezone())
    if state is None:
        echo(f"collector {config.mqtt.client_id}: no status at {config.collector.status_file} (not running here?)")
        return
    since = state.get("store_down_since")
    if state.get("stopped"):
        what = f"stopped at {_local(state['at'], zone)}"
    elif since:
        what = (f"CENTRAL STORE DOWN since {_local(since, zone)}: {state.get('store_error')}; nothing is acked, "
                f"{state.get('waiting')} message(s) held")
    else:
        what = f"store up, {'connected' if state.get('connected') else 'waiting for the broker'}"
    stopped = state["stale"] and not state.get("stopped")
    stale = f" (status from {_local(state['at'], zone)}: not running?)" if stopped else ""
    echo(f"collector {state.get('client_id')}: {what}{stale}")


def _purge(args, config: Config) -> int:
    days = args.days if args.days is not None else config.store.retention_days
    if days < 1:
        echo("kiosk-collector: --days must be at least 1", file=sys.stderr)
        return 2
    with open_store(config.store.url) as store:
        counts = store.purge(days)
    echo(f"purged (older than {days} days): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _token(args, config: Config) -> int:
    """Whether a code was really printed by a kiosk of the venue, and what it stands for."""
    from ..wire.slip_codes import SlipClaims, TokenRefused, VenueKey, open_token
    try:
        key = VenueKey.load(args.key)
    except (OSError, ValueError) as exc:
        echo(f"kiosk-collector: {exc}", file=sys.stderr)
        return 2
    try:
        claims = open_token(key, args.venue, args.code.strip())
    except TokenRefused as exc:
        out = {"valid": False, "reason": exc.code, "detail": exc.detail}
    else:
        kind = "slip" if isinstance(claims, SlipClaims) else "kiosk_card"
        subject = {"visit_id": claims.visit_id} if kind == "slip" else {"person_id": claims.person_id}
        out = {"valid": True, "kind": kind, **subject, "issued": claims.issued.isoformat()}
    if args.json:
        _print_json([out])
    elif out["valid"]:
        echo(f"valid {out['kind']}: " + ", ".join(f"{k} {v}" for k, v in out.items() if k not in ("valid", "kind")))
    else:
        echo(f"not valid: {out['reason']} ({out['detail']})")
    return 0 if out["valid"] else 1


def _dead_letters(args, config: Config) -> int:
    with open_store(config.store.url) as store:
        rows = queries.dead_letters(store, args.limit)
    if args.json:
        _print_json(rows)
        return 0
    zone = ZoneInfo(config.report.timezone)
    for r in rows:
        # Reason and size only: the payload may hold personal data.
        echo(f"{r['id']:6} {_local(r['received_at'], zone)} {r['kiosk_id'] or '?':32} {r['reason']:14} "
              f"{r['detail'][:80]} ({r['payload_size']} B)")
    return 0
