"""The hard frames of a market door (issue 14): the kiosk's zxing decoder with its second effort
against raw zxing-cpp, on presentations of the hard corpus (corpus.HARD_DISTORTIONS: keystone,
motion blur, glare on a laminated card, dim light with noise, crumpled paper, 2-pixel modules, and
mixes), each a few frames of one scene with fresh sensor noise. A read counts only when recognise()
gives every expected field exactly.

The floors are the strategy's own, measured with a budget no frame reaches (so the count does not
depend on this machine's speed); what fits in the live budget is the benchmark's ("Hard frames").
"""

from __future__ import annotations

import collections

import pytest

import corpus
from hardware.decode_zxing import ZxingDecoder
from hardware.second_effort import SecondEffort
from kiosk.credentials import Refused, recognise

KINDS = ("cccd", "bhyt_new", "national_masked", "can_cuoc", "bhyt_old", "national_full")
N = 6                                    # presentations per condition, the kinds in turn
FIELDS = ("kind", "id", "name", "birth_date", "sex", "phone")
#: Presentations read out of N, measured (zxing-cpp 3.1.1, OpenCV 5.1, Pillow's bicubic resampling):
#: raw zxing-cpp, the kiosk. After changing the corpus or the strategy, measure again and update.
MEASURED = {
    "keystone25": (6, 6), "motion5": (6, 6), "motion9": (1, 1), "glare_laminated": (2, 6),
    "dim_noise": (3, 6), "crumpled": (3, 4), "modules2": (6, 6), "keystone_motion": (5, 6),
    "dim_glare": (2, 5), "crumpled_motion": (0, 1),
}


def floor_for(reads: int) -> int:
    """Every presentation where every one read; one fewer where some did (these sit at the
    decoder's limit, where platform differences in resampling can flip one); none below 2."""
    return reads if reads == N else max(0, reads - 1) if reads >= 2 else 0


def read(decoder, sample) -> str:
    """``read``, ``wrong`` (a credential whose fields are not the expected ones) or ``none``, over
    the frames of the sample's presentation (the first read ends it, as at the door)."""
    for frame in corpus.presentation(sample):
        for symbol in decoder.decode(frame):
            try:
                credential = recognise(symbol.data, today=corpus.TODAY)
            except Refused:
                continue
            got = {f: getattr(credential, f) for f in FIELDS}
            return "read" if got == sample.expected and symbol.data == sample.payload.encode() else "wrong"
    return "none"


@pytest.fixture(scope="module")
def hard_run():
    raw = ZxingDecoder(("qr_code", "code_128"))
    kiosk = ZxingDecoder(("qr_code", "code_128"), budget_ms=10_000)      # no frame reaches it
    counts = collections.defaultdict(collections.Counter)
    for distortion in corpus.HARD_DISTORTIONS:
        for i in range(N):
            sample = corpus.make_sample(KINDS[i % len(KINDS)], distortion, i)
            kiosk.second_effort.new_presentation()
            counts["raw", distortion][read(raw, sample)] += 1
            counts["kiosk", distortion][read(kiosk, sample)] += 1
    return counts, kiosk.second_effort.reads


def test_the_second_effort_never_misreads_and_reads_no_less_than_raw_anywhere(hard_run):
    counts, _ = hard_run
    assert sum(c["wrong"] for c in counts.values()) == 0
    for distortion in corpus.HARD_DISTORTIONS:
        assert counts["kiosk", distortion]["read"] >= counts["raw", distortion]["read"], distortion


@pytest.mark.parametrize("distortion", list(corpus.HARD_DISTORTIONS))
def test_the_read_floor_of_each_hard_condition(hard_run, distortion):
    counts, _ = hard_run
    _, kiosk = MEASURED[distortion]
    assert counts["kiosk", distortion]["read"] >= floor_for(kiosk)


def test_it_reads_at_least_a_quarter_more_than_raw_on_the_hard_corpus(hard_run):
    counts, reads = hard_run
    raw = sum(counts["raw", d]["read"] for d in corpus.HARD_DISTORTIONS)
    kiosk = sum(counts["kiosk", d]["read"] for d in corpus.HARD_DISTORTIONS)
    assert kiosk >= 1.25 * raw, (kiosk, raw)
    assert reads["enlarged"] > 0                    # what each variant read: the benchmark's table


def test_an_empty_scene_gets_no_second_effort():
    """zxing-cpp reports no failed detection where there is no code-like pattern: nothing to retry."""
    import numpy as np
    decoder = ZxingDecoder(("qr_code", "code_128"), budget_ms=10)
    tried = []
    decoder.second_effort.retry = lambda *args: tried.append(args) or []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        scene = np.round(corpus.background(rng, 640, 480)).astype(np.uint8)
        assert decoder.decode(corpus.gaussian_noise(scene, 6, rng)) == []
    assert tried == []


class Ticks:
    """A clock the test moves (each try moves it on)."""

    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_the_budget_stops_the_tries_and_the_next_frame_goes_on_where_they_stopped():
    sample = corpus.make_sample("cccd", "dim_glare", 1)
    clock, tried = Ticks(), []

    def read(image):
        tried.append(image.shape)
        clock.t += 0.004                         # every try takes 4 ms
        return []

    effort = SecondEffort(read, budget_s=0.010, clock=clock, monotonic=lambda: 0.0)
    effort._s_per_px = dict.fromkeys(effort._s_per_px, 0.0)   # no estimate: only the clock stops them
    effort._learn = lambda *args: None
    from zxingcpp import read_barcodes
    failed = [b for b in read_barcodes(sample.frame, return_errors=True) if not b.valid]
    assert failed
    assert effort.retry(sample.frame, failed, started=0.0) == []
    assert len(tried) == 3                         # at 0, 4 and 8 ms; the fourth would start past 9.5
    clock.t = 100.0
    effort.retry(sample.frame, failed, started=100.0)
    assert len(tried) == 6                         # the next frame: the next three variants
    clock.t = 200.0
    effort.retry(sample.frame, failed, started=200.0)
    assert len(tried) == 9                         # then round again from the first
