"""The live node diagram: every neuron with its four row marks, every connection."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message

from ...core import engine
from ...core.diagnosis import Diagnosis
from ...core.run import Record
from . import style as S
from .canvas import Canvas
from .lines import LinesWidget

BOX_W = 13


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
        self.record: Record | None = None
        self.diag: Diagnosis | None = None
        self.selected: str | None = None
        self._hit: dict[tuple[int, int], str] = {}

    def show(self, record: Record, diag: Diagnosis, selected: str | None) -> None:
        self.record, self.diag, self.selected = record, diag, selected
        self.set_content(None)

    # ------------------------------------------------------------ layout
    def _layout(self, w: int, h: int) -> list[list[Node]]:
        sizes = self.record.config.sizes
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
        if self.record is None or w < 30 or h < 6:
            return Text("(the diagram needs at least 30x6 cells)", style="dim")
        rec, diag = self.record, self.diag
        canvas = Canvas(w, h)
        self._hit = {}
        layers = self._layout(w, h)
        grads = rec.grads
        labels = []
        for li in range(len(layers) - 1):
            for tgt in layers[li + 1]:
                for src in layers[li]:
                    ref = engine.ParamRef(li, "weight", tgt.unit, src.unit)
                    name = ref.name(rec.config)
                    value = rec.value(ref)
                    g = None if grads is None else rec.grad(ref)
                    labels.append(self._edge(canvas, src, tgt, name, value, g))
        for name, x, y, text, st in labels:
            canvas.text(x, y, text, st)
            for i in range(len(text)):
                self._hit[(x + i, y)] = name
        for col in layers:
            for node in col:
                self._node(canvas, node, rec, diag)
        return canvas.strips()

    def _edge(self, canvas: Canvas, src: Node, tgt: Node, name: str, value: float, g: float | None):
        x0, y0 = src.x + BOX_W, src.y
        x1, y1 = tgt.x - 1, tgt.y
        flowing = g is not None and g != 0
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

    def _node(self, canvas: Canvas, node: Node, rec: Record, diag: Diagnosis) -> None:
        x, y = node.x, node.y
        if node.layer < 0:
            title, border = f"x{node.unit + 1}", "grey70"
            marks = [(f"{int(v)}", "bold white") for v in engine.X[:, node.unit].tolist()]
            bias_text, bias_name = "input", None
        else:
            cfg = rec.config
            lname = cfg.layer_names[node.layer]
            # short names keep the state readable inside the box: h[0], h2[1], out
            short = {"hidden": "h", "output": "out"}.get(lname, lname.replace("hidden", "h"))
            title = f"{short}[{node.unit}]" if lname != "output" else short
            z = rec.pre[node.layer][:, node.unit].tolist()
            marks = [("●" if v > 0 else ("◌" if v == 0 else "○"), S.sign_style(v)) for v in z]
            active = sum(v > 0 for v in z)
            flat = cfg.activations[node.layer].flat_below_zero
            if active == 4:
                border, state = S.ALIVE, "alive"
            elif active == 0 and flat:
                border, state = S.DEAD, "DEAD"
            else:
                border, state = S.PARTLY, f"{active}/4" if flat else "live"
            title = f"{title} {state}"
            ref = engine.ParamRef(node.layer, "bias", node.unit)
            bias_name = ref.name(cfg)
            bias_text = f"b{rec.value(ref):+.2f}"
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
            g = rec.grad(engine.ParamRef(node.layer, "bias", node.unit)) if rec.grads is not None else None
            bst = S.SELECTED if bias_name == self.selected else ("bold " + border if g not in (None, 0.0) else S.FROZEN)
            canvas.text(x + 2, y + 1, bias_text, bst)
            for i in range(BOX_W):
                for dy in (-1, 0, 1):
                    self._hit[(x + i, y + dy)] = bias_name

    def on_click(self, event) -> None:
        name = self._hit.get((event.x, event.y))
        if name:
            self.post_message(self.ParamClicked(name))
