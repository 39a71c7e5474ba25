"""An offline wheelhouse for the kiosks (aarch64): the checkin-kiosk wheel built from this source
tree and the wheels of all its dependencies, with a manifest (bundle.json) and a check that it
installs with no index.

What is in it: every runtime dependency in pyproject.toml, numpy included. On Raspberry Pi OS
numpy comes from apt (python3-numpy, pulled in by python3-picamera2 and python3-opencv, which are
built against it); the kiosk's venv is made with --system-site-packages, so pip keeps apt's numpy
when it satisfies the requirement and the numpy wheel stays unused. It is there so the bundle is
complete on its own (and verifiable). OpenCV (the v4l2 extra) and picamera2 are not in it: apt's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .fleet import FleetError

PACKAGE = "checkin-kiosk"
MANIFEST = "bundle.json"
DEFAULT_PYTHON = "3.13"   # Raspberry Pi OS Trixie; Bookworm has 3.11
PLATFORMS = ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64", "any"]
PYTHON_VERSION = re.compile(r"3\.(1[1-9]|[2-9][0-9])")
#: The source tree: this package's parent folder (a checkout, or an editable install).
SOURCE = Path(__file__).resolve().parent.parent
SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE")
SOURCE_PACKAGES = ("kiosk", "hardware", "mqtt", "provisioning")


@dataclass(frozen=True)
class Bundle:
    root: Path
    python: str
    version: str
    files: dict[str, str]   # wheel file name -> sha256

    @property
    def requirement(self) -> str:
        return f"{PACKAGE}=={self.version}"

    @property
    def size(self) -> int:
        return sum((self.root / name).stat().st_size for name in self.files)


def _pip(*args: str, isolated: bool = False, what: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if isolated:
        # Only the wheelhouse: no pip.conf or PIP_* find-links/index from this machine.
        for key in list(env):
            if key.startswith("PIP_") and key not in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT"):
                del env[key]
        env["PIP_CONFIG_FILE"] = os.devnull
    res = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                         check=False, capture_output=True, text=True, env=env)
    if res.returncode:
        tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-12:])
        raise FleetError(f"{what} failed (pip exit {res.returncode}):\n{tail}")
    return res


def _platform_args(python: str) -> list[str]:
    args = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
    for p in PLATFORMS:
        args += ["--platform", p]
    return args


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _source_copy(dest: Path, source: Path) -> None:
    """The files the wheel is built from, copied so the build leaves nothing in the checkout."""
    if not (source / "pyproject.toml").is_file():
        raise FleetError(f"{source}: no pyproject.toml; `bundle` runs from a checkin-kiosk source tree")
    dest.mkdir()
    for name in SOURCE_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCE_PACKAGES:
        shutil.copytree(source / name, dest / name, ignore=ignore)


def make(out: Path, *, python: str = DEFAULT_PYTHON, source: Path = SOURCE) -> Bundle:
    """Builds the wheelhouse in ``out`` (replacing a previous bundle there) and verifies it."""
    if not PYTHON_VERSION.fullmatch(python):
        raise FleetError(f"--python {python!r}: the kiosk's Python as X.Y, 3.11 or later "
                         "(3.13 on Raspberry Pi OS Trixie, 3.11 on Bookworm)")
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise FleetError(f"{out}: exists and is not a bundle (no {MANIFEST}); refusing to overwrite it")
    version = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="kiosk-src-") as tmp:
            src = Path(tmp) / "src"
            _source_copy(src, source)
            _pip("wheel", "--no-deps", "-q", "-w", str(work), str(src), what=f"building the {PACKAGE} wheel")
        wheel = next(work.glob("checkin_kiosk-*.whl"), None)
        if wheel is None:
            raise FleetError(f"building the {PACKAGE} wheel made no wheel")
        _pip("download", "-q", "-d", str(work), *_platform_args(python), str(wheel),
             what=f"downloading the dependencies for Python {python} aarch64")
        files = {p.name: _sha256(p) for p in sorted(work.glob("*.whl"))}
        manifest = {"package": PACKAGE, "version": version, "python": python, "implementation": "cp",
                    "platforms": PLATFORMS, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    "note": "numpy is also provided by apt on Raspberry Pi OS; the venv keeps apt's",
                    "files": [{"name": n, "sha256": h, "size": (work / n).stat().st_size}
                              for n, h in files.items()]}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        bundle = Bundle(work, python, version, files)
        verify(bundle)
        os.chmod(work, 0o755)
        if out.exists():
            shutil.rmtree(out)
        os.rename(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Bundle(out, python, version, files)


def load(root: Path) -> Bundle:
    """The bundle in ``root``, its files checked against the manifest."""
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise FleetError(f"{root}: no wheelhouse ({MANIFEST} missing); make one with "
                         "`kiosk-provision bundle` (or give --bundle DIR)")
    m = json.loads(manifest_path.read_text(encoding="utf-8"))
    files = {f["name"]: f["sha256"] for f in m["files"]}
    for name, digest in files.items():
        path = root / name
        if not path.is_file() or _sha256(path) != digest:
            raise FleetError(f"{root}: {name} is missing or changed since the bundle was made; "
                             "make the bundle again")
    return Bundle(root, m["python"], m["version"], files)


def verify(bundle: Bundle) -> list[str]:
    """Resolves ``checkin-kiosk`` from the wheelhouse alone, for the bundle's Python on aarch64;
    returns the names of the distributions that would be installed, or raises FleetError."""
    with tempfile.TemporaryDirectory(prefix="kiosk-verify-") as tmp:
        report = Path(tmp) / "report.json"
        _pip("install", "--dry-run", "--no-index", "--find-links", str(bundle.root), "--ignore-installed",
             *_platform_args(bundle.python), "--target", str(Path(tmp) / "target"),
             "--report", str(report), bundle.requirement,
             what=f"the wheelhouse {bundle.root} is incomplete: installing {bundle.requirement} from it alone")
        installed = json.loads(report.read_text(encoding="utf-8"))["install"]
    return sorted(item["metadata"]["name"] for item in installed)
