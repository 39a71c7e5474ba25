"""The parts' boundaries (docs/architecture.md, "Parts"), checked on what a fresh interpreter loads.

- ``hardware/`` imports nothing of ours (``kiosk``, ``mqtt``, ``provisioning``);
- the collector (``mqtt.collector``, CLI ``kiosk-collector``) loads no kiosk or hardware code, and
  no Flask: it is installed centrally without the kiosk's dependencies; its tracing console
  (``mqtt.collector.console``, a web application: Flask and waitress are its own) loads no kiosk
  or hardware code either;
- the rest of ``mqtt/`` (the wire contract, the uplink, the broker config) loads no kiosk or
  hardware code either;
- provisioning (CLI ``kiosk-provision``, on the technician's laptop) loads no hardware code and none
  of the kiosk's device or web libraries.

Each rule imports every module of its part in one new interpreter whose ``__import__`` records,
for each module loaded, the module whose import statement loaded it, so a failure names the chain
(``provisioning.cli -> provisioning.fleet -> kiosk.config -> hardware.printers``). The union of the
modules' closures holds a forbidden module exactly when one module's closure does. A part's imports
inside functions (deferred until used) are walked too: every module a part names in any import
statement is imported as well.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("kiosk", "hardware", "mqtt", "provisioning")
#: The kiosk's device and web libraries: none of them on the technician's laptop's path.
DEVICE_AND_WEB = ("flask", "waitress", "gpiozero", "escpos", "zxingcpp", "pyzbar", "picamera2", "cv2")

#: Run in the new interpreter: import each module named in argv, print {module: its importer}
#: for every module loaded (the importer "" for the ones named in argv) and the import errors.
PROBE = r"""
import builtins, importlib, json, sys

importer = {}
_import = builtins.__import__

def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    before = set(sys.modules)
    try:
        return _import(name, globals, locals, fromlist, level)
    finally:
        by = (globals or {}).get("__name__", "?")
        for loaded in set(sys.modules) - before:
            importer.setdefault(loaded, by)

builtins.__import__ = recording_import
errors = {}
for entry in sys.argv[1:]:
    before = set(sys.modules)
    try:
        importlib.import_module(entry)
    except ImportError as exc:
        errors[entry] = f"{type(exc).__name__}: {exc}"
    new = set(sys.modules) - before
    for loaded in new:          # the entry and its packages (importlib loads them, not a statement)
        importer.setdefault(loaded, entry)
    if entry in new:
        importer[entry] = ""
