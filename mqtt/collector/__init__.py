"""The central collector: broker → central store (exactly once), acks, and tracing queries.

Runs centrally (``kiosk-collector run``); imports ``mqtt.contract`` but never ``kiosk``, so it
installs without the kiosk's camera and GPIO dependencies.

>>> from mqtt.collector.config import load_config
>>> from mqtt.collector.store import open_store
>>> store = open_store(load_config(None).store.url)
"""
