"""The live node diagram, drawn from a Frame.

Every connection is a continuous braille line from its source box to its target box:
blue for a positive weight, orange for a negative one (the theme's $primary and $warning),
1 to 4 dots thick by |w|. Its value sits on the line near the source end, rounded to fit.
Gradient flow is motion: after a step (and so all the time while playing) dashes run along
every connection that carries gradient, from the output back towards the inputs, faster for
a larger |gradient|; frozen connections are dim dots and never move. With Textual's
animation level "none" the picture is static: flowing lines solid, frozen ones dotted.

Each neuron box shows its four row marks (one per XOR row, top to bottom (0,0) (0,1) (1,0)
(1,1); green > 0, red < 0, yellow = 0) and a half-block heatmap of its own activation over
the input square [0,1]^2 with the four XOR points at the corners: a dead ReLU unit is a flat
dark tile with a red border. The output's tile is the network's prediction.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import events
from textual.color import Color
from textual.message import Message
from textual.strip import Strip
from textual.timer import Timer

from xor_tui.app.components import pixels as px
from xor_tui.app.components.canvas import Canvas
from xor_tui.app.components.lines import LinesWidget
from xor_tui.app.components.panel import set_key
from xor_tui.core.view import Edge, Frame, Surface, Unit

ANIMATE_FOR = 1.5  # seconds of motion after each new frame
FPS = 12
WIDTH_STEPS = (0.25, 0.6, 1.2)  # |w| below each: 1, 2, 3 dots thick; above the last: 4
# a row's mark in a neuron box, by the Frame's sign mark (Unit.marks), and the theme colour
# it takes; an output the loss refused (at a halt) is a ✕
MARKS = {
    "+": ("●", "success"),
    "-": ("○", "error"),
    "0": ("◌", "warning"),
    "?": ("?", "error"),
    "refused": ("✕", "error"),
}


Palette = dict[str, Color]  # the theme's colours by name (px.theme_colours)
Cell = tuple[int, int, str, Style]  # x, y, a character and its style
BoxCell = tuple[int, int, str, Style | str | None]  # a box's cell, styled as the canvas holds it
Tile = list[list[tuple[str, Style]]]  # a heatmap's rows of (character, style)
Hits = dict[tuple[int, int], str]  # what a click at (x, y) points at
Still = tuple[list[Cell], list[Cell], list[BoxCell], Hits, Hits]
"""The still picture: the lines' cells, the labels, the boxes' cells, the click maps (parameters, units)."""


@dataclass
class Box:
    """Where a node (an input or a unit) is drawn, in cells."""

    layer: int  # 0 for the inputs, then 1.. for each layer of units
    unit: int
    x: int
    y: int  # top row
    w: int
    h: int


def sizes(frame: Frame) -> tuple[int, ...]:
    """Units per column, the two inputs first."""
    counts = [0] * len(frame.config.layer_names)
    for u in frame.units:
        counts[u.layer] += 1
    return (2, *counts)


def state_text(unit: Unit) -> str:
    """``alive``, ``DEAD`` or ``k/4`` (active on k of the four rows)."""
    return "DEAD" if unit.dead else unit.state.replace(" of ", "/")


def thickness(value: float) -> int:
    """A line's thickness in dots for a weight of ``value`` (1 to 4; 1 for NaN)."""
    a = abs(value)
    return 1 + sum(a >= t for t in WIDTH_STEPS) if a == a else 1


