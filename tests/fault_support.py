"""Helpers for the end-to-end fault tests (tests/test_faults.py).

The pieces run as they do in production wherever a test kills or restarts one of them:
``kiosk-collector run --config`` as a subprocess, the kiosk's uplink as a subprocess over the
kiosk database, Mosquitto with persistence (tests/broker.py). Every subprocess writes its log to a
file in the test's tmp dir, so a failing test can show what each side said.
"""

from __future__ import annotations

import errno
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Self

import configs
from codes import cccd_payload
from kiosk.centre.outbox import KioskOutbox
from kiosk.clock import Clock
from kiosk.credentials import recognise
from kiosk.door.checkin import CheckinDesk
from mqtt.collector.store import open_store
from mqtt.uplink import Uplink, UplinkSettings
from waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
KIOSK_ID = "k-001"
#: A sent event the collector has not acked is published again after this long (production:
#: 120 s). 30 s is far longer than a 1,000-event drain takes here (1-3 s), so a test can tell
#: that a fault healed through the broker's persistent sessions alone (``resent == 0``, no
#: "sent again" in a kiosk log), yet a lost event would still arrive within the 60 s drain timeout.
RESEND_AFTER_S = 30.0
RESEND_LOG = "not acked by the collector are sent again"
#: Reconnect delays of the uplink (production: 1-60 s).
BACKOFF_S = (0.2, 1.0)


def act_mid_flight(count: Callable[[], int], total: int, act: Callable[[], None], *, what: str,
                   at_least: int = 1, jitter: bool = False, hold: Callable[[], AbstractContextManager] | None = None,
                   timeout: float = 60.0, interval: float = 0.002) -> int:
    """Poll ``count()`` and run ``act()`` (a kill, a restart) as soon as ``at_least <= count < total``.

    jitter: act at a random moment within one step of the count rather than just after one (a step
    is e.g. one collector batch: gathered, committed, acked), so the fault lands anywhere in the
    work under way. The step is timed on this machine, on the next change of the count, so a fast
    machine gets a short wait, never one that lets the count run to ``total``.
    hold: a context (e.g. :meth:`CollectorProcess.paused`) that stops whatever makes ``count`` grow,
    entered before the jitter's wait and left after ``act()``, for a fault to another piece.
    Returns the count seen just before acting. Fails (never skips) if the count went from below
    ``at_least`` to ``total`` between two polls: the fault would not have landed mid-flight.
    """
    end = time.monotonic() + timeout
    last = 0

    def poll() -> int:
        nonlocal last
        last = count()
        if last >= total:
            raise AssertionError(f"{what}: everything ({last}/{total}) arrived before the fault could land "
                                 "mid-flight; slow the drain down")
        if time.monotonic() > end:
            raise AssertionError(f"{what}: timed out after {timeout:.0f} s with {last}/{total}")
        return last

    while poll() < at_least:
        time.sleep(interval)
    step_s = 0.0
    if jitter:
        seen, since = last, time.monotonic()
        while poll() == seen:
            time.sleep(interval)
        step_s = time.monotonic() - since
    with hold() if hold else nullcontext():
        time.sleep(random.uniform(0, step_s))
        poll()
        act()
    return last


# -- a small disk -----------------------------------------------------------------------------

