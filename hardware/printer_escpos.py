"""Printers on a connection python-escpos opens: USB (pyusb), serial (pyserial), TCP (port 9100).

The connection is opened when first needed, never at start-up, and opened again after it broke:
a printer plugged in or switched on later just starts printing. USB and serial keep it open
between jobs; a network printer gets one connection per job (what raw port-9100 printers
expect) and per status query.

Every connection error — device not found, permission denied, serial port missing, TCP refused,
reset or timed out mid-job — is ``PrinterError("offline")``. After a network job the connection is
closed gracefully (our FIN, then the printer's): a printer that drops the connection before it
has read the whole job resets it, which is reported as offline instead of as printed.

Status asks the printer itself with ``DLE EOT`` (python-escpos's ``query_status``, as its
``is_online()``/``paper_status()`` do), but unlike those, an answer that does not come, or is
not a status byte, is None ("cannot tell") rather than "no paper".
"""

from __future__ import annotations

import errno
import logging
import socket
import threading

from .escpos_job import check_image, escpos_package, use_profile, write_job
from .printers import PrinterError

log = logging.getLogger(__name__)

#: pyusb write timeout: the printer takes data as fast as it prints, so a full buffer of a tall
#: slip on a slow printer (2-3 s) must not count as a failure.
USB_WRITE_TIMEOUT_MS = 10_000
#: TCP connect/send timeout, and how long a status answer or the printer's end of a job may take.
NETWORK_TIMEOUT_S = 5.0
NETWORK_ANSWER_S = 1.0
NETWORK_END_OF_JOB_S = 2.0
#: Serial status reads: python-escpos asks pyserial for 16 bytes, so every query waits this long
#: for the one-byte answer (a printer answers DLE EOT within milliseconds, even at 9600 baud).
SERIAL_ANSWER_S = 0.25

# DLE EOT answers are one byte 0xx1xx10; anything else is not an answer.
_STATUS_MASK, _STATUS_BITS = 0b1001_0011, 0b0001_0010


class ConnectionPrinter:
    """What USB, serial and network printers share; subclasses say how to connect."""

    keep_open = True

    def __init__(self, *, width: int, profile: str | None = None):
        self.width = width
        self.profile = profile
        self._conn = None
        self._lock = threading.Lock()

    # -- the interface --------------------------------------------------------------------------

    def print_image(self, image, *, cut: bool = True) -> None:
        check_image(image, self.width)
        with self._lock:
            try:
                conn = self._connection()
                write_job(conn, image, cut=cut)
                self._end_job(conn)
            except Exception as exc:
                self._drop()
                raise self._printer_error(exc) from exc
            if not self.keep_open:
                self._drop()

    def status(self) -> str | None:
        with self._lock:
            try:
                conn = self._connection()
                return self._ask(conn)
            except (PrinterError, OSError) as exc:
                self._drop()
                return self._printer_error(exc).state
            except Exception:
                log.exception("%s: status query failed", self)
                self._drop()
                return None
            finally:
                if not self.keep_open:
                    self._drop()

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- connections ----------------------------------------------------------------------------

    def _open(self):
        """A new python-escpos printer object, its connection open. Raises on failure."""
        raise NotImplementedError

    def _end_job(self, conn) -> None:
        """After the job's last byte: make sure it arrived, where the connection can tell."""

    def _connection(self):
        if self._conn is None:
            esc = escpos_package()
            try:
                conn = self._open()
            except esc.exceptions.DeviceNotFoundError as exc:
                raise PrinterError("offline", f"{self}: {str(exc).strip()}") from None
            use_profile(conn, self.profile, self.width)
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("%s: closing the connection failed", self, exc_info=True)

    def _printer_error(self, exc: BaseException) -> PrinterError:
        if isinstance(exc, PrinterError):
            return exc
        if isinstance(exc, OSError):   # sockets, pyusb's USBError, pyserial's SerialException
            hint = (" (a udev rule must give this user the device, see docs/technician.md)"
                    if exc.errno == errno.EACCES else "")
            return PrinterError("offline", f"{self}: {exc}{hint}")
        log.exception("%s: unexpected failure", self)
        return PrinterError("error", f"{self}: {type(exc).__name__}: {exc}")

    # -- status ---------------------------------------------------------------------------------

    def _ask(self, conn) -> str | None:
        const = escpos_package().constants
        paper = self._query(conn, const.RT_STATUS_PAPER)
        if paper is None:
            return None
        if paper & const.RT_MASK_NOPAPER == const.RT_MASK_NOPAPER:
            return "no_paper"
        online = self._query(conn, const.RT_STATUS_ONLINE)
        if online is not None and online & const.RT_MASK_ONLINE:
            return "offline"          # cover open, or feeding by its button
        if paper & const.RT_MASK_LOWPAPER == const.RT_MASK_LOWPAPER:
            return "paper_low"
        return "ok"

    def _query(self, conn, request: bytes) -> int | None:
        """The printer's status byte for ``request``, or None when none came back in time."""
        try:
            answer = bytes(conn.query_status(request))
        except OSError as exc:
            if isinstance(exc, TimeoutError) or exc.errno == errno.ETIMEDOUT:
                return None
            raise
        # The latest byte that is an answer: the connection may still hold a late one.
        valid = [b for b in answer if b & _STATUS_MASK == _STATUS_BITS]
        return valid[-1] if valid else None


