"""`kiosk samples`: every sample decodes from its PNG to the kind it is named for, and the refused
ones are refused for the reason their name gives (which is why `kiosk decode samples/*.png` exits 1)."""

from __future__ import annotations

import json
import subprocess
import sys

from kiosk.samples import SAMPLES

WANT = {"cccd-nguyen-thi-mau": "cccd", "can-cuoc-tran-van-thu": "cccd", "bhyt-old-nguyen-thi-mau": "bhyt",
        "bhyt-new-tran-van-thu": "bhyt", "national-qr-masked": "national_qr",
        "refused-payment-qr": "payment_qr", "refused-url": "url", "refused-vaccine-passport": "vaccine_passport"}


def test_each_sample_reads_as_its_name_says(tmp_path):
    assert set(SAMPLES) == set(WANT)
    kiosk = [sys.executable, "-m", "kiosk"]
    subprocess.run([*kiosk, "samples", str(tmp_path)], check=True, capture_output=True)
    files = sorted(tmp_path.glob("*.png"))
    done = subprocess.run([*kiosk, "decode", *map(str, files), "--json"], capture_output=True, text=True)
    assert done.returncode == 1                      # the refused-* samples, on purpose
    got = {}
    for line in done.stdout.splitlines():
        row = json.loads(line)
        name = row["file"].rsplit("/", 1)[1].removesuffix(".png")
        got[name] = row["credential"]["kind"] if "credential" in row else row["reason"]
    assert got == WANT
    rows = {json.loads(line)["file"].rsplit("/", 1)[1]: json.loads(line) for line in done.stdout.splitlines()}
    assert rows["can-cuoc-tran-van-thu.png"]["credential"]["details"]["layout"] == "can_cuoc_2024"
