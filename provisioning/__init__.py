"""Technician tooling: set-up of development and kiosk machines, identities, SD cards."""
