"""Decoders: find codes in a grayscale frame and return :class:`~hardware.symbols.Symbol` s.

One interface, two backends, chosen by config ``[decoder] backend``:

>>> import segno
>>> frame = 255 - 255 * np.array(list(segno.make_qr("Trần Văn Thử").matrix_iter(scale=4)), np.uint8)
>>> decoder = open_decoder("zxing", symbologies=("qr_code",))
>>> decoder.decode(frame)           # frame: 2-D uint8 numpy array (a Y plane), here a QR code
[Symbol(format='qr_code', data=b'Tr\\xe1\\xba\\xa7n V\\xc4\\x83n Th\\xe1\\xbb\\xad', text='Trần Văn Thử')]

``zxing`` (zxing-cpp) is the default: see docs/design-notes.md "Why zxing-cpp" (figures: docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .symbols import SYMBOLOGIES, Symbol

DEFAULT_BACKEND = "zxing"
BACKENDS = ("zxing", "zbar")


class Decoder(Protocol):
    name: str

    def decode(self, frame: np.ndarray) -> list[Symbol]:
        """Codes found in ``frame`` (2-D uint8, any strides), in the decoder's order."""

    def close(self) -> None: ...


def open_decoder(backend: str = DEFAULT_BACKEND, *, symbologies: Sequence[str] = SYMBOLOGIES,
                 **options) -> Decoder:
    """Make a decoder.

    backend: ``"zxing"`` (default) or ``"zbar"``.
    symbologies: any of ``"qr_code"``, ``"code_128"`` (default: both). Reading fewer is faster
        and avoids false reads of unrelated barcodes.
    options: backend options, see :class:`~hardware.decode_zxing.ZxingDecoder` and
        :class:`~hardware.decode_zbar.ZbarDecoder`.
    """
    unknown = [s for s in symbologies if s not in SYMBOLOGIES]
    if unknown or not symbologies:
        raise ValueError(f"symbologies must be a non-empty subset of {SYMBOLOGIES}, got {list(symbologies)}")
    if backend == "zxing":
        from .decode_zxing import ZxingDecoder
        return ZxingDecoder(symbologies, **options)
    if backend == "zbar":
        from .decode_zbar import ZbarDecoder
        return ZbarDecoder(symbologies, **options)
    raise ValueError(f"decoder backend must be one of {BACKENDS}, got {backend!r}")
