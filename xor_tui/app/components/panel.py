"""A titled, bordered panel that the screen can maximise (Textual's ``screen.maximize``):
focus any widget inside it and the whole panel, title and all, fills the screen."""

from __future__ import annotations

from textual.containers import Vertical
from textual.message import Message


class Panel(Vertical):
    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    Panel { border: round $primary-darken-2; border-title-color: $text; }
    Panel:focus-within { border: round $accent; }
    """

    class KeyChanged(Message):
        """The key on a panel's bottom border changed (it follows the panel's width): a copy
        of the screen kept by a dialog over it is out of date."""


def boxed(box_id: str, title: str, widget) -> Panel:
    box = Panel(widget, id=box_id)
    box.border_title = title
    return box


def set_key(widget, *variants: str) -> None:
    """Show a key to the widget's symbols on the bottom border of the panel around it (if
    there is one): the first of ``variants`` (Textual markup, theme variables) that fits whole."""
    from textual.content import Content

    parent = widget.parent
    if not isinstance(parent, Panel):
        return
    room = parent.size.width - 4
    chosen = ""
    for markup in variants:
        if Content.from_markup(markup).cell_length <= room:
            chosen = markup
            break
    if parent.border_subtitle != chosen:
        parent.border_subtitle = chosen
        parent.post_message(Panel.KeyChanged())