class UsbPrinter(ConnectionPrinter):
    def __init__(self, *, vendor: int | None, product: int | None, width: int, profile: str | None = None):
        super().__init__(width=width, profile=profile)
        self.vendor, self.product = vendor, product

    def __str__(self) -> str:
        if self.vendor is None:
            return "USB printer (first printer-class device)"
        return f"USB printer {self.vendor:04x}:{self.product:04x}"

    def _open(self):
        import usb.core
        import usb.util

        esc = escpos_package()
        if self.vendor is None:
            args = {"usb_args": {"custom_match": _is_printer}}
        else:
            args = {"idVendor": self.vendor, "idProduct": self.product}
        conn = esc.printer.Usb(timeout=USB_WRITE_TIMEOUT_MS, **args)
        try:
            conn.open()
        except usb.core.NoBackendError:
            raise PrinterError("offline", f"{self}: libusb-1.0 is not installed (apt install libusb-1.0-0)") \
                from None
        if conn.device is None:
            raise PrinterError("offline", f"{self}: not found (plugged in? switched on?)")
        _use_bulk_endpoints(conn, usb.util)
        return conn

    def _ask(self, conn) -> str | None:
        return super()._ask(conn) if conn.in_ep is not None else None    # write-only printer


def _is_printer(device) -> bool:
    """A USB device with a printer-class (7) interface."""
    import usb.util
    if device.bDeviceClass == 7:
        return True
    return any(usb.util.find_descriptor(config, bInterfaceClass=7) is not None for config in device)


def _use_bulk_endpoints(conn, util) -> None:
    """Use the device's own bulk endpoints: python-escpos assumes OUT 0x01 / IN 0x82, which many
    cheap printers do not have (POS-58 models use OUT 0x03 / IN 0x81). No IN endpoint: in_ep is
    None, the printer cannot answer status queries."""
    config = conn.device.get_active_configuration()
    interface = util.find_descriptor(config, bInterfaceClass=7)
    if interface is None:
        interface = config[(0, 0)]

    def bulk(direction):
        return util.find_descriptor(interface, custom_match=lambda e: (
            util.endpoint_direction(e.bEndpointAddress) == direction
            and util.endpoint_type(e.bmAttributes) == util.ENDPOINT_TYPE_BULK))

    out, inp = bulk(util.ENDPOINT_OUT), bulk(util.ENDPOINT_IN)
    if out is not None:
        conn.out_ep = out.bEndpointAddress
    conn.in_ep = inp.bEndpointAddress if inp is not None else None


class SerialPrinter(ConnectionPrinter):
    def __init__(self, *, device: str, baud: int, width: int, profile: str | None = None):
        super().__init__(width=width, profile=profile)
        self.device, self.baud = device, baud

    def __str__(self) -> str:
        return f"serial printer {self.device} ({self.baud} baud)"

    def _open(self):
        conn = escpos_package().printer.Serial(devfile=self.device, baudrate=self.baud, timeout=SERIAL_ANSWER_S)
        conn.open()
        return conn

    def _end_job(self, conn) -> None:
        """Wait until the job has left the port (at 115200 baud ~2 s for a slip): a job is done
        when it is on the wire, and an adapter pulled out mid-job is an error, not a print."""
        conn.device.flush()


class NetworkPrinter(ConnectionPrinter):
    keep_open = False

    def __init__(self, *, host: str, port: int, width: int, profile: str | None = None):
        super().__init__(width=width, profile=profile)
        self.host, self.port = host, port

    def __str__(self) -> str:
        return f"network printer {self.host}:{self.port}"

    def _open(self):
        conn = escpos_package().printer.Network(host=self.host, port=self.port, timeout=NETWORK_TIMEOUT_S)
        conn.open()
        return conn

    def _query(self, conn, request: bytes) -> int | None:
        conn.device.settimeout(NETWORK_ANSWER_S)
        try:
            return super()._query(conn, request)
        finally:
            conn.device.settimeout(NETWORK_TIMEOUT_S)

    def _end_job(self, conn) -> None:
        """Half-close, then wait for the printer to close its side: a printer that hung up before
        reading everything answers with a reset (ConnectionResetError). One that keeps the
        connection open past the wait has everything we sent."""
        sock = conn.device
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(NETWORK_END_OF_JOB_S)
        try:
            while sock.recv(4096):     # status bytes some printers send unasked
                pass
        except TimeoutError:
            pass
