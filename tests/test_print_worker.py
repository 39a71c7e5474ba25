"""The print worker on its own (a real store, the file printer): a job that cannot be made fails
alone, with the kind of its error, and the worker goes on with the next."""

from __future__ import annotations

import logging

from codes import cccd_payload
from hardware.printer_file import FilePrinter
from kiosk.credentials import recognise
from kiosk.printing import worker as worker_module
from kiosk.printing.fonts import FontMissing
from kiosk.printing.queue import PrintQueue
from kiosk.printing.worker import PrintWorker
from kiosk.staff.people import People, parse_declaration
from waiting import wait_for


class Tokens:
    def slip(self, visit_id, *, issued):
        return "CK1.S.AAAA.BBBB"

    def card(self, person_id, *, issued):
        return "CK1.C.AAAA.BBBB"


def jobs(store) -> list[tuple]:
    return store.db.execute("SELECT kind, state, last_error FROM print_jobs ORDER BY id").fetchall()


def test_a_job_that_cannot_be_rendered_fails_alone_and_the_worker_goes_on(store, desk, clock, tmp_path,
                                                                        monkeypatch, caplog):
    visit = desk.present(recognise(cccd_payload(1)))
    person, _ = People(store).register(parse_declaration({"name": "Trần Văn Thử", "phone": "0912345678"}),
                                       staff_id=None)

    def no_font(**kwargs):
        raise FontMissing("DejaVu Sans is not installed")
    monkeypatch.setattr(worker_module, "render_slip", no_font)
    queue = PrintQueue(store)
    queue.enqueue("slip", visit.visit_id)
    queue.enqueue("card", person.person_id)
    printer = FilePrinter(tmp_path / "printer", width=576)
    worker = PrintWorker(store.path, printer, Tokens(), venue_name="Chợ Thử", clock=clock)
    caplog.set_level(logging.DEBUG)
    worker.start()
    try:
        wait_for(lambda: [state for _, state, _ in jobs(store)] == ["failed", "printed"], timeout=10)
        assert jobs(store) == [("slip", "failed", "FontMissing"), ("card", "printed", None)]
        assert len(list((tmp_path / "printer").glob("*.bin"))) == 1
        assert worker._thread.is_alive() and worker.state() == "ok"
        queue.enqueue("card", person.person_id)                     # still at work
        worker.wake()
        wait_for(lambda: len(list((tmp_path / "printer").glob("*.bin"))) == 2, timeout=10)
    finally:
        worker.stop()
    assert "Trần" not in caplog.text and "0912345678" not in caplog.text
    assert "FontMissing" in caplog.text
