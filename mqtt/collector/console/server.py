"""``kiosk-collector console``: the console under waitress on ``[console] listen`` (loopback; the
operator's HTTPS proxy in front), until SIGTERM or SIGINT; ``Type=notify`` under systemd, with
the watchdog kept by a thread that checks the store answers."""

from __future__ import annotations

import logging
import signal
import threading

from waitress.server import create_server

from ...plumbing import sdnotify
from ...plumbing.terminal import echo
from ..config import Config
from ..store import StoreError, open_store

log = logging.getLogger("mqtt.collector.console")

THREADS = 8
CONNECTION_LIMIT = 100


def serve(config: Config, *, started: threading.Event | None = None) -> int:
    from .app import Console, create_app
    host, _, port = config.console.listen.rpartition(":")
    store = open_store(config.store.url)
    try:
        console = Console.over(store, timezone=config.report.timezone, idle_minutes=config.console.idle_minutes,
                               max_hours=config.console.max_hours)
        # No access log (waitress writes none): URLs and addresses stay out of the journal.
        server = create_server(create_app(console), host=host.strip("[]"), port=int(port), threads=THREADS,
                               ident="", connection_limit=CONNECTION_LIMIT, max_request_body_size=64 * 1024)
        stop = threading.Event()

        def on_signal(signum, frame):
            log.info("console: %s received, stopping", signal.Signals(signum).name)
            stop.set()
            server.close()
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        bound_host, bound_port = server.socket.getsockname()[:2]
        url = f"http://{'[' + bound_host + ']' if ':' in bound_host else bound_host}:{bound_port}/"
        echo(f"console: {url}")
        sdnotify.ready(status=f"serving {url}")
        watchdog = threading.Thread(target=_keep_watchdog, args=(console, stop), name="console-watchdog", daemon=True)
        watchdog.start()
        if started is not None:
            started.set()
        try:
            server.run()
        except OSError:
            if not stop.is_set():
                raise
        sdnotify.stopping()
        return 0
    finally:
        store.close()


def _keep_watchdog(console, stop: threading.Event) -> None:
    """WATCHDOG=1 while the store answers (a console that cannot read is of no use)."""
    interval = sdnotify.watchdog_interval()
    while not stop.wait(interval or 30.0):
        try:
            console.users.end_stale_sessions()
        except StoreError as exc:
            log.error("console: the central store does not answer: %s", exc)
            continue
        if interval:
            sdnotify.watchdog()
