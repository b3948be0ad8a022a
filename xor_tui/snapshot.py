"""``xor-tui snapshot``: the app at an epoch, rendered headless, saved as SVG or PNG.

The screen is Textual's own SVG export (``App.export_screenshot``) of the real app, driven
as a user would: load the scenario, run to the epoch (the ``e`` key, with the scenario's
length set to that epoch), wait for the run to finish. A PNG is that SVG converted by
``rsvg-convert`` (librsvg, the GNOME project's SVG renderer; Debian/Ubuntu:
``apt-get install librsvg2-bin``, macOS: ``brew install librsvg``).

:func:`render_svg` is the one path for every figure: ``screenshots/make.py`` can call it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

MIN_SIZE, MAX_SIZE = (20, 8), (400, 200)


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,4})\s*[xX]\s*(\d{1,4})\s*", text)
    if not m:
        raise ValueError(f"--size: expected WIDTHxHEIGHT in cells, e.g. 120x36, got {text!r}")
    w, h = int(m[1]), int(m[2])
    if not (MIN_SIZE[0] <= w <= MAX_SIZE[0] and MIN_SIZE[1] <= h <= MAX_SIZE[1]):
        raise ValueError(f"--size: from {MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]} cells, got {w}x{h}")
    return w, h


async def render_svg_async(scenario, epoch: int = 0, size: tuple[int, int] = (120, 36), title: str | None = None):
    """The app's screen as SVG text, on ``scenario`` run to ``epoch`` (or to its halt).

    Returns ``(svg, epoch_reached)``.
    """
    from .app.main import XorApp

    app = XorApp(scenario=dataclasses.replace(scenario, epochs=epoch))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        if epoch > 0:
            await pilot.press("e")  # run to the end, which is now `epoch`
            await pilot.pause()
            await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()
        reached = app.session.epoch
        svg = app.export_screenshot(title=title or f"xor-tui: {scenario.name}, epoch {reached}")
    return svg, reached


def render_svg(scenario, epoch: int = 0, size: tuple[int, int] = (120, 36), title: str | None = None):
    return asyncio.run(render_svg_async(scenario, epoch, size, title))


def svg_to_png(svg: str) -> bytes:
    """Convert with rsvg-convert; raises RuntimeError with a one-line reason."""
    exe = shutil.which("rsvg-convert")
    if exe is None:
        raise RuntimeError(
            "PNG needs rsvg-convert (librsvg): apt-get install librsvg2-bin, or brew install librsvg; or write .svg"
        )
    done = subprocess.run([exe, "--format=png"], input=svg.encode(), capture_output=True, timeout=60)
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"rsvg-convert failed: {reason[-1] if reason else f'exit {done.returncode}'}")
    return done.stdout


def cmd_snapshot(args, err) -> int:
    """``err`` prints one line and returns the exit status for bad input."""
    from .core.files import SaveError, write_atomic
    from .core.scenario import MAX_EPOCHS, ScenarioError, resolve

    out = Path(args.output)
    kind = out.suffix.lower()
    if kind not in (".svg", ".png"):
        return err(f"{args.output}: the file name must end in .svg or .png")
    try:
        size = parse_size(args.size)
    except ValueError as exc:
        return err(str(exc))
    if not 0 <= args.epoch <= MAX_EPOCHS:
        return err(f"--epoch must be from 0 to {MAX_EPOCHS}, got {args.epoch}")
    if out.is_dir():
        return err(f"{out}: is a directory")
    if out.exists() and not args.force:
        return err(f"{out}: already exists; pass --force to overwrite")
    if not out.parent.is_dir():
        return err(f"{out.parent}: no such directory")
    if kind == ".png" and shutil.which("rsvg-convert") is None:
        return err(
            "PNG needs rsvg-convert (librsvg): apt-get install librsvg2-bin, or brew install librsvg; or write .svg"
        )
    try:
        scenario = resolve(args.scenario)
    except ScenarioError as exc:
        return err(str(exc))
    svg, reached = render_svg(scenario, args.epoch, size)
    try:
        data = svg_to_png(svg) if kind == ".png" else svg
        write_atomic(out, data, overwrite=args.force)
    except (RuntimeError, OSError, SaveError) as exc:
        return err(str(exc))
    note = "" if reached == args.epoch else f" (training halted at epoch {reached})"
    print(f"{out}: {scenario.name} at epoch {reached}{note}, {size[0]}x{size[1]}")
    return 0
