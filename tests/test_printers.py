"""Printers: the file printer's jobs, the bytes python-escpos sends, a network printer on a real
loopback TCP server (printing, hanging up mid-job, answering status queries), absent USB and
serial devices, and names that never reach the printer as anything but pixels."""

from __future__ import annotations

import os
import select
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from escpos.printer import Dummy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw

from hardware.escpos_job import job_bytes
from hardware.escpos_raster import raster_blocks, raster_images
from hardware.printers import BACKENDS, PrinterError, open_printer
from kiosk.config import PRINTER_KINDS, ConfigError, parse_config, printer_target
from kiosk.printing import check_profile
from kiosk.printing.layout import render_card, render_slip
from mqtt.loopback.mosquitto import free_port
from printer_support import TcpPrinter
from waiting import wait_for

SLIP_TOKEN = "CK1.S.AAQCAMBAEAHAQB4YNBA2GZZQFRGGXYOQBF4G2VPNSCO3XZ6U.7AAKFBL4GXBHFNWQ"
CARD_TOKEN = "CK1.C.AAQCAMBAEAHAQB4YNBA2GZZQFRGG.7AAKFBL4GXBHFNWQ"
AT = datetime(2026, 11, 21, 8, 31, tzinfo=timezone(timedelta(hours=7)))


def slip(width: int = 384, name: str | None = "Nguyễn Thị Mẫu") -> Image.Image:
    return render_slip(venue="Chợ Phan Rang", check_in_at=AT, name=name, visit_number="4812", token=SLIP_TOKEN,
                       width=width)


def escpos_itself(image: Image.Image) -> bytes:
    """What python-escpos sends for the job when driven directly, without our code."""
    dummy = Dummy()
    dummy.hw("INIT")
    dummy.image(image, impl="bitImageRaster")
    dummy.cut()
    return dummy.output


def open_configured(kind: str, path: str = "", **options):
    """The printer as the kiosk opens it: ``[printer] path`` read by the config, the backend's
    arguments given to hardware's factory."""
    return open_printer(kind, **printer_target(kind, path), **options)


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


# -- the file printer --------------------------------------------------------------------------

def test_the_file_printer_writes_one_bin_and_one_png_per_job_with_time_sorted_names(tmp_path):
    printer = open_configured("file", str(tmp_path / "jobs"), width=384)
    images = [slip(name=name) for name in ("Nguyễn Thị Mẫu", "Trần Văn Thử", None)]
    for image in images:
        printer.print_image(image)
    folder = tmp_path / "jobs"
    bins, pngs = sorted(folder.glob("*.bin")), sorted(folder.glob("*.png"))
    assert len(bins) == len(pngs) == 3 and [b.stem for b in bins] == [p.stem for p in pngs]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in bins + pngs)   # no temporaries
    assert [b.stem for b in bins] == sorted(b.stem for b in bins)
    stamps = [datetime.strptime(b.stem.split("Z")[0], "%Y%m%dT%H%M%S.%f") for b in bins]
    assert stamps == sorted(stamps) and abs(stamps[0] - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=1)
    for image, bin_file, png in zip(images, bins, pngs, strict=True):
        data = bin_file.read_bytes()
        assert data == escpos_itself(image)                    # exactly python-escpos's own bytes
        [printed] = raster_images(data)
        assert same_pixels(printed, image)                    # the pixels we rendered, dot for dot
        assert same_pixels(Image.open(png), image)
    printer.close()


def test_a_reader_never_sees_half_a_job(tmp_path):
    folder = tmp_path / "jobs"
    printer = open_configured("file", str(folder), width=576)
    image = slip(576)
    expected = escpos_itself(image)
    seen, done = {}, threading.Event()

    def watch():
        while not done.is_set():
            for path in folder.glob("*.bin") if folder.exists() else ():
                seen.setdefault(path.name, path.read_bytes())
                assert path.with_suffix(".png").exists()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(25):
            printer.print_image(image)
    finally:
        done.set()
        watcher.join()
    assert len(list(folder.glob("*.bin"))) == 25
    assert seen and all(data == expected for data in seen.values())


def test_a_tall_image_sent_in_fragments_comes_back_whole(tmp_path):
    image = Image.new("1", (384, 2500), 1)
    ImageDraw.Draw(image).ellipse((10, 10, 370, 2490), outline=0, width=6)
    data = job_bytes(image, width=384)
    assert [b.height for b in raster_blocks(data)] == [960, 960, 580]   # python-escpos's fragments
    [back] = raster_images(data)
    assert same_pixels(back, image)


def test_file_printer_status_follows_its_folder(tmp_path):
    assert open_configured("file", str(tmp_path / "made" / "on" / "demand"), width=384).status() == "ok"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    printer = open_configured("file", str(blocker / "jobs"), width=384)
    assert printer.status() == "offline"
    with pytest.raises(PrinterError) as err:
        printer.print_image(slip())
    assert err.value.state == "offline" and str(blocker) in str(err.value)


