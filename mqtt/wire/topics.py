"""The topics, by the leaf names their last segments carry: ``kiosks/<kiosk id>/<leaf>``.

A kiosk publishes on its own topics only (the broker's ACL vouches for the kiosk id in the
topic, not for a payload): events, status, health, selftest, sms/send; it reads acks, commands and
sms/state.

>>> events_topic("cho-phanrang-01")
'kiosks/cho-phanrang-01/events'
>>> parse_topic("kiosks/cho-phanrang-01/cmd/ping")
('cho-phanrang-01', 'cmd/ping')
"""

from __future__ import annotations

from .ids import ID

#: The leaf names: what a kiosk publishes ...
EVENTS = "events"
STATUS = "status"
HEALTH = "health"
SELFTEST = "selftest"
#: A text the centre is asked to send for the kiosk (:mod:`mqtt.wire.sms`) ...
SMS_SEND = "sms/send"
#: ... and what it reads: acks, ``cmd/<name>`` commands, and what became of its texts.
ACKS = "acks"
CMD = "cmd"
SMS_STATE = "sms/state"


def topic(kiosk_id: str, leaf: str) -> str:
    return f"kiosks/{kiosk_id}/{leaf}"


def events_topic(kiosk_id: str) -> str:
    return topic(kiosk_id, EVENTS)


def status_topic(kiosk_id: str) -> str:
    return topic(kiosk_id, STATUS)


def health_topic(kiosk_id: str) -> str:
    return topic(kiosk_id, HEALTH)


def acks_topic(kiosk_id: str) -> str:
    return topic(kiosk_id, ACKS)


def cmd_topic(kiosk_id: str, name: str) -> str:
    return topic(kiosk_id, f"{CMD}/{name}")


def selftest_topic(kiosk_id: str) -> str:
    return topic(kiosk_id, SELFTEST)


EVENTS_FILTER = topic("+", EVENTS)
STATUS_FILTER = topic("+", STATUS)
HEALTH_FILTER = topic("+", HEALTH)
SELFTEST_FILTER = topic("+", SELFTEST)
SMS_SEND_FILTER = topic("+", SMS_SEND)

def shared(group: str, topic_filter: str) -> str:
    """A shared subscription: the broker gives each message to one member of ``group``."""
    return f"$share/{group}/{topic_filter}"


def parse_topic(topic: str) -> tuple[str, str] | None:
    """``(kiosk_id, leaf)`` for ``kiosks/<id>/<leaf...>``, or None for anything else."""
    parts = topic.split("/", 2)
    if len(parts) != 3 or parts[0] != "kiosks" or not ID.fullmatch(parts[1]):
        return None
    return parts[1], parts[2]


