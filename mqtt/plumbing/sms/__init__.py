"""Text messages to a citizen's phone (the one-time code of a staff phone check-in).

One interface, backends chosen by config ``[sms] kind``; a message is handed over at once and its
fate read later, so the door never waits on the phone network::

    sms = open_sms("gammu", smsdrc="/etc/gammu-smsdrc")   # the Gammu SMS daemon and a USB modem
    ticket = sms.send("0912345678", "Mã xác nhận: 123456")  # raises SmsError if it cannot even queue
    sms.state(ticket)                                        # "queued", "sent" or "failed"

The contract's file backend, for simulation and tests:

>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as folder:
...     sms = open_sms("file", folder=folder)
...     ticket = sms.send("0912345678", "Mã xác nhận: 123456")
...     [p.read_text(encoding="utf-8") for p in Path(folder).glob("*.txt")], sms.state(ticket)
(['0912345678\\nMã xác nhận: 123456'], 'sent')

``file``   ``folder``: each message is one UTF-8 file ``*.txt``, the phone number on its first
           line and the text after it (the contract's file SMS)
``gammu``  ``smsdrc``: the Gammu SMS daemon's config (``gammu-smsd`` from Debian, its ``files``
           service); messages go in with ``gammu-smsd-inject``, their fate is the folder the
           daemon moves them to (sent or error)
``http``   ``url``, ``token_file``: an HTTP SMS gateway, one JSON ``POST`` a message (the
           centre's relay: :mod:`.http`)
``none``   no messages: :func:`open_sms` returns None

Used by the kiosk (``[sms]`` in kiosk.toml) and by the centre's relay for kiosks without a modem
(``[sms]`` in collector.toml, :mod:`mqtt.collector.sms_relay`); it imports nothing of either: the
phone number comes checked (``0`` and 9 digits), the text composed.
"""

from __future__ import annotations

import importlib
from typing import Protocol

#: The backends, by ``[sms] kind``: (module of this package, class), imported when one is opened.
BACKENDS = {"file": ("file", "FileSms"), "gammu": ("gammu", "GammuSms"), "http": ("http", "HttpSms")}
STATES = ("queued", "sent", "failed")
#: The longest text handed over: three concatenated Unicode SMS (67 characters each).
MAX_TEXT = 201
#: The Gammu SMS daemon's config, where Debian's gammu-smsd package reads it.
DEFAULT_SMSDRC = "/etc/gammu-smsdrc"


def backend_options(kind: str, *, path: str = "", url: str = "", token_file: str = "") -> dict:
    """A config's ``[sms]`` keys as the keyword arguments of :func:`open_sms` for ``kind``: file
    ``folder`` (``path``), gammu ``smsdrc`` (``path``, default :data:`DEFAULT_SMSDRC`), http ``url``
    and ``token_file``; none nothing. ValueError names the key that is wrong and what it must be."""
    for name, value in (("path", path), ("url", url), ("token_file", token_file)):
        if value and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError(f"{name} must be without control characters")
    if kind == "none":
        return {}
    if kind == "file":
        if not path.strip():
            raise ValueError('path: for kind = "file" must name the folder that receives the messages')
        return {"folder": path}
    if kind == "gammu":
        return {"smsdrc": path or DEFAULT_SMSDRC}
    if kind == "http":
        from .http import check_gateway_url
        try:
            check_gateway_url(url)
        except ValueError as exc:
            raise ValueError(f"url: {exc}") from None
        return {"url": url, "token_file": token_file or None}
    raise ValueError(f"kind must be one of {', '.join([*BACKENDS, 'none'])}, got {kind!r}")


class SmsError(Exception):
    """A message could not even be handed over (the daemon's folder unwritable, its tool missing,
    its config unreadable): the caller goes on without a code (the door never waits)."""


class Sms(Protocol):
    def send(self, phone: str, text: str) -> str:
        """Hand ``text`` over for ``phone``; returns a ticket for :meth:`state`. Raises :class:`SmsError`."""

    def state(self, ticket: str) -> str:
        """``"queued"`` (not sent yet), ``"sent"`` (the network took it) or ``"failed"``."""


def check_message(phone: str, text: str) -> None:
    """ValueError unless ``phone`` is ``0`` and 9 digits and ``text`` is 1 to :data:`MAX_TEXT`
    characters without control characters but newlines."""
    if not (len(phone) == 10 and phone.isascii() and phone.isdigit() and phone[0] == "0"):
        raise ValueError("the phone number must be 0 and 9 digits")
    if not 1 <= len(text) <= MAX_TEXT or not text.replace("\n", " ").isprintable():
        raise ValueError(f"the text must be 1-{MAX_TEXT} printable characters")


def open_sms(kind: str, **options) -> Sms | None:
    """The backend ``kind`` (one of :data:`BACKENDS`, or ``"none"``) with its options."""
    if kind == "none":
        return None
    if kind not in BACKENDS:
        raise ValueError(f"unknown sms kind {kind!r} (one of {', '.join([*BACKENDS, 'none'])})")
    return _open(kind, options)


def _open(kind: str, options: dict) -> Sms:
    module, name = BACKENDS[kind]
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)(**options)


class Deferred:
    """The backend ``kind``, opened at its first message and, while it cannot be opened (the
    daemon's config missing at boot), tried again at each: a kiosk starts whatever its modem's
    state, and each code that cannot be sent says so (:class:`SmsError`) instead.

    >>> sms = Deferred("gammu", smsdrc="/nonexistent/gammu-smsdrc")
    >>> sms.send("0912345678", "Mã xác nhận: 123456")
    Traceback (most recent call last):
    ...
    mqtt.plumbing.sms.SmsError: cannot read the Gammu SMS daemon's config /nonexistent/gammu-smsdrc: ...
    """

    def __init__(self, kind: str, **options):
        if kind not in BACKENDS:
            raise ValueError(f"unknown sms kind {kind!r} (one of {', '.join(BACKENDS)})")
        self.kind, self.options = kind, options
        self._backend: Sms | None = None

    def _opened(self) -> Sms:
        if self._backend is None:
            self._backend = _open(self.kind, self.options)
        return self._backend

    def send(self, phone: str, text: str) -> str:
        return self._opened().send(phone, text)

    def state(self, ticket: str) -> str:
        return self._opened().state(ticket)
