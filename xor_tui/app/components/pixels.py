"""Sub-cell drawing: braille lines (2x4 dots per cell) and half-block heatmaps (1x2 per cell).

Several lines may share a cell: their dots are merged into one braille character, and the
cell takes the colour of the line with most dots there, so two crossing edges stay two
visible lines. Everything here is plain numpy and deterministic: the same input gives the
same cells, which keeps snapshot tests stable.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from rich.color import Color as RichColor
from rich.style import Style
from textual.color import Color

# braille dot bits, indexed [row 0..3][col 0..1]
_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int32)


@lru_cache(maxsize=256)
def line_points(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    """The centre points ``Braille.line`` samples along a segment (in dots), undashed."""
    n = max(int(math.hypot(x1 - x0, y1 - y0) * 2), 1)
    t = np.linspace(0.0, 1.0, n + 1)
    return tuple(zip((x0 + (x1 - x0) * t).tolist(), (y0 + (y1 - y0) * t).tolist()))


class Braille:
    """A dot grid of ``w x h`` cells; each dot remembers which line (an int id) drew it."""

    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = max(w, 0), max(h, 0)
        self.owner = np.full((self.h * 4, self.w * 2), -1, dtype=np.int32)
        self._cells = None  # _per_cell's answer until the next line is drawn

    def line(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        owner: int,
        width: int = 1,
        dash: tuple[float, float, float] | None = None,
    ) -> tuple[tuple[float, float], ...]:
        """A segment in dot coordinates, ``width`` dots thick. ``dash = (on, off, phase)``
        keeps only the dots where ``(s + phase) mod (on + off) < on``, ``s`` being the distance
        from (x0, y0); a growing phase moves the dashes towards (x0, y0).
        Returns the centre points sampled (in dots), to place labels along the line."""
        length = math.hypot(x1 - x0, y1 - y0)
        n = max(int(length * 2), 1)
        t = np.linspace(0.0, 1.0, n + 1)
        xs = x0 + (x1 - x0) * t
        ys = y0 + (y1 - y0) * t
        s = t * length
        if dash is not None:
            on, off, phase = dash
            keep = np.mod(s + phase, on + off) < on
            xs, ys = xs[keep], ys[keep]
        # thickness: offsets across the line, mostly vertical for these left-to-right edges
        nx, ny = (-(y1 - y0) / length, (x1 - x0) / length) if length else (0.0, 1.0)
        offsets = np.arange(width) - (width - 1) / 2
        px = (xs[None, :] + nx * offsets[:, None]).round().astype(np.int64).ravel()
        py = (ys[None, :] + ny * offsets[:, None]).round().astype(np.int64).ravel()
        ok = (px >= 0) & (px < self.w * 2) & (py >= 0) & (py < self.h * 4)
        self.owner[py[ok], px[ok]] = owner
        self._cells = None
        return line_points(x0, y0, x1, y1)

    def polyline(self, xs: np.ndarray, ys: np.ndarray, owners: np.ndarray) -> None:
        """Connect consecutive points (in dots; NaN breaks the line) one dot thick; segment i
        (from point i to i+1) and point i belong to ``owners[i]``. Vectorised: one call for a
        whole loss history."""
        xs, ys, owners = np.asarray(xs, float), np.asarray(ys, float), np.asarray(owners, np.int32)
        ok = np.isfinite(xs) & np.isfinite(ys)
        px_, py_, po = [xs[ok]], [ys[ok]], [owners[ok]]  # every point itself
        if len(xs) > 1:
            seg = ok[:-1] & ok[1:]
            x0, y0, x1, y1 = xs[:-1][seg], ys[:-1][seg], xs[1:][seg], ys[1:][seg]
            n = np.maximum(np.ceil(np.hypot(x1 - x0, y1 - y0) * 2).astype(int), 1)
            idx = np.repeat(np.arange(len(n)), n)
            starts = np.repeat(np.cumsum(n) - n, n)
            t = (np.arange(n.sum()) - starts) / n[idx]
            px_.append(x0[idx] + (x1 - x0)[idx] * t)
            py_.append(y0[idx] + (y1 - y0)[idx] * t)
            po.append(owners[:-1][seg][idx])
        x = np.concatenate(px_).round().astype(np.int64)
        y = np.concatenate(py_).round().astype(np.int64)
        o = np.concatenate(po)
        keep = (x >= 0) & (x < self.w * 2) & (y >= 0) & (y < self.h * 4)
        self.owner[y[keep], x[keep]] = o[keep]
        self._cells = None

    def _per_cell(self):
        """The cells with a dot: rows, columns, braille codes, the line ids drawn, and how many
        dots each line has in each cell (cells x ids)."""
        if self._cells is None:
            self._cells = self._count_cells()
        return self._cells

    def _count_cells(self):
        o = self.owner.reshape(self.h, 4, self.w, 2)
        filled = o >= 0
        codes = (filled * _BITS[None, :, None, :]).sum(axis=(1, 3))
        ys, xs = np.nonzero(codes)
        if not len(ys):
            return ys, xs, codes[ys, xs], np.zeros(0, np.int64), np.zeros((0, 0), np.int64)
        ids, index = np.unique(o, return_inverse=True)  # ids[0] is -1 (no dot) when any dot is empty
        index = index.reshape(o.shape)
        cell = (np.arange(self.h)[:, None, None, None] * self.w + np.arange(self.w)[None, None, :, None]) * len(ids)
        counts = np.bincount((cell + index).ravel(), minlength=self.h * self.w * len(ids))
        counts = counts.reshape(self.h, self.w, len(ids))[ys, xs]
        keep = ids >= 0
        return ys, xs, codes[ys, xs], ids[keep], counts[:, keep]

    def owners_by_cell(self) -> dict[tuple[int, int], set[int]]:
        """Which lines have dots in each cell."""
        ys, xs, _, ids, counts = self._per_cell()
        out: dict[tuple[int, int], set[int]] = {}
        ids_list = ids.tolist()
        for y, x, row in zip(ys.tolist(), xs.tolist(), (counts > 0).tolist()):
            out[(x, y)] = {i for i, has in zip(ids_list, row) if has}
        return out

    def cells(self, priority: dict[int, int] | None = None):
        """Yield ``(x, y, char, owner)`` for every cell with a dot; owner is the line with
        most dots in the cell (ties: the higher ``priority``, then the higher id)."""
        if not self.w or not self.h:
            return
        ys, xs, codes, ids, counts = self._per_cell()
        if not len(ys):
            return
        prio = priority or {}
        # each line's score in each cell (dots, then priority, then id) as one number: the best wins
        p = np.array([prio.get(i, 0) for i in ids.tolist()], dtype=np.int64)
        p_span = int(np.abs(p).max()) * 2 + 1
        span = int(ids.max()) + 1
        score = (counts * p_span + (p + p_span // 2)[None, :]) * span + ids[None, :]
        score[counts == 0] = -1
        owner = ids[score.argmax(axis=1)]
        for y, x, code, who in zip(ys.tolist(), xs.tolist(), codes.tolist(), owner.tolist()):
            yield x, y, chr(0x2800 + code), who


# ---------------------------------------------------------------- colours


def theme_colours(widget) -> dict[str, Color]:
    """The app's current theme variables as Colors (only the ones that parse)."""
    app = widget.app
    variables = app.theme_variables or app.get_css_variables()
    return _parse_all(tuple(sorted(variables.items())))


