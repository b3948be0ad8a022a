"""The xor-tui app: the App owns the session and settings; the MainScreen owns layout and
keys; the Player owns the play clock and the background run."""

from __future__ import annotations

import gc
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header

from xor_tui.app import keymap
from xor_tui.app.components.diagram import NetworkDiagram
from xor_tui.app.components.events import EventPanel
from xor_tui.app.components.input_space import InputSpace
from xor_tui.app.components.loss_plot import LossPlot
from xor_tui.app.components.panel import boxed
from xor_tui.app.components.status import StatusLine
from xor_tui.app.components.tables import ParamsTable, RowsTable
from xor_tui.app.footer import KeyFooter
from xor_tui.app.modes import ModesMixin
from xor_tui.app.player import Player
from xor_tui.app.screens.dialogs import ChoiceScreen, ConfirmScreen, HelpScreen, PromptScreen, TypeAhead
from xor_tui.app.screens.why import WhyScreen
from xor_tui.core.session import (
    ACTIVATIONS,
    Files,
    Opened,
    Scenario,
    ScenarioError,
    Session,
    SpecError,
    builtin_scenarios,
    check_seed,
    check_value,
    open_path,
    stop_compiles,
)
from xor_tui.core.view import Frame, capitalised, printable

if TYPE_CHECKING:
    from textual import getters

WELCOME = (
    "Welcome. Keys 1-8 load the source's eight cases; space steps one epoch, p plays, "
    "enter edits the selected weight, ? lists every key."
)
KEYS = keymap.KEYS


