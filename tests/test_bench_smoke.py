"""The benchmark command runs and reports every figure (no timing is asserted: that is bench's job)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_bench_quick_reports_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-m", "bench", "--quick", "--presentations", "40", "--out", str(out)],
                       cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads(out.read_text())
    for backend in ("zxing", "zbar"):
        for scene in ("empty", "code"):
            cell = figures["decode"]["throughput"][backend][scene]
            assert cell["raw_fps"] > 0 and cell["pipeline_fps"] > 0 and cell["ratio"] > 0
    assert figures["commit"]["kiosk"]["p99_ms"] > 0 and figures["commit"]["raw"]["p99_ms"] > 0
    assert figures["rss"]["presentations"] == 40 and figures["rss"]["peak_rss_kb"] > 0
    assert figures["screen"]["presentations"] == 50 and figures["screen"]["ours"]["p99_ms"] > 0
    assert figures["screen"]["raw"]["p50_ms"] > 0 and figures["screen"]["transfer"]["files"]["/"] > 0
    assert "1. Decoding" in r.stdout and "2. Check-in commit latency" in r.stdout and "3. Memory" in r.stdout
    assert "6. Kiosk screen" in r.stdout
    for cell in (figures["print"][f"{kind}_{width}"] for kind in ("slip", "card") for width in (384, 576)):
        assert cell["bytes"] == cell["height"] * cell["width"] // 8 + 16       # ESC @, GS v 0 header, feed, cut
        assert cell["usb_ms"] > 0 and cell["ours_ms"] > 0 and cell["raw_ms"] > 0 and cell["ratio"] > 0
    assert "7. Print jobs" in r.stdout
    login = figures["login"]
    assert login["ours_flood"]["p50_ms"] > 0 and login["raw_flood"]["p50_ms"] > 0 and login["flood_per_s"] > 0
    assert "429" in login["flood_answers"] and "9. A logged-in staff page" in r.stdout
    for store in figures["console"]["stores"].values():
        assert store["api_p50_ms"] > 0 and store["raw_p50_ms"] > 0 and store["ratio_p50"] > 0
        assert store["stats_rows"] > 0 and store["stats_p50_ms"] > 0 and store["stats_busy_p50_ms"] > 0
        assert store["stats_cold_ms"] > 0 and store["stats_raw_p50_ms"] > 0 and store["marks"] > 0
    assert "10. The tracing console" in r.stdout
