"""zbar backend (through pyzbar's ctypes wrapper), in binary mode.

zbar guesses the character set of byte-mode QR data (SJIS before UTF-8), which turns
Vietnamese UTF-8 into mojibake. zbar >= 0.23.1 has ``ZBAR_CFG_BINARY`` to return the bytes
untouched, but ``pyzbar.decode`` cannot set it, so this module drives the scanner itself.
With an older libzbar, text is repaired by :func:`repair_mojibake` instead.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import numpy as np
from pyzbar import wrapper as zw

from .symbols import Symbol

_SYMBOLS = {"qr_code": zw.ZBarSymbol.QRCODE, "code_128": zw.ZBarSymbol.CODE128}
_NAMES = {int(v): k for k, v in _SYMBOLS.items()}
_CFG_ENABLE = 0
_CFG_BINARY = 4  # ZBAR_CFG_BINARY in zbar >= 0.23.1 (pyzbar's enum predates it)
_Y800 = 0x30303859  # fourcc 'Y800': 8-bit grayscale


def _zbar_version() -> tuple[int, int, int]:
    # pyzbar declares zbar_version(major, minor), but zbar >= 0.11 also writes *patch: calling
    # pyzbar's prototype lets zbar write through a garbage pointer (heap corruption, abort at
    # exit). Passing a third pointer is harmless for older two-argument versions (cdecl).
    fn = zw.load_libzbar().zbar_version
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.POINTER(ctypes.c_uint)] * 3
    major, minor, patch = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
    fn(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch))
    return major.value, minor.value, patch.value


def repair_mojibake(data: bytes) -> bytes:
    """Undo zbar's SJIS guess on UTF-8 data, when zbar could not be put in binary mode.

    zbar decoded the payload bytes as Shift-JIS and re-encoded the text as UTF-8; encoding that
    text back to Shift-JIS gives the original bytes. Returns ``data`` unchanged when that does
    not give valid UTF-8 (the payload really was something else).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    if text.isascii():
        return data
    for codec in ("shift_jis", "cp932", "latin-1"):
        try:
            original = text.encode(codec)
            original.decode("utf-8")
            return original
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return data


class ZbarDecoder:
    """Decode with zbar (libzbar0 from apt), returning raw payload bytes.

    >>> import segno
    >>> frame = 255 - 255 * np.array(list(segno.make_qr("Trần Văn Thử").matrix_iter(scale=4)), np.uint8)
    >>> d = ZbarDecoder(("qr_code", "code_128"))
    >>> [s.text for s in d.decode(frame)]          # the UTF-8 bytes as encoded, not zbar's guess
    ['Trần Văn Thử']

    symbologies: config names of the formats to read.
    binary: ask zbar for raw bytes (default True; ignored on zbar < 0.23.1).
    """

    name = "zbar"

    def __init__(self, symbologies: Sequence[str], *, binary: bool = True):
        self._scanner = zw.zbar_image_scanner_create()
        # Start from nothing enabled: zbar enables every symbology by default, and each
        # enabled one costs time and risks false reads.
        zw.zbar_image_scanner_set_config(self._scanner, 0, _CFG_ENABLE, 0)
        for s in symbologies:
            zw.zbar_image_scanner_set_config(self._scanner, _SYMBOLS[s], _CFG_ENABLE, 1)
        self.binary = binary and _zbar_version() >= (0, 23, 1) and self._set_binary(symbologies)

    def _set_binary(self, symbologies: Sequence[str]) -> bool:
        if "qr_code" not in symbologies:
            return True
        return zw.zbar_image_scanner_set_config(self._scanner, _SYMBOLS["qr_code"], _CFG_BINARY, 1) == 0

    def decode(self, frame: np.ndarray) -> list[Symbol]:
        if frame.ndim != 2 or frame.dtype != np.uint8:
            raise ValueError("frame must be a 2-D uint8 array")
        height, width = frame.shape
        pixels = np.ascontiguousarray(frame)
        image = zw.zbar_image_create()
        try:
            zw.zbar_image_set_format(image, _Y800)
            zw.zbar_image_set_size(image, width, height)
            zw.zbar_image_set_data(image, pixels.ctypes.data, pixels.size, None)
            found = []
            if zw.zbar_scan_image(self._scanner, image) > 0:
                symbol = zw.zbar_image_first_symbol(image)
                while symbol:
                    length = zw.zbar_symbol_get_data_length(symbol)
                    data = ctypes.string_at(zw.zbar_symbol_get_data(symbol), length)
                    kind = _NAMES.get(int(symbol.contents.type), "unknown")
                    if kind == "qr_code" and not self.binary:
                        data = repair_mojibake(data)
                    found.append(Symbol.from_bytes(kind, data))
                    symbol = zw.zbar_symbol_next(symbol)
            return found
        finally:
            zw.zbar_image_destroy(image)

    def close(self) -> None:
        if self._scanner:
            zw.zbar_image_scanner_destroy(self._scanner)
            self._scanner = None

    def __del__(self):
        self.close()
