"""checkin-kiosk: the kiosk application (scan loop, visit rules, local store, CLI)."""

__version__ = "0.1.0"
