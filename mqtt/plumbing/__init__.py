"""What the kiosk's and the collector's daemons (and provisioning) share that is not the wire:

- ``tomlconfig``: strict TOML config sections (an unknown key is an error naming it);
- ``logs``: logging to stderr/journald, in the venue's time zone;
- ``sdnotify``: systemd ``Type=notify`` (READY, STATUS, WATCHDOG) and the heartbeat loop;
- ``files``: durable writes (a file replaced whole, a secret created once, 0600 stores);
- ``terminal``: operator output that shows, never obeys, what came from outside.
"""
