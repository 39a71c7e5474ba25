"""zxing-cpp backend: fast, reads byte-mode UTF-8 exactly (``.bytes`` is the raw payload)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import zxingcpp

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
    """

    name = "zxing"

    def __init__(self, symbologies: Sequence[str], *, try_rotate: bool = False,
                 try_downscale: bool = True, try_invert: bool = False):
        # A tuple, not BarcodeFormat.A | B: the flag union is deprecated in zxing-cpp 3.
        self._formats = tuple(_FORMATS[s] for s in symbologies)
        self._options = dict(try_rotate=try_rotate, try_downscale=try_downscale, try_invert=try_invert)

    def decode(self, frame: np.ndarray) -> list[Symbol]:
        results = zxingcpp.read_barcodes(frame, formats=self._formats, **self._options)
        return [Symbol.from_bytes(_NAMES.get(r.format, str(r.format)), bytes(r.bytes)) for r in results]

    def close(self) -> None:
        pass
