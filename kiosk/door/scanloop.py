"""The path of one scan, top to bottom.

frame -> decoder -> symbols -> credential (or refusal) -> cooldown -> rules + one transaction
-> feedback (lights, beep, relay) and screen. The loop never waits on the printer or the
network: the uplink reads the outbox the transaction wrote, on its own.

Where the venue requires a health declaration and the visitor has none today, the rules answer
``declare``: the screen asks the questions (:mod:`.declaring`), and the answers come back to the
loop's next step, which presents the credential again with the declaration made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from hardware.decoders import Decoder
from hardware.feedback import FeedbackDevices
from hardware.frames import CameraError, FrameSource
from hardware.symbols import Symbol

from ..clock import iso
from ..credentials import CAMERA_METHODS, Refused, recognise
from ..state import LoopState
from ..store import RecordedEvent, StoreUnavailable
from .autocheckout import AutoCheckout
from .checkin import CheckinDesk
from .cooldown import Cooldown
from .declaring import PendingDeclaration
from .outcome import Outcome

log = logging.getLogger(__name__)

AUTO_CHECKOUT_EVERY_S = 60.0
PURGE_EVERY_S = 3600.0
PROBE_EVERY_S = 2.0
CAMERA_RETRY_S = (1, 2, 5, 10, 30)


class OutcomeListener(Protocol):
    """What learns of each outcome at the door, after the lights and the beep: the screens (web,
    terminal) and the slip policy. ``status`` is the kiosk's error code, or None when it is well."""

    def show(self, outcome: Outcome) -> None: ...

    def status(self, code: str | None) -> None: ...


