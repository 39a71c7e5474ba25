"""The print worker: takes queued print jobs (:mod:`kiosk.printing.queue`) to the printer, one at a
time, on a thread of its own, so the door never waits for paper.

A job is rendered only when it is printed, with a freshly signed code: a slip for a visit that
has meanwhile ended, or a card for someone no longer registered, is cancelled rather than
printed. When the printer is offline or out of paper the job stays queued (it is a row: a
restart keeps it), the screen and the staff pages show the printer's state, and printing
resumes by itself when the printer is back.

A slip for a check-in, on the file printer (on a kiosk: a receipt printer, ``[printer] kind``):

>>> import tempfile, time
>>> from hardware.printers import open_printer
>>> from kiosk.door.checkin import CheckinDesk
>>> from kiosk.clock import Clock
>>> from kiosk.credentials import recognise
>>> from kiosk.printing.codes import KioskTokens
>>> from mqtt.wire.slip_codes import VenueKey
>>> tmp = tempfile.TemporaryDirectory()
>>> store, clock = VisitStore.open(Path(tmp.name, "kiosk.db")), Clock("Asia/Ho_Chi_Minh")
>>> tokens = KioskTokens(VenueKey.create(Path(tmp.name, "venue-token.key")), venue_id="cho-phanrang",
...                      store=store, clock=clock)
>>> visit = CheckinDesk(store, clock, kiosk_id="k1", venue_id="cho-phanrang").present(
...     recognise("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1|15072021"))
>>> printer = open_printer("file", width=384, folder=Path(tmp.name, "printer"))
>>> worker = PrintWorker(store.path, printer, tokens, venue_name="Chợ Phan Rang", clock=clock)
>>> worker.start()
>>> queue = PrintQueue(store, on_queued=worker.wake)
>>> queue.enqueue("slip", visit.visit_id)            # the job id
1
>>> for _ in range(200):                             # printed on the worker's thread
...     if not queue.counts().get("queued"):
...         break
...     time.sleep(0.05)
>>> worker.stop(); queue.counts(), sorted(p.suffix for p in printer.folder.iterdir())    # ESC/POS and a preview
({'printed': 1}, ['.bin', '.png'])
>>> store.close(); tmp.cleanup()
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from hardware.printers import Printer, PrinterError

from ..staff.people import People
from ..store import StoreUnavailable, VisitStore
from .layout import render_card, render_slip
from .queue import PrintQueue

log = logging.getLogger(__name__)

#: Waits between attempts while the printer is away: doubling from the first to the last.
RETRY_S = (2.0, 60.0)
#: How often the queue is looked at when nobody wakes the worker (jobs queued by another process).
POLL_S = 5.0


class PrintWorker:
    """printer: a :class:`hardware.printers.Printer`; tokens: issues the codes (``slip(visit_id,
    issued=)``, ``card(person_id, issued=)``); clock: the kiosk's (``now()``, ``tz``)."""

    def __init__(self, db_path: Path, printer: Printer, tokens, *, venue_name: str, clock, language: str = "vi"):
        self.db_path = db_path
        self.printer = printer
        self.tokens = tokens
        self.venue_name = venue_name
        self.clock = clock
        self.language = language
        self._state: str | None = "ok"
        self._requests: list[tuple[str, str]] = []
        self._requests_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="print-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        self.printer.close()

    def wake(self) -> None:
        """A job was queued: look now."""
        self._wake.set()

    def request(self, kind: str, subject: str) -> None:
        """Ask for a job from any thread without a disk write there (the scan thread): the
        worker queues it (durably) on its own thread, then prints it."""
        with self._requests_lock:
            self._requests.append((kind, subject))
        self._wake.set()

    def state(self) -> str:
        """``ok``, or what stops printing now: ``offline``, ``no_paper``, ``error``."""
        return self._state

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        store = None
        delay = RETRY_S[0]
        while not self._stop.is_set():
            try:
                store = store or VisitStore.open(self.db_path)
                self._queue_requests(store)
                if self._print_next(store):
                    delay = RETRY_S[0]
                    continue                          # more may be waiting
                wait = POLL_S
            except PrinterError as exc:
                wait, delay = delay, min(delay * 2, RETRY_S[1])
                if self._state != exc.state:
                    log.warning("printer: %s; the job waits", exc.state)
                self._state = exc.state
            except StoreUnavailable as exc:
                log.error("print queue unavailable: %s", exc)
                wait = RETRY_S[1]
            except Exception as exc:
                log.error("print worker: %s; trying again", type(exc).__name__)
                log.debug("print worker failure", exc_info=True)
                wait = RETRY_S[1]
            self._wake.wait(wait)
            self._wake.clear()
        if store is not None:
            try:
                self._queue_requests(store)       # asked for just before the stop: kept for the next start
            except StoreUnavailable as exc:
                log.error("print requests not queued at stop: %s", exc)
            store.close()

    def _queue_requests(self, store: VisitStore) -> None:
        with self._requests_lock:
            requests, self._requests = self._requests, []
        queue = PrintQueue(store)
        for i, (kind, subject) in enumerate(requests):
            try:
                queue.enqueue(kind, subject)
            except StoreUnavailable:
                with self._requests_lock:            # not lost: tried again next turn
                    self._requests[:0] = requests[i:]
                raise

    def _print_next(self, store: VisitStore) -> bool:
        """Print the oldest queued job; False when there is none. Raises PrinterError (the job stays)."""
        row = store.reader().next_print_job()
        if row is None:
            return False
        job_id, kind, subject = row
        status = self.printer.status()
        if status in ("offline", "no_paper"):
            raise PrinterError(status)
        try:
            image = self._render(store, kind, subject)
            if image is None:
                self._finish(store, job_id, "cancelled", "nothing to print any more")
                return True
            self.printer.print_image(image)
        except PrinterError:
            with store.transaction() as tx:
                tx.print_job_attempted(job_id, "printer unavailable")
            raise
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a job that cannot be made (no font, a bad value) fails alone
            # The error's kind only: its text may carry the job's name or phone.
            log.error("print job %s (%s) failed: %s", job_id, kind, type(exc).__name__)
            self._finish(store, job_id, "failed", type(exc).__name__)
            return True
        self._finish(store, job_id, "printed", None)
        self._state = "paper_low" if status == "paper_low" else "ok"
        return True

    def _finish(self, store: VisitStore, job_id: int, state: str, error: str | None) -> None:
        with store.transaction() as tx:
            tx.finish_print_job(job_id, state, error, done_at=datetime.now(UTC).isoformat(timespec="seconds"))

    def _render(self, store: VisitStore, kind: str, subject: str):
        now = self.clock.now()
        if kind == "slip":
            slip = store.reader().slip_visit(subject)
            if slip is None:
                return None
            return render_slip(venue=self.venue_name,
                               check_in_at=datetime.fromisoformat(slip.check_in_at).astimezone(self.clock.tz),
                               name=slip.person.get("name"), visit_number=str(slip.seq),
                               token=self.tokens.slip(subject, issued=now), width=self.printer.width,
                               language=self.language)
        person = People(store).get(subject)
        if person is None:
            return None
        return render_card(venue=self.venue_name, name=person.name, phone=person.phone,
                           token=self.tokens.card(subject, issued=now), width=self.printer.width,
                           language=self.language)
