"""A widget drawn through Textual's line API from a rich renderable.

Our views redraw on every epoch. Rendering a rich renderable straight to strips (and
caching them until the content or the size changes) skips Textual's general content
pipeline and keeps a step well inside its time budget.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget


class LinesWidget(Widget):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._content: RenderableType = Text()
        self._strips: list[Strip] | None = None
        self._built_size = None

    @property
    def content(self) -> RenderableType:
        return self._content

    def set_content(self, renderable: RenderableType) -> None:
        self._content = renderable
        self._strips = None
        self.refresh()

    def build(self) -> RenderableType:
        """What to draw at the current size; by default the content last set."""
        return self._content

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        # a new theme changes the colours: rebuild
        key = (width, height, self.app.theme)
        if self._strips is None or self._built_size != key:
            built = self.build()
            if isinstance(built, list):  # already strips (a Canvas)
                self._strips = built[:height]
            else:
                console = self.app.console
                options = console.options.update(width=max(width, 1), height=None, no_wrap=False)
                lines = console.render_lines(built, options, pad=True, new_lines=False)
                self._strips = [Strip(line, width) for line in lines[:height]]
            self._built_size = key
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width)