@lru_cache(maxsize=8)
def _parse_all(items: tuple[tuple[str, str], ...]) -> dict[str, Color]:
    out = {}
    for k, v in items:
        if " " in v or k.endswith("-style") or v in ("none", "initial"):
            continue  # "auto 87%", "bold": no colour (a failed parse costs ~1 ms, its suggestions: 20 ms at start)
        try:
            out[k] = Color.parse(v)
        except Exception:  # noqa: BLE001 - "auto 87%" and the like are not plain colours
            continue
    # the ANSI themes leave both to the terminal ("ansi_default", which parses as black): text
    # drawn in "foreground" on "background" was black on black. They name the pair they mean.
    if out.get("foreground") == out.get("background"):
        for key in ("foreground", "background"):
            if f"ansi-{key}" in out:
                out[key] = out[f"ansi-{key}"]
    return out


@lru_cache(maxsize=4096)
def style(fg: Color | None = None, bg: Color | None = None, bold: bool = False, dim: bool = False) -> Style:
    return Style(
        color=None if fg is None else _rich(fg),
        bgcolor=None if bg is None else _rich(bg),
        bold=bold or None,
        dim=dim or None,
    )


@lru_cache(maxsize=4096)
def _rich(c: Color) -> RichColor:
    return RichColor.from_rgb(c.r, c.g, c.b)


def diverging(v: float, neg: Color, mid: Color, pos: Color, steps: int = 24) -> Color:
    """v in [-1, 1] to a colour between neg, mid and pos, quantised to keep styles few."""
    if v != v:
        return mid
    v = max(-1.0, min(1.0, v))
    q = round(abs(v) * steps) / steps
    return mid.blend(pos if v > 0 else neg, q)


