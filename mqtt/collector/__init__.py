"""The central collector: broker → central store (exactly once), acks, and tracing queries.

Runs centrally (``kiosk-collector run``); imports ``mqtt.wire`` and ``mqtt.plumbing`` but never ``kiosk``, so it
installs without the kiosk's camera and GPIO dependencies.

>>> import tempfile
>>> from mqtt.collector.config import parse_config
>>> from mqtt.collector.store import open_store
>>> with tempfile.TemporaryDirectory() as tmp:
...     config = parse_config(f'[store]\\nurl = "sqlite://{tmp}/central.db"\\n')
...     with open_store(config.store.url) as store:
...         store.counts()
{'events': 0, 'visits': 0, 'dead_letters': 0, 'fleet': 0}

(``load_config(None)``, the defaults, names the store at /var/lib/checkin-collector/central.db.)
"""
