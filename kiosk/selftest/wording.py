"""What the self-test report says, in Vietnamese (default) and English: the sentences are in the
one catalogue, :mod:`kiosk.messages` (``selftest_<key>``, check names ``selftest_check_<name>``,
devices ``selftest_device_<name>``).

Each check's sentence is a key with ``{values}``; the central copy of the report carries the
English sentence, the technician's terminal the chosen language.
"""

from __future__ import annotations

from .. import messages

#: The checks' names, in the order they run and are shown.
NAMES = ("config", "certificates", "storage", "staff", "clock", "printer", "signals", "camera", "test_code", "broker")


def devices(labels: list[str], language: str) -> str:
    """The feedback devices (green, red, buzzer, relay) as a sentence names them."""
    return ", ".join(messages.text(f"selftest_device_{d}", language) for d in labels)


def say(key: str, language: str = "vi", **values) -> str:
    values = {k: devices(v, language) if isinstance(v, list) else v for k, v in values.items()}
    return messages.text(f"selftest_{key}", language, **values)


def name(check: str, language: str = "vi") -> str:
    return messages.text(f"selftest_check_{check}", language)
