"""Helpers for driving the app under Pilot and reading what it shows."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time

from rich.console import Console
from textual import events as textual_events
from textual.worker import WorkerCancelled, WorkerState

from xor_tui.app.components.diagram import NetworkDiagram
from xor_tui.app.components.events import EventPanel
from xor_tui.app.components.status import StatusLine
from xor_tui.app.components.tables import RowsTable
from xor_tui.core.engine.net import Config, all_params

PARAMS_221 = [ref.name(Config()) for ref in all_params(Config())]  # hidden.weight[0][0] ... output.bias[0]
KEY_CHARS = {"enter": "\r", "escape": "\x1b", "space": " ", "tab": "\t"}


def plain(renderable, width: int = 200) -> str:
    con = Console(width=width, file=io.StringIO(), record=True, color_system=None, legacy_windows=False)
    con.print(renderable)
    return con.export_text()


def status(app) -> str:
    return app.main.query_one(StatusLine).content.plain


def events(app) -> str:
    return app.main.query_one(EventPanel).content.plain


def rows(app) -> str:
    return app.main.query_one(RowsTable).build().plain


def strips_text(widget) -> str:
    return "\n".join(strip.text for strip in widget.build())


def diagram(app) -> str:
    return strips_text(app.main.query_one(NetworkDiagram))


async def settle(pilot) -> None:
    """Wait for every background worker (a run, a seed search, a survey) and the redraw."""
    app = pilot.app
    await pilot.pause()  # queued keys first: they may start a worker
    deadline = time.monotonic() + 30
    for _ in range(100):  # bounded: the player can stay busy with no worker left (a known bug)
        # workers still to finish; one cancelled before it started (its screen closed first)
        # never will, and is done as far as anyone can tell
        pending = [
            w for w in app.workers if not w.is_finished and not (w.is_cancelled and w.state == WorkerState.PENDING)
        ]
        if not pending and not app.main.player.busy:  # busy until the worker's report is taken in
            break
        if pending and time.monotonic() > deadline:
            stuck = [f"{w.name} {w.state.name} {type(w.node).__name__}" for w in pending]
            raise AssertionError(f"workers still not complete after 30 s: {stuck}")
        started = [w for w in pending if w.state != WorkerState.PENDING]  # wait() refuses the others
        with contextlib.suppress(TimeoutError, WorkerCancelled):  # still going; cancelled is done
            await asyncio.wait_for(app.workers.wait_for_complete(started), 0.5)
        await pilot.pause()  # the worker's report arrives as a message
    await pilot.pause()


async def until(pilot, condition, what: str, tries: int = 150) -> None:
    """Let the app work until ``condition()`` holds (its redraw after a key can take longer than
    Pilot's bounded idle wait on a loaded machine); AssertionError naming ``what`` if it never does."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never: {what}")


async def burst(pilot, *keys: str) -> None:
    """Once what is pending has been handled, queue keys at once, faster than the UI answers."""
    await pilot.pause()
    app = pilot.app
    for k in keys:
        app.post_message(textual_events.Key(k, KEY_CHARS.get(k, k if len(k) == 1 else None)))


async def type_text(pilot, text: str) -> None:
    await pilot.press("end", "ctrl+u")
    await pilot.press(*[{".": "full_stop", "-": "minus", "+": "plus", " ": "space"}.get(c, c) for c in text])


async def select_param(pilot, name: str) -> None:
    """Put the selection on ``name`` (keyboard only)."""
    main = pilot.app.main
    for _ in range(20):
        if main.selected == name:
            return
        await pilot.press("right_square_bracket")
    raise AssertionError(f"could not select {name}")


async def edit_param(pilot, name: str, text: str) -> None:
    await select_param(pilot, name)
    await pilot.press("enter")
    await type_text(pilot, text)
    await pilot.press("enter")


def screen_text(app) -> str:
    """The whole screen as text, as a full repaint draws it (dialogs over what they cover)."""
    w, h = app.size
    con = Console(width=w, height=h, file=io.StringIO(), record=True, color_system=None, legacy_windows=False)
    con.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return con.export_text()