print(json.dumps({"importer": importer, "errors": errors}))
"""


def modules_of(folder: str, *, but: str | None = None) -> list[str]:
    """The modules of the package in ``folder`` (its files), without the ones under ``but``."""
    names = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if but is not None and rel.is_relative_to(but):
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        names.append(".".join(parts))
    return names


def named_imports(modules: list[str]) -> list[str]:
    """The modules of ours that ``modules`` name in an import statement anywhere (at the top or in a
    function), so that a deferred import is part of what is checked."""
    found = set()
    for module in modules:
        path = ROOT / Path(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[:len(base) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                found.add(target)
                # ``from package import module``: the module is loaded too.
                found.update(f"{target}.{alias.name}" for alias in node.names
                             if _is_module(f"{target}.{alias.name}"))
    return sorted(m for m in found if m.split(".")[0] in OURS and _is_module(m))


def _is_module(name: str) -> bool:
    path = ROOT / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def load(entries: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Import ``entries`` in one new interpreter: ({module loaded: the module that loaded it}, errors)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", PROBE, *entries], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["importer"], result["errors"]


def chain(importer: dict[str, str], module: str) -> str:
    links = [module]
    while importer.get(links[-1]) and len(links) < 50:
        links.append(importer[links[-1]])
    return " -> ".join(reversed(links))


def is_under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def assert_loads_none(entries: list[str], forbidden: tuple[str, ...], part: str) -> None:
    importer, errors = load(entries)
    ours_failing = {m: e for m, e in errors.items() if not _missing_outside(e)}
    assert ours_failing == {}, f"{part}: modules that do not import: {ours_failing}"
    found = sorted(m for m in importer if is_under(m, forbidden))
    # The first module loaded of each forbidden package (the others came with it).
    first = [m for m in found if not is_under(importer[m], forbidden)]
    assert not found, (f"{part} loads {', '.join(sorted({m.split('.')[0] for m in found}))}, which it must not:\n  "
                       + "\n  ".join(chain(importer, m) for m in first))
    for entry in entries:
        assert entry in importer or entry in errors, f"{entry} was not imported"


def _missing_outside(error: str) -> bool:
    """An import error for a library not installed here (picamera2 off a Pi), not one of ours."""
    name = error.partition("No module named ")[2].strip("'\"").split(".")[0]
    return error.startswith("ModuleNotFoundError") and bool(name) and name not in OURS


def entry_point(script: str) -> str:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    return scripts[script].partition(":")[0]


def with_named(modules: list[str], *, inside: str) -> list[str]:
    """``modules`` and the modules of ours they name that are outside ``inside`` (its own are there)."""
    return modules + [m for m in named_imports(modules) if not is_under(m, (inside,)) and m not in modules]


# -- the rules ----------------------------------------------------------------------------------

def test_hardware_imports_nothing_of_ours():
    modules = modules_of("hardware")
    assert "hardware.printers" in modules and len(modules) > 10
    assert_loads_none(with_named(modules, inside="hardware"), ("kiosk", "mqtt", "provisioning"), "hardware/")


def test_the_collector_loads_no_kiosk_hardware_or_flask():
    cli = entry_point("kiosk-collector")
    assert cli == "mqtt.collector.cli"
    modules = [cli, *(m for m in modules_of("mqtt/collector", but="mqtt/collector/console") if m != cli)]
    assert_loads_none(with_named(modules, inside="mqtt.collector"), ("kiosk", "hardware", "provisioning", "flask",
                                                                     "waitress"), "the collector")


def test_the_console_loads_no_kiosk_or_hardware():
    modules = modules_of("mqtt/collector/console")
    assert "mqtt.collector.console.app" in modules and "mqtt.collector.console.server" in modules
    assert_loads_none(with_named(modules, inside="mqtt.collector"), ("kiosk", "hardware", "provisioning"),
                      "the console")


def test_mqtt_outside_the_collector_loads_no_kiosk_or_hardware():
    modules = modules_of("mqtt", but="mqtt/collector")
    assert "mqtt.uplink" in modules and "mqtt.broker" in modules
    assert_loads_none(with_named(modules, inside="mqtt"), ("kiosk", "hardware", "provisioning"), "mqtt/")


def test_provisioning_loads_no_hardware_and_no_device_or_web_library():
    cli = entry_point("kiosk-provision")
    assert cli == "provisioning.cli"
    modules = [cli, *(m for m in modules_of("provisioning") if m != cli)]
    entries = with_named(modules, inside="provisioning")
    assert "kiosk.store" in entries            # fleet's deferred import (kiosk new) is walked too
    assert_loads_none(entries, ("hardware", *DEVICE_AND_WEB), "provisioning")


def test_the_kiosk_config_reads_a_printer_section_without_hardware():
    """provisioning checks the kiosk.toml it writes (and a technician's) with the kiosk's own
    parse_config: reading a [printer] section must not need hardware/ either."""
    script = ("import sys\nfrom kiosk.config import parse_config\n"
              "c = parse_config('[printer]\\nkind = \"network\"\\npath = \"10.0.0.5:9100\"\\nwidth = 384\\n'"
              "\n               '[web]\\ntls_listen = \"lan:8443\"\\ntls_cert = \"w.pem\"\\ntls_key = \"w.key\"\\n')\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('hardware', 'flask', 'waitress')))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- the probe itself ---------------------------------------------------------------------------

def test_the_probe_names_the_chain_of_a_forbidden_import():
    # kiosk.app loads hardware (it is allowed to): the probe must see it, and say through what.
    importer, _ = load(["kiosk.app"])
    assert "hardware.printers" in importer
    links = chain(importer, "hardware").split(" -> ")
    assert links[0] == "kiosk.app" and links[-1] == "hardware" and len(links) >= 2
    with pytest.raises(AssertionError, match=r"kiosk\.app -> .*hardware"):
        assert_loads_none(["kiosk.app"], ("hardware",), "kiosk.app")


def test_named_imports_walks_imports_inside_functions():
    assert "kiosk.store" in named_imports(["provisioning.fleet"])
    assert "mqtt.collector.config" in named_imports(["provisioning.fleet"])
