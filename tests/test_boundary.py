"""The architecture holds: import-linter's contracts (pyproject.toml) are kept, and at run
time the core and the command line load no textual unless the app is opened."""

import subprocess
import sys
import tomllib

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def test_every_import_contract_is_kept():
    """pyproject.toml's contracts: the core never imports the app or textual, its layers (session
    and view on top, then studies, io, rules, the engine), widgets read only the view. What
    `lint-imports` prints, so a broken contract names the import that breaks it."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in done.stdout, done.stdout


def test_importing_the_core_and_replaying_loads_no_textual():
    code = (
        "import sys, importlib, pkgutil, xor_tui.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'xor_tui.core.'):\n"
        "    if m.name != 'xor_tui.core.engine.fast.epoch': importlib.import_module(m.name)  # epoch: numba\n"
        "from xor_tui.core.studies.replay import replay\n"
        "from xor_tui.core.io.scenario import builtin\n"
        "replay(builtin('case1'), 3)\n"
        "import xor_tui.cli.main\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
