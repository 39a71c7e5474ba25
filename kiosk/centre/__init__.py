"""The kiosk's side of the centre: the outbox the uplink (:mod:`mqtt.uplink`) drains, and the
commands the centre sends (``ping``, ``purge``), registered with the uplink's dispatcher.
"""
