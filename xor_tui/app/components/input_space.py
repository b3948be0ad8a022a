"""The input plane: the four XOR points, each first-layer unit's line w.x + b = 0 with
its active side shaded, and the output's decision regions."""

from __future__ import annotations

import torch
from rich.text import Text

from ...core.view import Frame
from .canvas import Canvas
from .lines import LinesWidget

UNIT_COLOURS = ("cyan", "yellow", "magenta", "spring_green2")
LO, HI = -0.5, 1.5


class InputSpace(LinesWidget):
    DEFAULT_CSS = "InputSpace { height: 1fr; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.frame: Frame | None = None

    def show(self, frame: Frame) -> None:
        self.frame = frame
        self.set_content(None)

    def build(self):
        w, h = self.size.width, self.size.height
        f = self.frame
        if f is None or w < 12 or h < 5:
            return Text("(too small)", style="dim")
        canvas = Canvas(w, h)
        # cell centres in input coordinates; y grows upwards
        xs = torch.tensor([LO + (HI - LO) * (c + 0.5) / w for c in range(w)])
        ys = torch.tensor([HI - (HI - LO) * (r + 0.5) / h for r in range(h)])
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")  # (h, w)
        pts = torch.stack([gx.flatten(), gy.flatten()], dim=1)
        p = f.predict(pts.tolist())  # the engine's forward over the plane
        z1 = torch.tensor(p.layers[0].pre).T  # (h*w, units)
        pred = list(p.output) if p.finite else None
        units = z1.shape[1]
        on = (z1 > 0).reshape(h, w, units)
        edge = torch.zeros_like(on)
        edge[:, 1:] |= on[:, 1:] != on[:, :-1]
        edge[1:, :] |= on[1:, :] != on[:-1, :]
        # per cell: the first unit whose line passes here (-1: none), how many units are
        # active, the first active one, and the output's side: then one lookup per cell
        first_edge = torch.where(edge.any(-1), edge.float().argmax(-1), -1).tolist()
        n_active = on.sum(-1).tolist()
        first_active = on.float().argmax(-1).tolist()
        side = [None] * (w * h) if pred is None else pred
        bg_of = {None: "", True: " on #12361f", False: " on #3a1518"}
        for r in range(h):
            fe, na, fa = first_edge[r], n_active[r], first_active[r]
            for c in range(w):
                p = side[r * w + c]
                bg = bg_of[None if p is None else p > 0.5]
                if fe[c] >= 0:
                    # each unit's line w.x + b = 0: cells where its sign flips against a neighbour
                    canvas.put(c, r, "•", f"bold {UNIT_COLOURS[fe[c] % 4]}{bg}")
                elif na[c] == 1:
                    canvas.put(c, r, "·", f"{UNIT_COLOURS[fa[c] % 4]}{bg}")
                elif na[c] > 1:
                    canvas.put(c, r, "+", f"grey70{bg}")
                else:
                    canvas.put(c, r, " ", f"white{bg}")
        for x1, x2, t in ((r.x1, r.x2, r.target) for r in f.rows):
            c = int((x1 - LO) / (HI - LO) * w)
            r = int((HI - x2) / (HI - LO) * h)
            canvas.text(max(c - 1, 0), min(r, h - 1), f"[{int(t)}]", "bold white on grey23")
        legend = " ".join(f"h{j}" for j in range(z1.shape[1]))
        canvas.text(0, h - 1, legend[:w], "dim")
        return canvas.strips()
