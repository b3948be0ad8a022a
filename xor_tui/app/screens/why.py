"""The ``y`` screen: why, not only what.

Over the main screen, like CNN Explainer's view of one kernel's arithmetic: the status line
(epoch, loss, case), a tab per subject (a parameter, a unit, the loss, the halt, the case) and
the explanation of the one chosen, scrollable, with the live numbers (``Session.explain``).
The run goes on under it: space/→, b/←, p, n, e, x, + and - act on the main screen, whose
every redraw (a step, play, a background run) redraws this screen from the same Frame's epoch.
At a halt the halt is shown first ("why did it stop?"); once stepped back from it, the subject
chosen before. Escape or y closes it.

A screen rather than a panel: a chain-rule row is 80 to 150 columns wide and a parameter's
explanation 15 to 40 lines long, which the "what is happening" panel (46x10 at 120x36, 30x3 at
80x24) cannot show readably; the whole terminal can, at 80x24 too, by scrolling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Tab, Tabs

from xor_tui.app.components.status import StatusLine
from xor_tui.app.components.why import WhyView
from xor_tui.app.footer import KeyFooter
from xor_tui.app.screens.dialogs import TypeAhead
from xor_tui.core.session import Session, SpecError
from xor_tui.core.view import Explanation, Frame

if TYPE_CHECKING:
    from textual import getters

    from xor_tui.app.main import MainScreen, XorApp

# the subjects, the key that shows each and its tab's word
SUBJECTS = (("param", "w", "weight/bias"), ("unit", "u", "unit"), ("loss", "l", "loss"),
            ("halt", "h", "halt"), ("case", "c", "case"))  # fmt: skip
# main-screen actions that act from here too (the run moves; this screen follows)
FORWARDED = ("step", "back", "play", "faster", "slower", "next_event", "run_end", "stop")


class SubjectTabs(Tabs):
    """A tab per subject. A click asks the screen for the subject (``Picked``); which tab is
    lit is only ever set by the screen (Textual's Tabs would light the clicked one itself and
    report every change, the screen's own included, a few turns later)."""

    class Picked(Message):
        """A tab was clicked: ``subject`` asked for."""

        def __init__(self, subject: str) -> None:
            self.subject = subject
            super().__init__()

    def _activate_tab(self, tab: Tab) -> None:
        self.post_message(self.Picked((tab.id or "").removeprefix("why-")))


class WhyScreen(TypeAhead, Screen[None]):
    """Why the selected number is what it is: the explanation of a subject, live."""

    DEFAULT_CSS = """
    WhyScreen { layout: vertical; }
    WhyScreen Tabs { height: 2; }
    WhyScreen WhyView { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,y,q", "close", "Close"),
        *(Binding(key, f"subject('{name}')", word.split("/")[0].capitalize()) for name, key, word in SUBJECTS),
        Binding("tab", "cycle(1)", "Next subject", show=False),
        Binding("shift+tab", "cycle(-1)", "Previous subject", show=False),
        Binding("space", "main('step')", "Step"),
        Binding("right", "main('step')", "Step", show=False),
        Binding("b", "main('back')", "Back"),
        Binding("left", "main('back')", "Back", show=False),
        Binding("p", "main('play')", "Play/pause"),
        Binding("left_square_bracket", "pick(-1)", "Prev"),
        Binding("right_square_bracket", "pick(1)", "Next"),
        Binding("n", "main('next_event')", "Next event", show=False),
        Binding("e", "main('run_end')", "To end", show=False),
        Binding("x", "main('stop')", "Stop", show=False),
        Binding("plus,equals_sign", "main('faster')", "Faster", show=False),
        Binding("minus", "main('slower')", "Slower", show=False),
        Binding("i", "app.save_screen", "Screenshot", show=False),
    ]
    AUTO_FOCUS = "WhyView"

    if TYPE_CHECKING:  # pushed by MainScreen: XorApp's own (Textual's typed app property)
        app = getters.app(lambda: XorApp)

    def __init__(self, subject: str, unit: str | None = None) -> None:
        """``subject``: what to explain first (param, unit, loss, halt, case); ``unit``: the unit
        asked about (else the one the selected parameter belongs to)."""
        super().__init__()
        self.chosen = subject  # the subject asked for (h, u ... or what y was pressed on)
        self.follow_halt = True  # at a halt, show the halt (until another subject is asked for there)
        self.unit = unit
        self.frame: Frame | None = None
        self.mode = ""
        self._shown: tuple | None = None

    @property
    def session(self) -> Session:
        """The app's session (the run this screen explains)."""
        return self.app.session

    @property
    def main(self) -> MainScreen:
        """The main screen: its selection, its frame, its actions."""
        return self.app.main

    def compose(self) -> ComposeResult:
        yield StatusLine(id="why-status")
        tabs = SubjectTabs(*(Tab(Content(f"{key} {word}"), id=f"why-{name}") for name, key, word in SUBJECTS))
        tabs.can_focus = False  # ← and → step the run here; a click or w u l h c picks the tab
        yield tabs
        yield WhyView(id="why")
        yield KeyFooter()

    def on_mount(self) -> None:
        main = self.main
        self.show(main.frame or self.session.frame(), main.mode_text())

    # ------------------------------------------------------------ what is shown
    @property
    def subject(self) -> str:
        """The subject shown: the halt at a halt (unless another was asked for there), else
        the one chosen."""
        if self.frame is not None and self.frame.halted and self.follow_halt:
            return "halt"
        return self.chosen

    def param_name(self) -> str:
        """The parameter explained: the main screen's selection."""
        return self.main.selected

    def unit_name(self, frame: Frame) -> str:
        """The unit asked about, else the one the selected parameter belongs to."""
        names = [u.name for u in frame.units]
        if self.unit in names:
            return self.unit
        p = self.param_name()
        owner = next((e.target for e in frame.edges if e.param == p), None)
        owner = owner or next((b.unit for b in frame.biases if b.param == p), names[-1])
        return owner

    def show(self, frame: Frame, mode: str = "") -> None:
        """Redraw from ``frame`` (the main screen's, at each of its redraws)."""
        if self.frame is not None and self.frame.halted and not frame.halted:
            self.follow_halt = True  # stepped back from the halt: the subject chosen before
        self.frame, self.mode = frame, mode
        self.query_one(StatusLine).show(frame, mode)
        subject = self.subject
        name = {"param": self.param_name(), "unit": self.unit_name(frame)}.get(subject)
        self._label_tabs(frame)
        tabs = self.query_one(SubjectTabs)
        if tabs.active != f"why-{subject}":
            tabs.active = f"why-{subject}"
        key = (subject, name, self.app.theme)
        if self._shown is not None and self._shown[0] is frame and self._shown[1] == key:
            return  # the same frame, subject and theme: drawn already
        self._shown = (frame, key)
        view = self.query_one(WhyView)
        what: Explanation | str
        try:
            what = self.session.explain(subject, name, epoch=frame.epoch)
        except SpecError as exc:
            what = _not_here(subject, str(exc))
        except IndexError:  # the run moved back under this frame: the next redraw brings its own
            return
        view.show(what)

    def _label_tabs(self, frame: Frame) -> None:
        words = {
            "param": f"w {self.param_name()}",
            "unit": f"u unit {_short(frame, self.unit_name(frame))}",
            "halt": "h halt" + (" ✕" if frame.halted else ""),  # ✕: the loss chart's mark of a halt
        }
        for name, key, word in SUBJECTS:
            tab = self.query_one(f"#why-{name}", Tab)
            label = words.get(name, f"{key} {word}")
            if tab.label.plain != label:
                tab.label = Content(label)

    def redraw(self) -> None:
        """Explain again, from the frame shown (another subject, unit or theme)."""
        if self.frame is not None:
            self._shown = None
            self.show(self.frame, self.mode)

    # ------------------------------------------------------------ keys and clicks
    def action_close(self) -> None:
        if self.app.screen is self:
            self.dismiss(None)

    def action_subject(self, name: str) -> None:
        """Show ``name`` (param, unit, loss, halt, case); at a halt, ask for it there."""
        self.chosen = name
        # asked for at a halt: shown there; asked for elsewhere: the next halt still comes first
        self.follow_halt = name == "halt" or not (self.frame is not None and self.frame.halted)
        self.redraw()
        self.query_one(WhyView).scroll_home(animate=False)

    def action_cycle(self, d: int) -> None:
        names = [n for n, _, _ in SUBJECTS]
        self.action_subject(names[(names.index(self.subject) + d) % len(names)])

    def on_subject_tabs_picked(self, event: SubjectTabs.Picked) -> None:
        if event.subject in {n for n, _, _ in SUBJECTS}:
            self.action_subject(event.subject)

    async def action_pick(self, d: int) -> None:
        """[ and ]: the previous or next parameter (the main screen's selection moves with it),
        or unit."""
        if self.frame is None:
            return
        if self.subject == "unit":
            names = [u.name for u in self.frame.units]
            i = names.index(self.unit_name(self.frame))
            self.unit = names[(i + d) % len(names)]
            self.redraw()
            return
        if self.subject != "param":
            self.action_subject("param")
            return
        await self.main.run_action("select_prev" if d < 0 else "select_next")

    async def action_main(self, action: str) -> None:
        """A key of the run (step, back, play...) acts on the main screen, which redraws this one."""
        if action in FORWARDED:
            await self.main.run_action(action)


def _short(frame: Frame, unit: str) -> str:
    return next((u.short for u in frame.units if u.name == unit), unit)


def _not_here(subject: str, problem: str) -> str:
    if subject == "halt":
        return (
            f"No halt here: {problem}. Training halts when a step carries an output out of [0, 1] (which BCELoss "
            "refuses) or a number stops being finite; y at a halt opens here first. e runs to the scenario's end, "
            "n to the next event."
        )
    return problem