def test_an_image_of_the_wrong_size_or_mode_is_an_error_not_a_print(tmp_path):
    printer = open_configured("file", str(tmp_path), width=576)
    for image in (slip(384), slip(576).convert("L")):
        with pytest.raises(PrinterError) as err:
            printer.print_image(image)
        assert err.value.state == "error"
    assert list(tmp_path.iterdir()) == []


# -- a network printer on a real TCP server ----------------------------------------------------

def test_a_network_printer_receives_exactly_what_python_escpos_sends():
    server = TcpPrinter()
    printer = open_configured("network", f"127.0.0.1:{server.port}", width=576)
    try:
        image = slip(576)
        printer.print_image(image)
        printer.print_image(image, cut=False)
        wait_for(lambda: len(server.connections) >= 2, 5, "a connection for each job", 0.01)
    finally:
        printer.close()
        server.close()
    cut, uncut = server.connections                             # one connection per job
    assert cut == escpos_itself(image) == job_bytes(image, width=576)
    assert uncut == job_bytes(image, width=576, cut=False) and not uncut.endswith(b"\x1dV\x00")
    assert same_pixels(raster_images(cut)[0], image)


def test_nothing_listening_is_offline():
    printer = open_configured("network", f"127.0.0.1:{free_port()}", width=384)
    with pytest.raises(PrinterError) as err:
        printer.print_image(slip())
    assert err.value.state == "offline"
    assert printer.status() == "offline"


def test_a_printer_that_hangs_up_mid_job_is_offline_and_the_next_job_reconnects():
    server = TcpPrinter(hang_up_after=100)
    printer = open_configured("network", f"127.0.0.1:{server.port}", width=384)
    try:
        with pytest.raises(PrinterError) as err:
            printer.print_image(slip())
        assert err.value.state == "offline"
        server.hang_up_after = None                           # the printer is fine again
        printer.print_image(slip())
    finally:
        server.close()
    assert len(server.connections[0]) == 100 and server.connections[1] == escpos_itself(slip())


@pytest.mark.parametrize("paper, online, state", [
    (b"\x12", b"\x16", "ok"),
    (b"\x1e", b"\x16", "paper_low"),              # near-end sensor
    (b"\x72", b"\x1e", "no_paper"),               # paper end
    (b"\x12", b"\x1e", "offline"),                # the printer says it is offline (cover open)
    (b"\x00", b"\x16", None),                     # not a status byte: cannot tell
])
def test_network_status_is_what_the_printer_answers(paper, online, state):
    server = TcpPrinter(answers={b"\x10\x04\x04": paper, b"\x10\x04\x01": online})
    try:
        assert open_configured("network", f"127.0.0.1:{server.port}", width=384).status() == state
    finally:
        server.close()


def test_a_printer_that_does_not_answer_status_is_cannot_tell_not_no_paper():
    server = TcpPrinter()
    try:
        assert open_configured("network", f"127.0.0.1:{server.port}", width=384).status() is None
    finally:
        server.close()


# -- absent devices ----------------------------------------------------------------------------

def test_usb_without_the_device_is_offline_not_a_crash():
    for path in ("ffff:fff0", ""):                            # a given device; the first printer
        printer = open_configured("usb", path, width=576)
        assert printer.status() == "offline"
        with pytest.raises(PrinterError) as err:
            printer.print_image(slip(576))
        assert err.value.state == "offline"
        printer.close()


