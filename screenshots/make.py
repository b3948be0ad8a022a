"""Regenerate screenshots/: an SVG and a PNG of the app for every case at epoch 0, case 7's
halt, the 2-2-2-1 exercise ex4-3, the survey screen, the `y` screen (why-param: case 7's
output.bias[0] at epoch 97; why-unit: case 5's dead h[0]; why-loss: case 1's loss of 50;
why-halt: case 7's halt), target mode (case 3 from seed 0) and the lesson's first task done,
at 120x36 (NAME.svg) and at 80x24 (NAME-80x24.svg).

    python screenshots/make.py               # all of them
    python screenshots/make.py [NAME ...]    # only those whose names begin so (e.g. why target)

Every picture goes through the same code as `xor-tui snapshot` (xor_tui/cli/snapshot.py:
render_svg_async, then svg_to_png for the PNG), so the README's figures are what that
command gives: the still frame (animation off), `xor-tui snapshot case7 --epoch 98` for the
halt. PNGs need rsvg-convert (Debian: apt-get install librsvg2-bin); without it only SVGs
are written. Existing files are replaced.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # this checkout, not an installed copy

from xor_tui.cli.snapshot import render_svg_async, svg_to_png  # noqa: E402
from xor_tui.core.io.files import write_atomic  # noqa: E402
from xor_tui.core.io.scenario import builtin, parse  # noqa: E402

SIZES = {"": (120, 36), "-80x24": (80, 24)}
# (file name, scenario, epoch, keys pressed there)
SHOTS = [(f"case{k}", f"case{k}", 0, ()) for k in range(1, 9)] + [
    ("halt", "case7", 98, ()),
    ("ex4-3", "ex4-3", 0, ()),
    ("survey", "case1", 0, ("v", "enter")),
    ("why-param", "case7", 97, ("y",)),
    ("why-unit", "case5", 0, ("y", "u", "right_square_bracket")),  # the unit after out: h[0]
    ("why-loss", "case1", 0, ("y", "l")),
    ("why-halt", "case7", 98, ("y",)),
    # target mode from seed 0 (the app's own opening start): t, case 3, its rules and edits
    ("target", "seed0", 0, ("t", "ctrl+u", "3", "enter")),
    # the lesson's first task, done: hidden.bias[1] set to -0.25 (up x3 from output.bias[0])
    ("lesson", "lesson-dying-relu", 0, ("up",) * 3 + ("enter", "ctrl+u", "minus", "0", "full_stop", "2", "5", "enter")),
]
SEED0 = parse('name = "seed 0"\ndescription = "PyTorch\'s default nn.Linear start for seed 0."\n[start]\nseed = 0\n')


async def main(only: list[str]) -> None:
    png = shutil.which("rsvg-convert") is not None
    if not png:
        print("rsvg-convert not found (Debian: apt-get install librsvg2-bin): writing SVGs only", file=sys.stderr)
    for suffix, size in SIZES.items():
        for name, scenario, epoch, keys in SHOTS:
            if only and not any(name.startswith(o) for o in only):
                continue
            sc = SEED0 if scenario == "seed0" else builtin(scenario)
            svg, _ = await render_svg_async(sc, epoch, size, keys=keys)
            path = write_atomic(HERE / f"{name}{suffix}.svg", svg, overwrite=True)
            print(path)
            if png:
                print(write_atomic(path.with_suffix(".png"), svg_to_png(svg), overwrite=True))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))  # names (or their beginnings) to draw only those: `make.py why`
