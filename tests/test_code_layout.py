"""Rules of the code's own layout (docs/architecture.md, the project's rules), checked on the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: A string that is an SQL statement (the kiosk's statements are written in upper case).
SQL = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|WITH|REPLACE|BEGIN|COMMIT|ROLLBACK|"
                 r"SAVEPOINT|VACUUM)\b")


#: Running a statement (sqlite3's and sqlite-utils' names): the store's alone.
EXECUTE = {"execute", "executemany", "executescript"}


def sql_outside_the_store() -> dict[str, list[int]]:
    """Module -> lines of its SQL strings and of its calls that run a statement (``….execute(…)``),
    for every module of kiosk/ outside kiosk/store/."""
    found: dict[str, list[int]] = {}
    for path in sorted((ROOT / "kiosk").rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        if module.startswith("kiosk/store/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            sql = isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value)
            runs = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EXECUTE
            if sql or runs:
                found.setdefault(module, []).append(node.lineno)
    return found


def test_the_kiosks_sql_lives_in_kiosk_store():
    """Every statement of the kiosk is a named method of kiosk/store/ (no exceptions): callers say
    what they want (``tx.check_out(visit, …)``), never SQL."""
    assert sql_outside_the_store() == {}