class SmallDisk:
    """A real filesystem that can be filled: a tmpfs of ``size`` bytes mounted at ``path`` (the tests
    run as root). ``fill()`` writes a filler file until the kernel answers ENOSPC, ``free()`` deletes
    it. Use as a context manager: the mount is removed on exit (lazily if a process still holds a
    file there), and the folder with it.

    >>> with SmallDisk(tmp_path / "disk") as disk:
    ...     disk.fill()          # now every write needing a new block fails with ENOSPC
    ...     disk.free()
    """

    def __init__(self, path: Path, size: int = 8 * 2**20):
        self.path = path
        self.size = size
        self.filler = path / "filler"
        self._mounted = False

    def __enter__(self) -> Self:
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0755", "tmpfs", str(self.path)],
                       check=True, capture_output=True)
        self._mounted = True
        return self

    def __exit__(self, *exc) -> None:
        if self._mounted:
            if subprocess.run(["umount", str(self.path)], check=False, capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(self.path)], check=True, capture_output=True)
            self._mounted = False

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self) -> Path:
        """Fill the disk to the last block (big writes, then single pages, then single bytes)."""
        with open(self.filler, "ab", buffering=0) as f:
            for chunk in (2**16, 2**12, 1):
                try:
                    while True:
                        f.write(b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        assert self.free_bytes() == 0, f"{self.free_bytes()} bytes still free after filling {self.path}"
        return self.filler

    def free(self) -> None:
        self.filler.unlink()


# -- the kiosk side ---------------------------------------------------------------------------

def record_timed(store, n: int, *, start: int = 0, kiosk_id: str = KIOSK_ID) -> list[float]:
    """``record_check_ins`` with each check-in timed: seconds per ``present`` (the door's wait)."""
    desk = CheckinDesk(store, Clock(), kiosk_id=kiosk_id, venue_id="cho-thu")
    took = []
    for i in range(start, start + n):
        credential = recognise(cccd_payload(i))
        t0 = time.perf_counter()
        outcome = desk.present(credential)
        took.append(time.perf_counter() - t0)
        assert outcome.kind == "check_in", outcome
    return took


def uplink_settings(url: str, kiosk_id: str = KIOSK_ID, **overrides) -> UplinkSettings:
    kw = {"url": url, "kiosk_id": kiosk_id, "resend_after_s": RESEND_AFTER_S, "backoff_s": BACKOFF_S,
          "keepalive_s": 5, "health_interval_s": 60.0}
    kw.update(overrides)
    return UplinkSettings(**kw)


class CountingOutbox(KioskOutbox):
    """The real outbox, counting how many rows the uplink sent again for want of an ack."""

    resent = 0

    def resend_unacknowledged(self, older_than_s: float) -> int:
        n = super().resend_unacknowledged(older_than_s)
        self.resent += n
        return n


def in_process_uplink(kiosk_db: Path, url: str, **overrides) -> Uplink:
    return Uplink(CountingOutbox(kiosk_db), uplink_settings(url, **overrides), health=dict, version="fault-test")


_UPLINK_SCRIPT = """
import logging, os, signal, sys, threading
sys.path[:0] = {path!r}
logging.basicConfig(filename={log!r}, level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
from pathlib import Path
from kiosk.centre.outbox import KioskOutbox
from mqtt.uplink import Uplink, UplinkSettings
die = {die!r}

def sigkill(where):
    logging.getLogger("fault").info("SIGKILL %s", where)
    logging.shutdown()
    os.kill(os.getpid(), signal.SIGKILL)

if die == "before_ack_commit":          # an ack was read off the socket; its rows are not yet written
    real_mark_delivered = KioskOutbox.mark_delivered
    def mark_delivered(self, event_ids):
        if event_ids:
            sigkill(f"before committing an ack for {{len(event_ids)}} event(s)")
        return real_mark_delivered(self, event_ids)
    KioskOutbox.mark_delivered = mark_delivered
elif die == "on_ack_message":            # inside on_message for an ack, before paho could PUBACK it
    real_on_message = Uplink._on_message
    def on_message(self, client, userdata, message):
        if message.topic.endswith("/acks"):
            sigkill("on receiving an ack")
        return real_on_message(self, client, userdata, message)
    Uplink._on_message = on_message

settings = UplinkSettings(url={url!r}, kiosk_id={kiosk_id!r}, resend_after_s={resend!r},
                          backoff_s={backoff!r}, keepalive_s=5)
uplink = Uplink(KioskOutbox(Path({db!r})), settings, health=dict, version="fault-test")
logging.getLogger("fault").info("kiosk uplink process up")
uplink.run(threading.Event())   # until SIGKILL
"""


class KioskUplinkProcess:
    """A subprocess running the kiosk's Uplink over the kiosk database (as ``kiosk run`` does).

    die: None (runs until killed), or where the process SIGKILLs itself the first time it gets there:
    ``"before_ack_commit"`` (the uplink took an ack off the wire but has not written its rows) or
    ``"on_ack_message"`` (inside the ack's on_message, before paho could PUBACK it).
    """

    def __init__(self, kiosk_db: Path, url: str, log_path: Path, kiosk_id: str = KIOSK_ID, *,
                 die: str | None = None, resend_after_s: float = RESEND_AFTER_S):
        assert die in (None, "before_ack_commit", "on_ack_message"), die
        self.log_path = log_path
        script = _UPLINK_SCRIPT.format(path=sys.path, log=str(log_path), url=url, kiosk_id=kiosk_id, die=die,
                                       resend=resend_after_s, backoff=BACKOFF_S, db=str(kiosk_db))
        with open(str(log_path) + ".stderr", "w") as stderr:
            self.proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                                         stdout=subprocess.DEVNULL, stderr=stderr)

    def wait_dead(self, timeout: float = 60.0) -> int:
        """Until the process has ended (it was told to kill itself); its return code."""
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no DISCONNECT, no last transaction finished."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def log(self) -> str:
        parts = [p.read_text(errors="replace") for p in (self.log_path, Path(str(self.log_path) + ".stderr"))
                 if p.exists()]
        return "\n".join(parts)