class PtyPrinter:
    """A serial printer at the far end of a pseudo-terminal (a real tty for pyserial to open)."""

    def __init__(self, answers: dict[bytes, bytes] | None = None):
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.received = bytearray()
        self.answers = answers or {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                self.received += os.read(self.master, 65536)
            except OSError:                   # the kiosk closed its end
                continue
            for query, answer in self.answers.items():
                if self.received.endswith(query):
                    os.write(self.master, answer)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        os.close(self.master)
        os.close(self.slave)


def test_a_serial_printer_gets_the_job_and_answers_status_over_a_real_tty():
    tty = PtyPrinter(answers={b"\x10\x04\x04": b"\x1e", b"\x10\x04\x01": b"\x16"})
    printer = open_configured("serial", f"{tty.path}:115200", width=384)
    try:
        assert printer.status() == "paper_low"
        image = slip()
        printer.print_image(image)                # returns once the job has left the port
        wait_for(lambda: tty.received.endswith(b"\x1dV\x00"), 5, "the job's cut on the serial line", 0.01)
    finally:
        printer.close()
        tty.close()
    assert bytes(tty.received) == b"\x10\x04\x04\x10\x04\x01" + escpos_itself(image)


def test_serial_on_a_missing_device_is_offline(tmp_path):
    printer = open_configured("serial", "/dev/ttyKIOSKMISSING0:115200", width=384)
    assert printer.status() == "offline"
    with pytest.raises(PrinterError) as err:
        printer.print_image(slip())
    assert err.value.state == "offline" and "/dev/ttyKIOSKMISSING0" in str(err.value)


def test_paths_are_read_per_kind_and_none_is_no_printer():
    assert open_configured("none") is None
    assert printer_target("usb", "04B8:0e15") == {"vendor": 0x04B8, "product": 0x0E15}
    assert printer_target("serial", "/dev/ttyUSB0") == {"device": "/dev/ttyUSB0", "baud": 9600}
    assert printer_target("network", "printer.lan") == {"host": "printer.lan", "port": 9100}
    for kind, path in (("usb", "04b8-0e15"), ("serial", "COM3"), ("serial", "/dev/ttyS0:1234"),
                       ("network", "10.0.0.5:99999"), ("file", ""), ("laser", "")):
        with pytest.raises(ValueError):
            open_configured(kind, path)
    with pytest.raises(ValueError, match="at most 512 dots"):
        open_configured("usb", "", width=576, profile="TM-T88V")


#: A path of each kind the config allows (none: no path).
EXAMPLE_PATHS = {"usb": "04b8:0e15", "serial": "/dev/ttyUSB0:115200", "network": "10.0.0.5", "file": "jobs",
                 "none": ""}


def test_the_factory_opens_exactly_the_kinds_the_config_allows(tmp_path):
    assert set(EXAMPLE_PATHS) == set(PRINTER_KINDS)
    assert set(BACKENDS) | {"none"} == set(PRINTER_KINDS)
    for kind in PRINTER_KINDS:
        path = str(tmp_path / EXAMPLE_PATHS[kind]) if kind == "file" else EXAMPLE_PATHS[kind]
        printer = parse_config(f'[printer]\nkind = "{kind}"\npath = "{path}"\nwidth = 384\n').printer
        opened = open_printer(printer.kind, width=printer.width, profile=printer.profile, **printer.target)
        assert (opened is None) == (kind == "none")
        if opened is not None:
            assert opened.width == 384
            opened.close()                  # nothing was connected: connections open at the first job
    with pytest.raises(ValueError, match="printer kind must be one of"):
        open_printer("laser", folder=str(tmp_path))


def test_a_profile_python_escpos_does_not_know_or_too_narrow_is_a_config_error():
    """The schema takes any profile name; the kiosk refuses its config (``kiosk`` commands, an
    enrolment's identity) when python-escpos's printer database says no."""
    check_profile(parse_config('[printer]\nkind = "usb"\nprofile = "TM-T88V"\nwidth = 384\n'))
    check_profile(parse_config('[printer]\nkind = "usb"\n'))
    with pytest.raises(ConfigError, match=r"\[printer\] profile = 'TM-T88V': the TM-T88V prints at most 512 dots"):
        check_profile(parse_config('[printer]\nkind = "usb"\nprofile = "TM-T88V"\nwidth = 576\n'))
    with pytest.raises(ConfigError, match=r"\[printer\] profile = 'TM-NOSUCH': unknown python-escpos printer profile"):
        check_profile(parse_config('[printer]\nkind = "usb"\nprofile = "TM-NOSUCH"\n'))


# -- names only ever become pixels -------------------------------------------------------------

def framing(stream: bytes) -> bytes:
    """The stream without its raster rows, and with each block's height zeroed: python-escpos's
    commands and nothing else."""
    out, i = bytearray(), 0
    for block in raster_blocks(stream):
        out += stream[i:block.data - 2] + b"\x00\x00"
        i = block.end
    return bytes(out + stream[i:])


HOSTILE = st.text(st.one_of(st.characters(), st.sampled_from("\x1b\x1d\x10\x00\n\r\x7f@!VvdaE")), max_size=300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=HOSTILE, phone=st.one_of(st.none(), st.text(max_size=40)), width=st.sampled_from([384, 576]))
def test_any_name_prints_only_as_pixels(name, phone, width):
    baseline = {384: framing(job_bytes(slip(384, name=""), width=384)),
                576: framing(job_bytes(slip(576, name=""), width=576))}[width]
    for image in (slip(width, name=name),
                  render_card(venue="Chợ Phan Rang", name=name, phone=phone, token=CARD_TOKEN, width=width)):
        assert image.mode == "1" and image.width == width
        stream = job_bytes(image, width=width)
        assert framing(stream) == baseline                    # the same commands, whatever the name
        assert framing(stream) == b"\x1b@\x1dv0\x00" + bytes([width // 8, 0]) + b"\x00\x00\x1bd\x06\x1dV\x00"
        [printed] = raster_images(stream)
        assert same_pixels(printed, image)
