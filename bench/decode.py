"""Decoding throughput: the raw libraries against the kiosk's scan path, on the same frames.

Raw = the library call alone. Pipeline = ``ScanLoop.step()`` with the kiosk's decoder, a real desk
and store, real Cooldown and (mock-pin) FeedbackDevices, fed by :class:`~bench.harness.ReplayCamera`.
Both run as fast as they can (no frame pacing), so frames/s compares the work per frame.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import zxingcpp
from pyzbar import pyzbar

from kiosk.credentials import recognise
from kiosk.door.cooldown import Cooldown

from .harness import ReplayCamera, close_loop, kiosk_decoder, make_desk, make_loop, make_signals
from .report import latency_summary, median

BACKENDS = ("zxing", "zbar")
SCENES = ("empty", "code")
STAGES = ("read", "decode", "recognise", "cooldown", "present", "feedback")
_SLICE_S = 0.1  # raw and pipeline take turns in slices this long, so both see the same background load


def raw_decoder(backend: str) -> Callable:
    """The bare library call the kiosk's decoder wraps, with the same formats and options."""
    if backend == "zxing":
        formats = (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.Code128)
        kiosk = kiosk_decoder("zxing")
        # Read from the kiosk's own decoder so the comparison stays like-for-like if its defaults
        # change (today: try_rotate=False, try_downscale=True, try_invert=False).
        options = dict(kiosk._options)
        assert tuple(kiosk._formats) == formats, "kiosk zxing formats differ from the raw call"
        return lambda frame: zxingcpp.read_barcodes(frame, formats=formats, **options)
    symbols = [pyzbar.ZBarSymbol.QRCODE, pyzbar.ZBarSymbol.CODE128]
    return lambda frame: pyzbar.decode(frame, symbols=symbols)


def paired_rates(calls: dict[str, Callable[[], object]], seconds: float, min_calls: int) -> dict[str, dict]:
    """Calls per second (wall clock) and CPU ms per call (this thread) of each of ``calls``, each
    over at least ``seconds`` and ``min_calls``.

    They run in alternating short slices rather than one after the other: on a shared machine the
    background load changes over seconds, and this way each side gets its share of every change.
    CPU time is what the load changes least, so it is reported too.
    """
    for call in calls.values():  # warm caches and lazy initialisation outside the timing
        for _ in range(3):
            call()
    count, spent, cpu = dict.fromkeys(calls, 0), dict.fromkeys(calls, 0.0), dict.fromkeys(calls, 0.0)
    clock = time.perf_counter
    while any(spent[k] < seconds or count[k] < min_calls for k in calls):
        for key, call in calls.items():
            n, start, cpu_start = 0, clock(), time.thread_time()
            while True:  # one clock read per call: ~0.1 µs against ≥1 ms per frame
                call()
                n += 1
                now = clock()
                if now - start >= _SLICE_S:
                    break
            cpu[key] += time.thread_time() - cpu_start
            count[key] += n
            spent[key] += now - start
    return {k: {"fps": count[k] / spent[k], "cpu_ms": cpu[k] / count[k] * 1000} for k in calls}


def check_frames(frames_by_scene: dict) -> dict:
    """How many frames of each scene each raw decoder reads a code in (code: all; empty: none)."""
    out = {}
    for backend in BACKENDS:
        read = raw_decoder(backend)
        out[backend] = {scene: sum(1 for f in frames if read(f)) for scene, frames in frames_by_scene.items()}
    return out


