"""Nudging in the real app: key to redrawn screen for one nudge (shift+↑), against one step
(space) interleaved with it, and a burst of nudges sent at once (as a held key sends them)
until the screen shows the last one; with target mode off and on (its rule report and solver
run on a worker: the UI thread must not wait for them).

    python benchmarks/nudge_burst.py [--rounds 40] [--burst 20] [--size 120x36]

Headless (Textual's own renderer, no terminal I/O), as benchmarks/app_step.py. Prints the load
average first; medians and the 90th percentile of each.
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

# isort: off
import xor_tui.app  # noqa: E402, F401  first: it sets the app's TEXTUAL_FPS before textual loads
from textual import events  # noqa: E402
# isort: on

from xor_tui.app.main import XorApp  # noqa: E402


async def settle_workers(app, pilot) -> None:
    """Until no worker runs and target mode's solver has nothing left to do (its timer)."""
    await pilot.pause()
    for _ in range(300):
        if not [w for w in app.workers if not w.is_finished] and app.main._solve_timer is None:
            break
        await asyncio.sleep(0.01)
    await pilot.pause()


async def timed(app, pilot, keys: list[tuple[str, str | None]], done) -> float:
    """Send ``keys`` at once; milliseconds until a screen update with ``done()`` true."""
    shown = asyncio.Event()
    display = app._display

    def timed_display(screen, renderable):
        display(screen, renderable)
        if renderable is not None and done():
            shown.set()

    app._display = timed_display
    try:
        t0 = time.perf_counter()
        for key, ch in keys:
            app._driver.send_message(events.Key(key, ch))
        await asyncio.wait_for(shown.wait(), 30)
        return (time.perf_counter() - t0) * 1000
    finally:
        app._display = display


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    return f"{name}: median {statistics.median(ms):.1f} ms, p90 {ms[int(0.9 * len(ms))]:.1f} ms ({len(ms)})"


async def bench(rounds: int, burst: int, size: tuple[int, int]) -> None:
    app = XorApp(seed=0)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        main = app.main
        while main.selected != "output.bias[0]":
            await pilot.press("right_square_bracket")
        print("load average " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
        for mode in ("off", "on"):
            if mode == "on":
                await pilot.press("t", "ctrl+u", "2", "enter")
                await settle_workers(app, pilot)
            steps, nudges, bursts = [], [], []
            for _ in range(rounds):
                s = app.session
                e = s.epoch
                steps.append(await timed(app, pilot, [("space", " ")], lambda e=e: app.session.epoch == e + 1))
                n = len(s.run.actions())
                nudges.append(
                    await timed(app, pilot, [("shift+up", None)], lambda n=n: len(app.session.run.actions()) == n + 1)
                )
                await settle_workers(app, pilot)
            for _ in range(max(rounds // 8, 3)):
                n = len(app.session.run.actions())
                bursts.append(
                    await timed(
                        app,
                        pilot,
                        [("shift+down", None)] * burst,
                        lambda n=n: len(app.session.run.actions()) == n + burst,
                    )
                )
                await settle_workers(app, pilot)
            print(f"target mode {mode}:")
            print("  " + summary("one step (space)", steps))
            print("  " + summary("one nudge (shift+up)", nudges))
            print("  " + summary(f"a burst of {burst} nudges sent at once, to the last one shown", bursts))
            print(f"  per nudge in a burst: {statistics.median(bursts) / burst:.1f} ms")
        print("load average " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--burst", type=int, default=20)
    ap.add_argument("--size", default="120x36")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    asyncio.run(bench(args.rounds, args.burst, (w, h)))


if __name__ == "__main__":
    main()
