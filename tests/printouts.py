"""Printouts made by the student's own loop (tests/seed/student_loop.py, a copy of the source's).

The loop runs in this process (its ``main`` with patched arguments, stdout captured); a BCELoss
crash is written as Python would write it to the terminal: a traceback ending in the error line.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import sys
import tempfile
from pathlib import Path

SEED = Path(__file__).parent / "seed"


def header(epoch: int) -> str:
    return f"##########################epoches: {epoch} ##############################"


_HEADER = re.compile(r"^#+epoches: (\d+) #+$")


def _loop():
    spec = importlib.util.spec_from_file_location("student_loop", SEED / "student_loop.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(lr: float, epochs: int, seed: int | None = None, start: dict | None = None) -> str:
    """The loop's terminal output: every epoch's block, and the traceback of a crash."""
    args = ["student_loop.py", "--lr", repr(lr), "--epochs", str(epochs)]
    with tempfile.TemporaryDirectory() as tmp:
        if start is not None:
            p = Path(tmp) / "start.json"
            p.write_text(json.dumps(start))
            args += ["--start", str(p)]
        if seed is not None:
            args += ["--seed", str(seed)]
        buf = io.StringIO()
        old = sys.argv
        sys.argv = args
        try:
            with contextlib.redirect_stdout(buf):
                _loop().main()
        except RuntimeError as exc:
            buf.write(
                "Traceback (most recent call last):\n"
                '  File "student_loop.py", line 58, in <module>\n'
                "    main()\n"
                '  File "student_loop.py", line 49, in main\n'
                "    l = loss(pre_y, y)\n"
                "        ^^^^^^^^^^^^^^\n"
                f"RuntimeError: {exc}\n"
            )
        finally:
            sys.argv = old
    return buf.getvalue()


def blocks(text: str) -> list[tuple[int, list[str]]]:
    """(epoch, lines) of every printed epoch, the crash's traceback kept with the last one."""
    out: list[tuple[int, list[str]]] = []
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            out.append((int(m.group(1)), [line]))
        elif out:
            out[-1][1].append(line)
    return out


def keep(text: str, epochs) -> str:
    """Only the given epochs' blocks (the last one always, with a crash), '...' where others were."""
    bs = blocks(text)
    last = bs[-1][0]
    lines, skipped = [], False
    for epoch, block in bs:
        if epoch in epochs or epoch == last:
            if skipped:
                lines.append("...")
            lines += block
            skipped = False
        else:
            skipped = True
    return "\n".join(lines) + "\n"
