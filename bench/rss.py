"""Memory of a real ``kiosk run --simulate`` process over many presentations.

The image-folder camera shows each file for ``presentation_s`` and then moves it to ``done/``;
so one file that reached ``done/`` is one presentation. The feeder keeps a few dozen files waiting
(never the whole run at once: that would measure the folder scan, not the kiosk) and deletes
``done/`` as it goes. 200 persons take turns, so in toggle mode each one alternates in, out, in…
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from kiosk.config import DB_NAME

from .frames import person_payload, qr_png_bytes
from .harness import make_tempdir

PERSONS = 200
#: The shortest cooldown the config allows. A file is shown for 20 ms, so its repeated frames are one
#: presentation; the same person comes back only after PERSONS files (about 10 s), always fresh.
COOLDOWN_S = 1
MAX_WAITING = 50
_TICK_S = 0.05
_STALL_S = 60.0  # no presentation for this long: the kiosk is stuck or dead; give up


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in kB (0 once the process is gone)."""
    out = {"VmRSS": 0, "VmHWM": 0}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in out:
                    out[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def _config(tmp: Path) -> Path:
    path = tmp / "kiosk.toml"
    # json.dumps gives a valid TOML basic string for these plain paths.
    path.write_text(f"""
[kiosk]
data_dir = {json.dumps(str(tmp / "data"))}

[camera]
source = {json.dumps("dir:" + str(tmp / "camera"))}
fps = 0
presentation_s = 0.02

[rules]
cooldown_s = {COOLDOWN_S}

[web]
listen = "127.0.0.1:0"
""", encoding="utf-8")
    return path


def _db_counts(db: Path) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        q = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {"visits": q("SELECT count(*) FROM visits"), "events": q("SELECT count(*) FROM events"),
                "check_ins": q("SELECT count(*) FROM events WHERE type = 'check_in'"),
                "check_outs": q("SELECT count(*) FROM events WHERE type = 'check_out'"),
                "refusals": q("SELECT count(*) FROM refusals"), "outbox": q("SELECT count(*) FROM outbox")}
    finally:
        conn.close()


def kiosk_rss(presentations: int, log=print) -> dict:
    tmp = make_tempdir("rss")
    camera, done = tmp / "camera", tmp / "camera" / "done"
    pngs = [qr_png_bytes(person_payload(i)) for i in range(PERSONS)]
    checkpoints = sorted({max(1, presentations // 10), max(1, presentations // 2), presentations})
    with open(tmp / "screen.log", "wb") as screen, open(tmp / "kiosk.log", "wb") as errors:
        proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--simulate", "--config", str(_config(tmp))],
                                cwd=tmp, stdout=screen, stderr=errors)
        try:
            result = _feed(proc, camera, done, pngs, presentations, checkpoints, log)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    result["exit_code"] = proc.returncode
    result["db"] = _db_counts(tmp / "data" / DB_NAME)
    result["workdir"] = str(tmp)
    return result


def _feed(proc, camera: Path, done: Path, pngs, presentations, checkpoints, log) -> dict:
    started = time.monotonic()
    while not done.is_dir():  # the camera creates camera/done/ when it opens: the kiosk is up
        if proc.poll() is not None or time.monotonic() - started > 60:
            raise RuntimeError(f"kiosk did not start (exit code {proc.poll()}); see {camera.parent}/kiosk.log")
        time.sleep(0.05)
    startup_s = time.monotonic() - started
    baseline = _status(proc.pid)
    fed = shown = 0
    peak_rss, at = 0, {}
    samples = []
    begin = last_progress = time.monotonic()
    while shown < presentations:
        if proc.poll() is not None:
            raise RuntimeError(f"kiosk exited with {proc.returncode} after {shown} presentations")
        waiting = sum(1 for e in os.scandir(camera) if e.is_file() and not e.name.startswith("."))
        while waiting < MAX_WAITING and fed < presentations:
            # Written under a dot-name and renamed: the camera never sees a half-written file.
            tmpname = camera / ".incoming"
            tmpname.write_bytes(pngs[fed % len(pngs)])
            os.replace(tmpname, camera / f"{fed:06d}.png")
            fed += 1
            waiting += 1
        for entry in os.scandir(done):
            os.unlink(entry.path)
            shown += 1
            last_progress = time.monotonic()
        status = _status(proc.pid)
        peak_rss = max(peak_rss, status["VmRSS"])
        now = time.monotonic()
        if not samples or now - samples[-1]["t_s"] - begin >= 1.0:
            samples.append({"t_s": round(now - begin, 2), "presentations": shown, "rss_kb": status["VmRSS"]})
        for cp in checkpoints:
            if shown >= cp and cp not in at:
                at[cp] = {"presentations": shown, "rss_kb": status["VmRSS"], "hwm_kb": status["VmHWM"],
                          "elapsed_s": now - begin}
                log(f"  … {shown} presentations, RSS {status['VmRSS'] / 1024:.1f} MB, {now - begin:.0f} s")
        if now - last_progress > _STALL_S:
            raise RuntimeError(f"no presentation for {_STALL_S:.0f} s (stuck at {shown})")
        time.sleep(_TICK_S)
    elapsed = time.monotonic() - begin
    final = _status(proc.pid)
    return {"presentations": shown, "elapsed_s": elapsed, "per_s": shown / elapsed, "startup_s": startup_s,
            "baseline_rss_kb": baseline["VmRSS"], "peak_rss_kb": max(final["VmHWM"], peak_rss),
            "final_rss_kb": final["VmRSS"], "checkpoints": {str(k): v for k, v in sorted(at.items())},
            "samples": samples}
