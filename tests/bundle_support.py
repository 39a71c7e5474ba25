"""One real wheelhouse per test session (``kiosk-provision bundle``, downloads from PyPI), shared by
test_bundle.py and test_write_boot.py. No network means a failed test, never a skip."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from provisioning.cli import main

_made: dict[str, tuple[Path, str]] = {}


def session_bundle(tmp_path_factory) -> tuple[Path, str]:
    """(the bundle folder, what ``bundle`` printed), made once."""
    if "bundle" not in _made:
        out = tmp_path_factory.mktemp("wheelhouse") / "bundle"
        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            code = main(["bundle", str(out), "--python", "3.13"])
        assert code == 0, f"kiosk-provision bundle failed (is PyPI reachable?):\n{stderr.getvalue()}"
        _made["bundle"] = (out, stdout.getvalue())
    return _made["bundle"]