def outbox_states(kiosk_db: Path) -> dict[str, int]:
    """Outbox rows by state, read through a fresh connection (any process may be writing)."""
    conn = sqlite3.connect(f"file:{kiosk_db}?mode=ro", uri=True, timeout=10)
    try:
        return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    finally:
        conn.close()


def delivered(kiosk_db: Path) -> int:
    return outbox_states(kiosk_db).get("delivered", 0)


def kiosk_event_ids(kiosk_db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{kiosk_db}?mode=ro", uri=True, timeout=10)
    try:
        return [r[0] for r in conn.execute("SELECT event_id FROM events ORDER BY seq")]
    finally:
        conn.close()


# -- the collector ----------------------------------------------------------------------------

def write_collector_config(path: Path, broker_url: str, store_url: str, *, client_id: str = "collector-1",
                           shared_group: str = "", batch_size: int = 50, batch_ms: int = 50,
                           status_file: Path | None = None) -> Path:
    """A ``collector.toml``. Batches are smaller than production's (200 / 200 ms) so a 1,000-event
    drain is many batches and a kill lands between or inside them, not after the only one.
    status_file: where the collector writes its status (``[collector] status_file``; none unless told)."""
    sections = {"mqtt": {"url": broker_url, "client_id": client_id, "shared_group": shared_group, "keepalive_s": 5},
                "store": {"url": store_url, "batch_size": batch_size, "batch_ms": batch_ms, "purge_every_h": 0}}
    if status_file is not None:
        sections["collector"] = {"status_file": status_file}
    return configs.write_collector_config(path, **sections)


def collector_command() -> list[str]:
    script = Path(sys.executable).parent / "kiosk-collector"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from mqtt.collector.cli import main; sys.exit(main())"]


_STOPPED = re.compile(r"collector stopped: (\d+) received, (\d+) stored, (\d+) duplicate\(s\), (\d+) dead letter")


class CollectorProcess:
    """``kiosk-collector run --config PATH`` as a subprocess; its stderr (the log) goes to a file.

    Each start appends to the same log file, so a restarted collector's log follows the killed one's.
    """

    def __init__(self, config: Path, log_path: Path):
        self.config = config
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self._log_offset = 0

    def start(self, wait_connected: bool = True) -> CollectorProcess:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "a") as log_file:
            self.proc = subprocess.Popen(collector_command() + ["run", "--config", str(self.config)], cwd=ROOT,
                                         stdout=subprocess.DEVNULL, stderr=log_file,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if wait_connected:
            self.wait_connected()
        return self

    def this_run_log(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[self._log_offset:]

    def wait_connected(self, timeout: float = 30.0) -> None:
        """Connected to the broker and subscribed (the broker answered its SUBSCRIBE)."""
        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"the collector exited ({self.proc.returncode}):\n{self.this_run_log()[-2000:]}")
            return "collector subscribed" in self.this_run_log()
        wait_for(up, timeout, "the collector to connect and subscribe", interval=0.02)

    def kill(self) -> None:
        """SIGKILL: no flush, no PUBACK, no DISCONNECT."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP for the body, then SIGCONT: the collector takes, stores and acks nothing meanwhile
        (as a collector stalled by a slow disk would); its connection stays open."""
        self.proc.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> dict[str, int] | None:
        """SIGTERM (a clean stop); the counters of its final log line, if it printed one."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        m = _STOPPED.search(self.this_run_log())
        if not m:
            return None
        return dict(zip(("received", "stored", "duplicates", "dead_letters"), map(int, m.groups()), strict=True))

    def ensure_dead(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def store_event_count(store_url: str) -> Callable[[], int]:
    """A cheap poll of the central store's event count (one connection, reused)."""
    store = open_store(store_url)

    def count() -> int:
        return store.counts()["events"]
    count.close = store.close  # type: ignore[attr-defined]
    return count


# -- the verdict ------------------------------------------------------------------------------

def stop_uplink(uplink: Uplink | None) -> None:
    """Stop an in-process uplink and close its outbox (nothing if it was never made)."""
    if uplink is not None:
        uplink.stop()
        uplink.outbox.close()


def assert_no_resend(uplink: Uplink) -> None:
    """Healed by the persistent sessions (broker queue, redelivery of what was not PUBACKed), not
    by the kiosk's slow re-send of events it never got an ack for."""
    assert uplink.outbox.resent == 0, f"{uplink.outbox.resent} events had to be re-sent: an ack or event was lost"


def end_exactly_once(store_url: str, kiosk_db: Path, *collectors: CollectorProcess,
                     uplink: Uplink | None = None) -> list[dict[str, int] | None]:
    """The exactly-once scenarios' ending, once every outbox row is delivered: the in-process
    ``uplink`` (if the kiosk is one) healed without its re-send and stopped, each collector stopped
    cleanly, then :func:`assert_exactly_once`. Returns the collectors' counters from their stop."""
    if uplink is not None:
        assert_no_resend(uplink)
        stop_uplink(uplink)
    stats = [c.stop() for c in collectors]
    assert_exactly_once(store_url, kiosk_db)
    return stats


def assert_exactly_once(store_url: str, kiosk_db: Path, kiosk_id: str = KIOSK_ID) -> None:
    """(a) the central store holds each of the kiosk's events exactly once, (b) no seq gap is
    left, (c) the kiosk's outbox is drained: every row delivered."""
    expected = kiosk_event_ids(kiosk_db)
    n = len(expected)
    assert n >= 1000, f"the test recorded only {n} events"
    assert len(set(expected)) == n, "the kiosk itself holds duplicate event ids"
    with open_store(store_url) as store:
        rows = store.event_rows(kiosk_id=kiosk_id)
        held = [r["event_id"] for r in rows]
        counts = store.counts()
        high_water, beyond = store.seq_state(kiosk_id)
    dupes = sorted(e for e, k in Counter(held).items() if k > 1)
    # (a)
    assert not dupes, f"duplicate events in the central store: {dupes[:5]}"
    assert counts["events"] == n, f"central store holds {counts['events']} events, the kiosk recorded {n}"
    missing, extra = set(expected) - set(held), set(held) - set(expected)
    assert not missing and not extra, (f"event ids differ: {len(missing)} missing (e.g. {sorted(missing)[:3]}), "
                                       f"{len(extra)} unexpected")
    assert sorted(r["seq"] for r in rows) == list(range(1, n + 1)), "stored seqs are not 1..N"
    # (b)
    assert (high_water, beyond) == (n, []), f"seq state is high-water {high_water}, beyond {beyond}; expected ({n}, [])"
    # (c)
    states = outbox_states(kiosk_db)
    assert states == {"delivered": n}, f"kiosk outbox not drained: {states}"
