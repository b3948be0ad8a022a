"""The sweep screen: one heatmap per outcome over learning rate x init scale.

Colour is the share of starts with that outcome (dark: none, bright yellow: all), the number
in each cell the percentage. Rows are init scales (largest on top), columns learning rates;
◆ marks the current setting (its learning rate, PyTorch's default init scale 1). Arrow keys
or a click select a cell; enter opens the survey for that cell's setting.

Self-contained: ``SweepScreen(config)`` runs its own sweep in a worker thread (or shows a
``SweepResult`` it is given); the app only has to push it.
"""

from __future__ import annotations

import math
import re

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ProgressBar, Static

from xor_tui.app.footer import KeyFooter
from xor_tui.app.screens.dialogs import TypeAhead, while_open
from xor_tui.app.screens.survey import render_survey
from xor_tui.core.session import SWEEP_LRS, SWEEP_SCALES, Config, SweepResult, survey, sweep, sweep_axis
from xor_tui.core.view import OUTCOMES, capitalised, outcome_legend

# plasma-like ramp: share 0 -> dark blue, 1 -> yellow
RAMP = [(13, 8, 135), (84, 2, 163), (139, 10, 165), (185, 50, 137), (219, 92, 104), (244, 136, 73), (254, 188, 43),
        (240, 249, 33)]  # fmt: skip
CELL = 4  # characters per cell
LABEL = 7  # characters of the row labels


def colour(share: float) -> tuple[tuple[int, int, int], str]:
    """Background RGB for a share in [0, 1] and a readable text colour on it."""
    x = min(max(share, 0.0), 1.0) * (len(RAMP) - 1)
    k = min(int(x), len(RAMP) - 2)
    f = x - k
    (r0, g0, b0), (r1, g1, b1) = RAMP[k], RAMP[k + 1]
    rgb = (round(r0 + (r1 - r0) * f), round(g0 + (g1 - g0) * f), round(b0 + (b1 - b0) * f))
    light = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140
    return rgb, "black" if light else "white"


def _fmt(v: float) -> str:
    return f"{v:.2g}" if v < 1000 else f"{v:.0e}"


class Heatmap(Widget):
    """One outcome's shares over the grid."""

    DEFAULT_CSS = "Heatmap { height: auto; width: auto; }"

    class Picked(Message):
        def __init__(self, row: int, col: int, open_it: bool) -> None:
            super().__init__()
            self.row, self.col, self.open_it = row, col, open_it

    def __init__(self, result: SweepResult, outcome: str, **kw) -> None:
        super().__init__(**kw)
        self.result = result
        self.outcome = outcome
        self.cursor = (0, 0)
        self.current: tuple[int, int] | None = None

    def render_text(self) -> Text:
        r = self.result
        shares = r.share(self.outcome)
        rows, cols = len(r.scales), len(r.lrs)
        t = Text()
        t.append(f"{self.outcome}", style="bold")
        t.append(" (% of starts)", style="dim")
        ci, cj = self.cursor  # the selected cell in words too, not only in reverse video
        if 0 <= ci < rows and 0 <= cj < cols:
            t.append(f"  ▸ lr {_fmt(r.lrs[cj])}, x{_fmt(r.scales[ci])}: {round(100 * float(shares[ci, cj]))}%")
        t.append("\n")
        t.append("scale".rjust(LABEL - 1) + "\n", style="dim")
        for i in reversed(range(rows)):
            label = f"x{_fmt(r.scales[i])}"
            t.append(" " * (LABEL - 1 - len(label)))  # separate segments: SVG keeps each one's column
            t.append(label, style="dim")
            t.append(" ")
            for j in range(cols):
                share = float(shares[i, j])
                rgb, fg = colour(share)
                pct = round(100 * share)
                body = f"{pct:>3}"
                style = f"{fg} on rgb({rgb[0]},{rgb[1]},{rgb[2]})"
                if self.cursor == (i, j):
                    style += " reverse bold"
                digits = body.lstrip(" ")
                bg = f"on rgb({rgb[0]},{rgb[1]},{rgb[2]})" + (" reverse" if self.cursor == (i, j) else "")
                t.append(" " * (len(body) - len(digits)), style=bg)
                t.append(digits, style=style)
                # the current setting's mark in the gap after its number (in place of a digit,
                # a share of 100 was shown as 99)
                t.append("◆" if self.current == (i, j) else " ", style=style if self.current == (i, j) else bg)
            t.append("\n")
        # x axis: the first and last learning rates, and others every few columns where they fit
        width = LABEL + cols * CELL
        axis = [" "] * (width + 16)
        first = _fmt(r.lrs[0])
        axis[LABEL : LABEL + len(first)] = first
        end = LABEL + len(first)
        for j in range(3, cols - 1, 3):
            label, at = _fmt(r.lrs[j]), LABEL + j * CELL
            if at > end and at + len(label) < width - 6:
                axis[at : at + len(label)] = label
                end = at + len(label)
        if cols > 1:
            last = _fmt(r.lrs[-1])
            at = max(width - 1 - len(last), end + 1)
            axis[at : at + len(last)] = last
        for word in re.split(r"( +)", "".join(axis).rstrip()):
            t.append(word, style=None if word.startswith(" ") else "dim")
        t.append("\n")
        t.append(" " * LABEL + "learning rate →", style="dim")
        return t

    def render(self) -> Text:
        return self.render_text()

    def cell_at(self, x: int, y: int) -> tuple[int, int] | None:
        rows, cols = len(self.result.scales), len(self.result.lrs)
        line, col = y - 2, (x - LABEL) // CELL
        if 0 <= line < rows and x >= LABEL and 0 <= col < cols:
            return rows - 1 - line, col
        return None

    def on_click(self, event: events.Click) -> None:
        cell = self.cell_at(event.x, event.y)
        if cell is not None:
            self.post_message(self.Picked(*cell, open_it=event.chain >= 2 or self.cursor == cell))


