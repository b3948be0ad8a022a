"""A widget drawn through Textual's line API from a rich renderable or a list of strips.

Our views redraw on every epoch, where most of a picture stays the same (the loss chart
gains a few dots, a table a few digits). So a new content is built at once (when the widget
is on screen), compared line by line with what is shown, and only the lines that changed are
repainted; an unchanged line keeps its ``Strip`` object, and with it Textual's caches of its
cropped, filtered and styled forms. Off screen (a panel hidden behind a maximised one) the
build waits until Textual asks for a line. The build is done at once rather than on the next
turn of the event loop, so every panel a step changes is repainted in the same screen update.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


class LinesWidget(Widget):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._content: RenderableType = Text()
        self._strips: list[Strip] | None = None
        self._built_key = None

    @property
    def content(self) -> RenderableType:
        return self._content

    def set_content(self, renderable: RenderableType) -> None:
        """A new content: the lines that differ from what is shown are built now and repainted
        in the next screen update."""
        self._content = renderable
        if self._strips is None or not self.is_mounted or not self.region:
            self._strips = None
            self.refresh()
            return
        key = self._key()
        if key != self._built_key:
            self._strips = None
            self.refresh()
            return
        old, new = self._strips, self._render(key)
        if len(old) != len(new):
            self._strips = new
            self.refresh()
            return
        changed = []
        for y, (a, b) in enumerate(zip(old, new)):
            if a == b:
                new[y] = a  # the same line: keep the shown Strip (and Textual's caches of it)
            else:
                changed.append(y)
        self._strips = new
        width = key[0]
        runs: list[list[int]] = []  # runs of consecutive changed lines: [first, last]
        for y in changed:
            if runs and runs[-1][1] == y - 1:
                runs[-1][1] = y
            else:
                runs.append([y, y])
        for first, last in runs:
            self.refresh(Region(0, first, width, last - first + 1))

    def build(self) -> RenderableType | list[Strip]:
        """What to draw at the current size; by default the content last set."""
        return self._content

    def _key(self) -> tuple:
        size = self.size
        # a new theme changes the colours: rebuild
        return (size.width, size.height, self.app.theme)

    def _render(self, key: tuple) -> list[Strip]:
        width, height = key[0], key[1]
        built = self.build()
        if isinstance(built, list):  # already strips (a Canvas)
            return built[:height]
        console = self.app.console
        if isinstance(built, Text) and built.no_wrap and built.overflow in ("crop", "ellipsis"):
            # lines that never wrap: each line cut (or ended with an ellipsis) to the width and
            # padded, without Rich measuring and wrapping the whole text first
            strips = []
            for line in built.split("\n", allow_blank=True)[:height]:
                if line.cell_len > width:
                    line.truncate(width, overflow=built.overflow)
                strips.append(Strip(line.render(console, end=""), line.cell_len).extend_cell_length(width))
            return strips
        options = console.options.update(width=max(width, 1), height=None, no_wrap=False)
        lines = console.render_lines(built, options, pad=True, new_lines=False)
        return [Strip(line, width) for line in lines[:height]]

    def render_line(self, y: int) -> Strip:
        key = self._key()
        if self._strips is None or self._built_key != key:
            self._strips = self._render(key)
            self._built_key = key
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(key[0])
