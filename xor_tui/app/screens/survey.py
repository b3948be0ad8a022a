"""The survey screen: run many random starts with the current settings, show the tables."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Input, ProgressBar, Static

from xor_tui.app.footer import KeyFooter
from xor_tui.app.screens.dialogs import InOrderInput, TypeAhead, while_open
from xor_tui.core.session import Config, SurveyResult, survey
from xor_tui.core.view import OUTCOMES, outcome_legend


class CountInput(InOrderInput):
    """The count field: it types any character but the survey screen's own keys (q, r, i),
    which no count holds; those reach the screen (an Input takes every printable key before
    the screen's bindings see it)."""

    SCREEN_KEYS = frozenset("qri")

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character not in self.SCREEN_KEYS and super().check_consume_key(key, character)

    async def _on_key(self, event) -> None:
        if event.character in self.SCREEN_KEYS:
            event.prevent_default()  # not typed (Input's own handler skipped): it goes on to the screen
            return
        await super()._on_key(event)


class SurveyScreen(TypeAhead, Screen):
    """A screen of its own: the main screen's keys do not act while it is open."""

    BINDINGS = [
        Binding("escape,q", "back", "Back"),
        Binding("r", "run", "Run survey"),
        Binding("i", "app.save_screen", "Save screen"),
        # the results scroll with the page keys even while the count field has the focus
        Binding("pagedown", "scroll_results(1)", "Page down", show=False),
        Binding("pageup", "scroll_results(-1)", "Page up", show=False),
        Binding("ctrl+end", "scroll_results(100000)", "End", show=False),
        Binding("ctrl+home", "scroll_results(-100000)", "Home", show=False),
    ]
    DEFAULT_CSS = """
    SurveyScreen #form { height: auto; padding: 0 1; }
    SurveyScreen Input { width: 30; }
    SurveyScreen #out { padding: 0 1; scrollbar-gutter: stable; }
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        yield Header(icon="⊕")  # Textual's ⭘ is an empty box in a browser's fallback font
        with Vertical(id="form"):
            c = self.config
            yield Static(  # wraps at word boundaries when narrow (a Label would be cut)
                f"Survey with the current settings: {c.summary()}, 200 epochs. Networks (enter runs):",
                id="title",
                markup=False,
            )
            yield CountInput("20000", id="n")
            yield ProgressBar(total=200, id="bar", show_eta=False)
        with VerticalScroll(id="out"):
            yield Static("Press enter (or r) to run.", id="result")
        yield KeyFooter()

    def on_input_submitted(self) -> None:
        self.action_run()

    def action_scroll_results(self, pages: int) -> None:
        out = self.query_one("#out", VerticalScroll)
        out.scroll_to(y=out.scroll_y + pages * max(out.size.height - 1, 1), animate=False)

    def action_back(self) -> None:
        # only while on top: a second escape in a burst must not pop the main screen, and
        # is_current is also true under a translucent screen (dismiss would pop that one)
        if self.app.screen is self:
            self.dismiss()

    def action_run(self) -> None:
        text = self.query_one("#n", Input).value.strip()
        # isdigit() accepts "²" and other non-ASCII digits that int() refuses
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 1_000_000:
            self.query_one("#result", Static).update(
                Text("enter a whole number of networks from 1 to 1,000,000", style="bold red")
            )
            self.query_one(ProgressBar).update(progress=0)  # not the last survey's 100%
            return
        self.query_one("#result", Static).update("running…")
        self._run(int(text))

    @work(thread=True, exclusive=True)
    def _run(self, n: int) -> None:
        bar = self.query_one(ProgressBar)
        notes: list[str] = []  # one-line remarks from the survey (e.g. compiling its kernel)
        started: list[bool] = []

        # every answer goes through while_open: the screen may be closed, or closing, by then
        def note(text: str) -> None:
            notes.append(text)  # the first survey of a setting compiles: seconds at 0%
            self.app.call_from_thread(while_open, self, self._say, ["running…", *notes])

        def progress(done: int, total: int) -> None:
            if not started and notes:  # compiled: the compile note has done its job
                started.append(True)
                self.app.call_from_thread(while_open, self, self._say, ["running…", *self._lasting(notes)])
            self.app.call_from_thread(while_open, self, bar.update, progress=done)

        result = survey(self.config, n, 200, seed=0, progress=progress, note=note)
        self.app.call_from_thread(while_open, self, self._show, result, self._lasting(notes))

    @staticmethod
    def _lasting(notes: list[str]) -> list[str]:
        """The notes worth keeping once the survey runs: not the one saying it compiles."""
        return [t for t in notes if not t.startswith("compiling")]

    def _say(self, lines: list[str]) -> None:
        self.query_one("#result", Static).update("\n".join(lines))

    def _show(self, r: SurveyResult, notes: Sequence[str] = ()) -> None:
        shown = render_survey(r)
        if notes:
            shown = Group(*(Text(t, style="italic") for t in notes), shown)
        self.query_one("#result", Static).update(shown)


def _bar(share: float, width: int = 30) -> str:
    full = share * width
    return "█" * int(full) + ("▌" if full - int(full) >= 0.5 else "")


def render_survey(r: SurveyResult) -> Group:
    """The survey's tables: the start's dead units and cases, the outcomes by starting case."""
    parts: list[RenderableType] = [
        Text(
            f"{r.n:,} networks x {r.epochs} epochs in {r.timing_text()}, "
            f"{r.net_epochs_per_second / 1e6:.1f} M network-epochs/s",
            style="bold",
        )
    ]
    t = Table(title="at the start", title_justify="left", box=None)
    t.add_column("")
    t.add_column("share", justify="right")
    t.add_column("")
    t.add_row("≥1 dead hidden unit", f"{r.share(r.hidden_dead_any):.1%}", _bar(r.share(r.hidden_dead_any)))
    t.add_row("both hidden dead", f"{r.share(r.hidden_dead_all):.1%}", _bar(r.share(r.hidden_dead_all)))
    t.add_row("dead output", f"{r.share(r.output_dead):.1%}", _bar(r.share(r.output_dead)))
    for k, v in (r.case_shares() or {}).items():
        t.add_row(f"case {k}" if k != "none" else "no case", f"{v:.1%}", _bar(v))
    parts.append(t)
    o = Table(title="after 200 epochs, by starting case", title_justify="left", box=None)
    o.add_column("start")
    o.add_column("count", justify="right")
    for name in OUTCOMES:
        o.add_column(name, justify="right")
    for key, row in (r.by_case() or {}).items():
        if row["count"]:
            o.add_row(key, f"{row['count']:,}", *(f"{row[x]:.1%}" for x in OUTCOMES))
    shares = r.outcome_shares()
    o.add_row("all", f"{r.n:,}", *(f"{shares[x]:.1%}" for x in OUTCOMES))
    parts.append(o)
    parts.append(Text(outcome_legend(), style="dim"))
    return Group(*parts)
