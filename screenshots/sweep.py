"""Regenerate the sweep screenshots: the source's setting and two fixes, as heatmaps.

    python screenshots/sweep.py [--n 10000] [--epochs 1000]

Each runs `xor-tui sweep`'s default grid (lr 0.001..1 x init scale 0.25..4, 12 x 12) and
saves the app's sweep screen as SVG and (with rsvg-convert) PNG.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
from pathlib import Path

from textual.app import App

from xor_tui.app.screens.sweep import SweepScreen
from xor_tui.core.engine.activations import parse_activation
from xor_tui.core.engine.net import Config
from xor_tui.core.studies.sweep import log_range, run_sweep

HERE = Path(__file__).parent
SETTINGS = {
    "sweep-source": ("relu", "relu", "bce", 0.001),
    "sweep-leaky-hidden": ("leaky_relu:0.01", "relu", "bce", 0.1),
    "sweep-sigmoid-output": ("relu", "sigmoid", "bce", 0.5),
}


async def shoot(name: str, config: Config, n: int, epochs: int) -> Path:
    lrs = log_range("0.001:1:12", "--lr", 1e-6, 1e6)
    scales = log_range("0.25:4:12", "--init-scale", 1e-3, 1e3)
    result = run_sweep(config, lrs, scales, n, epochs)
    screen = SweepScreen(config, result=result)

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(screen)

    app = Host()
    async with app.run_test(size=(124, 40)) as pilot:
        await pilot.pause()
        path = HERE / f"{name}.svg"
        app.save_screenshot(str(path))
    print(f"{name}: {result.seconds:.1f} s")
    return path


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=1000)
    args = ap.parse_args()
    for name, (hidden, output, loss, lr) in SETTINGS.items():
        config = Config((2,), (parse_activation(hidden), parse_activation(output)), loss, lr)
        svg = await shoot(name, config, args.n, args.epochs)
        if shutil.which("rsvg-convert"):
            subprocess.run(["rsvg-convert", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)


if __name__ == "__main__":
    asyncio.run(main())