def layout(sizes: tuple[int, ...], w: int, h: int) -> tuple[str, int, list[list[Box]]] | None:
    """Boxes per column for a net of ``sizes`` (inputs first) in w x h cells.

    Modes: "full" (6 rows: title, the four rows with a heatmap tile, bias), "compact"
    (3 rows: title, the marks side by side, bias), "tiny" (compact, narrower: the marks
    without spaces, the state only as the border's colour), "micro" (2 rows: the title and
    the marks on the top border, the bias on the bottom one). Returns (mode, tile width, columns) or
    None when even the compact boxes do not fit."""
    cols = len(sizes)
    tallest = max(sizes[1:] + (2,))
    for mode, node_h in (("full", 6), ("compact", 3), ("tiny", 3), ("micro", 2)):
        if tallest * node_h > h:
            continue
        in_w = {"full": 5, "compact": 9, "tiny": 6, "micro": 2}[mode]
        for tile in (16, 14, 12, 10, 8) if mode == "full" else (0,):
            unit_w = {"full": tile + 4, "compact": 11, "tiny": 7, "micro": 10 + (cols > 3)}[mode]
            gap = (w - in_w - unit_w * (cols - 1)) / (cols - 1)
            if gap >= {"full": 12, "compact": 8, "tiny": 5, "micro": 5}[mode]:
                break
        else:
            continue
        columns: list[list[Box]] = []
        x = 0.0
        for c, n in enumerate(sizes):
            bw = in_w if c == 0 else unit_w
            col: list[Box] = []
            for j in range(n):
                centre = h * (j + 0.5) / n
                top = min(max(int(round(centre - node_h / 2)), 0), h - node_h)
                col.append(Box(c, j, int(round(x)), top, bw, node_h))
            columns.append(col)
            x += bw + gap
        # the last column flush right
        for b in columns[-1]:
            b.x = w - b.w
        return mode, tile, columns
    return None


