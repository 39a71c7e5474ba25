"""``kiosk-provision enrol-qr``: offer a provisioned kiosk its identity, once, through a QR code.

    kiosk-provision enrol-qr KIOSK_ID [--fleet DIR] [--listen HOST:PORT] [--minutes 15] [--png FILE]

The kiosk's files (kiosks/<id>/etc/checkin-kiosk/* and var/lib/checkin-kiosk/kiosk.db) are
packed and sealed with AES-256-GCM under a fresh random key (:mod:`kiosk.enrolment.bundle`). The
sealed bundle is served over plain HTTP from this laptop's LAN address, to the first request for
its path only, and for ``--minutes`` at most; the QR (shown in the terminal, and written to
``--png``) carries the address and the key (:mod:`kiosk.enrolment.payload`), so the network
learns nothing and can alter nothing unnoticed. The kiosk, running ``kiosk enrol``, scans it.

Why not the identity in the QR itself: bench section ``enrol`` measured it (``python -m bench
--only enrol``): the ~1 kB identity needs QR version 22 (ECC L) to 26 (ECC M) and reads in at most
~85 % of 640x480 frames even when the code fills most of the frame, none under the "realistic"
camera distortions; the ~80-character token is version 5 at ECC Q and reads in all of them
from 60 % of the frame height up (zxing-cpp).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import segno

from kiosk.enrolment.bundle import pack, seal
from kiosk.enrolment.payload import KEY_BYTES, EnrolCode
from kiosk.lan import resolve_listen

from . import cards
from .args import fleet_arg
from .fleet import Fleet, FleetError

DEFAULT_LISTEN = "lan:8470"
DEFAULT_MINUTES = 15.0
#: The QR's error correction: Q reads best of M/Q/H at 640x480 in the bench and stays version 5.
QR_ERROR = "q"
#: After the one fetch, the server answers "used" this long (so a second scan says so), then stops.
LINGER_S = 2.0
REQUEST_TIMEOUT_S = 15.0


class OfferError(FleetError):
    """A refused offer (unprovisioned kiosk, unusable address); the CLI prints it and exits 2."""


# -- the offer -------------------------------------------------------------------------------------

@dataclass
class Offer:
    """One kiosk's sealed identity, its key, and whether it was taken."""
    kiosk_id: str
    sealed: bytes = field(repr=False)
    key: bytes = field(repr=False)
    expires_at: float                 # time.monotonic()
    taken_by: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(cls, fleet: Fleet, kiosk_id: str, minutes: float) -> Offer:
        if not 0 < minutes <= 24 * 60:
            raise OfferError("--minutes must be more than 0 and at most 1440")
        key = secrets.token_bytes(KEY_BYTES)
        return cls(kiosk_id, seal(pack(fleet.kiosk_files(kiosk_id)), key), key, time.monotonic() + minutes * 60)

    def take(self, client: str) -> str:
        """"ok" for the first request in time (and only it), else "used" or "expired"."""
        with self._lock:
            if self.taken_by is not None:
                return "used"
            if time.monotonic() >= self.expires_at:
                return "expired"
            self.taken_by = client
            return "ok"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT_S
    server_version = "checkin-kiosk-enrol"
    sys_version = ""

    def do_GET(self):
        offer_server = self.server.offer_server
        if self.path != offer_server.code.path:
            return self._send(404, b"unknown\n", "text/plain")
        verdict = offer_server.offer.take(self.client_address[0])
        if verdict != "ok":
            return self._send(410, verdict.encode() + b"\n", "text/plain")
        try:
            self._send(200, offer_server.offer.sealed, "application/octet-stream")
        finally:
            offer_server.fetched.set()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    offer_server: OfferServer


