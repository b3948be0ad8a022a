"""Regenerate screenshots/: an SVG and a PNG of the app for each case and for the halt.

    python screenshots/make.py

PNGs need rsvg-convert (Debian: apt-get install librsvg2-bin); without it only SVGs
are written.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

from xor_tui.app.main import XorApp
from xor_tui.core.scenario import builtin

HERE = Path(__file__).parent
SIZE = (120, 36)


async def shoot(name: str, scenario: str, keys: tuple[str, ...] = (), run_to_halt: bool = False) -> Path:
    app = XorApp(scenario=builtin(scenario))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        if run_to_halt:
            await pilot.press("e")
            await app.workers.wait_for_complete()
        await pilot.pause()
        path = HERE / f"{name}.svg"
        app.save_screenshot(str(path))
    return path


async def main() -> None:
    shots = [await shoot(f"case{k}", f"case{k}") for k in range(1, 9)]
    shots.append(await shoot("halt", "case7", run_to_halt=True))
    converter = shutil.which("rsvg-convert")
    for svg in shots:
        if converter:
            subprocess.run([converter, str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
        print(svg.with_suffix(".png" if converter else ".svg"))


if __name__ == "__main__":
    asyncio.run(main())
