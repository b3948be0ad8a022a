"""Helpers for driving the app under Pilot and reading what it shows."""

from __future__ import annotations

import io

from rich.console import Console

from xor_tui.app.components.diagram import NetworkDiagram
from xor_tui.app.components.events import EventPanel
from xor_tui.app.components.status import StatusLine
from xor_tui.app.components.tables import RowsTable
from xor_tui.core.engine import Config, all_params

PARAMS_221 = [ref.name(Config()) for ref in all_params(Config())]  # hidden.weight[0][0] ... output.bias[0]


def plain(renderable, width: int = 200) -> str:
    con = Console(width=width, file=io.StringIO(), record=True, color_system=None, legacy_windows=False)
    con.print(renderable)
    return con.export_text()


def status(app) -> str:
    return app.query_one(StatusLine).content.plain


def events(app) -> str:
    return app.query_one(EventPanel).content.plain


def rows(app) -> str:
    return app.query_one(RowsTable).build().plain


def strips_text(widget) -> str:
    return "\n".join(strip.text for strip in widget.build())


def diagram(app) -> str:
    return strips_text(app.query_one(NetworkDiagram))


async def type_text(pilot, text: str) -> None:
    await pilot.press("end", "ctrl+u")
    await pilot.press(*[{".": "full_stop", "-": "minus", "+": "plus", " ": "space"}.get(c, c) for c in text])


async def select_param(pilot, name: str) -> None:
    """Put the parameters table's cursor on ``name`` (keyboard only)."""
    app = pilot.app
    for _ in range(20):
        if app.selected == name:
            return
        await pilot.press("right_square_bracket")
    raise AssertionError(f"could not select {name}")


async def edit_param(pilot, name: str, text: str) -> None:
    await select_param(pilot, name)
    app = pilot.app
    app.query_one("#params").focus()
    await pilot.press("enter")
    await pilot.pause()
    await type_text(pilot, text)
    await pilot.press("enter")
    await pilot.pause()
