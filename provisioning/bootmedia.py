"""The Raspberry Pi's FAT boot partition, written without root: inside a flashed disk image (or
card device) with mtools at the partition's offset from ``sfdisk -J``, or in a mounted folder.

    media = open_media(image="kiosk.img")        # or open_media(boot="/media/me/bootfs")
    media.write_file("user-data", b"...")
    media.replace_dir("checkin-kiosk", Path("wheelhouse"))
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mqtt.plumbing.files import replace_file

from .fleet import FleetError

#: Files every Raspberry Pi boot partition has.
BOOT_MARKERS = ("config.txt", "cmdline.txt")
#: MBR partition types of FAT file systems: FAT32 (CHS, LBA), FAT16 LBA, EFI system.
MBR_FAT = {"b", "c", "e", "ef", "6"}
#: GPT: EFI system partition, Microsoft basic data.
GPT_FAT = {"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"}
COMPRESSED = {b"\xfd7zXZ\x00": "xz", b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"(\xb5/\xfd": "zstd",
              b"BZh": "bzip2"}
DECOMPRESS = {"xz": "xz -dk", "gzip": "gunzip -k", "zip": "unzip", "zstd": "zstd -d", "bzip2": "bunzip2 -k"}


class BootFolder:
    """A mounted boot partition (or any folder laid out like one)."""

    def __init__(self, root: Path):
        self.root = root
        if not root.is_dir():
            raise FleetError(f"{root}: not a folder")
        names = {p.name.lower() for p in root.iterdir()}
        missing = [m for m in BOOT_MARKERS if m not in names]
        if missing:
            raise FleetError(f"{root}: not a Raspberry Pi boot partition (no {' or '.join(missing)}); "
                             "give the mounted boot partition (bootfs), usually /media/$USER/bootfs")

    def describe(self) -> str:
        return f"folder {self.root}"

    def write_file(self, name: str, data: bytes) -> None:
        replace_file(self.root / name, data)                 # 0600

    def replace_dir(self, name: str, src: Path) -> None:
        dest = self.root / name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(src, dest, copy_function=shutil.copyfile)


class BootImage:
    """The first FAT partition of a disk image (or a card's block device), through mtools."""

    def __init__(self, image: Path):
        self.image = image
        if not image.exists():
            raise FleetError(f"{image}: no such image")
        kind = compression(image)
        if kind:
            raise FleetError(f"{image} is {kind}-compressed: decompress it first "
                             f"({DECOMPRESS[kind]} {image.name}) and give the .img")
        self.offset = fat_partition_offset(image)
        names = {n.lower() for n in self._ls("::/")}
        missing = [m for m in BOOT_MARKERS if m not in names]
        if missing:
            raise FleetError(f"{image}: its FAT partition is not a Raspberry Pi boot partition "
                             f"(no {' or '.join(missing)})")

    def describe(self) -> str:
        return f"image {self.image} (FAT partition at byte {self.offset})"

    @property
    def _target(self) -> str:
        return f"{self.image}@@{self.offset}"

    def _mtools(self, *args: str) -> subprocess.CompletedProcess:
        tool, *rest = args
        if not shutil.which(tool):
            raise FleetError(f"{tool} not found: install mtools (apt install mtools)")
        env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
        res = subprocess.run([tool, "-i", self._target, *rest], check=False, capture_output=True, text=True, env=env)
        if res.returncode:
            raise FleetError(f"{tool} on {self.image}: {res.stderr.strip() or res.stdout.strip()}")
        return res

    def _ls(self, folder: str) -> list[str]:
        """The names in ``folder`` (mdir -b prints full paths: ::/config.txt)."""
        return [line.rstrip("/").rsplit("/", 1)[-1] for line in self._mtools("mdir", "-b", folder).stdout.splitlines()
                if line.strip()]

    def _exists(self, name: str) -> bool:
        return name.lower() in {n.lower() for n in self._ls("::/")}

    def write_file(self, name: str, data: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="kiosk-boot-") as tmp:
            src = Path(tmp) / name
            fd = os.open(src, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            self._mtools("mcopy", "-o", str(src), f"::/{name}")

    def replace_dir(self, name: str, src: Path) -> None:
        if self._exists(name):
            self._mtools("mdeltree", f"::/{name}")
        with tempfile.TemporaryDirectory(prefix="kiosk-boot-") as tmp:
            staged = Path(tmp) / name   # mcopy -s names the copy after the source folder
            shutil.copytree(src, staged, copy_function=shutil.copyfile)
            self._mtools("mcopy", "-s", "-o", str(staged), "::/")


def compression(path: Path) -> str | None:
    """The compression of ``path`` by its magic bytes (or its name), else None."""
    if path.is_file():
        with path.open("rb") as f:
            head = f.read(8)
        for magic, kind in COMPRESSED.items():
            if head.startswith(magic):
                return kind
    suffix = path.suffix.lower()
    return {".xz": "xz", ".gz": "gzip", ".zip": "zip", ".zst": "zstd", ".bz2": "bzip2"}.get(suffix)


def fat_partition_offset(image: Path) -> int:
    """The byte offset of the first FAT partition in ``image``'s partition table (MBR or GPT)."""
    if not shutil.which("sfdisk"):
        raise FleetError("sfdisk not found: install fdisk (apt install fdisk)")
    res = subprocess.run(["sfdisk", "-J", str(image)], check=False, capture_output=True, text=True)
    if res.returncode or not res.stdout.strip():
        raise FleetError(f"{image}: no partition table ({res.stderr.strip() or 'sfdisk found none'}); "
                         "give a flashed Raspberry Pi OS image")
    table = json.loads(res.stdout)["partitiontable"]
    sector = int(table.get("sectorsize", 512))
    fat = MBR_FAT if table.get("label") == "dos" else GPT_FAT
    for part in table.get("partitions", []):
        if str(part.get("type", "")).lower().lstrip("0") in fat or str(part.get("type", "")).upper() in fat:
            return int(part["start"]) * sector
    types = ", ".join(str(p.get("type")) for p in table.get("partitions", [])) or "none"
    raise FleetError(f"{image}: no FAT partition (partition types: {types}); "
                     "a Raspberry Pi OS image has its FAT boot partition first")


def open_media(*, image: str | Path | None = None, boot: str | Path | None = None):
    """A ``BootImage`` or a ``BootFolder``; exactly one of the two is given."""
    if (image is None) == (boot is None):
        raise FleetError("give either --image SD.img or --boot DIR")
    return BootImage(Path(image)) if image is not None else BootFolder(Path(boot))
