"""A widget drawn through Textual's line API from a rich renderable or a list of strips.

Our views redraw on every epoch, where most of a picture stays the same (the loss chart
gains a few dots, a table a few digits). A new content is built when Textual next draws the
widget (so a burst of updates, e.g. a background run's, costs one build per screen update),
and a line equal to the one shown keeps its ``Strip`` object, and with it Textual's caches of
its cropped, filtered and styled forms. (Building at once and repainting only the changed
lines was tried: under load the builds queued up behind a background run's updates.)
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual.selection import Selection
from textual.strip import Strip
from textual.widget import Widget

Key = tuple[int, int, str]
"""What a build depends on besides the content: the width, the height and the theme's name."""


class LinesWidget(Widget):
    """Draws ``build()`` (the content last set, or a subclass's own picture) line by line."""

    def __init__(self, **kw: Any) -> None:  # Widget's own keywords (id, classes...), passed on
        super().__init__(**kw)
        self._content: RenderableType = Text()
        self._strips: list[Strip] | None = None
        self._built_key: Key | None = None
        self._stale = True

    @property
    def content(self) -> RenderableType:
        return self._content

    def set_content(self, renderable: RenderableType) -> None:
        """A new content: built when Textual next draws the widget (once however many are
        set meanwhile, so a burst of updates never queues up builds)."""
        self._content = renderable
        self.rebuild()

    def rebuild(self) -> None:
        """Build anew when Textual next draws the widget: for a subclass whose ``build`` draws
        from its own state (a Frame), once that state changed."""
        self._stale = True
        self.refresh()

    def build(self) -> RenderableType | list[Strip]:
        """What to draw at the current size; by default the content last set."""
        return self._content

    def _key(self) -> Key:
        size = self.size
        # a new theme changes the colours: rebuild
        return (size.width, size.height, self.app.theme)

    # (not ``_render``: that is Textual's own, which it calls without a key to copy a selection)
    def _build_strips(self, key: Key) -> list[Strip]:
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
        if self._strips is None or self._built_key != key or self._stale:
            new = self._build_strips(key)
            old = self._strips if self._built_key == key else None
            if old is not None and len(old) == len(new):
                # an unchanged line keeps its Strip object (and Textual's caches of it)
                new = [a if a == b else b for a, b in zip(old, new)]
            self._strips, self._built_key, self._stale = new, key, False
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(key[0])

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The part of the text shown that the mouse selected, for ctrl+c (Textual's own reads
        the widget's ``render()``, which a widget drawn line by line does not use)."""
        text = "\n".join(self.render_line(y).text.rstrip() for y in range(self.size.height))
        return selection.extract(text), "\n"
