"""The one package the kiosk, the collector and provisioning may all import. It has two roles,
and its folders say which is which:

- ``mqtt.wire``: what crosses the wire or the paper (topics and their leaf names, the event and
  its builder, acks, status and health, the self-test report, slip codes, person masking, the id
  rule), defined once so the two ends can never disagree;
- ``mqtt.plumbing``: what both daemons share that is not the wire (strict TOML config, logs,
  systemd notify, durable file writes, terminal output);

and around them the MQTT transport itself: ``endpoint`` (broker URL and TLS), ``uplink`` (the
kiosk's outbox → broker, with ``refusal_inference``), ``collector/`` (broker → central store,
acks, tracing queries, CLI ``kiosk-collector``) and ``broker/`` (Mosquitto config templates and a
loopback broker for tests and the simulation).

Never imports ``kiosk`` or ``hardware``: the kiosk hands the uplink its outbox as an object.
"""
