"""What crosses the wire or the paper, defined once for the kiosk, the collector and provisioning.

- ``ids``: the id rule (kiosk and venue ids, UUIDs);
- ``topics``: ``kiosks/<id>/<leaf>`` and the leaf names;
- ``fields``: the one reader of JSON, the field checks, :class:`~mqtt.wire.fields.InvalidEvent`;
- ``event``: the ``checkin.event/1`` schema and :func:`~mqtt.wire.event.build_event`;
- ``acks``: ``checkin.ack/1``;
- ``presence``: a kiosk's ``status`` and ``health``;
- ``selftest_report``: ``checkin.selftest/1``;
- ``slip_codes``: the signed codes a kiosk prints (slips, personal cards);
- ``masking``: a person as shared screens, slips and terminals show them.

Nothing here does I/O beyond creating a venue key file; ``docs/architecture.md`` is the prose.
"""
