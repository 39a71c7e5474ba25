"""The self-test report: the technician's text (Vietnamese or English) and the central copy
(``checkin.selftest/1``, see :func:`mqtt.wire.selftest_report.validate_selftest`)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from mqtt.wire.selftest_report import SELFTEST_SCHEMA

from .. import __version__
from ..clock import iso
from .checks import Result
from .wording import name, say

MARKS = {"pass": "✓", "warn": "!", "fail": "✗", "skip": "–"}


def passed(results: list[Result]) -> bool:
    return all(r.status != "fail" for r in results)


def central_report(results: list[Result], *, kiosk_id: str, venue_id: str, at: datetime,
                   report_id: str | None = None) -> dict:
    """The report as the collector stores it: English sentences, figures, no personal data. Its
    ``broker`` line says the report arrived, which is true whenever anyone reads it."""
    checks = [{"name": r.name, "status": r.status, "detail": say(r.key, "en", **r.values)[:400],
               "figures": r.figures} for r in results]
    checks.append({"name": "broker", "status": "pass", "detail": say("broker_central", "en")})
    return {"schema": SELFTEST_SCHEMA, "report_id": report_id or str(uuid.uuid4()), "kiosk_id": kiosk_id,
            "venue_id": venue_id, "at": iso(at), "version": __version__, "passed": passed(results),
            "checks": checks}


def encode(report: dict) -> bytes:
    return json.dumps(report, ensure_ascii=False, separators=(",", ":")).encode()


def text_report(results: list[Result], *, kiosk_id: str, venue: str, at: datetime, language: str) -> str:
    width = max(len(name(r.name, language)) for r in results)
    lines = [say("title", language, kiosk=kiosk_id, venue=venue, at=f"{at:%Y-%m-%d %H:%M}"), ""]
    for r in results:
        lines.append(f"  {MARKS[r.status]} {name(r.name, language):{width}}  {say(r.key, language, **r.values)}")
    failures = sum(r.status == "fail" for r in results)
    warnings = sum(r.status == "warn" for r in results)
    lines.append("")
    if failures:
        lines.append(say("failed", language, n=failures))
    elif warnings:
        lines.append(say("passed_warnings", language, n=warnings))
    else:
        lines.append(say("passed", language))
    return "\n".join(lines)
