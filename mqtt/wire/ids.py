"""The id rule: what a kiosk id, a venue id and a topic's kiosk segment may be, spelled once for
the kiosk's config, the fleet registry, provisioning and every message.

>>> is_id("cho-phanrang-01"), is_id("Chợ-01"), is_id("-x")
(True, False, False)
"""

from __future__ import annotations

import re

#: 1-63 lower-case ASCII letters, digits and '-', not starting with '-'.
ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
#: What :data:`ID` says, for a message that explains a refusal.
ID_RULE = "lower-case letters, digits and '-' (at most 63)"
#: A lower-case UUID: event ids, visit ids, self-test report ids.
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_id(text: object) -> bool:
    """Whether ``text`` is a kiosk or venue id (:data:`ID`)."""
    return isinstance(text, str) and ID.fullmatch(text) is not None
