"""A bounded second effort for frames where zxing-cpp found a code but could not read it.

zxing-cpp reports what it detected and failed to decode (``return_errors``) at no extra cost, and
reports nothing on a scene without a code-like pattern: so an empty scene costs what the raw
decoder costs, and only a frame with a detected, unread code is worked on again. The second effort
crops the region of the failed detections (their union: the parts of one code; apart, the largest
ones) and tries it again enlarged (the detector's module sampling is what blur, glare, dim light
and small modules defeat), wider, with contrast stretched, with noise filtered, sharpened, in the
order that read most on the hard corpus, until one reads or the frame's time budget is spent. A
read counts only as zxing-cpp's own: a code that passes its Reed-Solomon check, never a guess; the
kiosk then checks the payload's fields as for any read.

Several frames of one presentation share the work: a code seen again where the last frame's failed
detection was goes on from the variant where that frame's budget ran out, so a presentation of a
second (15 frames) tries every variant even at a small budget per frame.

Pillow and numpy only (OpenCV is not a dependency of the kiosk).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageOps

#: A failed detection within this many pixels (centre to centre) of the last one is the same code
#: held up again, and its second effort goes on where it stopped.
SAME_CODE_PX = 60
#: ... if it came within this long (seconds): a presentation.
SAME_CODE_S = 1.5
#: The most failed detections worked on in one frame (the largest first), when they are too far
#: apart to be one code: their union spans more than UNION_AT_MOST times the largest one.
MAX_REGIONS, UNION_AT_MOST = 2, 4.0
#: An enlarged crop is at most this many pixels wide (the cost of a try grows with its area).
MAX_SIDE = 760
#: A try's cost before any was timed: about twice what one takes on an x86 core (the kiosk learns
#: its own machine's within a few tries).
FIRST_GUESS_S_PER_PX = 12e-9
#: A try starts only if, at this many times its usual cost, it would end this share of the budget
#: before the budget's end: one try's cost varies with what is in the crop.
SPREAD, GUARD = 1.3, 0.05


@dataclass(frozen=True)
class Variant:
    """One way of trying a failed detection again: the crop ``pad`` (a fraction of the detection's
    size on each side) filtered by ``before``, enlarged ``factor`` times (bicubic; at most
    :data:`MAX_SIDE` wide), then filtered by ``after``."""

    name: str
    pad: float
    factor: float = 2.0
    before: Callable[[Image.Image], Image.Image] | None = None
    after: Callable[[Image.Image], Image.Image] | None = None

    def scale(self, crop: np.ndarray) -> float:
        return min(self.factor, MAX_SIDE / max(crop.shape))

    def image(self, crop: np.ndarray) -> np.ndarray:
        im = Image.fromarray(crop)
        if self.before:
            im = self.before(im)
        scale = self.scale(crop)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BICUBIC)
        return np.asarray(self.after(im) if self.after else im)

    def pixels(self, crop: np.ndarray) -> int:
        """How many pixels :meth:`image` will have (what a try's cost follows)."""
        return int(crop.size * self.scale(crop) ** 2)


#: The variants, in the order that read most on the hard corpus (docs/benchmarks.md, "Hard frames").
VARIANTS = (
    Variant("enlarged", 0.3),
    Variant("enlarged_wide", 2.5),
    Variant("stretched", 0.3, before=lambda im: ImageOps.autocontrast(im, cutoff=1)),
    Variant("enlarged3", 0.3, factor=3.0),
    Variant("denoised", 0.3, before=lambda im: im.filter(ImageFilter.MedianFilter(3))),
    Variant("sharpened", 0.3, after=lambda im: im.filter(ImageFilter.UnsharpMask(radius=2, percent=120, threshold=2))),
)


@dataclass
class _Progress:
    centre: tuple[float, float]
    at: float
    next_variant: int


class SecondEffort:
    """read: the decoder's call on an image (returns zxing-cpp barcodes, errors included); budget_s:
    how long one frame's decoding may take in all (the first pass included)."""

    def __init__(self, read: Callable[[np.ndarray], list], budget_s: float, *, clock=time.perf_counter,
                 monotonic=time.monotonic):
        self.read, self.budget_s, self.clock, self.monotonic = read, budget_s, clock, monotonic
        self._progress: _Progress | None = None
        #: What a try costs, seconds per pixel of the image tried (learnt from the tries, starting
        #: from a cautious guess): a try that would end past the budget is left for the next frame
        #: of the presentation.
        self._s_per_px = {v.name: FIRST_GUESS_S_PER_PX for v in VARIANTS}
        #: Reads each variant made (by name), for the benchmark's "what each technique bought".
        self.reads: dict[str, int] = {v.name: 0 for v in VARIANTS}

    def retry(self, frame: np.ndarray, failed: list, started: float) -> list:
        """Valid barcodes read from the regions of ``failed`` (zxing-cpp's failed detections in
        ``frame``), within the budget counted from ``started`` (a :attr:`clock` time)."""
        deadline = started + self.budget_s * (1 - GUARD)
        for box in _regions([_box(b.position) for b in failed]):
            centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            first = self._resume(centre)
            for n in range(first, first + len(VARIANTS)):
                variant = VARIANTS[n % len(VARIANTS)]
                crop = _crop(frame, box, variant.pad)
                if crop is None:
                    break
                if self.clock() + SPREAD * self._s_per_px[variant.name] * variant.pixels(crop) > deadline:
                    self._progress = _Progress(centre, self.monotonic(), n % len(VARIANTS))
                    return []
                tried = self.clock()
                image = variant.image(crop)
                found = [b for b in self.read(image) if b.valid]
                self._learn(variant.name, self.clock() - tried, image.size)
                if found:
                    self.reads[variant.name] += 1
                    self._progress = None
                    return found
        self._progress = None
        return []

    def new_presentation(self) -> None:
        """Forget where the last code's effort stopped (the next code starts from the first variant)."""
        self._progress = None

    def _learn(self, variant: str, seconds: float, pixels: int) -> None:
        """One more try's cost, its image made and read (a moving average: the load changes)."""
        self._s_per_px[variant] = 0.7 * self._s_per_px[variant] + 0.3 * seconds / max(1, pixels)

    def _resume(self, centre: tuple[float, float]) -> int:
        """Where the last frame's effort on this code stopped (0: a new code)."""
        p = self._progress
        if (p is None or self.monotonic() - p.at > SAME_CODE_S
                or abs(p.centre[0] - centre[0]) + abs(p.centre[1] - centre[1]) > SAME_CODE_PX):
            return 0
        return p.next_variant


def _box(position) -> tuple[int, int, int, int]:
    """The bounding box ``(x0, y0, x1, y1)`` of a detection's four corners."""
    xs = [p.x for p in (position.top_left, position.top_right, position.bottom_right, position.bottom_left)]
    ys = [p.y for p in (position.top_left, position.top_right, position.bottom_right, position.bottom_left)]
    return min(xs), min(ys), max(xs), max(ys)


def _side(box: tuple[int, int, int, int]) -> int:
    return max(box[2] - box[0], box[3] - box[1])


def _regions(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Where to try again: the failed detections of one code are parts of it (a finder and its
    neighbours taken for a small code), so their union, unless they lie too far apart to be one
    code; then the largest ones, one by one."""
    boxes = sorted(boxes, key=lambda b: -_side(b))
    union = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    if _side(union) <= UNION_AT_MOST * _side(boxes[0]):
        return [union]
    return boxes[:MAX_REGIONS]


def _crop(frame: np.ndarray, box: tuple[int, int, int, int], pad: float) -> np.ndarray | None:
    """The frame around ``box``, ``pad`` of its size on each side (and at least 8 pixels)."""
    size = _side(box)
    if size < 8:
        return None
    d = int(pad * size) + 8
    h, w = frame.shape
    x0, y0, x1, y1 = max(0, box[0] - d), max(0, box[1] - d), min(w, box[2] + d), min(h, box[3] + d)
    if x1 - x0 < 16 or y1 - y0 < 16:
        return None
    return np.ascontiguousarray(frame[y0:y1, x0:x1])
