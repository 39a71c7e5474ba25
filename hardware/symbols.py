"""What a decoder returns: one :class:`Symbol` per code found in a frame."""

from __future__ import annotations

from dataclasses import dataclass

#: Symbologies the kiosk can be configured to read, by their config names.
SYMBOLOGIES = ("qr_code", "code_128")


@dataclass(frozen=True)
class Symbol:
    """One decoded code.

    format: ``"qr_code"`` or ``"code_128"``.
    data: the raw payload bytes, exactly as encoded in the symbol.
    text: the payload as text: UTF-8 when the bytes are valid UTF-8, else Latin-1
          (so a binary payload still has a lossless text form; the credential parser refuses it).
    """

    format: str
    data: bytes
    text: str

    @classmethod
    def from_bytes(cls, format: str, data: bytes) -> Symbol:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        return cls(format=format, data=data, text=text)
