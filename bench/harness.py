"""The benchmark harness: a frame source that replays frames from memory, and a kiosk built around it.

Not product code: it stands in for the camera and the screen so the rest of the scan path (the
real decoder, ScanLoop, CheckinDesk on a real SQLite file, Cooldown, FeedbackDevices) runs unchanged.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from hardware.feedback import FeedbackDevices
from kiosk.app import build_desk, build_scan_loop, build_signals
from kiosk.clock import Clock
from kiosk.config import DB_NAME, Config
from kiosk.config.parts import decoder_from_config
from kiosk.door.checkin import CheckinDesk
from kiosk.door.scanloop import ScanLoop
from kiosk.store import VisitStore


class ReplayCamera:
    """Frames from memory, round-robin, as fast as asked: the decoder sees the same pixels every run."""

    name = "replay"

    def __init__(self, frames: Sequence[np.ndarray]):
        self.frames = list(frames)
        self._i = 0

    def read(self) -> np.ndarray:
        frame = self.frames[self._i % len(self.frames)]
        self._i += 1
        return frame

    def process(self, fn: Callable):
        return fn(self.read())

    def close(self) -> None:
        pass


class NullScreen:
    """A screen that shows nothing: the benchmark measures the scan path, not a terminal."""

    def show(self, outcome) -> None:
        pass

    def status(self, code) -> None:
        pass


def _tmpfs(path: str) -> bool:
    """True if ``path`` lives on a RAM file system (fsync would be free there, flattering SQLite)."""
    best, fstype = "", ""
    real = os.path.realpath(path)
    with open("/proc/mounts") as mounts:
        for line in mounts:
            _, mount_point, kind = line.split()[:3]
            if (real == mount_point or real.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) > len(best):
                best, fstype = mount_point, kind
    return fstype in ("tmpfs", "ramfs")


def scratch_root() -> str:
    """Where benchmark databases go: the system temp dir unless it is RAM-backed, else /var/tmp.

    Outside the repository on purpose (other people work in the tree; nothing to clean up there).
    """
    default = tempfile.gettempdir()
    return "/var/tmp" if _tmpfs(default) and os.path.isdir("/var/tmp") else default


_made: list[Path] = []


def make_tempdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"kiosk-bench-{prefix}-", dir=scratch_root()))
    _made.append(path)
    return path


def remove_tempdirs() -> None:
    """Delete every directory :func:`make_tempdir` made (databases, camera folders, logs)."""
    while _made:
        shutil.rmtree(_made.pop(), ignore_errors=True)


def kiosk_decoder(backend: str):
    """The decoder exactly as ``build_kiosk`` makes it from the default config."""
    return decoder_from_config(Config(), backend)


def make_desk(data_dir: Path) -> CheckinDesk:
    """The real desk on a real store file, as ``build_kiosk`` assembles it (default config)."""
    config = Config()
    return build_desk(config, VisitStore.open(data_dir / DB_NAME), Clock(config.kiosk.timezone))


def make_signals() -> FeedbackDevices:
    """The lights and buzzer as a simulated kiosk has them (gpiozero's mock pins)."""
    return build_signals(Config(), simulate=True)


def make_loop(backend: str, frames: Sequence[np.ndarray], data_dir: Path) -> ScanLoop:
    """A ScanLoop as ``build_kiosk`` assembles it from the default config, fed by
    :class:`ReplayCamera` and telling a screen that draws nothing."""
    desk = make_desk(data_dir)
    return build_scan_loop(Config(), desk.store, desk.clock, camera=ReplayCamera(frames), signals=make_signals(),
                           listeners=[NullScreen()], desk=desk, decoder=kiosk_decoder(backend))


def close_loop(loop: ScanLoop) -> None:
    loop.decoder.close()
    loop.signals.close()
    loop.desk.store.close()


def served_kiosk(workdir: Path, kiosk_id: str):
    """A simulated kiosk (``build_kiosk``) with its web server started on a loopback port of its
    own and an unreachable broker (the web benches measure the pages, not the uplink); returns
    (kiosk, (host, port)). The caller closes it (``kiosk.close()``)."""
    from kiosk.app import build_kiosk
    from kiosk.config import parse_config
    from mqtt.loopback.mosquitto import free_port

    config = parse_config(f"""
[kiosk]
id = "{kiosk_id}"
venue_id = "cho-bench"
venue_name = "Chợ Bench"
data_dir = "{workdir / 'data'}"
[camera]
source = "dir:{workdir / 'camera'}"
[mqtt]
url = "mqtt://127.0.0.1:{free_port()}"
health_interval_s = 3600
[web]
listen = "127.0.0.1:0"
""")
    kiosk = build_kiosk(config, simulate=True, screen_out=io.StringIO())
    kiosk.web.start()
    return kiosk, kiosk.web.bound[0]


_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus.py"


def load_corpus():
    """tests/corpus.py (not a package): its distortions and scenes, exactly as the decode tests use them."""
    if "bench_corpus" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_corpus", _CORPUS)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["bench_corpus"]
