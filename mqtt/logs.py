"""Logging for every process of the project: to stderr, which systemd hands to journald.

>>> setup_logging(logging.INFO)
"""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(level: int) -> None:
    # Under systemd (JOURNAL_STREAM set) journald adds the time itself.
    fmt = "%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") else \
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
