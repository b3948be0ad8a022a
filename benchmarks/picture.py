"""What the picture costs: a step with the animation on, one animation frame, and an idle app.

    python benchmarks/picture.py [--steps 100] [--size 120x36]

Headless (Textual's own renderer, no terminal I/O), like benchmarks/app_step.py:
- step, key to redrawn screen, with Textual's animation level "full" (the dashes run after
  every step, so the diagram is also redrawn by its animation timer meanwhile);
- one animation frame: the diagram rebuilt with its dashes moved (what the timer does 12
  times a second while the dashes run);
- idle CPU: the process's CPU time over 5 seconds of an idle app, animation "none", and
  animation "full" once the dashes have stopped.
Prints medians; compare with `uptime`'s load, printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout, not an installed copy

from xor_tui.app.main import XorApp  # noqa: E402, I001  (first: it sets the app's TEXTUAL_FPS before textual loads)
from textual import events  # noqa: E402

from xor_tui.app.components.diagram import NetworkDiagram  # noqa: E402
from xor_tui.core.io.scenario import builtin  # noqa: E402


async def step_times(steps: int, size: tuple[int, int], level: str) -> list[float]:
    app = XorApp(scenario=builtin("case3"))
    app.animation_level = level
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        shown = asyncio.Event()
        display = app._display
        want = [0]

        def timed_display(screen, renderable):
            display(screen, renderable)
            if renderable is not None and app.session.epoch >= want[0]:
                shown.set()

        app._display = timed_display
        times = []
        for k in range(1, steps + 1):
            await pilot.pause()
            shown.clear()
            want[0] = k
            t0 = time.perf_counter()
            app._driver.send_message(events.Key("space", " "))
            await shown.wait()
            times.append((time.perf_counter() - t0) * 1000)
        return times


async def frame_times(size: tuple[int, int], n: int = 60) -> list[float]:
    app = XorApp(scenario=builtin("case3"))
    async with app.run_test(size=size) as pilot:
        await pilot.press("space")
        await pilot.pause()
        diagram = app.query_one(NetworkDiagram)
        times = []
        for _ in range(n):
            diagram._ticks += 1  # what the timer does, then the rebuild it causes
            t0 = time.perf_counter()
            diagram.build()
            times.append((time.perf_counter() - t0) * 1000)
        return times


async def idle_cpu(size: tuple[int, int], level: str, seconds: float = 5.0) -> float:
    app = XorApp(scenario=builtin("case3"))
    app.animation_level = level
    async with app.run_test(size=size) as pilot:
        await pilot.press("space")
        await asyncio.sleep(2.0)  # let the dashes run out
        c0, t0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        return (time.process_time() - c0) / (time.perf_counter() - t0) * 100


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--size", default="120x36")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    for level in ("full", "none"):
        t = sorted(asyncio.run(step_times(args.steps, size, level)))
        print(
            f"step, key to redrawn screen, {args.size}, animation {level}: median {statistics.median(t):.1f} ms, "
            f"p90 {t[int(0.9 * len(t))]:.1f} ms ({args.steps} steps)"
        )
    f = sorted(asyncio.run(frame_times(size)))
    print(f"one animation frame (diagram rebuilt), {args.size}: median {statistics.median(f):.1f} ms")
    for level in ("none", "full"):
        cpu = asyncio.run(idle_cpu(size, level))
        print(f"idle CPU, animation {level}, after the dashes stop: {cpu:.1f}% of a core")


if __name__ == "__main__":
    main()
