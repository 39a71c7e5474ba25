"""``kiosk selftest``: a technician's proof that a kiosk works, and its report to the central side."""

from .runner import run_selftest

__all__ = ["run_selftest"]
