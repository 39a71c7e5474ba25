"""The kiosk's web app: the visitor screen on its own display, and the staff pages.

>>> import tempfile
>>> from kiosk.config import load_config
>>> from kiosk.web.live import LiveFeed
>>> with tempfile.TemporaryDirectory() as tmp:
...     config = load_config(None).replace("kiosk", data_dir=tmp)        # the session key is kept there
...     app = create_app(WebContext(config, LiveFeed(), status=lambda: {}, occupancy=lambda: 0))
...     client = app.test_client()                                        # as from 127.0.0.1
...     [client.get(path).status_code for path in ("/", "/?lang=en", "/sim/present", "/staff/")]
...     client.get("/", environ_base={"REMOTE_ADDR": "192.168.1.50"}).status_code     # the kiosk's own screen only
[200, 200, 404, 404]
403

The running kiosk's (:func:`kiosk.app.build_kiosk`), with its status, simulator and staff pages::

    ctx = WebContext(config=config, feed=feed, status=status, occupancy=status.occupancy, simulated=simulate,
                     camera_dir=camera_dir, signals=signals, staff=staff, printer=printer_state)
    web = web_server(create_app(ctx), config, feed=feed)        # kiosk.web.server
    web.start()

Flask, served by waitress (:mod:`kiosk.web.server`); one blueprint per part:
``screen`` (``/``, ``/?lang=en``, ``/events``), ``lang`` (``/lang``: the staff pages' switch), ``sim``
(``/sim/present``, simulation only), ``staff`` (``/staff/…``).
"""

from __future__ import annotations

from flask import Flask

from . import i18n, screen, simulation, staff
from .context import EXTENSION, WebContext
from .security import secure

__all__ = ["WebContext", "create_app"]

#: An open /events stream sends a comment at least this often (finds dead clients, keeps proxies open).
SSE_HEARTBEAT_S = 15.0
#: How long an outcome stays on the screen before the idle screen returns.
SCREEN_RESULT_S = 5.0
#: A visitor's language on the shared screen lasts this long after their last result (or after the
#: switch, when no result came): then the screen is in the venue's language again.
SCREEN_LANGUAGE_S = 25.0


def create_app(ctx: WebContext) -> Flask:
    app = Flask(__name__)
    app.config.update(SSE_HEARTBEAT_S=SSE_HEARTBEAT_S, SCREEN_RESULT_S=SCREEN_RESULT_S,
                      SCREEN_LANGUAGE_S=SCREEN_LANGUAGE_S)
    app.extensions[EXTENSION] = ctx
    secure(app, ctx.data_path)
    app.context_processor(i18n.template_values)

    app.register_blueprint(screen.bp)
    app.register_blueprint(i18n.bp)
    if ctx.simulated:
        app.register_blueprint(simulation.bp)
    if ctx.staff is not None:
        app.register_blueprint(staff.bp)
    return app