class MainScreen(ModesMixin, Screen):
    """Layout, keys and what they do; draws one Frame of the App's session at a time."""

    BINDINGS = keymap.bindings()
    # a maximised panel keeps the status line (epoch, loss, case) above it and the footer below;
    # the title bar goes (both dock at the top, where Textual would draw one over the other)
    ALLOW_IN_MAXIMIZED_VIEW = "StatusLine, Footer"
    # the footer dims the keys refused while a background run goes (check_action refuses them at
    # once); it dims only once a run has lasted DIM_AFTER, so a quick `n` does not flash it
    busy = reactive(False, bindings=True)
    DIM_AFTER = 0.15
    FOOTER_ROOM = 118  # columns the footer's keys take with their padding

    def __init__(self) -> None:
        super().__init__()
        self.player = Player()
        self.selected = "output.bias[0]"
        self.message = WELCOME
        self.frame: Frame | None = None
        self._refused: list[str] = []  # keys refused while the last run went
        self.run_from = 0  # the epoch the last run to the end or to an event started from
        self.version = 0  # bumped on every redraw and resize: a dialog's dimmed copy of this screen is redone
        self.last_case_asked = ""  # the k dialog offers the case asked for last
        # what y explains: the last thing pointed at (param: the selected parameter; unit: a neuron
        # clicked in the diagram; loss: the loss chart or the rows; case: the events panel)
        self.pointed = "param"
        self.pointed_unit: str | None = None

    if TYPE_CHECKING:  # a MainScreen is XorApp's own (its default screen), never another app's
        app = getters.app(lambda: XorApp)  # (Textual's typed app property; XorApp is defined below)

    @property
    def session(self) -> Session:
        return self.app.session

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield self.player
        yield Header(show_clock=False, icon="⊕")
        yield StatusLine(id="status")
        with Horizontal(id="top"):
            with Vertical(id="left"):
                yield _boxed("diagram-box", "network", NetworkDiagram(id="diagram"))
                yield _boxed("rows-box", "rows", RowsTable(id="rows"))
            with Vertical(id="right"):
                yield _boxed("space-box", "input space", InputSpace(id="space"))
                yield _boxed("loss-box", "loss", LossPlot(id="loss"))
        with Horizontal(id="bottom"):
            yield _boxed("params-box", "parameters (enter edits)", ParamsTable(id="params"))
            yield _boxed("events-box", "what is happening", EventPanel(id="events"))
            yield self.side_box()  # target mode or a lesson, in the events panel's place (modes.py)
        yield KeyFooter()

    def on_mount(self) -> None:
        self._fit(self.app.size)
        self.refresh_view()
        self.query_one(ParamsTable).focus()
        self.call_after_refresh(_tune_gc)  # once the first screen is up

    def on_resize(self, event) -> None:
        self.version += 1
        self._fit(event.size)
        self.call_after_refresh(self._redraw_screens_above)

    def on_key_footer_fitted(self) -> None:
        # keys shown or hidden: once this screen is laid out again, the dialogs' copy is redone
        self.call_after_refresh(self.on_panel_key_changed)

    def on_panel_key_changed(self) -> None:
        """A panel's key follows its width and changes after this screen's own resize (the
        panel hears of its new size later): the dialogs' dimmed copy is redone once more."""
        self.version += 1
        self._redraw_screens_above()

    def _redraw_screens_above(self) -> None:
        """A dialog over this screen shows it dimmed: once this screen is laid out at a new
        size, the dialogs redraw it (they may have drawn before, from the old layout)."""
        stack = self.app.screen_stack
        if self in stack:
            for screen in stack[stack.index(self) + 1 :]:
                screen.refresh()

    def _fit(self, size) -> None:
        self.set_class(size.height < 30, "compact")
        # below FOOTER_ROOM columns the palette's key (^p, in the help) gives its place to the
        # others (help and quit come first); the footer's class, not the screen's: only it is restyled
        footer = self.query_one(KeyFooter)
        footer.set_class(size.width < self.FOOTER_ROOM, "narrow")
        footer.fit(size.width)

    def on_screen_suspend(self) -> None:
        """Any dialog (or the survey, help, palette) on top pauses play."""
        self.player.pause()

    # ------------------------------------------------------------ drawing
    def refresh_view(self) -> None:
        self.version += 1
        f = self.frame = self.session.frame()
        if self.selected not in {p.name for p in f.params}:
            self.selected = f.params[-1].name
        self.before_draw()  # a lesson's task checked, target mode's answer asked for (modes.py)
        self.app.sub_title = f"{f.name} — {f.config.shape}"
        mode = self.mode_text()
        self.query_one(StatusLine).show(f, mode)
        self.query_one(NetworkDiagram).show(f, self.selected)
        self.query_one(RowsTable).show(f)
        self.query_one(InputSpace).show(f)
        self.query_one(LossPlot).show(f)
        self.query_one(ParamsTable).show(f, self.selected)
        self.query_one(EventPanel).show(f, self.message)
        self.draw_side()
        for screen in self.app.screen_stack:  # the why screen follows the run
            if isinstance(screen, WhyScreen) and screen.is_mounted:
                screen.show(f, mode)

    def mode_text(self) -> str:
        """What the player is doing, for the status line: running, playing at a speed, or nothing."""
        p = self.player
        return "running… (x stops)" if p.busy else (p.play_text() if p.playing else "")

    def say(self, message: str, error: bool = False) -> None:
        self.message = message
        if error:
            self.app.notify(message, severity="error", timeout=4, markup=False)
        self.refresh_view()

    def check_action(self, action: str, parameters) -> bool | None:
        if self.player.busy and action in keymap.IDLE_ONLY:
            return None  # shown dimmed, does nothing
        return True

    def refused(self, action: str) -> None:
        """A key was pressed for ``action`` (``load_case(4)``) and check_action refused it: while a run goes, say
        so at once (a notice) and again when the run ends."""
        name, _, arg = action.partition("(")
        if not (self.player.busy and name in keymap.IDLE_ONLY):
            return
        if name == "load_case":
            key = arg.strip("()'\"")
        else:
            key = next((k.keys_text.split(",")[0] for k in keymap.KEYS if k.action == name), name)
        if not self._refused:
            text = f"Still running: {key} was not taken; x or escape stops the run first."
            self.app.notify(text, severity="warning", timeout=4, markup=False)
        self._refused.append(key)

    # ------------------------------------------------------------ the player's reports
    def on_player_stepped(self, _: Player.Stepped) -> None:
        if not self.player.busy:
            self.message = ""
        self.refresh_view()

    def on_player_halted(self, event: Player.Halted) -> None:
        self.say(event.text, error=True)

    def on_player_note(self, event: Player.Note) -> None:
        self.say(f"{capitalised(event.text)}…")

    def on_player_changed(self, _: Player.Changed) -> None:
        if not self.player.busy:
            self.busy = False
        elif not self.busy:
            self.set_timer(self.DIM_AFTER, self._dim_if_still_busy)
        self.refresh_view()

    def _dim_if_still_busy(self) -> None:
        self.busy = self.player.busy

    def _idle_again(self) -> None:
        """A background job's report is taken in: the keys are free. The footer is told even
        when ``busy`` never went up (a run shorter than DIM_AFTER): check_action refused the
        keys all along, and a footer built meanwhile showed them dimmed, for good."""
        self.player.done()
        self.busy = False
        self.refresh_bindings()

    def on_player_run_finished(self, event: Player.RunFinished) -> None:
        self._idle_again()
        f = self.session.frame()
        why = (
            "no parameter receives gradient"
            if all(p.frozen for p in f.params)
            else "every update is smaller than half a float32 step of its parameter, so it rounds to nothing"
        )
        end = (
            f"No event in {self.EVENT_HORIZON:,} epochs: stopped at epoch {f.epoch:,}."
            if event.looking_for_event
            else f"Reached epoch {f.epoch:,}."
        )
        text = {
            "end": end,
            "stopped": f"Stopped at epoch {f.epoch}.",
            "event": f"Stopped at epoch {f.epoch}: " + "; ".join(e.text for e in f.events if e.epoch == f.epoch),
            "halted": f"Training halted at epoch {f.epoch} (y says why): {f.halt.message if f.halt else ''}",
            "fixed": f"Stopped at epoch {f.epoch}: the state no longer changes ({why}), so no event can "
            "ever come. Edit a weight or swap an activation to go on.",
        }
        said = text[event.reason]
        if self.run_from <= self.session.epochs < f.epoch:  # `n` may look beyond the scenario's epochs
            said += f" (past the scenario's end at epoch {self.session.epochs:,}; b steps back)"
        if self._refused:
            said += f" Not taken while it ran: {', '.join(dict.fromkeys(self._refused))} (press again)."
        self.say(said)

    def on_player_seed_found(self, event: Player.SeedFound) -> None:
        self._idle_again()
        if event.seed is None:
            self.say(f"No seed found for case {event.case}.", error=True)
            return
        self.app.session = Session.from_seed(event.seed)
        self.say(f"Seed {event.seed} starts in case {event.case}.")

    def on_player_log_loaded(self, event: Player.LogLoaded) -> None:
        self._idle_again()
        shown = printable(self.app.files.shown(Path(event.path)), 300)
        if event.cancelled:
            self.say(f"Stopped reading {shown}: nothing loaded.")
            return
        if event.error:
            self.say(event.error, error=True)
            return
        self._load(
            Session.from_scenario(event.scenario),
            f"Loaded run 1 of {shown}: {event.scenario.description}",
            file=event.path,
        )

    # ------------------------------------------------------------ stepping
    def action_step(self) -> None:
        self.player.pause()
        self.player.step()

    def action_back(self) -> None:
        self.player.pause()
        if self.session.epoch == 0 and self.session.undo_restart():  # b right after r or s
            self.say(f"Back to {self.session.name} at epoch {self.session.epoch}, as it was before the restart.")
            return
        undone = self.session.undo_edit()  # the user's changes at this epoch first, one by one
        if undone is not None:
            self.say(f"Undid {undone} (epoch {self.session.epoch}).")
            return
        dropped = self.session.back()
        if dropped is None:
            self.say("Already at epoch 0.")
        elif dropped:
            self.say(
                f"Stepped back to epoch {self.session.epoch}; undone with the dropped epoch: {'; '.join(dropped)}."
            )
        else:
            self.say("")

    def action_play(self) -> None:
        self.player.toggle()

    def action_faster(self) -> None:
        self.say(f"Play speed: {self.player.change_speed(+1)} epochs per second.")

    def action_slower(self) -> None:
        self.say(f"Play speed: {self.player.change_speed(-1)} epochs per second.")

    def action_run_end(self) -> None:
        s = self.session
        if s.epoch >= s.epochs:
            self.say(
                f"Already at the end (epoch {s.epoch}; the scenario has {s.epochs}): "
                "space steps on, n runs to the next event."
            )
            return
        self._start_run(s.epochs, stop_on_event=False)

    def run_to(self, epoch: int) -> None:
        """Run to ``epoch`` (or a halt) off the UI thread, as ``e`` does to the scenario's end."""
        self._start_run(epoch, stop_on_event=False)

    EVENT_HORIZON = keymap.EVENT_HORIZON

    def action_next_event(self) -> None:
        self._start_run(self.session.epoch + self.EVENT_HORIZON, stop_on_event=True)

    def _start_run(self, target: int, stop_on_event: bool) -> None:
        self.player.pause()
        if self.session.record.halted:
            self.say("Training has halted: step back (b) or change something first.", error=True)
            return
        self.message = "Running… (x or escape stops)"
        self.run_from = self.session.epoch  # where the run started, for what its end says
        self._refused = []
        self.player.run_to(target, stop_on_event)

    def action_stop(self) -> None:
        if self.target_case is not None and not (self.player.busy or self.player.playing):
            self.leave_target()  # escape with nothing to stop leaves target mode
            return
        self.player.stop()

    # ------------------------------------------------------------ starts
    def _load(self, session: Session, message: str, file: str | Path | None = None) -> None:
        """Show ``session``; ``file``: the file it came from (screenshots go next to it)."""
        self.player.pause()
        self.app.session = session
        self.app.session_file = None if file is None else Path(file)
        self.hint_shown, self.show_lesson = False, True
        self.say(message)

    def action_restart(self) -> None:
        if self.restart_lesson_task():
            return
        self.player.pause()
        was = self.session.epoch
        dropped = self.session.restart()
        said = f"Restarted from {self.session.start_text}."
        if dropped:
            shown = "; ".join(dropped[:3]) + (f"; and {len(dropped) - 3} more" if len(dropped) > 3 else "")
            said += f" Your changes were dropped ({shown}): b brings them back, with epoch {was}."
        elif self.session.can_undo_restart:
            said += f" b goes back to epoch {was}."
        self.say(said)

    def action_reseed(self) -> None:
        self.player.pause()
        was = self.session.name
        seed = self.session.reseed()
        self.say(f"New start: seed {seed} (b goes back to {was}).")

    def action_seed_prompt(self) -> None:
        def done(text: str | None) -> None:
            if text is not None:
                seed = self.session.reseed(int(text))
                self.say(f"Start: seed {seed}.")

        self.app.push_screen(PromptScreen("Seed (a whole number from 0 to 2**63-1)", "", validate=_seed_problem), done)

    def action_load_case(self, k: str) -> None:
        session = Session.from_builtin(f"case{k}")
        self._load(session, _loaded(f"case {k}", session.description))

    def action_pick_scenario(self) -> None:
        options = [(n, f"{n:<12} {_shorten(d.split('. ')[0], 70)}") for n, d in builtin_scenarios()]

        def done(name: str | None) -> None:
            if name:
                session = Session.from_builtin(name)
                self._load(session, _loaded(name, session.description))

        self.app.push_screen(ChoiceScreen("Load a built-in scenario", options, self.session.name), done)

    def action_open_file(self) -> None:
        loaded: list[Opened] = []

        def check(text: str) -> str | None:
            # which kind of file it is, and where it may be read, are the core's (open_path)
            loaded.clear()
            try:
                loaded.append(open_path(text, self.app.files))
            except (ScenarioError, SpecError, OSError) as exc:
                return printable(str(exc), 300)
            return None

        def done(text: str | None) -> None:
            if text is None or self.player.busy or not loaded:
                return
            opened = loaded[0]
            if opened.log is not None:
                shown = printable(self.app.files.shown(Path(opened.log)), 300)
                self.message = f"Reading {shown}: recovering the float32 start of its first run… (x or escape stops)"
                self.player.load_log(opened.log)
            elif opened.session is not None:
                self._load(opened.session, _loaded(text.strip(), opened.session.description), file=opened.file)

        self.app.push_screen(
            PromptScreen(
                "Scenario file (.toml), PyTorch state_dict (.pt), printout log or built-in name", "", validate=check
            ),
            done,
        )

    def action_save(self) -> None:
        files = self.app.files
        try:
            files.check_writes()
        except OSError as exc:  # --read-only: said when w is pressed, no dialog
            self.say(f"Not saved: {exc}.", error=True)
            return
        default = f"{self.session.name.replace(' ', '-')}-epoch{self.session.epoch}.toml"

        def check(text: str) -> str | None:
            # refuse now what can never be written (a device, a FIFO, a folder, a missing
            # folder, a path out of a served folder...), so the overwrite question is only
            # ever asked about a regular file
            try:
                files.writable(text)
            except OSError as exc:
                return printable(str(exc), 300)
            return None

        def write(path: Path, overwrite: bool) -> None:
            try:
                sc = self.session.save_as(files, path, overwrite=overwrite)
            except (OSError, ScenarioError) as exc:  # a vanished folder; a session replay would refuse
                self.say(f"Not saved: {printable(str(exc), 300)}", error=True)
                return
            self.app.session_file = path  # the session now lives in this file
            shown = printable(str(path), 200)
            without = self.session.lesson_saved_without
            said = f"({len(sc.script)} action(s), {sc.epochs} epoch(s))."
            said += f" The lesson's {without}." if without else ""
            self.say(f"Saved {shown}: `xor-tui replay {shown}` reproduces this session {said}")

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                path = files.writable(text)
            except OSError as exc:  # changed since the dialog's check
                self.say(f"Not saved: {printable(str(exc), 300)}", error=True)
                return
            if path.exists():
                self.app.push_screen(
                    ConfirmScreen(f"{path} exists. Overwrite it?"),
                    lambda yes: write(path, True) if yes else self.say("Not saved."),
                )
            else:
                write(path, False)

        self.app.push_screen(PromptScreen("Save the session as a scenario file", default, validate=check), done)

    # ------------------------------------------------------------ changing things
    def _act(self, fn, ok: str) -> None:
        self.player.pause()
        try:
            result = fn()
        except SpecError as exc:
            self.say(str(exc), error=True)
            return
        self.say(ok.format(result=result))

    def action_cycle_hidden(self) -> None:
        layer = self.session.config.layer_names[0]
        self._act(lambda: self.session.cycle_activation(layer), f"{layer} activation: {{result}}.")

    def action_cycle_output(self) -> None:
        self._act(lambda: self.session.cycle_activation("output"), "output activation: {result}.")

    def action_pick_activation(self) -> None:
        names = self.session.config.layer_names

        def pick_act(layer: str | None) -> None:
            if layer is None:
                return
            current = self.session.config.activations[names.index(layer)].name

            def done(act: str | None) -> None:
                if act:
                    self._act(lambda: self.session.set_activation(layer, act), f"{layer} activation: {act}.")

            self.app.push_screen(ChoiceScreen(f"Activation for {layer}", [(a, a) for a in ACTIVATIONS], current), done)

        self.app.push_screen(ChoiceScreen("Which layer?", [(n, n) for n in names], "hidden"), pick_act)

    def action_set_lr(self) -> None:
        def check(text: str) -> str | None:
            try:
                self.session.check_lr(text)
            except SpecError as exc:
                return str(exc)
            return None

        def change(text: str) -> str:
            return self.session.set_lr(text) or f"{self.session.frame().config.lr_text} (unchanged)"

        def done(text: str | None) -> None:
            if text is not None:
                self._act(lambda: change(text), "learning rate: {result}.")

        self.refresh_view()
        assert self.frame is not None  # refresh_view has just drawn one
        c = self.frame.config
        hint = f"one for every layer, or one per layer: {'/'.join(c.layer_names)}" if len(c.layer_names) > 1 else ""
        self.app.push_screen(PromptScreen("Learning rate", c.lr_text, hint=hint, validate=check), done)

    def action_cycle_loss(self) -> None:
        self._act(self.session.cycle_loss, "loss: {result}.")

    def action_edit(self) -> None:
        self.player.pause()
        # the table's cursor, read now: its "highlighted" report of a move just made may still be queued
        self.selected = self.query_one(ParamsTable).selected_name() or self.selected
        self.refresh_view()  # a step may have landed since the last redraw: show and edit where the run is
        assert self.frame is not None  # refresh_view has just drawn one
        frame = self.frame
        name = self.selected
        value = frame.param(name).value

        def check(text: str) -> str | None:
            try:
                check_value(text, name)
            except SpecError as exc:
                return str(exc)
            return None

        shown = str(np.float32(value))  # the shortest text that gives back the same float32

        def done(text: str | None) -> None:
            if text is None:
                return
            if str(np.float32(check_value(text, name))) == shown:  # Enter on the value as it was
                self.say(f"{name} unchanged ({shown}).")
                return
            self._act(lambda: self.session.set_param(name, text), f"{name} = {{result:.6g}}.")

        self.app.push_screen(
            PromptScreen(
                f"New value for {name} (epoch {frame.epoch})",
                shown,
                validate=check,
                hint="A finite number with |value| <= 1e6. The diagnosis updates at once.",
            ),
            done,
        )

    def _select(self, d: int) -> None:
        assert self.frame is not None  # drawn on mount, before any key
        names = [p.name for p in self.frame.params]
        i = names.index(self.selected) if self.selected in names else 0
        self.selected = names[(i + d) % len(names)]
        self.pointed = "param"
        self.refresh_view()

    def action_select_prev(self) -> None:
        self._select(-1)

    def action_select_next(self) -> None:
        self._select(+1)

    def on_params_table_highlighted(self, event: ParamsTable.Highlighted) -> None:
        self.pointed = "param"
        if event.name != self.selected:
            self.selected = event.name
            assert self.frame is not None  # the table reports moves only once it shows a frame
            self.query_one(NetworkDiagram).show(self.frame, event.name)

    def on_params_table_chosen(self, event: ParamsTable.Chosen) -> None:
        self.selected = event.name
        if self.check_action("edit", ()):
            self.action_edit()

    def on_network_diagram_param_clicked(self, event: NetworkDiagram.ParamClicked) -> None:
        """A connection or a bias (its weight or bias selected), or a neuron (its bias selected,
        and y then explains the neuron itself)."""
        self.selected = event.name
        self.pointed, self.pointed_unit = ("unit", event.unit) if event.unit else ("param", None)
        self.refresh_view()

    # the panels whose focus says what y explains (the diagram's is what was clicked in it)
    FOCUS_SUBJECT = {"params": "param", "loss": "loss", "rows": "loss", "events": "case"}

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """A panel took the focus: what y explains follows it (see FOCUS_SUBJECT)."""
        subject = self.FOCUS_SUBJECT.get(event.widget.id or "")
        if subject is not None:
            self.pointed = subject

    def action_why(self) -> None:
        """y: why, not only what. The explanation of what is pointed at (the selected parameter,
        a clicked neuron, the loss chart or the rows, the events panel's case); at a halt, the
        halt first."""
        if any(isinstance(s, WhyScreen) for s in self.app.screen_stack):
            return
        unit = self.pointed_unit if self.pointed == "unit" else None
        self.app.push_screen(WhyScreen(self.pointed, unit))

    # ------------------------------------------------------------ survey, seeds, help, views
    def action_survey(self) -> None:
        from xor_tui.app.screens.survey import SurveyScreen

        self.player.pause()
        self.app.push_screen(SurveyScreen(self.session.config))

    def action_sweep(self) -> None:
        from xor_tui.app.screens.sweep import SweepScreen

        self.player.pause()
        self.app.push_screen(SweepScreen(self.session.config))

    def action_find_seed(self) -> None:
        def check(text: str) -> str | None:
            if text.strip() not in [str(k) for k in range(1, 9)]:
                return "enter a case number from 1 to 8"
            return None

        def done(text: str | None) -> None:
            if text is not None and not self.player.busy:
                self.last_case_asked = text.strip()
                self.message = f"Searching for a seed in case {text.strip()}…"
                self.player.find_seed(int(text))

        f = self.session.frame()
        default = self.last_case_asked or str(f.case or f.nearest or 1)  # the last asked, else this start's
        self.app.push_screen(
            PromptScreen(
                "Find a seed whose start is in case…",
                default,
                validate=check,
                hint="Searches seeds from a random point; the 2-2-1 ReLU/ReLU net.",
            ),
            done,
        )

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(keymap.help_rows()))

    def action_maximize(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        self.maximize(self.focused or self.query_one(ParamsTable))

    def action_screenshot(self) -> None:
        said = self.app.save_screen_said()
        self.say(said, error=said.startswith("Screen not"))


class XorApp(App):
    """Owns the session (the settings and the run) and the screens over it."""

    TITLE = "xor-tui"
    CSS_PATH = "app.tcss"

    def __init__(
        self,
        scenario: Scenario | None = None,
        seed: int | None = None,
        scenario_file: str | Path | None = None,
        files: Files | None = None,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.files = files or Files()  # where f, w and i may reach (xor-tui serve: one folder)
        self.leaving = False  # quit was asked: no key, click or paste acts any more
        if scenario is not None:
            self.session = Session.from_scenario(scenario)
        else:
            self.session = Session.from_seed(0 if seed is None else seed)
        self.session_file: Path | None = None if scenario_file is None else Path(scenario_file)
        self.main = MainScreen()
        if scenario is not None:  # a teacher's scenario speaks for itself on opening
            said = _loaded(scenario.name, scenario.description)
            self.main.message = said + ("" if said.endswith(".") else ".") + " ? lists every key."

    @property
    def session(self) -> Session:
        return self._session

    @session.setter
    def session(self, session: Session) -> None:
        """A new session; it came from no file until told otherwise (``session_file``)."""
        self._session = session
        self.session_file = None

    def get_default_screen(self) -> Screen:
        return self.main

    def exit(self, *args, **kwargs) -> None:
        """Leave; from now on no input acts (keys typed in one burst after q were still read:
        q then i wrote a screenshot on the way out)."""
        self.leaving = True
        super().exit(*args, **kwargs)

    async def on_event(self, event: events.Event) -> None:
        # leaving, or a key still queued as the app takes its screens down (no screen to take it:
        # Textual's own key handling would raise ScreenStackError): dropped
        if (self.leaving or not self.screen_stack) and isinstance(event, (events.InputEvent, events.Paste)):
            event.stop()
            event.prevent_default()
            return
        if isinstance(event, events.Key) and not event.is_forwarded and self.screen_stack:
            event._xor_screen = self.screen  # type: ignore[attr-defined]  # the screen it was typed at
        await super().on_event(event)

    async def _on_key(self, event: events.Key) -> None:
        """A key back from the screen it was typed at. If another screen opened meanwhile (the
        key typed right after the one that opened it: t 3, v enter, y u), it is that screen's:
        given to it (dialogs.TypeAhead), not looked up among its bindings and dropped."""
        typed_at = getattr(event, "_xor_screen", None)
        if not self.screen_stack:  # a key still queued as the app shuts down: no screen to take it
            event.prevent_default()  # (else Textual's App._on_key runs next and raises ScreenStackError)
            return
        screen = self.screen
        opened_over = typed_at is not None and typed_at is not screen and typed_at in self.screen_stack
        if opened_over and isinstance(screen, TypeAhead):
            event._xor_screen = screen  # type: ignore[attr-defined]
            event.prevent_default()  # App's own _on_key does not look it up
            screen.take(event)

    def on_unmount(self) -> None:
        """Leaving: the kernels compiling in the background (child processes) are stopped."""
        stop_compiles()

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:
        """Every key's action comes here; one the main screen refuses while a run goes is
        said not taken (it was dropped without a word when pressed just after e or n)."""
        done = await super().run_action(action, default_namespace, namespaces)
        if not done and default_namespace is self.main and isinstance(action, str):
            self.main.refused(action)
        return done

    def action_command_palette(self) -> None:
        from xor_tui.app.screens.dialogs import Palette

        if self.use_command_palette and not Palette.is_open(self):
            self.push_screen(Palette(id="--command-palette"))

    # Textual's own entries that an xor-tui one does better: z maximises and restores, and i
    # saves the screen next to the session (Textual's "Screenshot" writes elsewhere)
    REPLACED_COMMANDS = frozenset({"Maximize", "Minimize", "Screenshot"})

    def push_screen(self, screen, *args, **kwargs):
        """Any screen on top of the main one pauses play at once, before the next tick: a
        dialog's pre-filled value and what it acts on are the epoch it showed."""
        main = getattr(self, "main", None)
        if main is not None and main.is_mounted and screen is not main:
            main.player.pause()
        return super().push_screen(screen, *args, **kwargs)

    def get_system_commands(self, screen):
        for command in super().get_system_commands(screen):
            if command.title not in self.REPLACED_COMMANDS:
                yield command
        main = self.main
        if screen is not main:  # opened over a dialog or the survey: main's actions must not act behind it
            return
        for k in keymap.palette_entries():
            yield SystemCommand(
                capitalised(k.help),
                f"xor-tui: {k.keys_text}",
                lambda a=k.action: self.call_later(main.run_action, a),
            )
        described = dict(builtin_scenarios())
        for case in range(1, 9):
            yield SystemCommand(
                f"Load case {case}",
                _shorten(described[f"case{case}"], 80),
                lambda case=case: self.call_later(main.run_action, f"load_case({case})"),
            )

    def save_screen_said(self) -> str:
        """Save the screen (``save_fresh_screenshot``) and say so in one line: where, or why not."""
        try:
            path = self.save_fresh_screenshot()
        except OSError as exc:  # SaveError names the file and says why, in one line
            return f"Screen not saved: {printable(str(exc), 300)}"
        return f"Saved the screen as {printable(self.files.shown(path), 300)}."

    def action_save_screen(self) -> None:
        """``i`` on the survey and sweep screens: the screen saved, said in a notice."""
        said = self.save_screen_said()
        self.notify(said, severity="error" if said.startswith("Screen not") else "information", markup=False)

    def save_fresh_screenshot(self) -> Path:
        """Save the screen as SVG next to the session (where and under which name: the core's
        ``Session.save_screen``), within this app's ``files`` policy. Never overwrites.
        Raises OSError with a one-line message (read-only, the quota, a folder not writable)."""
        self.files.check_writes()  # before the export: read-only costs nothing
        svg = self.export_screenshot(title=f"xor-tui: {self.session.name}, epoch {self.session.epoch}")
        return self.session.save_screen(self.files, svg, self.session_file)


_gc_tuned = False


def _tune_gc() -> None:
    """Once per process, when the first screen is up: keep the collector off what startup
    built (PyTorch, Textual, the first screen: about 200,000 objects that live as long as the
    app) and let it run less often. Each step makes thousands of short-lived objects; with
    Python's defaults the collector ran several times a step and a full collection, which
    walked every one of those objects, took 150-180 ms (measured with gc.callbacks while
    stepping; benchmarks/app_step.py). Textual itself pauses the collector while scrolling."""
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


_boxed = boxed  # a titled panel that z maximises (components/panel.py)


def _seed_problem(text: str) -> str | None:
    try:
        check_seed(text.strip())
    except SpecError as exc:
        return str(exc)
    return None


def _loaded(label: str, description: str) -> str:
    """What the events panel says on loading ``label``: its description says its name
    already ("Case 3: ...") or is put after it."""
    if not description:
        return f"Loaded {label}."
    head = description.split(":", 1)[0]
    if head.replace(" ", "").lower() == label.replace(" ", "").lower():
        return f"Loaded {description}"
    return f"Loaded {label}: {description}"


def _shorten(text: str, width: int) -> str:
    """At most ``width`` characters, cut at a word with "…", never mid-word."""
    return textwrap.shorten(text, width, placeholder=" …")