class NetworkDiagram(LinesWidget, can_focus=True):
    """Inputs, hidden units, output; click a connection or a neuron to select its parameter."""

    DEFAULT_CSS = "NetworkDiagram { height: 1fr; }"

    class ParamClicked(Message):
        """A connection (``name``: its weight), a bias (on a box's bottom edge: ``name``, the
        bias) or a neuron (anywhere else in its box: ``name`` its bias, ``unit`` the neuron's
        name, e.g. ``hidden[0]``) was clicked."""

        def __init__(self, name: str, unit: str | None = None) -> None:
            self.name = name
            self.unit = unit
            super().__init__()

    class WheelNudge(Message):
        """The wheel turned over the selected parameter's connection or neuron: nudge it,
        ``direction`` +1 (wheel up) or -1 (down)."""

        def __init__(self, name: str, direction: int) -> None:
            self.name, self.direction = name, direction
            super().__init__()

    KEYS = (
        "[b $primary]━[/] w>0 [b $warning]━[/] w<0, width |w| · moving dashes: gradient · "
        "[$warning 60%]┄[/] frozen · [b $success]●[/]>0 [b $error]○[/]<0 [b $warning]◌[/]=0",
        "[b $primary]━[/]w>0 [b $warning]━[/]w<0 width |w| · [$warning 60%]┄[/]frozen · "
        "[b $success]●[/]>0 [b $error]○[/]<0 [b $warning]◌[/]=0",
        "[b $primary]━[/]w>0 [b $warning]━[/]w<0 [$warning 60%]┄[/]frozen",
    )

    def on_mount(self) -> None:
        set_key(self, *self.KEYS)

    def on_resize(self) -> None:
        set_key(self, *self.KEYS)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.frame: Frame | None = None
        self.selected: str | None = None
        self._hit: Hits = {}
        self._unit_hit: Hits = {}  # a neuron's box (but its bias's edge): the unit
        self._tile_cells: dict[tuple[int, int, int, str], Tile] = {}  # (tile width, layer, unit, theme)
        self._cells_frame: Frame | None = None
        self._motion_until = 0.0
        self._ticks = 0
        self._timer: Timer | None = None
        # (frame, (width, height, theme, selected), the still picture): see build
        self._still: tuple[Frame, tuple[int, int, str, str | None], Still] | None = None

    def spot(self, name: str) -> tuple[int, int] | None:
        """Where on the widget a click selects the parameter ``name`` (None if not drawn)."""
        self.build()
        return next((pos for pos, n in self._hit.items() if n == name and pos not in self._unit_hit), None)

    def unit_spot(self, name: str) -> tuple[int, int] | None:
        """Where on the widget a click points at the neuron ``name`` (``hidden[0]``; None if not drawn)."""
        self.build()
        return next((pos for pos, n in self._unit_hit.items() if n == name), None)

    # ------------------------------------------------------------ feeding and motion
    def show(self, frame: Frame, selected: str | None = None) -> None:
        moved = self.frame is not None and (frame.epoch != self.frame.epoch or frame.edges != self.frame.edges)
        self.frame, self.selected = frame, selected
        if moved and self.animated and any(e.flowing for e in frame.edges):
            self._motion_until = time.monotonic() + ANIMATE_FOR
            if self._timer is None:
                self._timer = self.set_interval(1 / FPS, self._tick)
            else:
                self._timer.resume()
        self.rebuild()

    @property
    def animated(self) -> bool:
        return self.is_attached and self.app.animation_level != "none"

    @property
    def moving(self) -> bool:
        return self.animated and time.monotonic() < self._motion_until

    def _tick(self) -> None:
        self._ticks += 1
        if not self.moving and self._timer is not None:
            self._timer.pause()
            self._motion_until = 0.0
        self.rebuild()

    # ------------------------------------------------------------ drawing
    def build(self) -> Text | list[Strip]:
        w, h = self.size.width, self.size.height
        f = self.frame
        if f is None:
            return Text("")
        placed = layout(sizes(f), w, h)
        if placed is None:
            return Text("(the diagram needs more room: maximise it)", style="dim", overflow="fold")
        mode, tile_w, columns = placed
        pal = px.theme_colours(self)
        # what stays put while the dashes run (the boxes, the labels, where a click lands) is
        # drawn once per frame, size, theme and selection; an animation frame redraws the lines
        key = (w, h, self.app.theme, self.selected)
        if self._still is None or self._still[0] is not f or self._still[1] != key:
            self._still = (f, key, self._draw_still(f, columns, mode, tile_w, pal, w, h))
        line_cells, labels, box_cells, hit, unit_hit = self._still[2]
        canvas = Canvas(w, h)
        self._hit, self._unit_hit = hit, unit_hit
        if self.moving:
            dots, styles, prio = self._edge_dots(f, columns, mode, pal, w, h, moving=True)
            line_cells = [(x, y, ch, styles[owner]) for x, y, ch, owner in dots.cells(prio)]
        chars, cell_styles = canvas.chars, canvas.styles
        for x, y, ch, st in line_cells:
            chars[y][x] = ch
            cell_styles[y][x] = st
        for lx, cy, text, st in labels:
            canvas.text(lx, cy, text, st)
        for x, y, ch, box_style in box_cells:
            chars[y][x] = ch
            cell_styles[y][x] = box_style
        return canvas.strips()

    def _draw_still(
        self, f: Frame, columns: list[list[Box]], mode: str, tile_w: int, pal: Palette, w: int, h: int
    ) -> Still:
        """The lines' cells, the labels, the boxes' cells and the click map of the still picture
        (the lines as drawn with the animation off: flowing ones solid, frozen ones dotted)."""
        self._hit, self._unit_hit = {}, {}
        dots, styles, prio = self._edge_dots(f, columns, mode, pal, w, h, moving=False)
        line_cells: list[Cell] = []
        for x, y, ch, owner in dots.cells(prio):
            line_cells.append((x, y, ch, styles[owner]))
            self._hit[(x, y)] = f.edges[owner].param
        # then labels and boxes, which win a click over the lines under them
        labels = self._draw_labels(f, h, columns, mode, pal, dots.owners_by_cell())
        canvas = Canvas(w, h)
        canvas.chars = [[""] * w for _ in range(h)]  # "": a cell no box draws
        for col in columns:
            for box in col:
                self._draw_box(f, canvas, box, mode, tile_w, pal)
        box_cells: list[BoxCell] = [
            (x, y, ch, canvas.styles[y][x]) for y, row in enumerate(canvas.chars) for x, ch in enumerate(row) if ch
        ]
        return line_cells, labels, box_cells, self._hit, self._unit_hit

    # -- edges
    def _ports(self, box: Box, k: int, n: int, mode: str) -> float:
        """The dot row where the k-th of n connections meets ``box``'s side."""
        if box.h == 2:  # micro: around the line between the two rows
            return (box.y + 1) * 4 - 2 + 4 * (k + 0.5) / n if box.layer else (box.y + 1 - (box.unit == 0)) * 4 + 2
        inner = (box.h - 2) * 4
        return (box.y + 1) * 4 + inner * (k + 0.5) / n

    def _ends(self, columns: list[list[Box]], e: Edge, mode: str) -> tuple[float, float, float, float]:
        src = columns[e.layer][e.source_index]
        dst = columns[e.layer + 1][e.target_index]
        n_out, n_in = len(columns[e.layer + 1]), len(columns[e.layer])
        x0, y0 = (src.x + src.w) * 2, self._ports(src, e.target_index, n_out, mode)
        x1, y1 = dst.x * 2 - 1, self._ports(dst, e.source_index, n_in, mode)
        return x0, y0, x1, y1

    def _edge_dots(
        self, f: Frame, columns: list[list[Box]], mode: str, pal: Palette, w: int, h: int, moving: bool
    ) -> tuple[px.Braille, dict[int, Style], dict[int, int]]:
        """Every connection's dots (dashed when ``moving``), each line's style and priority."""
        dots = px.Braille(w, h)
        styles: dict[int, Style] = {}
        prio: dict[int, int] = {}
        for i, e in enumerate(f.edges):
            colour = pal["primary"] if e.value >= 0 else pal["warning"]
            dash = None
            if e.frozen:  # dim dots, never moving
                dash = (1.0, 1.0, 0.0)
                colour = colour.blend(pal["background"], 0.4)
            elif e.flowing and moving:
                g = abs(e.grad or 0.0)
                speed = 1.0 + max(0.0, min(3.0, math.log10(g) + 5.0)) if g > 0 else 1.0
                dash = (5.0, 3.0, (self._ticks * speed) % 8.0)
            dots.line(*self._ends(columns, e, mode), i, thickness(e.value), dash)
            selected = e.param == self.selected
            styles[i] = px.style(colour, bold=e.flowing or selected)
            prio[i] = 2 if selected else (1 if e.flowing else 0)
        return dots, styles, prio

    def _draw_labels(
        self,
        f: Frame,
        height: int,
        columns: list[list[Box]],
        mode: str,
        pal: Palette,
        owners: dict[tuple[int, int], set[int]],
    ) -> list[Cell]:
        """Each weight's value on its own line, as near the source as it can go where no
        other line passes (so it is clear which line it labels), never over a box or another
        label, preferably not even above or below one. Returns the labels (x, y, text, style)."""
        taken: set[tuple[int, int]] = set()
        # per row, the column spans of the boxes on it
        spans_by_row: dict[int, list[tuple[int, int]]] = {}
        for col in columns:
            for b in col:
                for j in range(b.h):
                    spans_by_row.setdefault(b.y + j, []).append((b.x, b.x + b.w))
        out: list[Cell] = []
        bg = pal["background"]
        for i_e, e in enumerate(f.edges):
            x0, y0, x1, y1 = self._ends(columns, e, mode)
            pts = px.line_points(x0, y0, x1, y1)
            gap_cells = (x1 - x0) / 2
            texts = [px.fit_number(e.value, 5)]
            if e.grad is not None and gap_cells >= 16:
                texts.insert(0, texts[0] + " ∇" + px.fit_number(e.grad, 7, 4))
            colour = pal["primary"] if e.value >= 0 else pal["warning"]
            if e.frozen:
                colour = colour.blend(pal["foreground"], 0.3)
            st = px.style(bg if e.param == self.selected else colour, colour if e.param == self.selected else bg, True)
            # (score, text, x, y, the cells it takes): the best spot so far
            best: tuple[tuple[bool, bool, int, int, int], str, int, int, set[tuple[int, int]]] | None = None
            for ti, text in enumerate(texts):
                for fi, frac in enumerate((0.2, 0.28, 0.12, 0.36, 0.44, 0.52, 0.6, 0.68, 0.76)):
                    x, y = pts[int(frac * (len(pts) - 1))]
                    cx, cy = int(x / 2), int(y / 4)
                    lx = min(max(cx - len(text) // 2, int(x0 / 2)), int(x1 / 2) - len(text))
                    if lx < 0 or cy >= height:
                        continue
                    span = [(lx + i, cy) for i in range(-1, len(text) + 1)]
                    if any(c in taken for c in span) or any(
                        a < lx + len(text) and lx < b for a, b in spans_by_row.get(cy, ())
                    ):
                        continue
                    others = sum(1 for c in span if len(owners.get(c, ())) > (i_e in owners.get(c, ())))
                    near = any((cx_, cy + d) in taken for cx_, _ in span for d in (-1, 1))
                    score = (others > 0, near, ti, others, fi)
                    if best is None or score < best[0]:
                        best = (score, text, lx, cy, set(span))
                    if not score[0] and not near:
                        break  # the best this text can get: no later spot beats it
                if best is not None and not best[0][0] and not best[0][1]:
                    break
            if best is not None:
                _, text, lx, cy, spot = best
                out.append((lx, cy, text, st))
                for i in range(len(text)):
                    self._hit[(lx + i, cy)] = e.param
                taken |= spot
        return out

    # -- boxes
    def _unit(self, f: Frame, box: Box) -> Unit:
        return next(u for u in f.units if u.layer == box.layer - 1 and u.index == box.unit)

    def _draw_box(self, f: Frame, canvas: Canvas, box: Box, mode: str, tile_w: int, pal: Palette) -> None:
        x, y, w, h = box.x, box.y, box.w, box.h
        fg = pal["foreground"]
        if box.layer == 0:
            values = [int(r.x1 if box.unit == 0 else r.x2) for r in f.rows]
            border = px.style(fg.blend(pal["background"], 0.4))
            title = f"x{box.unit + 1}"
            if mode == "micro":  # no box: the name where the connections leave
                canvas.text(x, y + 1 - (box.unit == 0), title, px.style(fg, bold=True))
                return
            self._frame_lines(canvas, box, title, border, px.style(fg, bold=True))
            if mode == "full":
                for r, v in enumerate(values):
                    canvas.text(x + 1, y + 1 + r, f"{v:^{w - 2}}", px.style(fg, bold=True))
            else:
                sep = " " if mode == "compact" else ""
                canvas.text(x + 1, y + 1, sep.join(str(v) for v in values).center(w - 2), px.style(fg, bold=True))
            return
        u = self._unit(f, box)
        state_colour = {"alive": pal["success"], "dead": pal["error"]}.get(u.state, pal["warning"])
        border = px.style(state_colour, bold=u.state == "dead")
        title = f"{u.short} {state_text(u)}" if mode in ("full", "compact") else u.short
        self._frame_lines(canvas, box, title, border, px.style(state_colour, bold=True))
        is_output = box.layer == len(f.config.layer_names)
        kinds = [
            MARKS["refused" if is_output and f.rows[i].verdict == "refused" else m] for i, m in enumerate(u.marks)
        ]
        marks = [(ch, px.style(pal[colour], bold=True)) for ch, colour in kinds]
        halted_out = f.halt is not None and box.layer == len(f.config.layer_names)
        if mode == "full" and halted_out:
            # at a halt the output's rows say what broke BCELoss, with enough digits to see it
            for r, (ch, st) in enumerate(marks):
                canvas.put(x + 1, y + 1 + r, ch, st)
                row = f.rows[r]
                value = px.outside_unit(row.output_out) if row.offending else px.fit_number(row.prediction, 6, 3, False)
                text = "ŷ=" + value if len(value) + 2 <= w - 4 else value
                st = px.style(pal["error"] if row.offending else fg, bold=row.offending)
                canvas.text(x + 3, y + 1 + r, text, st)
        elif mode == "full":
            for r, (ch, st) in enumerate(marks):
                canvas.put(x + 1, y + 1 + r, ch, st)
            self._draw_tile(f, canvas, box, tile_w, pal)
        elif mode == "micro":  # the marks on the top border, after the title
            for i, (ch, st) in enumerate(marks):
                canvas.put(x + w - 5 + i, y, ch, st)
        else:
            step = 2 if mode == "compact" else 1
            mx = x + 1 + (w - 2 - (3 * step + 1)) // 2
            for i, (ch, st) in enumerate(marks):
                canvas.put(mx + step * i, y + 1, ch, st)
        # the bias on the bottom border, with its gradient when there is room
        b = next(b for b in f.biases if b.param == u.bias)
        room = w - 2
        text = "b" + px.fit_number(b.value, min(room - 1, 6))
        if b.grad is not None and len(text) + 9 <= room:
            text += " ∇" + px.fit_number(b.grad, 7, 4)
        colour = pal["primary"] if b.value >= 0 else pal["warning"]
        if b.frozen:
            colour = colour.blend(pal["foreground"], 0.3)
        selected = b.param == self.selected
        st = px.style(pal["background"], colour, True) if selected else px.style(colour, bold=b.flowing)
        canvas.text(x + 1, y + h - 1, text, st)
        for i in range(w):
            for dy in range(h):
                self._hit[(x + i, y + dy)] = b.param
                if dy < h - 1:  # the bottom edge, where the bias is written, is the bias's alone
                    self._unit_hit[(x + i, y + dy)] = u.name

    def _frame_lines(self, canvas: Canvas, box: Box, title: str, border: Style, title_style: Style) -> None:
        x, y, w, h = box.x, box.y, box.w, box.h
        inner = w - 2
        canvas.text(x, y, "╭─" + "─" * (inner - 1) + "╮", border)
        if len(title) > inner:
            title = title.replace("alive", "4/4")
        if len(title) > inner:
            title = title.split(" ")[0]  # the state stays visible in the border's colour
        canvas.text(x + (2 if len(title) < inner and h > 2 else 1), y, title, title_style)
        for r in range(1, h - 1):
            canvas.put(x, y + r, "│", border)
            canvas.text(x + 1, y + r, " " * inner)
            canvas.put(x + w - 1, y + r, "│", border)
        canvas.text(x, y + h - 1, "╰" + "─" * inner + "╯", border)

    def _tiles_for(self, f: Frame, tile_w: int) -> Surface:
        """Each unit's activation over the input square, (8, tile_w) per unit (the frame keeps it)."""
        return f.grid(np.linspace(0.0, 1.0, tile_w).tolist(), np.linspace(1.0, 0.0, 8).tolist())

    def _draw_tile(self, f: Frame, canvas: Canvas, box: Box, tile_w: int, pal: Palette) -> None:
        """The unit's heatmap (cached per frame, size and theme: animation frames reuse it)."""
        if self._cells_frame is not f:  # identity: a new Frame, new tiles
            self._tile_cells.clear()
            self._cells_frame = f
        key = (tile_w, box.layer, box.unit, self.app.theme)
        cells = self._tile_cells.get(key)
        if cells is None:
            cells = self._tile_cells[key] = self._tile(f, box, tile_w, pal)
        x0, y0 = box.x + 3, box.y + 1
        for r, row in enumerate(cells):
            canvas.cells(x0, y0 + r, row)

    def _tile(self, f: Frame, box: Box, tile_w: int, pal: Palette) -> Tile:
        t = self._tiles_for(f, tile_w)
        mid = pal["surface"]
        if box.layer == len(f.config.layer_names):  # the output: the network's prediction
            grid = t.prediction.astype(float)
            image = px.diverging_rgb(2 * grid - 1, pal["error"], mid, pal["success"])
        else:
            layer = t.out[box.layer - 1].astype(float)  # (units, 8, tile_w)
            grid = layer[box.unit]
            finite = np.abs(layer[np.isfinite(layer)])
            scale = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
            image = px.diverging_rgb(grid / scale, pal["warning"], mid, pal["primary"])
        cells = px.half_blocks(image)
        # the four XOR points at the corners, as the target they should give, in whichever of the
        # theme's text and background colours stands out more on the tile there
        inks = (px.rgb(pal["foreground"]), px.rgb(pal["background"]))
        for (c, r), target in (((0, 3), "0"), ((0, 0), "1"), ((tile_w - 1, 3), "1"), ((tile_w - 1, 0), "0")):
            bg = image[2 * r + (1 if r == 3 else 0), c]

            def contrast(ink: np.ndarray, bg: np.ndarray = bg) -> float:
                return abs(px.luminance(ink) - px.luminance(bg))

            ink = max(inks, key=contrast)
            cells[r][c] = (target, px.rgb_style(ink, bg, True))
        return cells

    def on_click(self, event: events.Click) -> None:
        name = self._hit.get((event.x, event.y))
        if name:
            self.post_message(self.ParamClicked(name, self._unit_hit.get((event.x, event.y))))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, +1)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, -1)

    def _wheel(self, event: events.MouseEvent, direction: int) -> None:
        """Over the selected parameter's line, label or neuron the wheel nudges it; elsewhere
        it scrolls as usual."""
        name = self._hit.get((event.x, event.y))
        if name and name == self.selected:
            event.stop()
            event.prevent_default()
            self.post_message(self.WheelNudge(name, direction))
