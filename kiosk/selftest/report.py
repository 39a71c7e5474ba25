"""The self-test report: the technician's text (Vietnamese or English) and the central copy
(``checkin.selftest/1``, see :func:`mqtt.wire.selftest_report.validate_selftest`)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from mqtt.wire.selftest_report import SELFTEST_SCHEMA

from .. import __version__
from ..clock import iso
from ..messages import text
from .checks import Result

MARKS = {"pass": "✓", "warn": "!", "fail": "✗", "skip": "–"}


def detail(result: Result, language: str) -> str:
    """A check's sentence, :mod:`kiosk.messages` ``selftest_<key>``; a list value names devices
    (green, red, buzzer, relay: ``selftest_device_<name>``) in the same language."""
    values = {k: ", ".join(text(f"selftest_device_{d}", language) for d in v) if isinstance(v, list) else v
              for k, v in result.values.items()}
    return text(f"selftest_{result.key}", language, **values)


def passed(results: list[Result]) -> bool:
    return all(r.status != "fail" for r in results)


def central_report(results: list[Result], *, kiosk_id: str, venue_id: str, at: datetime,
                   report_id: str | None = None) -> dict:
    """The report as the collector stores it: English sentences, figures, no personal data. Its
    ``broker`` line says the report arrived, which is true whenever anyone reads it."""
    checks = [{"name": r.name, "status": r.status, "detail": detail(r, "en")[:400],
               "figures": r.figures} for r in results]
    checks.append({"name": "broker", "status": "pass", "detail": text("selftest_broker_central", "en")})
    return {"schema": SELFTEST_SCHEMA, "report_id": report_id or str(uuid.uuid4()), "kiosk_id": kiosk_id,
            "venue_id": venue_id, "at": iso(at), "version": __version__, "passed": passed(results),
            "checks": checks}


def encode(report: dict) -> bytes:
    return json.dumps(report, ensure_ascii=False, separators=(",", ":")).encode()


def text_report(results: list[Result], *, kiosk_id: str, venue: str, at: datetime, language: str) -> str:
    names = {r.name: text(f"selftest_check_{r.name}", language) for r in results}
    width = max(len(n) for n in names.values())
    lines = [text("selftest_title", language, kiosk=kiosk_id, venue=venue, at=f"{at:%Y-%m-%d %H:%M}"), ""]
    for r in results:
        lines.append(f"  {MARKS[r.status]} {names[r.name]:{width}}  {detail(r, language)}")
    failures = sum(r.status == "fail" for r in results)
    warnings = sum(r.status == "warn" for r in results)
    lines.append("")
    if failures:
        lines.append(text("selftest_failed", language, n=failures))
    elif warnings:
        lines.append(text("selftest_passed_warnings", language, n=warnings))
    else:
        lines.append(text("selftest_passed", language))
    return "\n".join(lines)