class ScanLoop:
    """Runs the kiosk: reads frames until stopped.

    camera, decoder: from :mod:`hardware`; desk: the rules and the store; signals: lights and
    beeps; listeners: told every outcome and every change of the error state, in order (the
    screens, then the slip policy); open_camera: makes a new camera after a :class:`CameraError`
    (None: never reopen); verifier: checks the kiosk's own slip/card codes (None while the kiosk
    has no key); purge: the retention purge, run hourly (returns counts); state: where the loop
    keeps its figures and errors (:class:`~kiosk.state.LoopState`, read by the status marks and
    the health report); heartbeat: called from the loop's own thread after every step that went
    through (the systemd watchdog: a hung loop, not just a live process, gets the kiosk
    restarted); declaring: the visitor the screen is asking the health declaration's questions
    (None: no declarations at this door).
    """

    def __init__(self, *, camera: FrameSource | None, decoder: Decoder, desk: CheckinDesk, signals: FeedbackDevices,
                 listeners: Sequence[OutcomeListener], cooldown: Cooldown, autocheckout: AutoCheckout | None = None,
                 open_camera=None, verifier=None, purge=None, state: LoopState | None = None,
                 heartbeat: Callable[[], None] | None = None, declaring: PendingDeclaration | None = None):
        self.camera = camera
        self.decoder = decoder
        self.desk = desk
        self.signals = signals
        self.listeners = tuple(listeners)
        self.cooldown = cooldown
        self.autocheckout = autocheckout
        self.open_camera = open_camera
        self.verifier = verifier
        self.purge = purge
        self.state = state if state is not None else LoopState()
        self.heartbeat = heartbeat
        self.declaring = declaring
        self._next_purge = 0.0
        self._next_autocheckout = 0.0
        self._next_probe = 0.0
        #: Whether a probe has proved that check-ins can be recorded (the first housekeeping
        #: probes: a kiosk started on a full disk says so before anyone shows a code).
        self._store_proven = False
        #: Cooldown keys of presentations that could not be recorded: forgotten once the store
        #: works again, so the visitor's next showing counts.
        self._unrecorded: set = set()
        self._cooldown_seeded = False
        self._camera_retry = 0
        self._next_camera_try = 0.0

    # -- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.housekeeping()         # first: the store is probed before the first frame
                self.step()
                if self.heartbeat is not None:
                    self.heartbeat()
            except Exception:
                # The traceback has no locals, so no personal data; pace retries of a persistent bug.
                log.exception("scan step failed; carrying on")
                time.sleep(0.5)

    def step(self) -> list[Outcome]:
        """Act on a health declaration the screen has just sent, then read one frame and act on
        every code in it."""
        declared = [self._declared(*answered) for answered in self.declaring.take()] if self.declaring else []
        symbols = self._read_codes()
        return declared + [outcome for symbol in symbols if (outcome := self.handle(symbol)) is not None]

    def _read_codes(self) -> list[Symbol]:
        if self.camera is None:
            self._reopen_camera()
            return []
        try:
            return self.camera.process(self._decode)
        except CameraError as exc:
            self._camera_failed(exc)
            return []

    def _decode(self, frame) -> list[Symbol]:
        started = time.perf_counter()
        symbols = self.decoder.decode(frame)
        self.state.frames += 1
        self.state.decode_s += time.perf_counter() - started
        return symbols

    # -- one code ---------------------------------------------------------------------------

    def handle(self, symbol: Symbol) -> Outcome | None:
        """What one decoded code comes to; None when it is the same presentation as before."""
        # 1. The same code held up again within the cooldown is the same presentation. Checked on
        #    the raw bytes first, so a code held in view is not parsed again on every frame.
        if not self.cooldown.fresh(symbol.data):
            return None
        # 2. Recognise: is it a credential at all?
        try:
            credential = recognise(symbol.data, verifier=self.verifier)
        except Refused as refusal:
            return self._tell(Outcome("refused", reason=refusal.code), count_refusal=True)
        # The same person by another code of theirs (e.g. masked and full national QR) too, and
        # after a restart, the person of an event recorded within the cooldown (still in view).
        self._seed_cooldown()
        if not self.cooldown.fresh(credential.key):
            return None
        # 3. Rules and one transaction (visit change + event + outbox row), then 4. tell the visitor.
        return self._present(credential, credential.camera_method, (symbol.data, credential.key))

    def _declared(self, credential, method: str, answers: dict[str, bool]) -> Outcome:
        """The visitor answered the screen's questions: present them again with the declaration."""
        declaration = self.desk.health.declaration(answers, via="screen", at=self.desk.clock.now())
        return self._present(credential, method, (credential.key,), declaration=declaration)

    def _present(self, credential, method: str, keys: tuple, declaration: dict | None = None) -> Outcome:
        """The rules and one transaction for ``credential``, and the visitor told, only once it is
        on disk (``keys``: its cooldown keys, forgotten once the store works again if it could not
        be recorded)."""
        try:
            outcome = self.desk.present(credential, method=method, declaration=declaration)
        except StoreUnavailable as exc:
            # One presentation, one "not recorded": the code stays in the cooldown while it is in
            # view (every frame of it renews it); once the store works again, the next showing counts.
            self._unrecorded = {key for key in self._unrecorded if key in self.cooldown}
            self._unrecorded.update(keys)
            self._store_failed(exc)
            return self._tell(Outcome("error", credential, reason=exc.reason))
        if self.state.store_error:
            # This one fitted (perhaps into room a failed write left behind); only the probe says
            # recording works again, and it is asked at once.
            self._next_probe = 0.0
        if outcome.kind == "declare":
            if self.declaring is None:       # a desk that requires declarations, a door that cannot ask
                outcome = replace(outcome, kind="refused", reason="declaration_needed")
            else:
                outcome = replace(outcome, pending=self.declaring.open(credential, method))
        return self._tell(outcome, count_refusal=outcome.kind == "refused")

    def _seed_cooldown(self) -> None:
        """Once, from the store: the people of the events recorded within the cooldown before this
        process started are still in their presentation (a kiosk restarted with a code in view
        must not check that visitor straight back out). Tried again at the next code while the
        store cannot be read."""
        if self._cooldown_seeded:
            return
        try:
            stamp = self.desk.clock.stamp()
            for event in self.desk.store.latest_events():
                age = _age_s(event, stamp)
                if age is None or not 0 <= age < self.cooldown.seconds:
                    break
                if event.method in CAMERA_METHODS:
                    self.cooldown.seed(event.person_key, age)
        except StoreUnavailable:
            return
        self._cooldown_seeded = True

    def _tell(self, outcome: Outcome, count_refusal: bool = False) -> Outcome:
        self.signals.show(outcome.kind)
        for listener in self.listeners:
            listener.show(outcome)
        self.state.count(outcome.kind)
        if count_refusal:
            try:
                self.desk.store.count_refusal(iso(self.desk.clock.now()), outcome.reason)
            except StoreUnavailable as exc:
                self._store_failed(exc)
        return outcome

    # -- keeping the kiosk healthy ----------------------------------------------------------

    def housekeeping(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if (self.state.store_error or not self._store_proven) and now >= self._next_probe:
            self._next_probe = now + PROBE_EVERY_S
            try:
                self.desk.store.probe()
            except StoreUnavailable as exc:
                self._store_failed(exc)
            else:
                self._store_proven = True
                self._store_ok()
        if self.autocheckout and not self.state.store_error and now >= self._next_autocheckout:
            self._next_autocheckout = now + AUTO_CHECKOUT_EVERY_S
            try:
                closed = self.autocheckout.run()
            except StoreUnavailable as exc:
                self._store_failed(exc)
            else:
                if closed:
                    log.info("auto check-out closed %d visit(s)", closed)
        if self.purge and not self.state.store_error and now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY_S
            try:
                purged = self.purge()
            except StoreUnavailable as exc:
                self._store_failed(exc)
            else:
                if purged and any(purged.values()):
                    log.info("retention purge: %s", purged)

    def _store_failed(self, exc: StoreUnavailable) -> None:
        if self.state.store_error != exc.reason:
            log.error("store unavailable (%s): check-ins are not being recorded", exc.reason)
        self.state.store_error = exc.reason
        self.signals.set_error(True)
        self._status(exc.reason)

    def _store_ok(self) -> None:
        if self.state.store_error:
            log.warning("store available again: recording resumed")
            self.state.store_error = None
            for key in self._unrecorded:
                self.cooldown.forget(key)
            self._unrecorded.clear()
            self._update_error_state()

    def _camera_failed(self, exc: CameraError) -> None:
        log.error("camera failed: %s", exc)
        self.state.camera_error = str(exc)
        if self.camera is not None:
            try:
                self.camera.close()
            except Exception:
                log.debug("camera close failed", exc_info=True)
        self.camera = None
        self._next_camera_try = time.monotonic() + CAMERA_RETRY_S[0]
        self._camera_retry = 0
        self.signals.set_error(True)
        self._status("camera_error")

    def _reopen_camera(self) -> None:
        if self.open_camera is None or time.monotonic() < self._next_camera_try:
            time.sleep(0.05)
            return
        try:
            self.camera = self.open_camera()
        except CameraError as exc:
            self._camera_retry = min(self._camera_retry + 1, len(CAMERA_RETRY_S) - 1)
            self._next_camera_try = time.monotonic() + CAMERA_RETRY_S[self._camera_retry]
            log.error("camera still unavailable: %s", exc)
            return
        log.warning("camera available again")
        self.state.camera_error = None
        self._update_error_state()

    def _update_error_state(self) -> None:
        failing = self.state.error
        self.signals.set_error(bool(failing))
        self._status(failing)

    def _status(self, code: str | None) -> None:
        for listener in self.listeners:
            listener.status(code)


def _age_s(event: RecordedEvent, stamp) -> float | None:
    """Seconds from ``event`` to ``stamp``: by the uptime within one boot (wall time may have been
    set meanwhile), by wall time across boots; None when the event's time cannot be read."""
    try:
        if event.boot_id == stamp.boot_id and event.uptime_s is not None:
            return stamp.uptime_s - float(event.uptime_s)
        return (stamp.at - datetime.fromisoformat(event.at)).total_seconds()
    except (TypeError, ValueError):
        return None
