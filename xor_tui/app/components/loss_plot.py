"""The loss over epochs: a braille line chart on a log axis with honest bounds.

The y axis spans whole decades around the data (at least one), so a run going 50.011 to
50.000 is a flat line at 50 and case 7's fall from 25 to 2.8 drops a decade. Its labels are
evenly spaced, each on the row where its value is drawn; with more decades than rows, every
other (or every k-th) decade is labelled. Events are
marked under the chart (▼ a unit dies, ▲ revives, ◆ the case changes, ✕ the halt), the
current epoch is the bright ● (with a ▲ on the axis when history continues to its right),
and the current value is printed in full in the header line.
"""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text
from textual.strip import Strip

from xor_tui.app.components import pixels as px
from xor_tui.app.components.canvas import Canvas
from xor_tui.app.components.lines import LinesWidget
from xor_tui.app.components.panel import set_key
from xor_tui.core.view import Frame

EVENT_MARKS = {
    "dies": ("▼", "error"),
    "revives": ("▲", "success"),
    "case": ("◆", "accent"),
    "halts": ("✕", "error"),
    "nan": ("✕", "error"),
}


def decade_bounds(values: np.ndarray) -> tuple[int, int]:
    """Whole decades covering the finite positive values: (lo, hi) exponents, hi > lo."""
    lo = math.floor(math.log10(values.min()))
    hi = math.ceil(math.log10(values.max()))
    if hi <= lo:
        hi = lo + 1
    return lo, hi


