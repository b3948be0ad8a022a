"""A character grid with a style per cell, turned into rich Text."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip


@lru_cache(maxsize=1024)
def _parse(spec: str) -> Style:
    return Style.parse(spec)


def _style(spec: Style | str | None) -> Style | None:
    if spec is None or isinstance(spec, Style):
        return spec
    return _parse(spec)


class Canvas:
    """A ``width`` x ``height`` grid of characters, each with a style (a Style, a style's text, or None)."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = max(width, 0), max(height, 0)
        self.chars = [[" "] * self.width for _ in range(self.height)]
        self.styles: list[list[Style | str | None]] = [[None] * self.width for _ in range(self.height)]

    def put(self, x: int, y: int, char: str, style: Style | str | None = None) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.chars[y][x] = char
            self.styles[y][x] = style

    def text(self, x: int, y: int, s: str, style: Style | str | None = None) -> None:
        """``s`` from (x, y) rightwards, one character a cell, clipped to the grid."""
        if not 0 <= y < self.height:
            return
        a, b = max(x, 0), min(x + len(s), self.width)
        if a < b:
            self.chars[y][a:b] = s[a - x : b - x]
            self.styles[y][a:b] = [style] * (b - a)

    def cells(self, x: int, y: int, cells: Sequence[tuple[str, Style | str | None]]) -> None:
        """(char, style) pairs from (x, y) rightwards, clipped to the grid."""
        if not 0 <= y < self.height:
            return
        a, b = max(x, 0), min(x + len(cells), self.width)
        if a < b:
            part = cells[a - x : b - x]
            self.chars[y][a:b] = [ch for ch, _ in part]
            self.styles[y][a:b] = [st for _, st in part]

    def strips(self) -> list[Strip]:
        """The grid as Textual strips, one per row, without going through rich Text."""
        out: list[Strip] = []
        for y in range(self.height):
            segs: list[Segment] = []
            run: list[str] = []
            run_style: Style | str | None = None
            row_styles, row_chars = self.styles[y], self.chars[y]
            for x in range(self.width):
                st = row_styles[x]
                if st is not run_style and run:
                    segs.append(Segment("".join(run), _style(run_style)))
                    run = []
                run_style = st
                run.append(row_chars[x])
            if run:
                segs.append(Segment("".join(run), _style(run_style)))
            out.append(Strip(segs, self.width))
        return out
