"""Masking personal data on screens, slips and operators' terminals: enough to recognise, not to identify.

Lives in ``mqtt`` so both the kiosk and the central collector (installed without the kiosk) use it.
"""

from __future__ import annotations


def mask_name(name: str | None) -> str:
    """Family name in full, the other names as initials.

    >>> mask_name("Nguyễn Thị Mẫu")
    'Nguyễn T. M.'
    >>> mask_name("NGUYEN THI MAU")
    'NGUYEN T. M.'
    """
    if not name:
        return "—"
    parts = name.split()
    if len(parts) == 1:
        return parts[0][0] + "."
    return " ".join([parts[0]] + [p[0] + "." for p in parts[1:]])


def mask_id(identifier: str | None, keep: int = 3) -> str:
    """Only the last ``keep`` characters: ``'079190000001'`` → ``'*********001'``."""
    if not identifier:
        return "—"
    return "*" * max(len(identifier) - keep, 0) + identifier[-keep:]
