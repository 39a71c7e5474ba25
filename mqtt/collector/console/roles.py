"""Who may do what in the tracing console. A user holds one role or several; an API token one.

- ``tracer`` (cán bộ truy vết): opens cases, sees personal data, searches venue exposures,
  exports contact lists; sees the figures too;
- ``reporter`` (thống kê): the figures only, aggregates, never a name or an id;
- ``fleet`` (kỹ thuật): the kiosks and the dead letters (reasons, never payloads);
- ``admin``: users, API tokens and the audit; traces nobody unless also a tracer.

>>> sorted(rights(["reporter"])), PERSONAL_DATA in rights(["admin"]), PERSONAL_DATA in rights(["admin", "tracer"])
(['figures'], False, True)
"""

from __future__ import annotations

from collections.abc import Iterable

ROLES = ("tracer", "reporter", "fleet", "admin")

PERSONAL_DATA = "personal_data"     # cases, contacts, presence, exports
FIGURES = "figures"                 # daily and weekly aggregates
FLEET = "fleet"                     # kiosks, dead letters
ADMIN = "admin"                     # users, tokens, the audit

_RIGHTS = {
    "tracer": frozenset({PERSONAL_DATA, FIGURES}),
    "reporter": frozenset({FIGURES}),
    "fleet": frozenset({FLEET}),
    "admin": frozenset({ADMIN}),
}


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles, each known and once, in :data:`ROLES` order; ValueError otherwise."""
    given = list(roles)
    unknown = [r for r in given if r not in ROLES]
    if unknown or not given:
        not_these = f" (not {', '.join(unknown)})" if unknown else ""
        raise ValueError(f"role must be one of {', '.join(ROLES)}{not_these}")
    return tuple(r for r in ROLES if r in given)


def rights(roles: Iterable[str]) -> frozenset[str]:
    """What the holder of ``roles`` may do (unknown roles give nothing)."""
    out: frozenset[str] = frozenset()
    for role in roles:
        out |= _RIGHTS.get(role, frozenset())
    return out
