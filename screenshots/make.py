"""Regenerate screenshots/: an SVG and a PNG of the app for every case at epoch 0, case 7's
halt, the 2-2-2-1 exercise ex4-3 and the survey screen, at 120x36 (NAME.svg) and at 80x24
(NAME-80x24.svg).

    python screenshots/make.py

Animation is off (Textual's level "none"), so the pictures are the static frames. PNGs need
rsvg-convert (Debian: apt-get install librsvg2-bin); without it only SVGs are written. For the
PNG only, the SVG's non-breaking spaces become plain spaces under xml:space="preserve":
rsvg-convert otherwise draws some runs of text one cell off.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # this checkout, not an installed copy

from xor_tui.app.main import XorApp  # noqa: E402
from xor_tui.core.scenario import builtin  # noqa: E402

SIZES = {"": (120, 36), "-80x24": (80, 24)}
SHOTS = [(f"case{k}", f"case{k}", ()) for k in range(1, 9)] + [
    ("halt", "case7", ("e",)),
    ("ex4-3", "ex4-3", ()),
    ("survey", "case1", ("v", "enter")),
]


async def shoot(name: str, scenario: str, keys: tuple[str, ...], size: tuple[int, int]) -> Path:
    app = XorApp(scenario=builtin(scenario))
    app.animation_level = "none"
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            await app.workers.wait_for_complete()
            for screen in app.screen_stack:
                await screen.workers.wait_for_complete()
            await pilot.pause()
        await pilot.pause()
        path = HERE / f"{name}.svg"
        app.save_screenshot(str(path))
    return path


def to_png(svg: Path, converter: str) -> Path:
    text = svg.read_text(encoding="utf-8").replace("&#160;", " ")
    text = re.sub(r"<svg ", '<svg xml:space="preserve" ', text, count=1)
    png = svg.with_suffix(".png")
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False, encoding="utf-8") as tmp:
        tmp.write(text)
    try:
        subprocess.run([converter, tmp.name, "-o", str(png)], check=True)
    finally:
        Path(tmp.name).unlink()
    return png


async def main() -> None:
    converter = shutil.which("rsvg-convert")
    for suffix, size in SIZES.items():
        for name, scenario, keys in SHOTS:
            svg = await shoot(name + suffix, scenario, keys, size)
            print(to_png(svg, converter) if converter else svg)


if __name__ == "__main__":
    asyncio.run(main())