def rgb(c: Color) -> np.ndarray:
    return np.array([c.r, c.g, c.b], dtype=float)


def luminance(rgb_: np.ndarray) -> float:
    """Relative brightness of an RGB triple (0-255), 0 to 1, as the eye weighs the channels."""
    return float(rgb_[0] * 0.2126 + rgb_[1] * 0.7152 + rgb_[2] * 0.0722) / 255


def diverging_rgb(v: np.ndarray, neg: Color, mid: Color, pos: Color, steps: int = 24) -> np.ndarray:
    """``diverging`` for a whole array at once: (...) values to (..., 3) RGB floats."""
    v = np.clip(np.nan_to_num(np.asarray(v, dtype=float), nan=0.0), -1.0, 1.0)
    q = np.round(np.abs(v) * steps) / steps
    target = np.where((v > 0)[..., None], rgb(pos), rgb(neg))
    return rgb(mid) + (target - rgb(mid)) * q[..., None]


@lru_cache(maxsize=8192)
def _rgb_style(fg: tuple[int, int, int] | None, bg: tuple[int, int, int] | None, bold: bool) -> Style:
    return Style(
        color=None if fg is None else RichColor.from_rgb(*fg),
        bgcolor=None if bg is None else RichColor.from_rgb(*bg),
        bold=bold or None,
    )


def rgb_style(fg: np.ndarray | None, bg: np.ndarray | None = None, bold: bool = False) -> Style:
    """A style from RGB arrays (rounded), cached."""
    f = None if fg is None else tuple(int(round(x)) for x in fg[:3])
    b = None if bg is None else tuple(int(round(x)) for x in bg[:3])
    return _rgb_style(f, b, bold)


def half_blocks(grid_rgb: np.ndarray) -> list[list[tuple[str, Style]]]:
    """A (2h, w, 3) RGB image to h rows of cells: '▀' coloured top-on-bottom."""
    img = np.clip(np.round(grid_rgb), 0, 255).astype(int)
    rows = []
    for r in range(0, img.shape[0] - 1, 2):
        top, bottom = img[r].tolist(), img[r + 1].tolist()
        rows.append([("▀", _rgb_style(tuple(a), tuple(b), False)) for a, b in zip(top, bottom)])
    return rows


def fit_number(v: float, width: int, decimals: int = 2, sign: bool = True) -> str:
    """``v`` rounded to at most ``width`` characters, never cut: +0.456 in 5 is '+0.46',
    in 4 '+0.5'; 123.4 in 5 is '+123'; 0.0012 in 5 is '+.001' and 0.00004 '+4e-5' rather
    than a misleading '+0.00'; '…' only when nothing fits. At most ``decimals`` decimals in
    fixed notation (three without the leading zero)."""
    if v != v:
        return "NaN" if width >= 3 else "…"
    if math.isinf(v):
        s = ("+" if v > 0 else "-") + "inf"
        return s if len(s) <= width else "…"
    if v == 0:  # a gradient of exactly 0 reads best as 0; a weight as 0.00 like its neighbours
        return "0" if decimals > 2 or width < 4 else f"{0:.{min(decimals, width - 2)}f}"
    fmt = "+" if sign else ""
    for d in range(decimals, -1, -1):
        s = f"{v:{fmt}.{d}f}"
        if len(s) <= width and (v == 0 or float(s) != 0) and abs(float(s) - v) <= 0.5 * abs(v):
            return s
    if abs(v) < 1:  # -0.005 in 5: '-.005', still the notation of its neighbours (-0.58), not '-5e-3'
        for d in range(max(decimals, 3), 0, -1):
            s = f"{v:{fmt}.{d}f}".replace("0.", ".", 1)
            if len(s) <= width and float(s) != 0 and abs(float(s) - v) <= 0.5 * abs(v):
                return s
    for d in (1, 0):
        s = f"{v:{fmt}.{d}e}"
        mant, exp = s.split("e")
        s = f"{mant}e{int(exp)}"
        if len(s) <= width:
            return s
    return "…"


def outside_unit(v: float) -> str:
    """Enough digits to show that ``v`` is outside [0, 1] (1.00002, not 1.000)."""
    if v != v or math.isinf(v):
        return str(v)
    for d in range(3, 10):
        s = f"{v:.{d}f}"
        r = float(s)
        if (v > 1 and r > 1) or (v < 0 and r < 0) or (0 <= v <= 1):
            return s
    return repr(v)