class OfferServer:
    """Serves one offer on (host, port): the sealed bundle to the first GET of its path.

    On the technician's laptop, at its LAN address (what ``enrol-qr`` does)::

        server = OfferServer(offer, *parse_listen("lan:8470")).start()
        qr_for(server.code).terminal()       # the kiosk scans it
        server.wait()                        # "fetched" or "expired"
        server.stop()

    The same on loopback, with the kiosk's side (``kiosk enrol``) fetching and opening the bundle:

    >>> import tempfile
    >>> from kiosk.enrolment.bundle import unpack, unseal
    >>> from kiosk.enrolment.fetch import fetch
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     fleet = Fleet.init(Path(tmp, "fleet"), broker_host="broker.example")
    ...     _ = fleet.add_venue("cho-phanrang", "Chợ Phan Rang")
    ...     _ = fleet.new_kiosk("ninhthuan-cho-phanrang-01", "cho-phanrang")
    ...     offer = Offer.create(fleet, "ninhthuan-cho-phanrang-01", minutes=15)    # sealed in memory
    >>> server = OfferServer(offer, "127.0.0.1", 0, allow_loopback=True).start()     # port 0: any free one
    >>> server.code.text()           # what the QR says: where, and the key
    'CKE1.127.0.0.1:...'
    >>> sorted(unpack(unseal(fetch(server.code), server.code.key)))
    ['ca.pem', 'kiosk.db', 'kiosk.key', 'kiosk.pem', 'kiosk.toml', 'venue-token.key', 'web.key', 'web.pem']
    >>> server.wait(), offer.taken_by
    ('fetched', '127.0.0.1')
    >>> fetch(server.code)           # a second scan
    Traceback (most recent call last):
    ...
    kiosk.enrolment.fetch.FetchError: enrol_used
    >>> server.stop()

    host: an address of this machine the kiosk can reach: not loopback (unless ``allow_loopback``,
    for tests and single-machine demos), not unspecified (the QR must name one address).
    """

    def __init__(self, offer: Offer, host: str, port: int, *, allow_loopback: bool = False):
        check_address(host, port, allow_loopback=allow_loopback)
        self.offer = offer
        self.fetched = threading.Event()
        try:
            self._httpd = _Server((host, port), _Handler)
        except OSError as exc:
            raise OfferError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._httpd.offer_server = self
        self.host, self.port = host, self._httpd.server_address[1]
        self.code = EnrolCode(host, self.port, offer.key)
        self._thread: threading.Thread | None = None

    def start(self) -> OfferServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="enrol-offer", daemon=True)
        self._thread.start()
        return self

    def wait(self, stop: threading.Event | None = None) -> str:
        """Until the bundle was fetched ("fetched"), the offer expired ("expired") or ``stop`` ("stopped")."""
        while True:
            remaining = self.offer.expires_at - time.monotonic()
            if self.fetched.wait(min(max(remaining, 0), 0.5)):
                return "fetched"
            if stop is not None and stop.is_set():
                return "stopped"
            if remaining <= 0:
                return "expired"

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self._httpd.server_close()


