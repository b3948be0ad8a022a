"""``xor-tui snapshot``: the app at an epoch, rendered headless, saved as SVG or PNG.

The screen is Textual's own SVG export (``App.export_screenshot``) of the real app, driven
as a user would: load the scenario, run to the epoch (what ``e`` does, off the UI thread,
with the target set to that epoch; the scenario keeps its length, so the loss chart spans
the same epochs as in the app), wait for the run to finish, then press any further keys.
Textual's animation level is "none", so the picture is the still frame (no dashes caught
mid-run) and the same state always gives the same file. A PNG is that SVG converted by
``rsvg-convert`` (librsvg, the GNOME project's SVG renderer; Debian/Ubuntu:
``apt-get install librsvg2-bin``, macOS: ``brew install librsvg``).

:func:`render_svg_async` and :func:`svg_to_png` are the one path for every figure:
``xor-tui snapshot`` and ``screenshots/make.py`` both use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

MIN_SIZE, MAX_SIZE = (20, 8), (400, 200)
CONVERT_TIMEOUT = 60.0  # seconds rsvg-convert gets for one picture (it takes well under 1 s)


MAX_KEYS = 20
_KEY = re.compile(r"[A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*")  # a Textual key name: v, V, enter, shift+v, ctrl+p


def parse_keys(text: str) -> tuple[str, ...]:
    """``--keys``: space-separated Textual key names; raises ValueError with the reason."""
    keys = tuple(text.split())
    if len(keys) > MAX_KEYS:
        raise ValueError(f"--keys: at most {MAX_KEYS} keys, got {len(keys)}")
    for k in keys:
        if not _KEY.fullmatch(k) or len(k) > 40:
            raise ValueError(f"--keys: {k[:40]!r} is not a key name (e.g. v, enter, shift+v, ctrl+p)")
        if k in ("q", "ctrl+c", "ctrl+q"):
            raise ValueError(f"--keys: {k} would quit the app before its screen is saved")
    return keys


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,4})\s*[xX]\s*(\d{1,4})\s*", text)
    if not m:
        raise ValueError(f"--size: expected WIDTHxHEIGHT in cells, e.g. 120x36, got {text!r}")
    w, h = int(m[1]), int(m[2])
    if not (MIN_SIZE[0] <= w <= MAX_SIZE[0] and MIN_SIZE[1] <= h <= MAX_SIZE[1]):
        raise ValueError(f"--size: from {MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]} cells, got {w}x{h}")
    return w, h


async def render_svg_async(
    scenario,
    epoch: int = 0,
    size: tuple[int, int] = (120, 36),
    title: str | None = None,
    keys: tuple[str, ...] = (),
):
    """The app's screen as SVG text, on ``scenario`` run to ``epoch`` (or to its halt), after
    pressing ``keys`` there (e.g. ``("v", "enter")``: the survey screen, run), each key's
    background work waited for.

    Returns ``(svg, epoch_reached)``.
    """
    from xor_tui.app.main import XorApp

    app = XorApp(scenario=scenario)
    app.animation_level = "none"  # the still picture
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        if epoch > 0:
            app.main.run_to(epoch)
            await _settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(app, pilot)
        await pilot.pause()
        reached = app.session.epoch
        svg = app.export_screenshot(title=title or f"xor-tui: {scenario.name}, epoch {reached}")
    return svg, reached


async def _settle(app, pilot) -> None:
    """Wait for the background work of the app and of every screen, and for its results."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    for screen in app.screen_stack:
        await screen.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def render_svg(scenario, epoch: int = 0, size: tuple[int, int] = (120, 36), title: str | None = None, keys=()):
    return asyncio.run(render_svg_async(scenario, epoch, size, title, tuple(keys)))


def svg_to_png(svg: str) -> bytes:
    """Convert with rsvg-convert; raises RuntimeError with a one-line reason.

    Textual writes each run of text with non-breaking spaces (``&#160;``) for its blanks;
    rsvg-convert draws some of those runs a cell off, so for the PNG they become plain spaces
    kept as they are (``xml:space="preserve"``): the columns line up as on the screen."""
    exe = shutil.which("rsvg-convert")
    if exe is None:
        raise RuntimeError(
            "PNG needs rsvg-convert (librsvg): apt-get install librsvg2-bin, or brew install librsvg; or write .svg"
        )
    svg = re.sub(r"<svg ", '<svg xml:space="preserve" ', svg.replace("&#160;", " "), count=1)
    # a group of its own: a converter that hangs is ended with whatever it started
    proc = subprocess.Popen(
        [exe, "--format=png"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(svg.encode(), timeout=CONVERT_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # a child that left the group keeps the pipes
            proc.communicate(timeout=5)
        raise RuntimeError(
            f"rsvg-convert ({exe}) did not finish in {CONVERT_TIMEOUT:g} s and was stopped; no file written"
        ) from None
    if proc.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"rsvg-convert failed: {reason[-1] if reason else f'exit {proc.returncode}'}")
    return out


def cmd_snapshot(args, err) -> int:
    """``err`` prints one line and returns the exit status for bad input."""
    from xor_tui.core.engine.run import MAX_EPOCHS
    from xor_tui.core.io.files import SaveError, write_atomic
    from xor_tui.core.io.scenario import ScenarioError, resolve

    out = Path(args.output)
    kind = out.suffix.lower()
    if kind not in (".svg", ".png"):
        return err(f"{args.output}: the file name must end in .svg or .png")
    try:
        size = parse_size(args.size)
        keys = parse_keys(args.keys)
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
    svg, reached = render_svg(scenario, args.epoch, size, keys=keys)
    try:
        data = svg_to_png(svg) if kind == ".png" else svg
        write_atomic(out, data, overwrite=args.force)
    except (RuntimeError, OSError, SaveError) as exc:
        return err(str(exc))
    note = "" if reached == args.epoch else f" (training halted at epoch {reached})"
    pressed = f", after {' '.join(keys)}" if keys else ""
    print(f"{out}: {scenario.name} at epoch {reached}{note}{pressed}, {size[0]}x{size[1]}")
    return 0
