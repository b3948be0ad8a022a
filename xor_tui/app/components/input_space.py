"""The input plane: the network's prediction as a half-block heatmap over a little more than
[0,1]^2, each first-layer unit's line w.x + b = 0 drawn continuously in that unit's colour
with its active side tinted, the four XOR points with their target and ✓/✗, axis ticks and a
key. Everything is computed by ``Frame.grid`` (the engine's own forward pass, once per frame)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.strip import Strip

from xor_tui.app.components import pixels as px
from xor_tui.app.components import style as S
from xor_tui.app.components.canvas import Canvas
from xor_tui.app.components.lines import LinesWidget
from xor_tui.core.view import Frame

LO, HI = -0.25, 1.25
UNIT_VARS = ("text-accent", "text-primary", "text-success", "text-error")
SHADE = 0.22  # how much a unit's active side is tinted with its colour
HEAT = 0.55  # how strongly the prediction colours the plane


def unit_colours(pal: dict[str, Color]) -> list[Color]:
    """The first layer's units' colours, from the theme (its text colour where one is missing)."""
    return [pal.get(v, pal["foreground"]) for v in UNIT_VARS]


class InputSpace(LinesWidget, can_focus=True):
    DEFAULT_CSS = "InputSpace { height: 1fr; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.frame: Frame | None = None
        # what the picture was drawn from: the weights, the biases, activations, loss, rows' verdicts
        self._drawn: tuple[tuple[float, ...], tuple[float, ...], tuple[str, ...], str, tuple[bool, ...]] | None = None

    def show(self, frame: Frame) -> None:
        self.frame = frame
        # what the picture is drawn from: the network (weights, activations, loss) and the
        # rows' verdicts; a step that changes none of these (a dead run) redraws nothing
        key = (
            tuple(e.value for e in frame.edges),
            tuple(b.value for b in frame.biases),
            frame.config.activations,
            frame.config.loss,
            tuple(r.correct for r in frame.rows),
        )
        if key != self._drawn:
            self._drawn = key
            self.rebuild()

    def build(self) -> Text | list[Strip]:
        w, h = self.size.width, self.size.height
        f = self.frame
        if f is None:
            return Text("")
        if w < 16 or h < 5:
            return Text("(too small: maximise)", style="dim", overflow="fold")
        pal = px.theme_colours(self)
        canvas = Canvas(w, h)
        left, key_rows, axis_rows = 4, 1, 1
        pw, ph = w - left - 1, h - key_rows - axis_rows
        n_px = ph * 2
        # pixel centres in input coordinates (y grows upwards)
        xs = LO + (HI - LO) * (np.arange(pw) + 0.5) / pw
        ys = HI - (HI - LO) * (np.arange(n_px) + 0.5) / n_px
        surface = f.grid(xs.tolist(), ys.tolist())
        p = surface.prediction.astype(float)
        mid = pal["surface"]
        heat = px.diverging_rgb(HEAT * (2 * p - 1), pal["error"], mid, pal["success"])  # (n_px, pw, 3)
        # first-layer units: active side tinted, the line itself drawn in braille dots on top
        colours = unit_colours(pal)
        first = [u for u in f.units if u.layer == 0]
        weights = {(e.target_index, e.source_index): e.value for e in f.edges if e.layer == 0}
        biases = {b.index: b.value for b in f.biases if b.layer == 0}
        dots = px.Braille(pw, ph)
        for u in first:
            w1, w2, b = weights[(u.index, 0)], weights[(u.index, 1)], biases[u.index]
            active = surface.active[0][u.index]
            tint = px.rgb(colours[u.index % len(colours)])
            heat = np.where(active[..., None], heat + (tint - heat) * SHADE, heat)
            seg = _clip_line(w1, w2, b)
            if seg is not None:
                (ax, ay), (bx, by) = seg
                to_dot = lambda x, y: ((x - LO) / (HI - LO) * pw * 2 - 0.5, (HI - y) / (HI - LO) * ph * 4 - 0.5)  # noqa: E731
                dots.line(*to_dot(ax, ay), *to_dot(bx, by), u.index)
        cells = px.half_blocks(heat)
        for r, line in enumerate(cells):
            canvas.cells(left, r, line)
        for x, y, ch, owner in dots.cells():
            cell_bg = (heat[2 * y, x] + heat[2 * y + 1, x]) / 2
            canvas.put(left + x, y, ch, px.rgb_style(px.rgb(colours[owner % len(colours)]), cell_bg, True))
        # axes: ticks at 0 and 1 on both
        dim = px.style(pal["foreground"].blend(pal["background"], 0.35))
        col_of = lambda x: left + int((x - LO) / (HI - LO) * pw)  # noqa: E731
        row_of = lambda y: min(int((HI - y) / (HI - LO) * ph), ph - 1)  # noqa: E731
        for v in (0, 1):
            canvas.text(0, row_of(v), f"{v:>2}┤", dim)
            canvas.text(col_of(v), ph, "┬" if v == 0 else "┬", dim)
        canvas.text(0, ph, "  └", dim)
        for c in range(left, left + pw):
            if canvas.chars[ph][c] == " ":
                canvas.put(c, ph, "─", dim)
        canvas.text(col_of(0) - 1, ph, "0┬", dim)
        canvas.text(col_of(1) - 1, ph, "1┬", dim)
        canvas.text(left + pw - 2, ph, "x1", dim)
        canvas.text(0, 0, "x2", dim)
        # the four points: target and whether the network gets it right
        for row in f.rows:
            mark, colour = S.VERDICT[row.verdict]
            c, r = col_of(row.x1), row_of(row.x2)
            st = px.style(pal["foreground"], pal["background"], True)
            canvas.text(min(max(c - 1, left), left + pw - 2), r, f"{int(row.target)}", st)
            canvas.text(min(max(c, left + 1), left + pw - 1), r, mark, px.style(pal[colour], pal["background"], True))
        # the key, in the colours it explains; items that do not fit are left out whole
        items = [Text.assemble(("━", px.style(colours[u.index % len(colours)], bold=True)), u.short) for u in first]
        items.append(Text.assemble(("▀", px.style(px.diverging(HEAT, pal["error"], mid, pal["success"]))), "ŷ>½"))
        items.append(Text.assemble(("▀", px.style(px.diverging(-HEAT, pal["error"], mid, pal["success"]))), "ŷ<½"))
        if not surface.finite:
            items.insert(0, Text("ŷ not finite", px.style(pal["error"], bold=True)))
        key = Text()
        for item in items:
            if key.cell_len + (1 if key else 0) + item.cell_len <= w:
                if key:
                    key.append(" ")
                key.append_text(item)
        self._key_into(canvas, key, h - 1)
        return canvas.strips()

    @staticmethod
    def _key_into(canvas: Canvas, key: Text, y: int) -> None:
        x = 0
        for span_text, st in _spans(key):
            for ch in span_text:
                if x >= canvas.width:
                    return
                canvas.put(x, y, ch, st)
                x += 1


def _clip_line(w1: float, w2: float, b: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The part of w1*x + w2*y + b = 0 inside the plotted square, as two end points."""
    pts: list[tuple[float, float]] = []
    if w2 != 0:
        for x in (LO, HI):
            y = -(w1 * x + b) / w2
            if LO <= y <= HI:
                pts.append((x, y))
    if w1 != 0:
        for y in (LO, HI):
            x = -(w2 * y + b) / w1
            if LO <= x <= HI:
                pts.append((x, y))
    pts = sorted(set(pts))
    if len(pts) < 2:
        return None
    return pts[0], pts[-1]


def _spans(t: Text) -> Iterator[tuple[str, str | Style | None]]:
    """``t`` cut where its spans begin and end: each piece with the style of the last span over it."""
    plain = t.plain
    cuts = sorted({0, len(plain), *(s.start for s in t.spans), *(s.end for s in t.spans)})
    for a, b in zip(cuts, cuts[1:]):
        st: str | Style | None = None
        for s in t.spans:
            if s.start <= a and s.end >= b:
                st = s.style
        yield plain[a:b], st
