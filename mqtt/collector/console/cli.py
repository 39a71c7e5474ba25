"""The console's commands of ``kiosk-collector``: ``console`` (serve it), ``users``, ``api-token`` and
``audit``. Changes of users and tokens are audited as ``cli`` (whoever holds the server's shell).

    kiosk-collector users add Lan --role tracer        # one-time password + otpauth:// URI + QR
    kiosk-collector api-token add district-7 --role reporter   # the token alone on the last line
    kiosk-collector audit --json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import segno

from ...plumbing.terminal import echo
from ...wire.masking import mask_id
from ..config import Config, ConfigError
from ..store import iso, open_store
from .audit import as_json
from .roles import ROLES

if TYPE_CHECKING:
    from .accounts import NewCredentials

CLI_ACTOR = "cli"


def add_commands(sub, command: Callable[..., argparse.ArgumentParser]) -> None:
    """The console's subcommands, made with ``kiosk-collector``'s ``command(name, func, help, json_flag)``."""
    command("console", _console, "serve the tracing console at [console] listen (until SIGTERM/SIGINT)",
            json_flag=False)
    users = command("users", _users, "the console's users: add, list, reset (new password and authenticator), remove")
    users.add_argument("action", choices=("add", "list", "reset", "remove"))
    users.add_argument("name", nargs="?", help="the user's login name (add, reset, remove)")
    users.add_argument("--role", action="append", choices=ROLES, default=None,
                       help="add: a role (again for several: --role tracer --role admin)")
    tokens = command("api-token", _api_token, "API tokens for machines: add (printed once), list, revoke")
    tokens.add_argument("action", choices=("add", "list", "revoke"))
    tokens.add_argument("name", nargs="?", help="the token's name (add, revoke)")
    tokens.add_argument("--role", choices=ROLES, help="add: the token's role")
    audit = command("audit", _audit, "the console's audit: every lookup of a person, export and change, oldest first")
    audit.add_argument("--limit", type=int, default=None, help="only the latest this many")


def _console(args, config: Config) -> int:
    _open(config)[0].close()        # the extra is there and the store opens (migrated), or say why
    from .server import serve
    return serve(config)


def _open(config: Config):
    try:
        from .app import Console
    except ImportError as exc:          # pyotp or openpyxl: the [console] extra
        raise ConfigError(f"the console needs the [console] extra ({exc.name} is missing): "
                          "pip install 'checkin-kiosk[console]'") from None
    store = open_store(config.store.url)
    return store, Console.over(store, timezone=config.report.timezone, idle_minutes=config.console.idle_minutes,
                               max_hours=config.console.max_hours)


def _missing(command: str, args) -> str | None:
    """What ``users``/``api-token`` ACTION lacks (a NAME, a --role), said as the operator's error."""
    if args.action != "list" and not args.name:
        return f"{command} {args.action} needs a NAME"
    if args.action == "add" and not args.role:
        return f"{command} add needs --role ({'|'.join(ROLES)})"
    return None


def _users(args, config: Config) -> int:
    if missing := _missing("users", args):
        echo(f"kiosk-collector: {missing}", file=sys.stderr)
        return 2
    store, console = _open(config)
    from .accounts import AccountError
    with store:
        try:
            if args.action == "add":
                _print_credentials(console.users.add(args.name, args.role), "added", roles=args.role)
            elif args.action == "reset":
                _print_credentials(console.users.reset(args.name), "reset")
            elif args.action == "remove":
                console.users.remove(args.name)
                echo(f"user {args.name.strip()} removed; their sessions are ended")
        except AccountError as exc:
            echo(f"kiosk-collector: users {args.action}: {exc}", file=sys.stderr)
            return 1
        if args.action == "list":
            rows = console.users.list()
            if args.json:
                for u in rows:
                    print(json.dumps({"name": u.name, "roles": list(u.roles), "must_change": u.must_change,
                                      "created_at": iso(u.created_at)}, ensure_ascii=False))
            else:
                for u in rows:
                    pending = "  (one-time password not yet replaced)" if u.must_change else ""
                    echo(f"{u.name:24} {','.join(u.roles):24}{pending}")
                echo(f"{len(rows)} user(s)")
            return 0
        console.audit.record(CLI_ACTOR, f"users_{args.action}", query={"user": args.name.strip(),
                                                                       "roles": args.role or None})
    return 0


def _print_credentials(new: NewCredentials, what: str, roles: list[str] | None = None) -> None:
    echo(f"user {new.name} {what}" + (f" ({', '.join(roles)})" if roles else ""))
    echo(f"one-time password: {new.password}   (shown once; the first login replaces it)")
    echo("authenticator app (scan the code, or type the URI's secret):")
    echo(new.otpauth_uri)
    segno.make(new.otpauth_uri, error="m").terminal(out=sys.stdout, compact=True)


def _api_token(args, config: Config) -> int:
    if missing := _missing("api-token", args):
        echo(f"kiosk-collector: {missing}", file=sys.stderr)
        return 2
    store, console = _open(config)
    from .accounts import AccountError
    with store:
        if args.action == "list":
            rows = console.tokens.list()
            if args.json:
                for t in rows:
                    print(json.dumps({"name": t.name, "role": t.role, "created_at": iso(t.created_at),
                                      "last_used_at": iso(t.last_used_at), "revoked_at": iso(t.revoked_at)}))
            else:
                zone = ZoneInfo(config.report.timezone)
                for t in rows:
                    state = f"revoked {_local(t.revoked_at, zone)}" if t.revoked_at else \
                        f"last used {_local(t.last_used_at, zone)}" if t.last_used_at else "never used"
                    echo(f"{t.name:24} {t.role:10} {state}")
                echo(f"{len(rows)} token(s)")
            return 0
        try:
            if args.action == "add":
                token = console.tokens.add(args.name, args.role)
                echo(f"API token {args.name} ({args.role}), shown once; send it as 'Authorization: Bearer TOKEN':")
                print(token)            # alone on the last line (a contract)
            else:
                console.tokens.revoke(args.name)
                echo(f"API token {args.name} revoked")
        except AccountError as exc:
            echo(f"kiosk-collector: api-token {args.action}: {exc}", file=sys.stderr)
            return 1
        console.audit.record(CLI_ACTOR, f"api_token_{args.action}", query={"token": args.name, "role": args.role})
    return 0


def _audit(args, config: Config) -> int:
    store, console = _open(config)
    with store:
        rows = console.audit.rows(limit=args.limit)
    if args.json:
        for r in rows:
            print(json.dumps(as_json(r), ensure_ascii=False, separators=(",", ":")))
        return 0
    zone = ZoneInfo(config.report.timezone)
    for r in rows:
        found = "" if r.results is None else f"  {r.results} result(s)"
        query = "" if not r.query else "  " + json.dumps(r.query, ensure_ascii=False, separators=(",", ":"))
        kind, _, person_id = (r.person or "").partition(":")
        person = f"{kind}:{mask_id(person_id)}" if r.person else ""      # the screen masks; --json does not
        echo(f"{_local(r.at, zone)}  {r.actor:24} {r.action:18} {person:28}{found}{query}")
    echo(f"{len(rows)} audit row(s)")
    return 0


def _local(at, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else "…"
