"""One-time codes to a citizen's phone, before staff check a household in by its phone number
(issue 13; the tokhaiyte.vn venues' instructions: "enter the OTP sent to the citizen's phone, and
the Check in button appears").

A code is 6 digits, made with :mod:`secrets`, texted through the kiosk's SMS backend
(:mod:`mqtt.plumbing.sms`), and kept only as an HMAC under the kiosk's own key (with the phone's, so a
stolen database without the key gives neither the codes nor the numbers). It expires after
:data:`CODE_TTL`, allows :data:`MAX_ATTEMPTS` tries, is good once, and is replaced by the next one
sent to the same phone. Sending is limited per phone and per kiosk (a kiosk cannot be made to text
a number over and over, nor to text the whole town). Every send and every check is in the audit
trail, under the staff member, with no number and no code. The door never waits on the phone
network: sending hands the message over and returns.

>>> import tempfile
>>> from pathlib import Path
>>> from mqtt.plumbing.sms import open_sms
>>> from kiosk.store import VisitStore
>>> from kiosk.staff.audit import Audit
>>> with tempfile.TemporaryDirectory() as tmp:
...     store = VisitStore.open(Path(tmp, "kiosk.db"))
...     codes = PhoneCodes(store, open_sms("file", folder=Path(tmp, "sms")), b"k" * 32, Audit(store),
...                        venue_name="Chợ Thử")
...     codes.send("s-1a2b3c4d", "0912345678").state
...     texted = next(Path(tmp, "sms").glob("*.txt")).read_text(encoding="utf-8")
...     code = texted.split(": ")[1][:6]
...     codes.check("s-1a2b3c4d", "0912345678", "000000" if code != "000000" else "111111"), \\
...         codes.check("s-1a2b3c4d", "0912345678", code), codes.check("s-1a2b3c4d", "0912345678", code)
...     store.close()
'sent'
('wrong', 'ok', 'used')
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mqtt.plumbing.sms import Sms, SmsError
from mqtt.wire.event import PHONE_CHECK_REASONS

from ..messages import text
from ..store import VisitStore
from .audit import Audit

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
#: At most this many codes to one phone, and from one kiosk, in :data:`RATE_WINDOW`.
PER_PHONE, PER_KIOSK = 3, 40
RATE_WINDOW = timedelta(minutes=15)
#: A code is kept this long after it was made (the rate limits read it), then deleted.
KEEP = timedelta(days=1)
#: The venue's name in the text, at most this long (the text must fit three SMS parts).
VENUE_IN_TEXT = 48

#: What :meth:`PhoneCodes.send` came to: a code on its way, or why none was sent.
SEND_STATES = ("sent", "queued", "no_sms", "sms_failed", "rate_phone", "rate_kiosk", "not_recorded")
#: What :meth:`PhoneCodes.check` came to.
CHECK_RESULTS = ("ok", "wrong", "expired", "used", "too_many", "none", "malformed")


#: The events' ``phone_check`` (the contract's): the code was read out; codes are off here.
VERIFIED = {"verified": True, "reason": None}
NO_SMS = {"verified": False, "reason": "no_sms"}
#: Why staff may let a household in without the code (the contract's reasons but ``no_sms``,
#: which is the kiosk's own: codes are off).
LET_IN_REASONS = tuple(r for r in PHONE_CHECK_REASONS if r != "no_sms")
#: The reason a failed send or check suggests (staff confirm or change it; a text the network
#: did not deliver suggests ``not_delivered``, chosen by the page's delivery poll, staff.js).
SUGGESTED_REASON = {"sms_failed": "sms_failed", "rate_phone": "rate_limited", "rate_kiosk": "rate_limited",
                    "too_many": "code_refused"}
#: ... and a text the centre's relay refused, by the relay's reason (mqtt.wire.sms): its own limits,
#: or nothing there to send it; any other failed text, not_delivered.
RELAY_REASON = {"rate_limited": "rate_limited", "no_relay": "sms_failed", "unknown_kiosk": "sms_failed",
                "send_failed": "sms_failed"}


def unverified(reason: str) -> dict:
    """The ``phone_check`` of a household staff let in without the code, for ``reason``."""
    if reason not in LET_IN_REASONS:
        raise ValueError(f"not a reason to let someone in without the code: {reason!r}")
    return {"verified": False, "reason": reason}


@dataclass(frozen=True)
class SendResult:
    state: str                      # one of SEND_STATES
    retry_after_s: int = 0          # for a rate limit: when another code may be sent

    @property
    def on_its_way(self) -> bool:
        return self.state in ("sent", "queued")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


class PhoneCodes:
    """sms: the kiosk's SMS backend (None: ``[sms] kind = "none"``, codes are off); key: the
    kiosk's secret (:data:`CODE_DIGITS` digits are few: without the key a leaked hash is worth
    nothing); venue_name: how the text names the venue."""

    def __init__(self, store: VisitStore, sms: Sms | None, key: bytes, audit: Audit, *, venue_name: str,
                 clock=time.time, language: str = "vi", lock: threading.RLock | None = None):
        if len(key) < 16:
            raise ValueError("the phone codes' key must be at least 16 bytes")
        self.store = store
        self.sms = sms
        self.key = key
        self.audit = audit
        self.venue_name = venue_name[:VENUE_IN_TEXT]
        self.clock = clock
        self.language = language
        #: the staff connection's lock (its threads share one store connection)
        self.lock = lock or audit.lock

    @property
    def enabled(self) -> bool:
        return self.sms is not None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _mac(self, *parts: str) -> str:
        return hmac.new(self.key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()

    def send(self, staff_id: str, phone: str) -> SendResult:
        """Make a code for ``phone`` (canonical, ``0`` + 9 digits) and text it. Never waits on the
        network: ``sent`` or ``queued`` once handed over; ``no_sms`` (codes are off), ``sms_failed``
        (the backend could not take it), a rate limit with ``retry_after_s``, or ``not_recorded``."""
        if self.sms is None:
            return SendResult("no_sms")
        now = self._now()
        phone_mac = self._mac("phone", phone)
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        since = _iso(now - RATE_WINDOW)
        with self.lock, self.store.transaction() as tx:
            if tx.phone_codes_since(since, phone_mac) >= PER_PHONE:
                self.audit.write(tx, staff_id, "phone_code_refused", detail="rate_phone")
                return SendResult("rate_phone", int(RATE_WINDOW.total_seconds()))
            if tx.phone_codes_since(since) >= PER_KIOSK:
                self.audit.write(tx, staff_id, "phone_code_refused", detail="rate_kiosk")
                return SendResult("rate_kiosk", int(RATE_WINDOW.total_seconds()))
            code_id = tx.insert_phone_code(phone_mac=phone_mac, code_mac=self._mac("code", phone, code),
                                           created_at=_iso(now), expires_at=_iso(now + CODE_TTL), staff_id=staff_id)
            tx.purge_phone_codes(_iso(now - KEEP))
        message = text("sms_code", self.language, venue=self.venue_name, otp=code,
                       minutes=int(CODE_TTL.total_seconds() // 60))
        try:
            ticket = self.sms.send(phone, message)
        except SmsError:
            with self.lock:
                self.audit.record(staff_id, "phone_code_sent", subject=str(code_id), detail="sms_failed")
            return SendResult("sms_failed")
        with self.lock, self.store.transaction() as tx:
            tx.set_phone_code_ticket(code_id, ticket)
        state = self.sms.state(ticket)
        result = SendResult("sms_failed" if state == "failed" else state)
        with self.lock:
            self.audit.record(staff_id, "phone_code_sent", subject=str(code_id), detail=result.state)
        return result

    def delivery(self, phone: str) -> str | None:
        """What became of the latest code to ``phone``: ``queued``, ``sent`` or ``failed`` (None: no code)."""
        if self.sms is None:
            return None
        with self.lock:
            latest = self.store.reader().latest_phone_code(self._mac("phone", phone))
        if latest is None or latest.sms_ticket is None:
            return None if latest is None else "failed"
        return self.sms.state(latest.sms_ticket)

    def failed_because(self, phone: str) -> str:
        """The reason to suggest for letting ``phone``'s household in when its latest text failed:
        what the centre's relay said (:data:`RELAY_REASON`), else ``not_delivered``."""
        why = getattr(self.sms, "why", None)            # the centre's relay tells why; a modem does not
        with self.lock:
            latest = self.store.reader().latest_phone_code(self._mac("phone", phone))
        said = why(latest.sms_ticket) if why and latest is not None and latest.sms_ticket else None
        return RELAY_REASON.get(said, "not_delivered")

    def check(self, staff_id: str, phone: str, code: str) -> str:
        """Whether ``code`` (as typed: spaces ignored) is the latest code to ``phone``: ``ok`` (and
        now used), ``wrong``, ``expired``, ``used``, ``too_many`` (attempts), ``none`` (no code was
        sent) or ``malformed``. Compared in constant time; every check is audited."""
        typed = "".join(code.split())
        if not (len(typed) == CODE_DIGITS and typed.isascii() and typed.isdigit()):
            return "malformed"
        now = self._now()
        with self.lock, self.store.transaction() as tx:
            latest = tx.latest_phone_code(self._mac("phone", phone))
            if latest is None:
                result = "none"
            elif latest.used_at is not None:
                result = "used"
            elif latest.attempts >= MAX_ATTEMPTS:
                result = "too_many"
            elif _iso(now) >= latest.expires_at:
                result = "expired"
            else:
                tx.count_phone_code_attempt(latest.id)
                if hmac.compare_digest(latest.code_mac, self._mac("code", phone, typed)):
                    result = "ok" if tx.use_phone_code(latest.id, _iso(now)) else "used"
                else:
                    result = "wrong"
            self.audit.write(tx, staff_id, "phone_code_checked", subject=str(latest.id) if latest else None,
                             detail=result)
        return result
