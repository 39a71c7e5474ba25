"""A small SD-card image like a flashed Raspberry Pi OS card (MBR, FAT boot partition, Linux
partition), made and read with the same tools a technician's laptop has: sfdisk and mtools."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SECTOR = 512
FAT_START, FAT_SECTORS = 2048, 131072          # a 64 MiB FAT32 boot partition at 1 MiB
LINUX_START = FAT_START + FAT_SECTORS
IMAGE_BYTES = 80 * 1024 * 1024
MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


def sh(*argv: str, data: bytes | None = None) -> bytes:
    return subprocess.run(argv, input=data, capture_output=True, check=True, env=MTOOLS_ENV).stdout


def make_image(path: Path, *, fat: bool = True) -> Path:
    """An SD-card image: MBR, a FAT32 boot partition with config.txt and cmdline.txt, and a Linux
    partition after it filled with a marker (to prove nothing is written past the FAT partition)."""
    with path.open("wb") as f:
        f.truncate(IMAGE_BYTES)
    script = (f"label: dos\nunit: sectors\nstart={FAT_START}, size={FAT_SECTORS}, type={'c' if fat else '83'}\n"
              f"start={LINUX_START}, type=83\n")
    sh("sfdisk", "-q", str(path), data=script.encode())
    with path.open("r+b") as f:
        f.seek(LINUX_START * SECTOR)
        f.write(b"LINUX-ROOTFS" * 100_000)
    if fat:
        target = f"{path}@@{FAT_START * SECTOR}"
        sh("mformat", "-i", target, "-F", "-T", str(FAT_SECTORS), "-v", "bootfs", "::")
        src = path.parent / "src"
        src.mkdir(exist_ok=True)
        (src / "config.txt").write_text("arm_64bit=1\n")
        (src / "cmdline.txt").write_text("console=tty1 root=PARTUUID=0-02 rootwait\n")
        sh("mcopy", "-i", target, str(src / "config.txt"), str(src / "cmdline.txt"), "::/")
    return path


def mtype(image: Path, name: str) -> bytes:
    return sh("mtype", "-i", f"{image}@@{FAT_START * SECTOR}", f"::/{name}")