class SweepScreen(TypeAhead, Screen):
    """Heatmaps of a sweep around ``config``; enter on a cell opens its survey."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("i", "app.save_screen", "Save screen"),
        # priority: the scrolled page under the maps would take up and down for itself
        # (page up / page down and the mouse wheel still scroll it)
        Binding("left", "move(0, -1)", "lr -", show=False, priority=True),
        Binding("right", "move(0, 1)", "lr +", show=False, priority=True),
        Binding("up", "move(1, 0)", "scale +", show=False, priority=True),
        Binding("down", "move(-1, 0)", "scale -", show=False, priority=True),
        Binding("enter", "open", "Survey this cell"),
    ]
    DEFAULT_CSS = """
    SweepScreen #head { height: auto; padding: 0 1; }
    SweepScreen #maps { grid-size: 2; grid-gutter: 0 2; height: auto; padding: 0 1; }
    SweepScreen #maps.narrow { grid-size: 1; }
    SweepScreen #scroll { height: 1fr; }
    """

    def __init__(
        self,
        config: Config,
        result: SweepResult | None = None,
        lrs: list[float] | None = None,
        scales: list[float] | None = None,
        n: int = 10_000,
        epochs: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.config = config
        self.result = result
        self.lrs = lrs or sweep_axis(SWEEP_LRS, "lr", 1e-6, 1e6)
        self.scales = scales or sweep_axis(SWEEP_SCALES, "init scale", 1e-3, 1e3)
        self.n, self.epochs, self.seed = n, epochs, seed
        self.cursor = (0, 0)
        self._closing = False
        self.notes: list[str] = []  # one-line remarks from the sweep (compiling, per-layer rates, slow path)

    def _title(self, exact: bool = True) -> str:
        c = self.config
        mark = ""
        if c.layer_lr is None:  # per-layer rates are on no cell
            mark = (
                ", ◆ is the current setting"
                if exact
                else f", ◆ is the cell nearest the current setting (lr {c.lr:g}, init scale x1: not on this grid)"
            )
        return f"Sweep: {c.summary(lr=False)}; arrows select a cell, enter surveys it{mark}"

    def compose(self) -> ComposeResult:
        with Vertical(id="head"):
            # wraps at word boundaries when narrow (a Label would be cut)
            yield Static(self._title(), id="title", markup=False)
            yield ProgressBar(total=1, id="bar", show_eta=False)
        with VerticalScroll(id="scroll"):
            yield Static("", id="info")
            yield Grid(id="maps")
        yield KeyFooter()

    def _training_text(self) -> str:
        text = f"training {len(self.lrs)}x{len(self.scales)} points x {self.n:,} networks x {self.epochs} epochs…"
        return "\n".join([text, *self.notes])

    def on_mount(self) -> None:
        if self.result is None:
            self.query_one("#info", Static).update(self._training_text())
            self._run()
        else:
            self._show(self.result)

    def on_unmount(self) -> None:
        self._closing = True

    @work(thread=True, exclusive=True)
    def _run(self) -> None:
        bar = self.query_one(ProgressBar)

        def note(text: str) -> None:
            self.notes.append(text)
            if not self._closing:
                self.app.call_from_thread(while_open, self, self._say_training)

        try:
            result = sweep(
                self.config,
                self.lrs,
                self.scales,
                self.n,
                self.epochs,
                self.seed,
                progress=lambda done, total: self.app.call_from_thread(
                    while_open, self, bar.update, progress=done, total=total
                ),
                stop=lambda: self._closing,
                note=note,
            )
        except KeyboardInterrupt:  # the screen was closed: nothing to show
            return
        self.app.call_from_thread(while_open, self, self._show, result)

    def _say_training(self) -> None:
        self.query_one("#info", Static).update(self._training_text())

    def _show(self, result: SweepResult) -> None:
        self.result = result
        row, col = result.nearest(self.config.lr, 1.0)
        self.cursor = (row, col)
        exact = math.isclose(result.lrs[col], self.config.lr, rel_tol=1e-9) and math.isclose(result.scales[row], 1.0)
        self.query_one("#title", Static).update(self._title(exact))
        self.query_one("#bar", ProgressBar).display = False
        lasting = [t for t in self.notes if not t.startswith("compiling")]  # compiled: said its piece
        self.query_one("#info", Static).update(
            Text(
                f"{len(result.lrs)} learning rates x {len(result.scales)} init scales, {result.n:,} networks x "
                f"{result.epochs} epochs per cell, seed {result.seed} ({result.seconds:.1f} s). {outcome_legend()}."
                + "".join(f"\n{capitalised(t)}." for t in lasting),
                style="dim",
            )
        )
        maps = self.query_one("#maps", Grid)
        maps.remove_children()
        for outcome in OUTCOMES:
            h = Heatmap(result, outcome, classes="map")
            # the current lr at PyTorch's default init scale; per-layer rates are on no cell
            h.current = (row, col) if self.config.layer_lr is None else None
            h.cursor = self.cursor
            maps.mount(h)
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        if self.result is None:
            return
        need = 2 * (LABEL + CELL * len(self.result.lrs) + 2) + 4
        self.query_one("#maps", Grid).set_class(self.size.width < need, "narrow")

    def action_move(self, drow: int, dcol: int) -> None:
        if self.result is None:
            return
        row = min(max(self.cursor[0] + drow, 0), len(self.result.scales) - 1)
        col = min(max(self.cursor[1] + dcol, 0), len(self.result.lrs) - 1)
        self._select(row, col)

    def _select(self, row: int, col: int) -> None:
        self.cursor = (row, col)
        for h in self.query(Heatmap):
            h.cursor = self.cursor
            h.refresh()

    def on_heatmap_picked(self, message: Heatmap.Picked) -> None:
        self._select(message.row, message.col)
        if message.open_it:
            self.action_open()

    def action_open(self) -> None:
        if self.result is None:
            return
        row, col = self.cursor
        r = self.result
        self.app.push_screen(CellSurveyScreen(r.config_at(row, col), r.scales[row], r.n, r.epochs, r.seed))


class CellSurveyScreen(TypeAhead, Screen):
    """The survey of one grid cell: its learning rate and init scale."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back"), Binding("i", "app.save_screen", "Save screen")]
    DEFAULT_CSS = "CellSurveyScreen #out { padding: 0 1; scrollbar-gutter: stable; }"

    def __init__(self, config: Config, scale: float, n: int, epochs: int, seed: int) -> None:
        super().__init__()
        self.config, self.scale, self.n, self.epochs, self.seed = config, scale, n, epochs, seed
        self.result = None

    def compose(self) -> ComposeResult:
        c = self.config
        yield Static(  # wraps when narrow
            f" Survey: {c.summary()}, init scale x{self.scale:.3g}, {self.n:,} networks x {self.epochs} epochs",
            id="title",
            markup=False,
        )
        with VerticalScroll(id="out"):
            yield Static("running…", id="result")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._run()

    @work(thread=True, exclusive=True)
    def _run(self) -> None:
        r = survey(self.config, self.n, self.epochs, self.seed, init_scale=self.scale)
        self.app.call_from_thread(while_open, self, self._show, r)

    def _show(self, r) -> None:
        self.result = r
        self.query_one("#result", Static).update(render_survey(r))
