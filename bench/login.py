"""A logged-in staff page while failed logins flood the kiosk, against raw Flask + waitress.

ours: a simulated kiosk as ``kiosk run --simulate`` builds it, its web server (waitress) on a
loopback port. A staff member logs in (one-time PIN, then an own PIN) and ``GET /staff/inside``
is timed, one request at a time on a kept-alive connection:

- quiet: nothing else happens;
- one device floods: ``FLOOD_THREADS`` threads post wrong PINs to ``/staff/login`` from the same
  address as fast as the server answers (the throttle lets a few through to argon2, then answers
  "try again in N s" at once);
- many devices: ``ARGON_THREADS`` threads log in with wrong PINs through the accounts API, each
  attempt from a new LAN address, so every attempt is an argon2 verification (19 MiB, 2 passes)
  and a write, as an attacker with many addresses would cause.

raw: Flask + waitress with the same server settings serving the same page's HTML (captured from
ours) from memory, quiet and under the same one-device flood (each POST answered 401 by a route
doing nothing). The figure to look at is the staff page's p50 under the flood against quiet, and
against raw under the same flood.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from .harness import served_kiosk
from .report import latency_summary

PAGE = "/staff/inside"
FLOOD_THREADS = 4
ARGON_THREADS = 2
OWN_PIN = "480215"


class Browser:
    """One kept-alive connection with a cookie jar: what a staff phone's browser does."""

    def __init__(self, host: str, port: int):
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return response.status, text

    def csrf(self, path: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.request("GET", path)[1])[1]

    def close(self) -> None:
        self.conn.close()


def _time_page(browser: Browser, n: int, path: str = PAGE) -> list[float]:
    seconds = []
    for _ in range(n):
        started = time.perf_counter()
        status, _ = browser.request("GET", path)
        seconds.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
    return seconds


class Flood:
    """Threads posting wrong PINs to the login form until stopped; counts the answers."""

    def __init__(self, host: str, port: int, threads: int = FLOOD_THREADS, path: str = "/staff/login"):
        self.host, self.port, self.path = host, port, path
        self.stop = threading.Event()
        self.answers: dict[int, int] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True, name=f"flood-{i}") for i in range(threads)]
        self.started = self.ended = 0.0

    def __enter__(self):
        self.started = time.perf_counter()
        for t in self.threads:
            t.start()
        time.sleep(0.3)                   # every thread is flooding before the page is timed
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)
        self.ended = time.perf_counter()

    def _run(self) -> None:
        browser = Browser(self.host, self.port)
        try:
            token = browser.csrf(self.path) if self.path == "/staff/login" else ""
            while not self.stop.is_set():
                status, _ = browser.request("POST", self.path, {"csrf_token": token, "name": "Quản Lý",
                                                                 "pin": "000000"})
                with self.lock:
                    self.answers[status] = self.answers.get(status, 0) + 1
        finally:
            browser.close()

    @property
    def per_s(self) -> float:
        return sum(self.answers.values()) / max(1e-9, self.ended - self.started)


def ours(workdir: Path, n: int) -> dict:
    kiosk, (host, port) = served_kiosk(workdir, "bench-login")
    staff = Browser(host, port)
    try:
        pin = kiosk.staff.accounts.add("Lan")
        status, _ = staff.request("POST", "/staff/login", {"csrf_token": staff.csrf("/staff/login"), "name": "Lan",
                                                          "pin": pin})
        token = staff.csrf("/staff/pin")
        staff.request("POST", "/staff/pin", {"csrf_token": token, "pin": OWN_PIN, "pin_again": OWN_PIN})
        status, html = staff.request("GET", PAGE)
        if status != 200:
            raise RuntimeError(f"the benchmark's staff member is not logged in ({PAGE}: HTTP {status})")
        _time_page(staff, max(5, n // 10))                                   # warm up
        quiet = _time_page(staff, n)
        with Flood(host, port) as flood:
            flooded = _time_page(staff, n)
        accounts = kiosk.staff.accounts
        stop, verified = threading.Event(), [0]

        def many_devices(k: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                accounts.login("Quản Lý", "000000", client=f"10.{k}.{i // 250 % 250}.{i % 250 + 1}")
                verified[0] += 1

        workers = [threading.Thread(target=many_devices, args=(k,), daemon=True) for k in range(ARGON_THREADS)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        time.sleep(0.3)
        argon = _time_page(staff, n)
        stop.set()
        for w in workers:
            w.join(10)
        argon_per_s = verified[0] / (time.perf_counter() - started)
        audit_rows = sum(1 for a in kiosk.staff.audit.recent(100_000) if a["action"] == "login_failed")
    finally:
        staff.close()
        kiosk.close()
    return {"quiet": quiet, "flood": flooded, "argon": argon, "html": html, "flood_per_s": flood.per_s,
            "flood_answers": flood.answers, "argon_per_s": argon_per_s, "argon_attempts": verified[0],
            "audit_rows": audit_rows}


def raw(html: str, n: int) -> dict:
    """Flask + waitress alone, with the web server's settings: the same page's HTML from memory."""
    from flask import Flask
    from waitress import wasyncore
    from waitress.server import create_server

    from kiosk.web.server import THREADS

    app = Flask("raw-staff")

    @app.get(PAGE)
    def page():
        return html

    @app.post("/login")
    def login():
        return "wrong", 401

    sockets: dict = {}
    server = create_server(app, map=sockets, host="127.0.0.1", port=0, threads=THREADS, ident="",
                           connection_limit=50)
    stop = threading.Event()

    def serve() -> None:                  # waitress's loop, until asked to stop (as kiosk.web.server does)
        while not stop.is_set():
            wasyncore.loop(timeout=0.2, map=sockets, count=1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    browser = Browser("127.0.0.1", server.effective_port)
    try:
        _time_page(browser, max(5, n // 10))
        quiet = _time_page(browser, n)
        with Flood("127.0.0.1", server.effective_port, path="/login") as flood:
            flooded = _time_page(browser, n)
    finally:
        browser.close()
        stop.set()
        thread.join(5)
        server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(sockets)
    return {"quiet": quiet, "flood": flooded, "flood_per_s": flood.per_s}


def run(workdir: Path, n: int) -> dict:
    mine = ours(workdir, n)
    base = raw(mine["html"], n)
    out = {"requests": n, "flood_threads": FLOOD_THREADS, "argon_threads": ARGON_THREADS,
           "ours_quiet": latency_summary(mine["quiet"]), "ours_flood": latency_summary(mine["flood"]),
           "ours_many_devices": latency_summary(mine["argon"]),
           "raw_quiet": latency_summary(base["quiet"]), "raw_flood": latency_summary(base["flood"]),
           "flood_per_s": mine["flood_per_s"], "flood_answers": {str(k): v for k, v in mine["flood_answers"].items()},
           "raw_flood_per_s": base["flood_per_s"], "many_devices_logins_per_s": mine["argon_per_s"],
           "many_devices_attempts": mine["argon_attempts"], "audit_login_failed_rows": mine["audit_rows"]}
    out["ratio_flood_p50"] = out["ours_flood"]["p50_ms"] / out["raw_flood"]["p50_ms"]
    out["ratio_quiet_p50"] = out["ours_quiet"]["p50_ms"] / out["raw_quiet"]["p50_ms"]
    return out
