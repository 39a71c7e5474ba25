"""A staff phone's browser on the kiosk's HTTPS listener, with real Chromium: trusted because the
fleet CA is installed in its certificate store (an NSS database, what Chromium on Linux reads, as a
phone's "install a CA certificate"), reaching the kiosk by its name (``<id>.local``, mapped to the
loopback address as mDNS would resolve it). Nothing is ignored: without the CA the page is refused.
And the kiosk's own screen (plain HTTP on loopback) keeps a working Secure session cookie."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from browser import ARGS, CHROMIUM, screenshot
from test_web_tls import HOST, fleet_ca, tls_kiosk  # noqa: F401 - fixtures

CERTUTIL = shutil.which("certutil")


def phone_home(tmp_path, ca) -> dict:
    """A HOME whose NSS database trusts the fleet CA for web sites, as a phone that installed it."""
    if CERTUTIL is None:
        pytest.fail("certutil is missing: run provisioning/bootstrap.sh test (it installs libnss3-tools)",
                    pytrace=False)
    home = tmp_path / "phone-home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([CERTUTIL, "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run([CERTUTIL, "-A", "-d", f"sql:{nssdb}", "-n", "checkin-kiosk fleet CA", "-t", "C,,",
                    "-i", str(ca.cert)], check=True)
    return {"HOME": str(home)}


def launch_phone(browser, env: dict):
    # --host-resolver-rules stands in for mDNS: the name is looked up as 127.0.0.1; TLS checks the name.
    return browser.browser_type.launch(executable_path=str(CHROMIUM), headless=True, env=env,
                                       args=[*ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"])


def test_a_phone_that_installed_the_fleet_ca_logs_in_over_https(browser, tls_kiosk, fleet_ca, tmp_path):
    [(_, port)] = tls_kiosk.web.tls_bound
    phone = launch_phone(browser, phone_home(tmp_path, fleet_ca))
    try:
        context = phone.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
        page = context.new_page()
        response = page.goto(f"https://{HOST}:{port}/staff/")
        expect(page).to_have_url(re.compile(rf"^https://{re.escape(HOST)}:{port}/staff/login$"))
        details = response.security_details()
        assert details["subjectName"] == "test-kiosk-01" and details["issuer"] == "checkin-kiosk fleet CA"
        assert page.evaluate("window.isSecureContext") is True
        pin = tls_kiosk.staff.accounts.add("Lan")
        page.fill("#name", "Lan")
        page.fill("#pin", pin)
        page.click("#login")
        expect(page).to_have_url(re.compile(r"/staff/pin$"))        # the session cookie came back: logged in
        [session] = [c for c in context.cookies() if c["name"] == "session"]
        assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Strict"
        screenshot(page, "staff-https-phone")
    finally:
        phone.close()


def test_without_the_fleet_ca_the_browser_refuses_the_kiosk(browser, tls_kiosk, tmp_path):
    [(_, port)] = tls_kiosk.web.tls_bound
    phone = launch_phone(browser, {"HOME": str(tmp_path / "empty-home")})
    try:
        page = phone.new_page()
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(f"https://{HOST}:{port}/staff/login")
    finally:
        phone.close()


def test_the_kiosks_own_screen_logs_in_over_loopback_http_with_the_secure_cookie(page, tls_kiosk):
    """Chromium counts http://127.0.0.1 as a secure origin: the Secure session cookie is kept."""
    pin = tls_kiosk.staff.accounts.add("Lan")
    page.goto(tls_kiosk.web.url + "staff/login")
    page.fill("#name", "Lan")
    page.fill("#pin", pin)
    page.click("#login")
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/staff/pin$"))
    [session] = [c for c in page.context.cookies() if c["name"] == "session"]
    assert session["secure"]
