"""zxing-cpp backend: fast, reads byte-mode UTF-8 exactly (``.bytes`` is the raw payload), and
with a time budget a second effort on codes it found but could not read (:mod:`.second_effort`)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import zxingcpp

from .second_effort import SecondEffort
from .symbols import Symbol

_FORMATS = {
    "qr_code": zxingcpp.BarcodeFormat.QRCode,
    "code_128": zxingcpp.BarcodeFormat.Code128,
}
_NAMES = {v: k for k, v in _FORMATS.items()}


class ZxingDecoder:
    """Decode with zxing-cpp.

    >>> import segno
    >>> screen = 255 * np.array(list(segno.make_qr("0912000001").matrix_iter(scale=4)), np.uint8)
    >>> [s.text for s in ZxingDecoder(("qr_code",)).decode(screen)]     # light on dark: not found ...
    []
    >>> [s.text for s in ZxingDecoder(("qr_code",), try_invert=True).decode(screen)]
    ['0912000001']

    symbologies: config names of the formats to read.
    try_rotate: also try 90° rotations (1-D codes only; QR is rotation-invariant). Default False.
    try_downscale: also try downscaled copies (helps large, blurred codes; costs time). Default True.
    try_invert: also try the inverted image (light codes on dark screens). Default False.
    budget_ms: how long a frame's decoding may take in all when a code was found but not read:
        the second effort works on it until then (0: none, exactly the raw decoder). A frame
        without a code-like pattern never gets one (zxing-cpp reports no failed detection there).
    """

    name = "zxing"

    def __init__(self, symbologies: Sequence[str], *, try_rotate: bool = False,
                 try_downscale: bool = True, try_invert: bool = False, budget_ms: float = 0.0):
        # A tuple, not BarcodeFormat.A | B: the flag union is deprecated in zxing-cpp 3.
        self._formats = tuple(_FORMATS[s] for s in symbologies)
        self._options = dict(try_rotate=try_rotate, try_downscale=try_downscale, try_invert=try_invert)
        self.second_effort = SecondEffort(self._read_again, budget_ms / 1000) if budget_ms > 0 else None

    def _read(self, image: np.ndarray) -> list:
        return zxingcpp.read_barcodes(image, formats=self._formats, return_errors=self.second_effort is not None,
                                      **self._options)

    def _read_again(self, image: np.ndarray) -> list:
        """A second effort's try: an enlarged crop, so no downscaled copies of it."""
        return zxingcpp.read_barcodes(image, formats=self._formats, **{**self._options, "try_downscale": False})

    def decode(self, frame: np.ndarray) -> list[Symbol]:
        started = time.perf_counter()
        results = self._read(frame)
        read = [r for r in results if r.valid]
        if not read and self.second_effort is not None:
            failed = [r for r in results if not r.valid]
            if failed:
                read = self.second_effort.retry(frame, failed, started)
        return [Symbol.from_bytes(_NAMES.get(r.format, str(r.format)), bytes(r.bytes)) for r in read]

    def close(self) -> None:
        pass