def decade_rows(lo: int, hi: int, rows: int) -> tuple[int, int, int]:
    """How decades lo..hi go on ``rows`` chart rows with every label on its own row, evenly
    spaced: (lo, decades per label, rows per label). When there are more decades than rows,
    every k-th decade is labelled (lo moved down to make the span a multiple of k); when
    fewer, each takes the same whole number of rows (the rows left over stay empty below)."""
    gaps = max(rows - 1, 1)
    k = -(-(hi - lo) // gaps)
    steps = -(-(hi - lo) // k)
    return hi - steps * k, k, max(1, gaps // steps)


def tick_label(exp: int) -> str:
    v = 10.0**exp
    return f"{v:g}" if -3 <= exp <= 4 else f"1e{exp}"


class LossPlot(LinesWidget, can_focus=True):
    """Loss per epoch on a log axis; see the module's docstring for what each mark means."""

    DEFAULT_CSS = "LossPlot { height: 1fr; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.frame: Frame | None = None

    # the key to the marks: each mark in its colour, with a word and a shorter word
    KEY_WORDS = {
        "dies": ("[b $error]▼[/]", "dies", "die"),
        "revives": ("[b $success]▲[/]", "revives", "live"),
        "case": ("[b $accent]◆[/]", "case", "case"),
        "halts": ("[b $error]✕[/]", "halt", "halt"),
        "now": ("[b $accent]●[/]", "now", "now"),
    }

    def keys(self) -> tuple[str, ...]:
        """The key's variants, widest first: every mark when it fits; else the marks on the chart
        now (and ● now) with their words, then shorter words, then without ● now. A mark is
        never shown with a wrong word or left out while drawn (at 80x24: '▼die ◆case ✕halt')."""
        f = self.frame
        kinds = {"nan": "halts"}
        shown = {kinds.get(e.kind, e.kind) for e in (f.events if f is not None else ()) if e.kind in EVENT_MARKS}
        present = [k for k in self.KEY_WORDS if k in shown]
        words = lambda ks, i: " ".join(self.KEY_WORDS[k][0] + self.KEY_WORDS[k][i] for k in ks)  # noqa: E731
        every = list(self.KEY_WORDS)
        return (
            words(every, 1),
            words([*present, "now"], 1),
            words([*present, "now"], 2),
            words(present, 1),
            words(present, 2),
            " ".join(self.KEY_WORDS[k][0] for k in present),
        )

    def on_mount(self) -> None:
        set_key(self, *self.keys())

    def on_resize(self) -> None:
        set_key(self, *self.keys())

    def show(self, frame: Frame) -> None:
        self.frame = frame
        set_key(self, *self.keys())
        self.rebuild()

    def build(self) -> Text | list[Strip]:
        """The chart at the widget's size (the header line alone where there is no room)."""
        w, h = self.size.width, self.size.height
        f = self.frame
        if f is None:
            return Text("")
        pal = px.theme_colours(self)
        dim = px.style(pal["foreground"].blend(pal["background"], 0.4))
        now = "—" if f.loss is None or f.loss != f.loss else f"{f.loss:.8g}"
        head = f"epoch {f.epoch}: loss {now}"
        if w < 16 or h < 3:
            return Text(head, overflow="fold")
        past = np.asarray(f.losses, dtype=float)
        ahead = np.asarray(f.losses_ahead, dtype=float)
        losses = np.concatenate([past, ahead])
        canvas = Canvas(w, h)
        canvas.text(0, 0, head[:w], px.style(pal["foreground"], bold=True))
        good = np.isfinite(losses) & (losses > 0)
        if not good.any():
            canvas.text(0, 1, "no finite loss yet", dim)
            return canvas.strips()
        lo, hi = decade_bounds(losses[good])
        # header, chart rows, event marks, x axis (the last two only when there is room)
        extras = 2 if h >= 7 else 0
        top, ph = 1, h - 1 - extras
        # a labelled decade every `per` rows, each label on the row its value is drawn on
        lo, k, per = decade_rows(lo, hi, ph)
        labelled = range(hi, lo - 1, -k)
        left = max(len(tick_label(e)) for e in labelled) + 1
        pw = w - left
        if pw < 8:
            return Text(head, overflow="fold")
        x_max = max(f.config.epochs, len(losses) - 1, 1)  # the scenario's epochs, or all there is
        to_dx = lambda e: (e / x_max) * (pw * 2 - 1)  # noqa: E731
        # in braille dots (4 a row): 10**e, e labelled, falls on the middle of its label's row
        scale = per * 4 / k
        for i, e in enumerate(labelled):  # decade grid lines and labels
            r = top + i * per
            canvas.text(0, r, tick_label(e).rjust(left - 1) + "┤", dim)
            for c in range(left, w):
                canvas.put(c, r, "·", dim)
        dots = px.Braille(pw, ph)
        cur = len(past) - 1
        epochs = np.arange(len(losses))
        safe = np.where(good, losses, 1.0)
        dx = epochs / x_max * (pw * 2 - 1)
        dy = np.where(good, np.clip((hi - np.log10(safe)) * scale + 1.5, 0, ph * 4 - 1), np.nan)
        # the epochs ahead (after stepping back) are drawn dim
        dots.polyline(dx, dy, (epochs >= cur).astype(np.int32))
        styles = {0: px.style(pal["primary"], bold=True), 1: px.style(pal["primary"].blend(pal["background"], 0.55))}
        for x, y, ch, owner in dots.cells({0: 1}):
            canvas.put(left + x, top + y, ch, styles[owner])
        # the current epoch
        if good[cur]:
            cx, cy = float(dx[cur]), float(dy[cur])
            canvas.put(left + int(cx / 2), top + int(cy / 4), "●", px.style(pal["accent"], bold=True))
        if not extras:
            return canvas.strips()
        # events under the chart, newest drawn last so the latest kind wins a shared column
        marks_row, axis_row = top + ph, top + ph + 1
        for ev in reversed(f.events):
            if ev.kind in EVENT_MARKS and ev.epoch <= x_max:
                ch, var = EVENT_MARKS[ev.kind]
                canvas.put(left + int(to_dx(ev.epoch) / 2), marks_row, ch, px.style(pal[var], bold=True))
        # x axis: 0, the current epoch, the end
        canvas.text(left - 1, axis_row, "└" + "─" * pw, dim)
        canvas.text(left, axis_row, "0", dim)
        end = str(x_max)
        canvas.text(w - len(end), axis_row, end, dim)
        if 0 < cur < x_max:
            label = str(cur)
            cxl = left + int(to_dx(cur) / 2)
            lx = min(max(cxl - len(label) // 2, left + 2), w - len(end) - len(label) - 1)
            if lx > left + 1:
                canvas.text(lx, axis_row, label, px.style(pal["accent"], bold=True))
        return canvas.strips()
