"""The loss over epochs, log scale, as a bar chart of block characters."""

from __future__ import annotations

import math

from rich.text import Text

from .canvas import Canvas
from .lines import LinesWidget

BLOCKS = " ▁▂▃▄▅▆▇█"


class LossPlot(LinesWidget):
    DEFAULT_CSS = "LossPlot { height: 1fr; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.values: list[float | None] = []

    def show(self, values: list[float | None]) -> None:
        self.values = values
        self.set_content(None)

    def build(self):
        w, h = self.size.width, self.size.height
        vals = self.values
        if w < 12 or h < 2 or not vals:
            return Text("loss: —", style="dim")
        plot_w, plot_h = w - 9, h - 1
        finite = [v for v in vals if v is not None and math.isfinite(v) and v > 0]
        if not finite:
            return Text("loss: no finite values yet", style="dim")
        lo, hi = math.log10(min(finite)), math.log10(max(finite))
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        # one column per bucket of epochs: the last value in the bucket
        n = len(vals)
        cols = []
        for c in range(min(plot_w, n)):
            k = min(n - 1, int((c + 1) * n / min(plot_w, n)) - 1)
            cols.append(vals[k])
        canvas = Canvas(w, h)
        for r in range(plot_h):
            label = f"{10**hi:8.4g} " if r == 0 else (f"{10**lo:8.4g} " if r == plot_h - 1 else "")
            canvas.text(0, r, label, "dim")
        for c, v in enumerate(cols):
            x = 9 + c
            if v is None or not math.isfinite(v):
                canvas.put(x, plot_h - 1, "×", "bold red")
                continue
            level = (math.log10(max(v, 10**lo)) - lo) / (hi - lo) * plot_h * 8
            for r in range(plot_h):
                fill = max(0.0, min(8.0, level - 8 * (plot_h - 1 - r)))
                canvas.put(x, r, BLOCKS[int(round(fill))], "cyan")
        last = next((v for v in reversed(vals) if v is not None and v == v), None)
        canvas.text(0, h - 1, f"loss (log) over {n} epoch(s); now {last if last is None else f'{last:.6g}'}", "dim")
        return canvas.strips()
