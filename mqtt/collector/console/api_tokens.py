"""API tokens for machines (a district's reporting script, a national dashboard): one role each,
sent as ``Authorization: Bearer TOKEN``. ``kiosk-collector api-token add NAME --role ROLE`` prints the
token once; the store keeps its SHA-256 (the token is 256 random bits, so a fast hash is enough)
and when it was last used; ``revoke`` ends it at once.

>>> import tempfile
>>> from mqtt.collector.store import open_store
>>> with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite://{tmp}/central.db") as store:
...     tokens = ApiTokens(store)
...     token = tokens.add("district-7", "reporter")
...     found = tokens.authenticate(f"Bearer {token}")
...     _ = tokens.revoke("district-7")
...     found.name, found.role, tokens.authenticate(f"Bearer {token}")
('district-7', 'reporter', None)
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from datetime import UTC, datetime

from ..store import Store
from ..store_console import TokenRow
from .accounts import AccountError
from .roles import check_roles

PREFIX = "ckc_"
_TOKEN = re.compile(r"ckc_[A-Za-z0-9_-]{43}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
#: A token's last use is written at most this often.
TOUCH_S = 60


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class ApiTokens:
    def __init__(self, store: Store, *, clock=time.time):
        self.store = store
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def add(self, name: str, role: str) -> str:
        if not _NAME.fullmatch(name or ""):
            raise AccountError("a token name is letters, digits, '_', '.', '-' (at most 63)")
        try:
            (role,) = check_roles([role])
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        if any(t.name == name and t.revoked_at is None for t in self.store.token_rows()):
            raise AccountError(f"there is already a live token {name!r} (revoke it first)")
        token = PREFIX + secrets.token_urlsafe(32)
        self.store.insert_token(token_id=str(uuid.uuid4()), name=name, role=role, token_hash=_hash(token),
                                created_at=self._now())
        return token

    def revoke(self, name: str) -> int:
        count = self.store.revoke_tokens(name, self._now())
        if not count:
            raise AccountError(f"there is no live token {name!r}")
        return count

    def list(self) -> list[TokenRow]:
        return self.store.token_rows()

    def authenticate(self, header: str | None) -> TokenRow | None:
        """The live token an ``Authorization`` header carries, or None."""
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not _TOKEN.fullmatch(token):
            return None
        found = self.store.live_token(_hash(token))
        if found is None:
            return None
        now = self._now()
        if found.last_used_at is None or (now - found.last_used_at).total_seconds() >= TOUCH_S:
            self.store.touch_token(found.token_id, now)
        return found
