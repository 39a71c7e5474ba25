"""The enrolling kiosk's screen page: "Quét mã đăng ký / Scan the enrolment code" and what happened.

>>> import io
>>> screen = EnrolScreen(out=io.StringIO())
>>> screen.show("enrol_fetching")
>>> response = create_app(screen).test_client().get("/enrol/status")
>>> response.headers[MARK_HEADER], response.get_json()["state"], response.get_json()["message"]["en"]
('1', 'working', "Code read. Fetching the configuration from the technician's laptop…")

``kiosk enrol`` serves it (:mod:`kiosk.enrolment.command`)::

    web = WebServer(create_app(screen), resolve_listen(listen_addresses(config.web.listen)))
    web.start()         # [('127.0.0.1', 8080)]
    ...
    web.stop()

Served on the kiosk's ``[web] listen`` addresses, so the Chromium kiosk screen (which opens
http://127.0.0.1:8080/) shows it. ``/`` is the page; ``/enrol/status`` its state as JSON, polled
by the page. Once enrolment ends, the page waits until ``/`` is served by someone else (the kiosk
itself, started after enrolment) and reloads: every response here carries ``X-Checkin-Enrol``.
The page is self-contained (no template files, inline script and style under a CSP nonce).
"""

from __future__ import annotations

import secrets

from flask import Flask, g, jsonify, render_template_string

from ..web.security import HEADERS
from .screen import EnrolScreen

MARK_HEADER = "X-Checkin-Enrol"
POLL_MS = 1000

PAGE = """<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Đăng ký máy / Enrolment</title>
<style nonce="{{ nonce }}">
  html, body { margin: 0; height: 100%; font-family: "Noto Sans", "DejaVu Sans", sans-serif;
               background: #0b3d91; color: #fff; }
  main { display: flex; flex-direction: column; justify-content: center; align-items: center;
         height: 100%; text-align: center; padding: 0 5vw; box-sizing: border-box; }
  h1 { font-size: 7vh; margin: 0 0 1vh; }
  .en { font-size: 3.5vh; opacity: .8; margin: 0 0 6vh; }
  #message { font-size: 4.5vh; min-height: 6vh; margin: 0; }
  #message-en { font-size: 3vh; opacity: .8; min-height: 4vh; margin: 1vh 0 0; }
  body[data-state="refused"] { background: #8a1c1c; }
  body[data-state="working"] { background: #6b4f00; }
  body[data-state="done"] { background: #11692c; }
</style>
</head>
<body data-state="{{ snap.state }}">
<main>
  <h1>Quét mã đăng ký</h1>
  <p class="en" lang="en">Scan the enrolment code</p>
  <p id="message">{{ snap.message.vi }}</p>
  <p id="message-en" lang="en">{{ snap.message.en }}</p>
</main>
<script nonce="{{ nonce }}">
(function () {
  var seq = {{ snap.seq }};
  function show(s) {
    document.body.dataset.state = s.state;
    document.getElementById("message").textContent = s.message.vi;
    document.getElementById("message-en").textContent = s.message.en;
    seq = s.seq;
  }
  function waitForKiosk() {            // enrolment over: reload once the kiosk serves this address
    fetch("/", {cache: "no-store"}).then(function (r) {
      if (r.ok && !r.headers.has("{{ header }}")) { location.reload(); } else { setTimeout(waitForKiosk, {{ poll }}); }
    }, function () { setTimeout(waitForKiosk, {{ poll }}); });
  }
  function poll() {
    fetch("/enrol/status", {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (s) {
      if (s.seq !== seq) { show(s); }
      if (s.state === "done") { waitForKiosk(); } else { setTimeout(poll, {{ poll }}); }
    }, function () { waitForKiosk(); });
  }
  setTimeout(poll, {{ poll }});
})();
</script>
</body>
</html>
"""


def create_app(screen: EnrolScreen) -> Flask:
    app = Flask(__name__)

    @app.before_request
    def _nonce():
        g.nonce = secrets.token_urlsafe(16)

    @app.get("/")
    def page():
        return render_template_string(PAGE, snap=screen.snapshot(), nonce=g.nonce, header=MARK_HEADER,
                                      poll=POLL_MS)

    @app.get("/enrol/status")
    def status():
        return jsonify(screen.snapshot())

    @app.after_request
    def _headers(response):
        response.headers[MARK_HEADER] = "1"
        response.headers["Cache-Control"] = "no-store"
        response.headers.update(HEADERS)              # the kiosk app's own, but for its CSP:
        nonce = getattr(g, "nonce", "")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; connect-src 'self'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
        return response

    return app
