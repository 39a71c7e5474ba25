"""kiosk-provision bundle: a real aarch64 wheelhouse from PyPI, checked by pip's own resolver."""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
import zipfile
from pathlib import Path

import pytest

from bundle_support import session_bundle
from provisioning import bundle
from provisioning.cli import main
from provisioning.fleet import FleetError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return session_bundle(tmp_path_factory)


def test_manifest_lists_every_wheel_with_its_hash(made):
    out, printed = made
    manifest = json.loads((out / "bundle.json").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert (manifest["package"], manifest["version"], manifest["python"]) == ("checkin-kiosk", version, "3.13")
    assert "manylinux_2_28_aarch64" in manifest["platforms"]
    on_disk = sorted(p.name for p in out.glob("*.whl"))
    assert [f["name"] for f in manifest["files"]] == on_disk
    for f in manifest["files"]:
        data = (out / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"]
    assert f"{len(on_disk)} wheels" in printed and str(out) in printed


def test_wheels_are_for_the_kiosk(made):
    out, _ = made
    names = [p.name for p in out.glob("*.whl")]
    ours = [n for n in names if n.startswith("checkin_kiosk-")]
    assert len(ours) == 1
    with zipfile.ZipFile(out / ours[0]) as z:   # built from this tree, with its package data
        listed = set(z.namelist())
    assert {"provisioning/cli.py", "provisioning/firstboot.sh", "kiosk/cli.py"} <= listed
    for name in names:
        tags = name[:-4].split("-")[-3:]          # python, abi, platform
        assert tags[2] == "any" or "aarch64" in tags[2], name
        assert tags[2] == "any" or tags[1] in ("abi3", "cp313") or tags[0] == "cp313", name
    # the dependencies with compiled parts are there as aarch64 wheels
    for dist in ("cryptography", "pillow", "argon2_cffi_bindings", "zxing_cpp", "numpy", "markupsafe"):
        assert any(n.lower().startswith(dist + "-") and "aarch64" in n for n in names), dist


def test_resolves_offline_for_python_313_aarch64(made):
    out, _ = made
    installed = bundle.verify(bundle.load(out))
    assert {"checkin-kiosk", "flask", "waitress", "cryptography", "paho-mqtt", "numpy",
            "python-escpos", "zxing-cpp"} <= {n.lower() for n in installed}


def test_incomplete_or_changed_wheelhouse_is_refused(made, tmp_path):
    out, _ = made
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    crypto = next(copy.glob("cryptography-*.whl"))
    crypto.write_bytes(crypto.read_bytes()[:-10])
    with pytest.raises(FleetError, match="changed since the bundle was made"):
        bundle.load(copy)
    crypto.unlink()
    loaded = bundle.Bundle(copy, "3.13", bundle.load(out).version, {})
    with pytest.raises(FleetError, match="incomplete"):
        bundle.verify(loaded)


def test_refusals(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "x.txt").write_text("mine")
    assert main(["bundle", str(tmp_path / "notes")]) == 2
    assert "not a bundle" in capsys.readouterr().err
    assert (tmp_path / "notes" / "x.txt").read_text() == "mine"
    assert main(["bundle", str(tmp_path / "b"), "--python", "2.7"]) == 2
    assert "--python" in capsys.readouterr().err
    assert main(["bundle", "--fleet", str(tmp_path / "nofleet")]) == 2
    assert "not a fleet directory" in capsys.readouterr().err
    with pytest.raises(FleetError, match="no wheelhouse"):
        bundle.load(tmp_path)
