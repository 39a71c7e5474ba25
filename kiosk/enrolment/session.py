"""The enrolling kiosk's loop: camera → decoder → enrolment code → fetch → open → check → install.

On a kiosk the camera is the Pi's and the targets ``Targets.under(Path("/"))``; here the
image-folder camera is shown a code that is not an enrolment code, in a temporary folder:

>>> import segno, sys, tempfile
>>> from pathlib import Path
>>> from hardware.decoders import open_decoder
>>> from hardware.frames import open_source
>>> with tempfile.TemporaryDirectory() as tmp:
...     camera = open_source(f"dir:{tmp}/camera")
...     segno.make("https://example.invalid/").save(f"{tmp}/camera/url.png", scale=4)
...     enrolment = Enrolment(camera, open_decoder(), EnrolScreen(out=sys.stdout), Targets.under(Path(tmp, "root")),
...                           open_camera=lambda: open_source(f"dir:{tmp}/camera"))
...     enrolment.run(timeout_s=2)            # the kiosk id once enrolled; None on stop or timeout
...     enrolment.close()
Quét mã đăng ký / Scan the enrolment code
Đây không phải mã đăng ký máy. Hãy đưa mã do kỹ thuật viên tạo. /
    This is not an enrolment code. Show the code from the technician's laptop.

A real code, offered by ``kiosk-provision enrol-qr``, is fetched, opened and installed the same
way (see :class:`provisioning.enrol.OfferServer` for an offer fetched and opened on loopback).

Any other code shown is refused with a message and the loop goes on; so does a code whose offer
cannot be fetched or opened (that code is then ignored for ``retry_after_s``, so a code still in
front of the camera is not fetched at every frame). Only an identity already installed ends the
loop unsuccessfully (:class:`AlreadyEnrolled`): nothing is ever overwritten.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hardware.frames import CameraError, FrameSource

from .bundle import BundleError, unpack, unseal
from .fetch import ATTEMPTS, TIMEOUT_S, FetchError, fetch
from .identity import check_identity
from .install import InstallError, Owners, Targets, install
from .payload import PayloadError, looks_like_enrolment, parse
from .screen import EnrolScreen

log = logging.getLogger(__name__)

#: A refusal stays on the screen this long before the prompt comes back.
MESSAGE_S = 6.0
#: A code that failed is tried again after this long if it is still (or again) shown.
RETRY_AFTER_S = 5.0
CAMERA_RETRY_S = 1.0


class AlreadyEnrolled(Exception):
    """This kiosk has an identity; enrolment refuses to replace it."""


class Enrolment:
    def __init__(self, camera: FrameSource | None, decoder, screen: EnrolScreen, targets: Targets, *,
                 open_camera: Callable[[], FrameSource], owners: Owners | None = None,
                 fetch_timeout: float = TIMEOUT_S, fetch_attempts: int = ATTEMPTS,
                 retry_after_s: float = RETRY_AFTER_S, clock: Callable[[], float] = time.monotonic):
        self.camera, self.decoder, self.screen, self.targets = camera, decoder, screen, targets
        self.open_camera, self.owners = open_camera, owners
        self.fetch_timeout, self.fetch_attempts = fetch_timeout, fetch_attempts
        self.retry_after_s, self.clock = retry_after_s, clock
        self._failed: dict[str, float] = {}
        self._message_at: float | None = None

    def run(self, stop: threading.Event | None = None, timeout_s: float | None = None) -> str | None:
        """Scan until enrolled (the kiosk id), stopped or timed out (None). Raises :class:`AlreadyEnrolled`."""
        stop = stop or threading.Event()
        if self.targets.existing():
            raise AlreadyEnrolled()
        deadline = None if timeout_s is None else self.clock() + timeout_s
        self.screen.show("enrol_scan")
        while not stop.is_set():
            if deadline is not None and self.clock() >= deadline:
                return None
            kiosk_id = self.step(stop)
            if kiosk_id:
                return kiosk_id
        return None

    def step(self, stop: threading.Event | None = None) -> str | None:
        """One frame: the kiosk id if it enrolled this kiosk."""
        frame = self._read(stop)
        if frame is None:
            return None
        if self._message_at is not None and self.clock() - self._message_at >= MESSAGE_S:
            self._message_at = None
            self.screen.show("enrol_scan")
        for symbol in self.decoder.decode(frame):
            kiosk_id = self.handle(symbol.data)
            if kiosk_id:
                return kiosk_id
        return None

    def handle(self, data: bytes) -> str | None:
        """One decoded code. Never raises for what a code holds or what the network answers."""
        if not looks_like_enrolment(data):
            return self._refuse("enrol_not_enrolment_code")
        try:
            code = parse(data)
        except PayloadError as exc:
            log.info("enrolment: a damaged enrolment code (%s)", exc.reason)
            return self._refuse("enrol_code_damaged")
        tag = code.path                   # identifies the code without keeping its key around
        failed_at = self._failed.get(tag)
        if failed_at is not None and self.clock() - failed_at < self.retry_after_s:
            return None
        self._failed.pop(tag, None)
        try:
            self.screen.show("enrol_fetching")
            blob = fetch(code, timeout=self.fetch_timeout, attempts=self.fetch_attempts)
            files = unpack(unseal(blob, code.key))
            kiosk_id = check_identity(files)
            self.screen.show("enrol_installing", kiosk=kiosk_id)
            install(files, self.targets, self.owners)
        except (FetchError, BundleError) as exc:
            log.warning("enrolment: refused (%s)", exc)
            self._failed[tag] = self.clock()
            return self._refuse(exc.code)
        except InstallError as exc:
            log.error("enrolment: not installed (%s)", exc)
            if exc.code == "enrol_already_enrolled":
                self.screen.show(exc.code)
                raise AlreadyEnrolled() from None
            self._failed[tag] = self.clock()
            return self._refuse(exc.code)
        log.info("enrolment: kiosk %s enrolled (%s, %s)", kiosk_id, self.targets.etc, self.targets.data)
        self.screen.show("enrol_done", kiosk=kiosk_id)
        return kiosk_id

    def _refuse(self, code: str) -> None:
        self.screen.show(code)
        self._message_at = self.clock()

    def _read(self, stop: threading.Event | None):
        try:
            if self.camera is None:
                self.camera = self.open_camera()
            return self.camera.read()
        except CameraError as exc:
            log.error("enrolment: camera unavailable: %s (retrying)", exc)
            self.screen.show("enrol_camera_error")
            if self.camera is not None:
                self.camera.close()
                self.camera = None
            if stop is not None:
                stop.wait(CAMERA_RETRY_S)
            else:
                time.sleep(CAMERA_RETRY_S)
            return None

    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()
        self.decoder.close()
