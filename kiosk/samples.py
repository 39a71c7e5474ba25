"""Synthetic sample codes to show the kiosk: one of each kind it reads, and a few it refuses
(``refused-*``: ``kiosk decode`` exits 1 for those, on purpose). The kiosk's own slips and cards
are not among them: they are signed with the venue's key for a visit or a registered person, so
they come out of the kiosk's printer (``var/printer`` in simulation) and go back to its camera.

``kiosk samples FOLDER`` writes them; read back as the kiosk's camera and decoder read them:

>>> import tempfile
>>> from hardware.camera_folder import load_frames
>>> from hardware.decoders import open_decoder
>>> from kiosk.credentials import recognise
>>> with tempfile.TemporaryDirectory() as tmp:
...     paths = write_samples(Path(tmp, "samples"))
...     [path.name for path in paths]
...     [recognise(symbol.data).key for symbol in open_decoder().decode(load_frames(paths[0], 640, 480)[0])]
['cccd-nguyen-thi-mau.png', 'can-cuoc-tran-van-thu.png', 'bhyt-old-nguyen-thi-mau.png',
 'bhyt-new-tran-van-thu.png', 'national-qr-masked.png', 'refused-payment-qr.png', 'refused-url.png',
 'refused-vaccine-passport.png']
['cccd:079190000001']

The people are made up ("Mẫu" and "Thử" mean "sample" and "test"); the layouts are the real ones.
"""

from __future__ import annotations

from pathlib import Path

import segno

SAMPLES = {
    "cccd-nguyen-thi-mau": "079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|"
                           "Số 1 Đường Thử Nghiệm, Phường Mẫu, Tỉnh Giả Định|15072021",
    # A Căn cước card (2024): the chip card's 7 fields and 4 empty ones, as cards in the field carry.
    "can-cuoc-tran-van-thu": "001095000002||Trần Văn Thử|02021995|Nam|Phường Mẫu, Thành phố Hà Nội|10102024||||",
    "bhyt-old-nguyen-thi-mau": (
        "GD4799999999901|4e677579e1bb856e205468e1bb8b204de1baab75|01/01/1990|2|"
        "53e1bb91203120c490c6b0e1bb9d6e67205468e1bbad204e676869e1bb876d2c205068c6b0e1bb9d6e67204de1baab752c20"
        "54e1bb896e68204769e1baa320c490e1bb8b6e68|79 - 999|01/01/2020|31/12/2020|15/12/2019|79999999999901|-|4|"
        "01/01/2025|0123456789abcdef-0000|$"),
    "bhyt-new-tran-van-thu": (
        "7999999901|5472e1baa76e2056c4836e205468e1bbad|02/02/1995|1|-|01 - 999|01/01/2024|-|15/01/2024|"
        "01997999999901|-|4| 01/01/2029|fedcba9876543210-0000|4|"
        "42e1baa36f206869e1bb836d2078c3a32068e1bb9969204de1baab75|$"),
    "national-qr-masked": "******000001|NGUYEN THI MAU|1990-**-**|0|100000000000000001|<2<GD4799999999901<0912345678",
    "refused-payment-qr": "00020101021238570010A000000727012700069704030113001101234567802"
                          "08QRIBFTTA53037045802VN6304ABCD",
    "refused-url": "https://example.com/khai-bao",
    # An EU-style vaccine passport (HC1: prefix): signed health data, not an identity to check in with.
    "refused-vaccine-passport": "HC1:NCF.SYNTHETIC.SAMPLE.NOT.A.REAL.CERTIFICATE",
}


def write_samples(folder: Path, *, scale: int = 4) -> list[Path]:
    """Write each sample as a PNG QR code into ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, payload in SAMPLES.items():
        path = folder / f"{name}.png"
        segno.make(payload, encoding="utf-8", micro=False).save(path, scale=scale, border=4)
        paths.append(path)
    return paths
