"""HTTPS for the kiosk's LAN listener: the standard library's TLS in front of waitress, in the
kiosk's own process.

waitress speaks no TLS (its documentation sends TLS to a proxy in front of it), and an
``ssl``-wrapped socket handed to it would do each handshake inside its one event loop (a client
that connects and says nothing stalls every page) and loses bytes OpenSSL holds back from
``select``. So:

- waitress's loop accepts the connection on the TLS port (:class:`TlsWSGIServer`) and hands it to
  :class:`TlsBridge` (which never raises into that loop: an exception there closes the listening
  socket for good);
- the bridge, one thread for all the TLS connections, does the handshakes and the encryption with
  ``ssl.MemoryBIO`` (it alone reads and writes the clients' sockets, so OpenSSL's buffers and the
  selector never disagree) and passes the plain bytes through a socket pair to an ordinary waitress
  channel that carries the client's real address (``REMOTE_ADDR``: the screen's loopback rule
  still sees a phone as a phone) and ``wsgi.url_scheme = "https"``; waitress's connection limit
  counts these channels, the bridge bounds the connections before them;
- one device (:func:`device_of`) cannot crowd out the others: it has a few handshakes under way at
  a time (the rest of its connections wait their turn, as a browser's several connections for one
  page do) and a bounded number of connections in all;
- a handshake not finished within :data:`HANDSHAKE_S` is dropped; plain HTTP sent to the TLS port
  gets a short plain answer saying to use ``https://``, never a page.

The kiosk's web certificate (on a kiosk /etc/checkin-kiosk/web.pem and web.key), as
``kiosk-provision`` issues it, in a temporary folder:

>>> import tempfile
>>> from pathlib import Path
>>> from provisioning.pki import CertificateAuthority, write_cert, write_private_key
>>> from kiosk.lan import web_names
>>> ca = CertificateAuthority.create("checkin-kiosk fleet CA", days=30)
>>> cert, key = ca.issue("ninhthuan-cho-phanrang-01", server_names=web_names("ninhthuan-cho-phanrang-01"), days=30)
>>> with tempfile.TemporaryDirectory() as tmp:
...     write_cert(Path(tmp, "web.pem"), cert); write_private_key(Path(tmp, "web.key"), key)
...     context = server_context(f"{tmp}/web.pem", f"{tmp}/web.key")
...     server_context(f"{tmp}/web.pem", f"{tmp}/missing.key")
Traceback (most recent call last):
...
kiosk.web.tls.TlsConfigError: [web] tls_key = '.../missing.key': No such file or directory
>>> context.minimum_version
<TLSVersion.TLSv1_2: 771>
"""

from __future__ import annotations

import logging
import selectors
import socket
import ssl
import threading
import time
from collections import deque

from waitress.server import TcpWSGIServer

from mqtt.plumbing.throttle import LOOPBACK, client_key

log = logging.getLogger(__name__)

#: A client has this long to finish its TLS handshake once it is under way, and as long to wait
#: for its turn.
HANDSHAKE_S = 10.0
#: Handshakes under way at once, in all and from one device; a connection past either waits its
#: turn (nothing of it is read).
MAX_HANDSHAKES = 32
MAX_DEVICE_HANDSHAKES = 4
#: Connections not yet past their handshake (under way or waiting), in all: more are closed at once.
MAX_PENDING = 64
#: Connections one device holds, from its accept to its close (waitress keeps an idle one past its
#: handshake 120 s): more are closed at once. A browser opens at most 6 to one host.
MAX_DEVICE_CONNECTIONS = 16
#: Bytes read at a time, and the most held for one direction before reading stops (backpressure).
CHUNK = 64 * 1024
HIGH_WATER = 256 * 1024
#: The first byte of a TLS connection (a handshake record).
TLS_HANDSHAKE_RECORD = 0x16


