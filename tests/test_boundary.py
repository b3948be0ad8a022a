"""The engine is a core that never imports textual; the CLI loads textual only for the app."""

import ast
import pathlib
import subprocess
import sys

import xor_tui

PKG = pathlib.Path(xor_tui.__file__).parent


def test_core_modules_do_not_import_textual_statically():
    offenders = []
    for path in (PKG / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
                if node.level:  # relative import must stay inside core
                    if node.module.startswith(("app", "..")):
                        offenders.append(f"{path.name}: from {'.' * node.level}{node.module}")
                    if node.level > 1:
                        offenders.append(f"{path.name}: reaches outside core")
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("textual", "rich")]
    assert offenders == []


def test_importing_the_core_and_replaying_loads_no_textual():
    code = (
        "import sys, importlib, pkgutil, xor_tui.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__): importlib.import_module('xor_tui.core.' + m.name)\n"
        "from xor_tui.core.studies.replay import replay\n"
        "from xor_tui.core.io.scenario import builtin\n"
        "replay(builtin('case1'), 3)\n"
        "import xor_tui.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_widgets_import_nothing_from_core_but_view():
    """Widgets render Frames: every rule (dead unit, frozen parameter, case) stays in core."""
    offenders = []
    for path in (PKG / "app" / "components").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")
                modules = [f"{base}.{a.name}" for a in node.names]
            for m in modules:
                parts = [p for p in m.split(".") if p]
                if "core" in parts and parts[parts.index("core") + 1 : parts.index("core") + 2] != ["view"]:
                    offenders.append(f"{path.name}: {m}")
    assert offenders == []
