"""A real browser for tests: Debian's Chromium, driven by Playwright (never Playwright's own builds).

    from browser import screenshot   # the fixtures ``browser`` and ``page`` come through conftest

Chromium missing fails the test with what to do (the test command installs it), it is not skipped.
Screenshots go to ``test-artifacts/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
#: Headless, and no calls home: this machine's network is closed, and tests must not depend on one.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run provisioning/bootstrap.sh test (it installs Debian's chromium)",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # launch() gives Chromium a fresh temporary --user-data-dir, removed when it closes.
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()


@contextmanager
def opened_page(browser, width: int = 1280, height: int = 720, *, console_errors: bool = True, **options):
    """A page in a context of its own (no cookies from other tests), Vietnamese, ``width`` × ``height``
    (``options``: more of Playwright's context options: ``is_mobile``, ``has_touch``…); ``page.errors``
    collects script errors and, with ``console_errors``, console errors (a CSP violation is one; a
    form refused with a 400 by design is one too, hence the choice)."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN", **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    if console_errors:
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser):
    """A page in a context of its own, 1280 × 720, collecting script and console errors."""
    with opened_page(browser) as page:
        yield page


def serious_violations(page) -> list[str]:
    """What axe-core (the copy axe-playwright-python bundles) finds serious or critical on the page
    as it is now, one line each: the rule, its impact and the elements."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {', '.join(t for n in v['nodes'] for t in n['target'])}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
