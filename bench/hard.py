"""Hard frames (issue 14): what the kiosk's decoder reads that raw zxing-cpp does not, on the hard
corpus of tests/corpus.py (keystone, motion blur, glare, dim light with noise, crumpled paper,
2-pixel modules, and mixes), in presentations of a few frames of one scene with fresh sensor noise;
and what a frame costs, with a code and without.

raw zxing-cpp: the kiosk's first pass alone (same formats and options); raw zbar: pyzbar on the same
frames; the kiosk: ``decoder_from_config`` as ``kiosk run`` and ``kiosk decode`` make it, its second
effort within ``[decoder] budget_ms``. A presentation is read when a frame of it gives the expected
payload (and fields); a read of anything else is a misread.
"""

from __future__ import annotations

import time

import numpy as np
from pyzbar import pyzbar

from hardware.decode_zxing import ZxingDecoder
from kiosk.config import load_config
from kiosk.config.parts import decoder_from_config
from kiosk.credentials import Refused, recognise

from .harness import load_corpus
from .report import latency_summary

KINDS = ("cccd", "bhyt_new", "national_masked", "can_cuoc", "bhyt_old", "national_full")
FIELDS = ("kind", "id", "name", "birth_date", "sex", "phone")


def _outcome(symbols_data: list[bytes], sample) -> str | None:
    """``read``, ``wrong`` or None (nothing usable) of one frame's decoded payloads."""
    for data in symbols_data:
        try:
            credential = recognise(data, today=load_corpus().TODAY)
        except Refused:
            continue
        fields = {f: getattr(credential, f) for f in FIELDS}
        return "read" if (data, fields) == (sample.payload.encode(), sample.expected) else "wrong"
    return None


def run(per_condition: int) -> dict:
    corpus = load_corpus()
    config = load_config(None)
    kiosk = decoder_from_config(config)
    raw = ZxingDecoder(tuple(config.decoder.symbologies))
    zbar_symbols = [pyzbar.ZBarSymbol.QRCODE, pyzbar.ZBarSymbol.CODE128]
    readers = {
        "raw zxing-cpp": lambda f: [b.data for b in raw.decode(f)],
        "raw zbar": lambda f: [s.data for s in pyzbar.decode(f, symbols=zbar_symbols)],
        "kiosk": lambda f: [b.data for b in kiosk.decode(f)],
    }
    conditions, times = {}, {"raw zxing-cpp": [], "kiosk": []}
    for distortion in corpus.HARD_DISTORTIONS:
        counts = {name: {"read": 0, "wrong": 0} for name in readers}
        for i in range(per_condition):
            sample = corpus.make_sample(KINDS[i % len(KINDS)], distortion, i)
            frames = corpus.presentation(sample)
            if kiosk.second_effort is not None:
                kiosk.second_effort.new_presentation()
            for name, decode in readers.items():
                for frame in frames:
                    started = time.perf_counter()
                    got = _outcome(decode(frame), sample)
                    if name in times:
                        times[name].append(time.perf_counter() - started)
                    if got:
                        counts[name][got] += 1
                        break
        conditions[distortion] = counts
    empty = {"raw zxing-cpp": [], "kiosk": []}
    for seed in range(60):
        rng = np.random.default_rng(seed)
        scene = corpus.gaussian_noise(np.round(corpus.background(rng, 640, 480)).astype(np.uint8), 6, rng)
        for name, decode in (("raw zxing-cpp", readers["raw zxing-cpp"]), ("kiosk", readers["kiosk"])):
            for _ in range(3):
                started = time.perf_counter()
                decode(scene)
                empty[name].append(time.perf_counter() - started)
    totals = {name: sum(c[name]["read"] for c in conditions.values()) for name in readers}
    wrong = {name: sum(c[name]["wrong"] for c in conditions.values()) for name in readers}
    return {"per_condition": per_condition, "frames_per_presentation": corpus.PRESENTATION_FRAMES,
            "budget_ms": config.decoder.budget_ms, "conditions": conditions, "reads": totals, "misreads": wrong,
            "ratio_kiosk_raw": totals["kiosk"] / max(1, totals["raw zxing-cpp"]),
            "below_raw": [d for d, c in conditions.items() if c["kiosk"]["read"] < c["raw zxing-cpp"]["read"]],
            "frame_ms_with_code": {n: latency_summary(t) for n, t in times.items()},
            "frame_ms_empty": {n: latency_summary(t) for n, t in empty.items()},
            "technique_reads": dict(kiosk.second_effort.reads) if kiosk.second_effort else {}}
