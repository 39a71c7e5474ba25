"""Devices of a check-in kiosk: frame sources, decoders, feedback devices.

Nothing here knows about visits; ``kiosk`` composes these parts.
"""