def device_of(addr) -> str:
    """The device a TLS client is, for its share of the bridge: the login throttle's
    :func:`~mqtt.plumbing.throttle.client_key` of its address (an IPv4 address, an IPv6 /64), except
    that each loopback address is a device of its own (none reaches the port on the LAN address in
    use; the tests stand addresses of 127.0.0.0/8 in for the LAN's devices).

    >>> device_of(("2001:db8:1:2::5", 51000, 0, 0)), device_of(("127.0.0.2", 51000))
    ('2001:db8:1:2::/64', '127.0.0.2')
    """
    host = addr[0]
    key = client_key(host)
    return host if key == LOOPBACK else key


class TlsConfigError(Exception):
    """The certificate or key cannot be used; the message names the ``[web]`` key."""


def server_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    """A TLS 1.2+ server context for the certificate (PEM, the kiosk's web certificate, optionally
    followed by its chain) and its private key. Raises :class:`TlsConfigError`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for key, path in (("tls_cert", cert_path), ("tls_key", key_path)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise TlsConfigError(f"[web] {key} = {path!r}: {exc.strerror or exc}") from None
    try:
        context.load_cert_chain(cert_path, key_path)
    except (ssl.SSLError, ValueError) as exc:
        raise TlsConfigError(f"[web] tls_cert = {cert_path!r}, tls_key = {key_path!r}: not a certificate and "
                             f"its private key ({exc})") from None
    return context


class TlsWSGIServer(TcpWSGIServer):
    """A waitress server on a TLS listening socket: what it accepts goes to ``bridge``, and comes
    back (on the loop's thread) as a plain channel through :meth:`open_channel`. Nothing here may
    raise: waitress answers an exception in :meth:`handle_accept` by closing the listening socket."""

    def __init__(self, application, map, sock, *, dispatcher, adj, bridge: TlsBridge):
        self.bridge = bridge
        super().__init__(application, map, _start=True, _sock=sock, dispatcher=dispatcher, adj=adj,
                         bind_socket=False, sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))

    def handle_accept(self):
        try:
            pair = self.accept()
        except OSError:
            return
        if pair is None:
            return
        conn, addr = pair
        try:
            self.set_socket_options(conn)
        except OSError:
            conn.close()                # reset before it was taken
            return
        self.bridge.add(conn, self.fix_addr(addr), self)

    def open_channel(self, inner: socket.socket, addr) -> None:
        """Runs in waitress's loop: the decrypted connection becomes an ordinary channel."""
        self.channel_class(self, inner, addr, self.adj, map=self._map)


class _Connection:
    """One client: its TCP socket, the TLS state in memory, and our end of the pair to waitress."""

    def __init__(self, raw: socket.socket, addr, server: TlsWSGIServer, context: ssl.SSLContext):
        raw.setblocking(False)
        self.raw, self.addr, self.server = raw, addr, server
        self.device = device_of(addr)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.inner: socket.socket | None = None
        self.to_client = bytearray()      # encrypted, for the client
        self.to_app = bytearray()         # plain, for waitress
        self.deadline = time.monotonic() + HANDSHAKE_S     # for its turn; then for its handshake
        self.admitted = False             # its handshake has its turn
        self.pending = True               # counted among the connections not past their handshake
        self.started = False              # the first byte was seen
        self.handshaken = False
        self.client_done = False          # the client closed (TCP end, or TLS close_notify)
        self.app_done = False             # waitress closed its end
        self.app_shut = False             # waitress was told the client is done
        self.closed = False


class TlsBridge:
    """The thread that does TLS for every connection of the TLS listeners.

    plain_answer: the bytes (a whole HTTP response) for a client that speaks plain HTTP to the port.

    :meth:`add` runs on waitress's thread and decides on counts kept under the lock; everything
    else is the bridge's thread's alone.
    """

    def __init__(self, context: ssl.SSLContext, plain_answer: bytes):
        self.context = context
        self.plain_answer = plain_answer
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        # Under the lock: what add() decides on.
        self._new: list[_Connection] = []
        self._pending = 0                               # not past their handshake, in all
        self._held: dict[str, int] = {}                 # connections, per device
        # The bridge's thread's alone.
        self._connections: set[_Connection] = set()
        self._waiting: deque[_Connection] = deque()     # accepted, their handshake not yet begun
        self._handshaking: dict[str, int] = {}          # handshakes under way, per device
        self._handshakes = 0                            # and in all
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- from other threads -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="web-tls", daemon=True)
        self._thread.start()

    def add(self, raw: socket.socket, addr, server: TlsWSGIServer) -> None:
        """Take a connection just accepted, or close it (past a share, or stopping). Runs on
        waitress's loop and never raises into it: a connection that cannot be taken is closed."""
        taken = False
        try:
            conn = _Connection(raw, addr, server, self.context)
            with self._lock:
                held = self._held.get(conn.device, 0)
                if (not self._stopping.is_set() and self._pending < MAX_PENDING
                        and held < MAX_DEVICE_CONNECTIONS):
                    self._pending += 1
                    self._held[conn.device] = held + 1
                    self._new.append(conn)
                    taken = True
        except Exception:               # the address is not logged: addresses stay out of the journal
            log.exception("web: a TLS connection could not be taken; it is closed")
        if taken:
            self._wake()
        else:
            try:
                raw.close()
            except OSError:
                pass

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass                        # already woken, or stopped

    # -- the bridge's thread ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                for key, _ in self._selector.select(timeout=1.0):
                    if key.data is None:
                        self._drain_wake()
                    else:
                        self._pump(key.data)
                with self._lock:
                    new, self._new = self._new, []
                self._connections.update(new)
                self._waiting.extend(new)
                now = time.monotonic()
                for conn in [c for c in self._connections if not c.handshaken and now > c.deadline]:
                    self._close(conn)       # a handshake that never finishes (or begins) holds nothing
                self._admit()
        finally:
            for conn in list(self._connections):
                self._close(conn)
            with self._lock:
                for conn in self._new:
                    conn.raw.close()
                self._new = []
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _admit(self) -> None:
        """Begin the waiting handshakes that may begin, oldest first: a device's up to its share,
        all of them up to :data:`MAX_HANDSHAKES`."""
        waiting, self._waiting = self._waiting, deque()
        for conn in waiting:
            if conn.closed:
                continue
            if (self._handshakes >= MAX_HANDSHAKES
                    or self._handshaking.get(conn.device, 0) >= MAX_DEVICE_HANDSHAKES):
                self._waiting.append(conn)
                continue
            conn.admitted = True
            conn.deadline = time.monotonic() + HANDSHAKE_S
            self._handshaking[conn.device] = self._handshaking.get(conn.device, 0) + 1
            self._handshakes += 1
            self._pump(conn)

    def _handshake_over(self, conn: _Connection) -> None:
        """The connection is past its handshake, or closed before it: it leaves those counts."""
        if not conn.pending:
            return
        conn.pending = False
        if conn.admitted:
            left = self._handshaking[conn.device] - 1
            if left:
                self._handshaking[conn.device] = left
            else:
                del self._handshaking[conn.device]
            self._handshakes -= 1
        with self._lock:
            self._pending -= 1

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _pump(self, conn: _Connection) -> None:
        """Move every byte that can move now, then wait for what the connection needs next."""
        if conn.closed:
            return
        try:
            while self._step(conn):
                pass
            if conn.closed:
                return
            if (conn.app_done or (conn.client_done and not conn.handshaken)) and not conn.to_client:
                self._close(conn)
                return
            self._watch(conn)
        except (OSError, ssl.SSLError):
            self._close(conn)           # a reset, a refused handshake, a broken record
        except Exception:               # one connection's, not the bridge's: the others go on
            log.exception("web: a TLS connection failed; it is closed")
            self._close(conn)

    def _step(self, conn: _Connection) -> bool:
        """One round of every direction; True when something moved."""
        moved = False
        # The client's bytes into TLS.
        if not conn.client_done and len(conn.to_app) < HIGH_WATER:
            data = _recv(conn.raw)
            if data == b"":
                conn.client_done = True
                conn.incoming.write_eof()
                moved = True
            elif data:
                if not conn.started:
                    conn.started = True
                    if data[0] != TLS_HANDSHAKE_RECORD:
                        self._answer_plain(conn)
                        return False
                conn.incoming.write(data)
                moved = True
        if not conn.handshaken:
            try:
                conn.tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            else:
                conn.handshaken = True
                self._handshake_over(conn)
                self._open_app_side(conn)
                moved = True
        if conn.handshaken:
            # Decrypted bytes towards waitress.
            while len(conn.to_app) < HIGH_WATER:
                try:
                    chunk = conn.tls.read(CHUNK)
                except ssl.SSLWantReadError:
                    break
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    conn.client_done = True
                    break
                if not chunk:
                    conn.client_done = True
                    break
                conn.to_app += chunk
                moved = True
            # waitress's answer into TLS.
            if not conn.app_done and len(conn.to_client) < HIGH_WATER:
                data = _recv(conn.inner)
                if data == b"":
                    conn.app_done = True
                    try:
                        conn.tls.unwrap()       # close_notify: the client knows the answer is whole
                    except ssl.SSLError:
                        pass
                    moved = True
                elif data:
                    conn.tls.write(data)
                    moved = True
        pending = conn.outgoing.read()
        if pending:
            conn.to_client += pending
            moved = True
        if conn.to_client:
            sent = _send(conn.raw, conn.to_client)
            if sent:
                del conn.to_client[:sent]
                moved = True
        if conn.to_app and conn.inner is not None:
            sent = _send(conn.inner, conn.to_app)
            if sent:
                del conn.to_app[:sent]
                moved = True
        if conn.client_done and conn.handshaken and not conn.to_app and not conn.app_shut:
            conn.app_shut = True
            try:
                conn.inner.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        return moved

    def _open_app_side(self, conn: _Connection) -> None:
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        conn.inner = ours
        server = conn.server
        server.trigger.pull_trigger(lambda: server.open_channel(theirs, conn.addr))

    def _answer_plain(self, conn: _Connection) -> None:
        """Plain HTTP on the TLS port: say so in plain words, then close (nothing of the app)."""
        try:
            conn.raw.send(self.plain_answer)
        except OSError:
            pass
        self._close(conn)

    def _watch(self, conn: _Connection) -> None:
        raw_events = ((selectors.EVENT_READ if not conn.client_done and len(conn.to_app) < HIGH_WATER else 0)
                      | (selectors.EVENT_WRITE if conn.to_client else 0))
        _watch(self._selector, conn.raw, raw_events, conn)
        if conn.inner is not None:
            inner_events = ((selectors.EVENT_READ if not conn.app_done and len(conn.to_client) < HIGH_WATER else 0)
                            | (selectors.EVENT_WRITE if conn.to_app else 0))
            _watch(self._selector, conn.inner, inner_events, conn)

    def _close(self, conn: _Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._connections.discard(conn)
        self._handshake_over(conn)
        with self._lock:
            left = self._held[conn.device] - 1
            if left:
                self._held[conn.device] = left
            else:
                del self._held[conn.device]
        for sock in (conn.raw, conn.inner):
            if sock is None:
                continue
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()


def _recv(sock: socket.socket) -> bytes | None:
    """Bytes, b"" at the end, None when nothing is there now."""
    try:
        return sock.recv(CHUNK)
    except (BlockingIOError, InterruptedError):
        return None


def _send(sock: socket.socket, data: bytearray) -> int:
    try:
        return sock.send(data)
    except (BlockingIOError, InterruptedError):
        return 0


def _watch(selector: selectors.BaseSelector, sock: socket.socket, events: int, conn: _Connection) -> None:
    try:
        registered = selector.get_key(sock).events
    except KeyError:
        registered = 0
    if events == registered:
        return
    if not events:
        selector.unregister(sock)
    elif registered:
        selector.modify(sock, events, conn)
    else:
        selector.register(sock, events, conn)
