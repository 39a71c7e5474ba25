"""Serving the web app with waitress, in a thread of the kiosk process.

Usage (the kiosk's server from ``[web]``, see :func:`web_server`)::

    server = web_server(app, config, feed=feed)     # plain HTTP on listen, HTTPS on tls_listen
    server.start()          # [('127.0.0.1', 8080)]; server.tls_bound: [('192.168.1.20', 8443)]
    server.url              # 'http://127.0.0.1:8080/'
    server.stop()

Plain HTTP alone (``kiosk enrol``'s screen) is
``WebServer(app, resolve_listen(listen_addresses(config.web.listen)))``.

Each address is bound on its own, so one that cannot be bound (the LAN address changed, the
port is taken) costs only that address. ``lan`` is the IPv4 address of the interface that
carries the default route, looked up at start (:func:`kiosk.lan.resolve_listen`).

The kiosk's own screen (plain HTTP on loopback) and the staff phones (HTTPS on the LAN) are
served by two waitress loops, each with its own map and so its own connection limit
(:data:`CONNECTION_LIMIT`): whatever the LAN holds open, the door screen's reload and its event
stream's reconnect are accepted. They share the request threads.

Server-Sent Events need each event written at once: waitress ≥ 3 flushes every write
(``send_bytes`` is 1), and an open stream holds one worker thread, so there are enough threads
for the bounded number of streams plus the pages.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import threading

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher
from waitress.trigger import trigger

from .. import messages
from ..lan import resolve_listen
from .live import MAX_SUBSCRIBERS, LiveFeed
from .security import largest_body
from .tls import TlsBridge, TlsWSGIServer

log = logging.getLogger(__name__)

#: Threads for requests: every open event stream holds one, the pages need the rest.
THREADS = MAX_SUBSCRIBERS + 6
#: Connections each side (loopback, HTTPS) takes at once (waitress's ``connection_limit``, counted
#: per map); past it that side stops accepting until one closes.
CONNECTION_LIMIT = 50
#: How far past the largest route's bound a body is still read, to be refused with the app's message.
BODY_HEADROOM = 64 * 1024


class WebServer:
    """waitress in a background thread.

    feed: the live feed whose streams are ended before the server stops (an open stream holds a
    worker thread until it ends).
    """

    def __init__(self, app, addresses: list[tuple[str, int]], *, feed: LiveFeed | None = None, threads: int = THREADS,
                 tls_addresses: list[tuple[str, int]] = (), tls_context: ssl.SSLContext | None = None,
                 language: str = "vi"):
        self.app = app
        self.addresses = addresses
        self.tls_addresses = list(tls_addresses) if tls_context is not None else []
        self.tls_context = tls_context
        self.language = language
        self.feed = feed
        self.threads = threads
        self.bound: list[tuple[str, int]] = []
        self.tls_bound: list[tuple[str, int]] = []
        self._maps: list[dict] = []         # one a loop: the loopback side's, the HTTPS side's
        self._dispatcher: ThreadedTaskDispatcher | None = None
        self._bridge: TlsBridge | None = None
        self._threads: list[threading.Thread] = []
        self._triggers: list[trigger] = []
        self._stopping = threading.Event()

    def start(self) -> list[tuple[str, int]]:
        """Bind and serve; returns the bound plain-HTTP (host, port) pairs (the HTTPS ones are in
        :attr:`tls_bound`). Raises OSError when no address could be bound."""
        plain, secure = _bind_all(self.addresses), _bind_all(self.tls_addresses)
        if not plain and not secure:
            raise OSError("the web server could not listen on any address of [web] listen or tls_listen")
        # No access log (waitress writes none): URLs and addresses stay out of the journal.
        # Bodies: waitress answers 413 from the headers alone, before reading a byte of the body,
        # above the largest bound of any route of this app (plus headroom: a body a little over its
        # route's bound is read, into a file past 512 KB, and refused by the app with its message).
        options = {"threads": self.threads, "ident": "", "connection_limit": CONNECTION_LIMIT,
                   "max_request_body_size": largest_body(self.app) + BODY_HEADROOM}
        self._dispatcher = ThreadedTaskDispatcher()
        self._dispatcher.set_thread_count(self.threads)
        adj = Adjustments(**options)
        loops = []
        if plain:
            plain_map: dict = {}
            for sock in plain:
                TcpWSGIServer(self.app, plain_map, _start=True, _sock=sock, dispatcher=self._dispatcher, adj=adj,
                              bind_socket=False, sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))
            loops.append(("web", plain_map))
        if secure:
            tls_map: dict = {}
            self._bridge = TlsBridge(self.tls_context, plain_http_answer(self.language))
            tls_adj = Adjustments(url_scheme="https", **options)
            for sock in secure:
                TlsWSGIServer(self.app, tls_map, sock, dispatcher=self._dispatcher, adj=tls_adj, bridge=self._bridge)
            self._bridge.start()
            loops.append(("web-https", tls_map))
        self.bound = [s.getsockname()[:2] for s in plain]         # listening now
        self.tls_bound = [s.getsockname()[:2] for s in secure]
        # Taken now, before the loops run: each map is its loop thread's from here on.
        self._maps = [m for _, m in loops]
        self._triggers = [obj for m in self._maps for obj in m.values() if isinstance(obj, trigger)]
        self._threads = [threading.Thread(target=self._serve, args=(m,), name=name, daemon=True) for name, m in loops]
        for thread in self._threads:
            thread.start()
        return self.bound

    @property
    def url(self) -> str | None:
        """The screen's address for this machine's browser (loopback when bound there)."""
        if not self.bound:
            return None
        for host, port in self.bound:
            if ipaddress.ip_address(host).is_loopback:
                return f"http://{_netloc(host, port)}/"
        host, port = self.bound[0]
        if ipaddress.ip_address(host).is_unspecified:
            host = "127.0.0.1" if ipaddress.ip_address(host).version == 4 else "::1"
        return f"http://{_netloc(host, port)}/"

    def stop(self, timeout: float = 5.0) -> None:
        if self.feed is not None:
            self.feed.close()
        if not self._threads:
            return
        self._stopping.set()
        for obj in self._triggers:
            try:
                obj.pull_trigger()          # wake the loops from their select()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout)
        if self._bridge is not None:
            self._bridge.stop(timeout)
        self._dispatcher.shutdown(timeout=2)
        # A map whose loop has ended is this thread's: its sockets are closed here.
        for thread, map_ in zip(self._threads, self._maps, strict=True):
            if thread.is_alive():
                log.error("web: the %s loop did not stop within %.0f s; its sockets are left open", thread.name,
                          timeout)
            else:
                wasyncore.close_all(map_)
        self._threads, self._maps = [], []

    def _serve(self, map_: dict) -> None:
        # The loop runs in this thread only; stop() asks it to end, and closes its sockets once it has.
        while not self._stopping.is_set():
            wasyncore.loop(timeout=1.0, map=map_, count=1)


def _bind_all(addresses: list[tuple[str, int]]) -> list[socket.socket]:
    """A listening socket for each address that can be bound (the others are logged)."""
    sockets = []
    for host, port in addresses:
        try:
            sockets.append(_bind(host, port))
        except OSError as exc:
            log.error("web: cannot listen on %s: %s", _netloc(host, port), exc.strerror or exc)
    return sockets


def plain_http_answer(language: str) -> bytes:
    """What a browser gets for plain HTTP sent to the HTTPS port: the reason, and nothing else."""
    body = (messages.text("web_https_only", language) + "\n").encode("utf-8")
    return (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def web_server(app, config, *, feed: LiveFeed | None = None) -> WebServer:
    """The kiosk's server from ``[web]``: plain HTTP on loopback (the config refuses anything else),
    HTTPS on ``tls_listen`` with the kiosk's web certificate. A certificate that cannot be used
    costs only the HTTPS listeners (logged): the door and its own screen keep working."""
    from ..config import listen_addresses
    from .tls import TlsConfigError, server_context

    web = config.web
    context, tls_addresses = None, []
    if web.tls_listen:
        try:
            context = server_context(web.tls_cert, web.tls_key)
        except TlsConfigError as exc:
            log.error("web: no HTTPS for staff phones: %s", exc)
        else:
            tls_addresses = resolve_listen(listen_addresses(web.tls_listen))
    return WebServer(app, resolve_listen(listen_addresses(web.listen)), feed=feed, tls_addresses=tls_addresses,
                     tls_context=context, language=config.kiosk.language)
