"""The live node diagram: every neuron with its four row marks, every connection."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message

from ...core.view import Frame
from . import style as S
from .canvas import Canvas
from .lines import LinesWidget

BOX_W = 13
GLYPH = {"+": "●", "-": "○", "0": "◌"}


@dataclass
class Node:
    layer: int  # -1 for inputs
    unit: int
    x: int  # left column of the box
    y: int  # middle row of the box


class NetworkDiagram(LinesWidget):
    """Inputs x1 x2, hidden units, output; marks coloured by the sign of each row's
    pre-activation, connections bright where gradient flowed and dim where frozen."""

    DEFAULT_CSS = "NetworkDiagram { height: 1fr; }"

    class ParamClicked(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.frame: Frame | None = None
        self.selected: str | None = None
        self._hit: dict[tuple[int, int], str] = {}

    def show(self, frame: Frame, selected: str | None) -> None:
        self.frame, self.selected = frame, selected
        self.set_content(None)

    def spot(self, name: str) -> tuple[int, int] | None:
        """Where on the widget a click selects the parameter ``name`` (None if not drawn)."""
        self.build()
        return next((pos for pos, n in self._hit.items() if n == name), None)

    # ------------------------------------------------------------ layout
    def _layout(self, w: int, h: int) -> list[list[Node]]:
        f = self.frame
        sizes = (2, *(sum(u.layer == li for u in f.units) for li in range(len(f.config.layer_names))))
        cols = len(sizes)
        gap = max((w - BOX_W * cols) // max(cols - 1, 1), 2)
        layers = []
        for c, n in enumerate(sizes):
            x = min(c * (BOX_W + gap), max(w - BOX_W, 0)) if cols > 1 else 0
            step = h / n
            layers.append([Node(c - 1, j, x, int(step * (j + 0.5))) for j in range(n)])
        return layers

    def build(self):
        w, h = self.size.width, self.size.height
        if self.frame is None or w < 30 or h < 6:
            return Text("(the diagram needs at least 30x6 cells)", style="dim")
        f = self.frame
        canvas = Canvas(w, h)
        self._hit = {}
        layers = self._layout(w, h)
        labels = []
        for e in f.edges:
            src, tgt = layers[e.layer][e.source_index], layers[e.layer + 1][e.target_index]
            labels.append(self._edge(canvas, src, tgt, e.param, e.value, e.grad, e.flowing))
        for name, x, y, text, st in labels:
            canvas.text(x, y, text, st)
            for i in range(len(text)):
                self._hit[(x + i, y)] = name
        for col in layers:
            for node in col:
                self._node(canvas, node, f)
        return canvas.strips()

    def _edge(self, canvas: Canvas, src: Node, tgt: Node, name: str, value: float, g: float | None, flowing: bool):
        x0, y0 = src.x + BOX_W, src.y
        x1, y1 = tgt.x - 1, tgt.y
        base = S.W_POS if value >= 0 else S.W_NEG
        st = f"bold {base}" if flowing else S.FROZEN
        size = abs(g) if flowing else 0.0

        def glyph(dx: int, dy: int) -> str:
            if not flowing:
                return "·"
            slope = dy / dx if dx else 9
            if abs(slope) < 0.35:
                return "━" if size >= 1e-2 else "─"
            return "╲" if slope > 0 else "╱"

        cells = canvas.line(x0, y0, x1, y1, glyph, st)
        label = f"{value:+.2f}"
        # place the label 70% of the way, so labels of edges into one node do not collide
        cx, cy = cells[min(int(len(cells) * 0.7), len(cells) - 1)]
        style = S.SELECTED if name == self.selected else st
        return name, max(cx - len(label) // 2, 0), cy, label, style

    def _node(self, canvas: Canvas, node: Node, f: Frame) -> None:
        x, y = node.x, node.y
        bias = None
        if node.layer < 0:
            title, border = f"x{node.unit + 1}", "grey70"
            marks = [(f"{int(r.x1 if node.unit == 0 else r.x2)}", "bold white") for r in f.rows]
            bias_text, bias_name = "input", None
        else:
            unit = next(u for u in f.units if u.layer == node.layer and u.index == node.unit)
            # the state comes from the diagnosis: alive, dead, or "k of 4"
            marks = [(GLYPH.get(m, "?"), S.sign_style(v)) for m, v in zip(unit.marks, unit.pre)]
            if unit.state == "alive":
                border, state = S.ALIVE, "alive"
            elif unit.dead:
                border, state = S.DEAD, "DEAD"
            else:
                border, state = S.PARTLY, f"{unit.active_rows}/4"
            title = f"{unit.short} {state}"
            bias = next(b for b in f.biases if b.param == unit.bias)
            bias_name = bias.param
            bias_text = f"b{bias.value:+.2f}"
        inner = BOX_W - 2
        canvas.text(x, y - 1, "╭" + ("─" + title + "─" * inner)[:inner] + "╮", border)
        canvas.text(x, y, "│", border)
        canvas.text(x + 1, y, " " * inner)
        mx = x + 1 + (inner - 7) // 2
        for i, (ch, st) in enumerate(marks):
            canvas.put(mx + 2 * i, y, ch, st)
        canvas.text(x + BOX_W - 1, y, "│", border)
        bottom = ("─" + bias_text + "─" * inner)[:inner]
        canvas.text(x, y + 1, "╰" + bottom + "╯", border)
        if bias_name is not None:
            bst = S.SELECTED if bias_name == self.selected else ("bold " + border if bias.flowing else S.FROZEN)
            canvas.text(x + 2, y + 1, bias_text, bst)
            for i in range(BOX_W):
                for dy in (-1, 0, 1):
                    self._hit[(x + i, y + dy)] = bias_name

    def on_click(self, event) -> None:
        name = self._hit.get((event.x, event.y))
        if name:
            self.post_message(self.ParamClicked(name))
