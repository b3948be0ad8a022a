"""Key-to-redrawn-screen time of one step, and play-mode speed, in the real app.

    python benchmarks/app_step.py [--steps 200] [--size 120x36]

Runs the app headless (Textual's own renderer, no terminal I/O), sends a space key,
and times until the screen has composited the update (the moment Textual would write
it to the terminal). Prints median, 90th percentile and max over the steps, the main
thread's CPU time per step (median: less sensitive than wall time to other processes on a
shared machine) and the garbage collector's passes during the steps, then plays for two
seconds at the top speed and prints epochs per second. Compare with the load average
printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout, not an installed copy

# isort: off
import xor_tui.app  # noqa: E402, F401  first: it sets the app's TEXTUAL_FPS (120) before textual loads
from textual import events  # noqa: E402
# isort: on

from xor_tui.app.main import XorApp  # noqa: E402
from xor_tui.core.io.scenario import builtin  # noqa: E402


async def bench(steps: int, size: tuple[int, int]) -> None:
    app = XorApp(scenario=builtin("case3"))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        shown = asyncio.Event()
        display = app._display

        want = [0]

        def timed_display(screen, renderable):
            display(screen, renderable)
            # the update that shows the new epoch (not one the diagram's animation drew meanwhile)
            if renderable is not None and app.session.epoch >= want[0]:
                shown.set()

        app._display = timed_display
        passes, started = [], [0.0]

        def timed_gc(phase, info):
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                passes.append((info["generation"], (time.perf_counter() - started[0]) * 1000))

        gc.callbacks.append(timed_gc)
        times, cpu = [], []
        for k in range(1, steps + 1):
            await pilot.pause()
            shown.clear()
            want[0] = k
            t0, c0 = time.perf_counter(), time.thread_time()
            app._driver.send_message(events.Key("space", " "))
            await shown.wait()
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
        gc.callbacks.remove(timed_gc)
        assert app.session.epoch == steps, app.session.epoch
        assert xor_tui.app.__file__.startswith(str(Path(__file__).resolve().parent.parent)), xor_tui.app.__file__
        times.sort()
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
        print(f"load average {load}, TEXTUAL_FPS={os.environ.get('TEXTUAL_FPS')}")
        print(
            f"step, key to redrawn screen at {size[0]}x{size[1]} over {steps} steps: "
            f"median {statistics.median(times):.1f} ms, p90 {times[int(0.9 * len(times))]:.1f} ms, "
            f"max {times[-1]:.1f} ms; main thread CPU median {statistics.median(cpu):.1f} ms"
        )
        worst = max((ms for _, ms in passes), default=0.0)
        full, total = sum(g == 2 for g, _ in passes), sum(ms for _, ms in passes)
        print(
            f"garbage collector during the steps: {len(passes)} passes ({full} full), "
            f"{total:.0f} ms in all, longest {worst:.1f} ms"
        )

        player = app.main.player
        await pilot.press("r")
        player.speed = 240
        await pilot.press("p")
        t0, e0 = time.perf_counter(), app.session.epoch
        await asyncio.sleep(2.0)
        rate = (app.session.epoch - e0) / (time.perf_counter() - t0)
        await pilot.press("p")
        print(f"play mode at the top speed setting ({player.speed}/s): {rate:.0f} epochs per second")
        player.speed = 30
        await pilot.press("r", "p")
        t0, e0 = time.perf_counter(), app.session.epoch
        await asyncio.sleep(2.0)
        rate = (app.session.epoch - e0) / (time.perf_counter() - t0)
        await pilot.press("p")
        print(f"play mode at the default speed setting (30/s): {rate:.0f} epochs per second")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--size", default="120x36")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    asyncio.run(bench(args.steps, (w, h)))


if __name__ == "__main__":
    main()
