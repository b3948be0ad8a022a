"""A character grid with a style per cell, turned into rich Text."""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip


@lru_cache(maxsize=1024)
def _parse(spec: str) -> Style:
    return Style.parse(spec)


def _style(spec: Style | str | None) -> Style | None:
    if spec is None or isinstance(spec, Style):
        return spec
    return _parse(spec)


class Canvas:
    def __init__(self, width: int, height: int):
        self.width, self.height = max(width, 0), max(height, 0)
        self.chars = [[" "] * self.width for _ in range(self.height)]
        self.styles: list[list[Style | str | None]] = [[None] * self.width for _ in range(self.height)]

    def put(self, x: int, y: int, char: str, style: Style | str | None = None) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.chars[y][x] = char
            self.styles[y][x] = style

    def text(self, x: int, y: int, s: str, style: Style | str | None = None) -> None:
        for i, ch in enumerate(s):
            self.put(x + i, y, ch, style)

    def line(self, x0: int, y0: int, x1: int, y1: int, char_for, style) -> list[tuple[int, int]]:
        """Bresenham from (x0, y0) to (x1, y1); ``char_for(dx, dy)`` picks the glyph."""
        cells = []
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        x, y = x0, y0
        glyph = char_for(x1 - x0, y1 - y0)
        while True:
            self.put(x, y, glyph, style)
            cells.append((x, y))
            if x == x1 and y == y1:
                break
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x += sx
            if e2 <= dx:
                err += dx
                y += sy
        return cells

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for y in range(self.height):
            run_style, run = None, []
            for x in range(self.width):
                st = self.styles[y][x]
                if st != run_style and run:
                    out.append("".join(run), run_style)
                    run = []
                run_style = st
                run.append(self.chars[y][x])
            if run:
                out.append("".join(run), run_style)
            if y < self.height - 1:
                out.append("\n")
        return out

    def strips(self) -> list[Strip]:
        """The grid as Textual strips, one per row, without going through rich Text."""
        out = []
        for y in range(self.height):
            segs, run, run_style = [], [], None
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
