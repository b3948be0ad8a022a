"""A titled, bordered panel that the screen can maximise (Textual's ``screen.maximize``):
focus any widget inside it and the whole panel, title and all, fills the screen."""

from __future__ import annotations

import functools
from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from xor_tui.app.components import pixels as px


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


@functools.lru_cache(maxsize=256)
def _cells(markup: str) -> int:
    """The width of ``markup`` on screen (parsing it is ~0.3 ms: the loss chart's key asked
    for five of them every frame, 1.3 ms of each step)."""
    from textual.content import Content

    return Content.from_markup(markup).cell_length


def set_key(widget, *variants: str) -> None:
    """Show a key to the widget's symbols on the bottom border of the panel around it (if
    there is one): the first of ``variants`` (Textual markup, theme variables) that fits whole."""
    parent = widget.parent
    if not isinstance(parent, Panel):
        return
    room = parent.size.width - 4
    chosen = ""
    for markup in variants:
        if _cells(markup) <= room:
            chosen = markup
            break
    if parent.border_subtitle != chosen:
        parent.border_subtitle = chosen
        parent.post_message(Panel.KeyChanged())


class TextPanel(VerticalScroll, can_focus=True):
    """A scrolling panel of one ``Text`` (mouse wheel, or focus it and use the arrows, page
    keys, home and end): nothing is cut, lines wrap at the panel's width. A subclass's
    ``show(...)`` builds the text and hands it to ``_update``; the panel shows it again, from
    the same arguments, when the theme changes. ``KEYS``: the key to its marks on the bottom
    border of the ``Panel`` around it, the widest that fits first."""

    ALLOW_MAXIMIZE = True  # (scroll containers say no by default); the panel around it grows
    DEFAULT_CSS = """
    TextPanel { height: 1fr; scrollbar-size-vertical: 1; }
    TextPanel > Static { width: 1fr; }
    """
    KEYS: tuple[str, ...] = ()

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.text = Text()
        self._key: tuple[object, ...] | None = None  # what the text was made from
        self._last: tuple[Any, ...] | None = None  # show's arguments, to show again in a new theme

    @property
    def content(self) -> Text:
        """What the panel holds (all of it, not only what is in view)."""
        return self.text

    def compose(self) -> ComposeResult:
        yield Static()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._again())

    def on_resize(self) -> None:
        if self.KEYS:
            set_key(self, *self.KEYS)

    def _again(self) -> None:
        if self._last is not None:
            self._key = None
            self.show(*self._last)

    def show(self, *args: Any) -> None:
        """Build the text from ``args`` (each subclass says which) and show it."""
        raise NotImplementedError

    def _changed(self, args: tuple[Any, ...], key: tuple[object, ...]) -> bool:
        """Called first by ``show(*args)``: keep ``args`` (to show again in a new theme); False
        when ``key`` (what the text is made from), in this theme, is what the panel shows now."""
        self._last = args
        key = (self.app.theme, *key)
        if key == self._key:
            return False
        self._key = key
        return True

    def _begin(self, message: str) -> Text:
        """A new text: ``message`` first (bold, in the theme's warning colour), if any."""
        t = Text()
        if message:
            t.append(message + "\n", px.style(px.theme_colours(self)["warning"], bold=True))
        return t

    def _update(self, text: Text, shown: RenderableType | None = None) -> None:
        """Hold ``text`` and show it (or ``shown``, a renderable drawn from it)."""
        self.text = text
        if self.is_mounted:
            self.query_one(Static).update(text if shown is None else shown)