def check_address(host: str, port: int, *, allow_loopback: bool = False) -> None:
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        raise OfferError(f"--listen {host}: an IPv4 address of this laptop (or lan)") from None
    if address.is_unspecified:
        raise OfferError(f"--listen {host}: the QR must name one address the kiosk can reach; "
                         "give this laptop's LAN address (or lan)")
    if address.is_loopback and not allow_loopback:
        raise OfferError(f"--listen {host}: a loopback address is this laptop only; the kiosk cannot reach it. "
                         "Give this laptop's LAN address (or lan)")
    if not 0 <= port <= 65535:
        raise OfferError(f"--listen port {port}: 0-65535 (0: any free port)")


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` with ``lan`` for the address of the default route's interface."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise OfferError(f"--listen {value!r}: HOST:PORT, e.g. lan:8470 or 192.168.1.20:8470")
    resolved = resolve_listen([(host, int(port))])     # the kiosk's own rule for lan (and localhost)
    if not resolved:
        raise OfferError("--listen lan: this laptop has no LAN address (no default route); "
                         "connect it to the kiosk's network or give --listen ADDRESS:PORT")
    return resolved[0]


# -- the QR ----------------------------------------------------------------------------------------

def qr_for(code: EnrolCode) -> segno.QRCode:
    return segno.make_qr(code.text(), error=QR_ERROR, mode="alphanumeric", boost_error=False)


def write_png(qr: segno.QRCode, path: Path) -> None:
    """The QR as a PNG readable by its owner only (it opens the kiosk's keys while the offer lasts)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        qr.save(f, kind="png", scale=10, border=4)


# -- the command -----------------------------------------------------------------------------------

def add_parser(subparsers) -> argparse.ArgumentParser:
    """``enrol-qr`` on kiosk-provision's subparsers."""
    p = subparsers.add_parser("enrol-qr", help="show a one-time QR code a kiosk scans to enrol itself",
                              description=__doc__.split("\n\n")[2].strip())
    p.add_argument("kiosk_id", metavar="KIOSK_ID")
    fleet_arg(p)
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"this laptop's address the kiosk fetches from (default {DEFAULT_LISTEN}: the LAN address)")
    p.add_argument("--minutes", type=float, default=DEFAULT_MINUTES,
                   help=f"how long the offer stays open (default {DEFAULT_MINUTES:g})")
    p.add_argument("--png", type=Path, metavar="FILE", help="also write the QR code to this PNG file (0600)")
    # Tests and one-machine demos only: a kiosk cannot reach another machine's loopback.
    p.add_argument("--allow-loopback", action="store_true", help=argparse.SUPPRESS)
    return p


def run(args, *, stop: threading.Event | None = None, out=None) -> int:
    """0: the kiosk fetched its identity; 1: the offer expired or was interrupted; 2: refused."""
    out = out if out is not None else sys.stdout
    try:
        fleet = Fleet.open(args.fleet)
        host, port = parse_listen(args.listen)
        offer = Offer.create(fleet, args.kiosk_id, args.minutes)
        server = OfferServer(offer, host, port, allow_loopback=getattr(args, "allow_loopback", False))
    except FleetError as exc:
        print(f"kiosk-provision: {exc}", file=sys.stderr)
        return 2
    qr = qr_for(server.code)
    try:
        if args.png:
            write_png(qr, args.png)
    except OSError as exc:
        server.stop()
        print(f"kiosk-provision: cannot write {args.png}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    server.start()
    until = time.strftime("%H:%M", time.localtime(time.time() + args.minutes * 60))
    print(f"Enrolment of kiosk {args.kiosk_id}: show this code to its camera (it runs `kiosk enrol`).", file=out)
    print(f"Đăng ký máy {args.kiosk_id}: đưa mã này trước camera của máy.", file=out)
    qr.terminal(out=out, compact=True, border=2)
    print(f"Serving once on {server.host}:{server.port} until {until} (QR version {qr.version}-{qr.error}); "
          f"Ctrl-C to withdraw." + (f" PNG: {args.png}" if args.png else ""), file=out, flush=True)
    try:
        outcome = server.wait(stop)
    except KeyboardInterrupt:
        outcome = "stopped"
    if outcome == "fetched":
        time.sleep(LINGER_S)        # a second scan meanwhile is told "used"
    server.stop()
    if outcome == "fetched":
        print(f"Kiosk {args.kiosk_id}: identity fetched by {offer.taken_by}; the offer is closed.", file=out)
        warn = cards.given(fleet.kiosk_dir(args.kiosk_id), args.kiosk_id, f"QR enrolment by {offer.taken_by}")
        if warn:
            print(f"kiosk-provision: {warn}", file=sys.stderr)
        return 0
    print(f"Kiosk {args.kiosk_id}: the offer {'expired' if outcome == 'expired' else 'was withdrawn'} unused; "
          "nothing was sent.", file=out)
    return 1
