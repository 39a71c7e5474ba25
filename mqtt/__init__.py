"""The MQTT side of checkin-kiosk: wire contract, kiosk uplink, central collector.

Never imports ``kiosk``: the kiosk hands the uplink its outbox as an object.
"""