def throughput(frames_by_scene: dict, workdir: Path, *, seconds: float, min_frames: int, repeats: int) -> dict:
    """Median frames/s over ``repeats`` rounds, raw and pipeline side by side, per backend and scene."""
    loops = {(b, s): make_loop(b, frames, workdir / f"{b}-{s}")
             for b in BACKENDS for s, frames in frames_by_scene.items()}
    raws = {b: raw_decoder(b) for b in BACKENDS}
    samples = {key: {name: [] for name in ("raw", "pipeline", "ratio", "raw_cpu", "pipeline_cpu")} for key in loops}
    try:
        for _ in range(repeats):
            for (backend, scene), loop in loops.items():
                frames = itertools.cycle(frames_by_scene[scene])
                def raw_call(raw=raws[backend], frames=frames):
                    return raw(next(frames))
                fps = paired_rates({"raw": raw_call, "pipeline": loop.step}, seconds, min_frames)
                s = samples[(backend, scene)]
                s["raw"].append(fps["raw"]["fps"])
                s["pipeline"].append(fps["pipeline"]["fps"])
                s["ratio"].append(fps["pipeline"]["fps"] / fps["raw"]["fps"])
                s["raw_cpu"].append(fps["raw"]["cpu_ms"])
                s["pipeline_cpu"].append(fps["pipeline"]["cpu_ms"])
        result = {}
        for (backend, scene), s in samples.items():
            result.setdefault(backend, {})[scene] = {
                "raw_fps": median(s["raw"]), "pipeline_fps": median(s["pipeline"]),
                # The median of each round's ratio: both sides of a round ran under the same load.
                "ratio": median(s["ratio"]),
                "raw_cpu_ms": median(s["raw_cpu"]), "pipeline_cpu_ms": median(s["pipeline_cpu"]),
                "cpu_ratio": median(s["raw_cpu"]) / median(s["pipeline_cpu"]),
                "raw_fps_samples": s["raw"], "pipeline_fps_samples": s["pipeline"], "ratio_samples": s["ratio"],
                "pipeline_outcomes": dict(loops[(backend, scene)].state.outcomes),
            }
        return result
    finally:
        for loop in loops.values():
            close_loop(loop)


def stage_times(backend: str, frames, workdir: Path, *, seconds: float, min_frames: int) -> dict:
    """Milliseconds per stage, mirroring ``ScanLoop.step`` + ``handle`` with a clock around each stage.

    Cooldown 0 here, so every frame with the code is a presentation (toggle mode: in, out, in…) and
    present/feedback are measured as often as decode. With the default 10 s cooldown a held code is
    presented once, and a frame costs only read + decode + recognise + cooldown.
    """
    camera, decoder, desk = ReplayCamera(frames), kiosk_decoder(backend), make_desk(workdir)
    cooldown, signals = Cooldown(0), make_signals()
    times = {stage: [] for stage in STAGES}
    per_frame = []
    clock = time.perf_counter
    try:
        start = clock()
        while len(per_frame) < min_frames or clock() - start < seconds:
            t0 = clock()
            frame = camera.read()
            t1 = clock()
            symbols = decoder.decode(frame)
            t2 = clock()
            times["read"].append(t1 - t0)
            times["decode"].append(t2 - t1)
            for symbol in symbols:
                a = clock()
                credential = recognise(symbol.data, verifier=None)
                b = clock()
                fresh = cooldown.fresh(credential.key)
                c = clock()
                times["recognise"].append(b - a)
                times["cooldown"].append(c - b)
                if not fresh:
                    continue
                outcome = desk.present(credential, method=credential.camera_method)
                d = clock()
                signals.show(outcome.kind)
                e = clock()
                times["present"].append(d - c)
                times["feedback"].append(e - d)
            per_frame.append(clock() - t0)
    finally:
        decoder.close()
        signals.close()
        desk.store.close()
    out = {stage: latency_summary(v) for stage, v in times.items()}
    out["frame_total"] = latency_summary(per_frame)
    return out


def clock_stamp_cost(workdir: Path, calls: int) -> dict:
    """What ``Clock.stamp()`` (called once per present) costs by itself, to explain present's time."""
    desk = make_desk(workdir)
    try:
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            desk.clock.stamp()
            samples.append(time.perf_counter() - t)
        return latency_summary(samples)
    finally:
        desk.store.close()
