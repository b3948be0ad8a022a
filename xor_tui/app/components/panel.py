"""A titled, bordered panel that the screen can maximise (Textual's ``screen.maximize``):
focus any widget inside it and the whole panel, title and all, fills the screen."""

from __future__ import annotations

from textual.containers import Vertical


class Panel(Vertical):
    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    Panel { border: round $primary-darken-2; border-title-color: $text; }
    Panel:focus-within { border: round $primary; }
    """


def boxed(box_id: str, title: str, widget) -> Panel:
    box = Panel(widget, id=box_id)
    box.border_title = title
    return box
