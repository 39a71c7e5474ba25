"""An HTTP SMS gateway (an operator's or an aggregator's web API), for the centre's relay: each
message is one ``POST`` of JSON to the configured URL::

    POST https://sms.example.vn/v1/messages
    Authorization: Bearer <the token file's first line>      (when a token file is configured)
    Content-Type: application/json; charset=utf-8

    {"to": "0912345678", "to_e164": "+84912345678", "text": "Mã xác nhận: 123456"}

Any 2xx answer means the gateway took the message ("sent": what it does next is its own report,
not ours to poll); anything else, or no answer within the timeout, is an :class:`SmsError` that
names the status, never the number or the text. The URL must be ``https://`` (the code and the
number cross networks), or ``http://`` to a loopback address (a gateway's agent on the same server).
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from . import SmsError, check_message

TIMEOUT_S = 10.0


def check_gateway_url(url: str) -> None:
    """ValueError unless ``url`` is https://HOST/…, or http:// to a loopback address."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// URL of the SMS gateway")
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError("must be https:// (a code and a phone number never cross a network in clear); "
                             "http:// only to a loopback address")


class HttpSms:
    def __init__(self, url: str, token_file: str | Path | None = None, timeout_s: float = TIMEOUT_S):
        try:
            check_gateway_url(url)
        except ValueError as exc:
            raise SmsError(f"SMS gateway URL {url!r}: {exc}") from None
        self.url, self.timeout_s = url, timeout_s
        self._token = None
        if token_file:
            try:
                self._token = Path(token_file).read_text(encoding="utf-8").splitlines()[0].strip()
            except (OSError, UnicodeDecodeError, IndexError) as exc:
                raise SmsError(f"cannot read the SMS gateway's token file {token_file}: "
                               f"{type(exc).__name__}") from None

    def send(self, phone: str, text: str) -> str:
        check_message(phone, text)
        body = json.dumps({"to": phone, "to_e164": "+84" + phone[1:], "text": text}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "checkin-kiosk-collector"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                answer.read(4096)
        except urllib.error.HTTPError as exc:
            raise SmsError(f"the SMS gateway answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SmsError(f"cannot reach the SMS gateway at {urlsplit(self.url).netloc}: {reason}") from None
        return "sent"

    def state(self, ticket: str) -> str:
        return "sent"       # taken by the gateway: send() raises for anything else
