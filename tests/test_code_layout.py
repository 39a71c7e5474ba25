"""Rules of the code's own layout (docs/architecture.md, the project's rules), checked on the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: A string that is an SQL statement (the kiosk's statements are written in upper case).
SQL = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|WITH|REPLACE|BEGIN|COMMIT|ROLLBACK|"
                 r"SAVEPOINT|VACUUM)\b")
#: Modules outside kiosk/store/ that held SQL before the rule was checked; a later redesign issue
#: moves them into kiosk/store/ (and takes them off this list). No module may join it.
OLDER_SQL = {"kiosk/selftest/checks.py", "kiosk/tokens.py"}


def sql_outside_the_store() -> dict[str, list[int]]:
    """Module -> lines of its SQL strings, for every module of kiosk/ outside kiosk/store/."""
    found: dict[str, list[int]] = {}
    for path in sorted((ROOT / "kiosk").rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        if module.startswith("kiosk/store/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                found.setdefault(module, []).append(node.lineno)
    return found


def test_the_kiosks_sql_lives_in_kiosk_store():
    found = sql_outside_the_store()
    assert {m: lines for m, lines in found.items() if m not in OLDER_SQL} == {}
    assert OLDER_SQL - found.keys() == set(), "moved into kiosk/store/: take it off OLDER_SQL"
