"""The xor-tui app: a thin view over a core Session."""

from __future__ import annotations

import time
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header
from textual.worker import get_current_worker

from ..core import engine
from ..core.activations import NAMES as ACTIVATIONS
from ..core.activations import SpecError
from ..core.run import RunHalted, check_seed, check_value
from ..core.scenario import ScenarioError, builtin, builtin_names, resolve, save
from ..core.session import Session
from .components.diagram import NetworkDiagram
from .components.events import EventPanel
from .components.input_space import InputSpace
from .components.loss_plot import LossPlot
from .components.panel import boxed
from .components.status import StatusLine
from .components.tables import ParamsTable, RowsTable
from .screens.dialogs import ChoiceScreen, ConfirmScreen, HelpScreen, PromptScreen

SPEEDS = (1, 2, 5, 10, 30, 60, 120, 240)
WELCOME = (
    "Welcome. Keys 1-8 load the source's eight cases; space steps one epoch, p plays, "
    "enter edits the selected weight, ? lists every key."
)

# (key, action, description, shown in the footer)
KEYS = [
    ("space", "step", "Step one epoch", True),
    ("b", "back", "Step back one epoch", True),
    ("p", "play", "Play / pause", True),
    ("e", "run_end", "Run to the end (the scenario's epochs)", True),
    ("n", "next_event", "Run to the next event", True),
    ("x", "stop", "Stop a run", False),
    ("plus", "faster", "Play faster", False),
    ("minus", "slower", "Play slower", False),
    ("r", "restart", "Restart from the same start", False),
    ("s", "reseed", "Reseed: a new random start", True),
    ("g", "seed_prompt", "Go to a seed you type", False),
    ("h", "cycle_hidden", "Cycle the hidden activation", False),
    ("o", "cycle_output", "Cycle the output activation", False),
    ("a", "pick_activation", "Pick an activation for a layer", False),
    ("l", "set_lr", "Change the learning rate", False),
    ("m", "cycle_loss", "Cycle the loss (bce, bce-logits, mse)", False),
    ("enter", "edit", "Edit the selected weight or bias", True),
    ("left_square_bracket", "select_prev", "Select the previous parameter", False),
    ("right_square_bracket", "select_next", "Select the next parameter", False),
    ("c", "pick_scenario", "Load a built-in scenario", True),
    ("f", "open_file", "Load a scenario file or a .pt state_dict", False),
    ("w", "save", "Save the session as a scenario", False),
    ("v", "survey", "Survey many random starts", False),
    ("k", "find_seed", "Find a seed for a case", False),
    ("question_mark", "help", "Help: every key", True),
    ("q", "quit", "Quit", True),
]
SHORT = {
    "step": "Step",
    "back": "Back",
    "play": "Play/pause",
    "run_end": "To end",
    "next_event": "Next event",
    "stop": "Stop",
    "faster": "Faster",
    "slower": "Slower",
    "restart": "Restart",
    "reseed": "Reseed",
    "seed_prompt": "Seed…",
    "cycle_hidden": "Hidden act",
    "cycle_output": "Output act",
    "pick_activation": "Activation…",
    "set_lr": "LR…",
    "cycle_loss": "Loss",
    "edit": "Edit",
    "select_prev": "Prev param",
    "select_next": "Next param",
    "pick_scenario": "Scenarios",
    "open_file": "Open…",
    "save": "Save…",
    "survey": "Survey",
    "find_seed": "Find seed",
    "help": "Help",
    "quit": "Quit",
}
KEY_LABELS = {"left_square_bracket": "[", "right_square_bracket": "]", "question_mark": "?", "plus": "+", "minus": "-"}


class XorApp(App):
    TITLE = "xor-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = (
        [Binding(k, a, SHORT[a], show=shown) for k, a, d, shown in KEYS]
        + [
            Binding("right", "step", "Step", show=False),
            Binding("left", "back", "Back", show=False),
            Binding("escape", "stop", "Stop", show=False),
            Binding("equals_sign", "faster", "Faster", show=False),
        ]
        + [Binding(str(k), f"load_case({k})", f"Case {k}", show=False) for k in range(1, 9)]
    )

    def __init__(self, scenario=None, seed: int | None = None, **kw) -> None:
        super().__init__(**kw)
        if scenario is not None:
            self.session = Session.from_scenario(scenario)
        else:
            self.session = Session.from_seed(0 if seed is None else seed)
        self.selected = "output.bias[0]"
        self.message = WELCOME
        self.speed = 30
        self.playing = False
        self.busy = False  # a background run is going
        self._stop = False
        self._timer = None

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
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
        yield Footer()

    def on_mount(self) -> None:
        self._fit(self.size.height)
        self.refresh_view()
        self.query_one(ParamsTable).focus()

    def on_resize(self, event) -> None:
        self._fit(event.size.height)

    def _fit(self, height: int) -> None:
        self.screen.set_class(height < 30, "compact")

    # ------------------------------------------------------------ drawing
    def refresh_view(self) -> None:
        s = self.session
        frame = self.frame = s.frame()
        if self.selected not in {p.name for p in frame.params}:
            self.selected = frame.params[-1].name
        self.sub_title = f"{s.name} — {frame.config.shape}"
        mode = "running…" if self.busy else (f"playing {self.speed}/s" if self.playing else "")
        self.query_one(StatusLine).show(frame, mode)
        self.query_one(NetworkDiagram).show(frame, self.selected)
        self.query_one(RowsTable).show(frame)
        self.query_one(InputSpace).show(frame)
        self.query_one(LossPlot).show(frame)
        self.query_one(ParamsTable).show(frame, self.selected)
        self.query_one(EventPanel).show(frame, self.message)

    def say(self, message: str, error: bool = False) -> None:
        self.message = message
        if error:
            self.notify(message, severity="error", timeout=4, markup=False)
        self.refresh_view()

    def _idle(self) -> bool:
        if self.busy:
            self.notify("A run is going: press x or escape to stop it first.", severity="warning", markup=False)
            return False
        return True

    # ------------------------------------------------------------ stepping
    def action_step(self) -> None:
        if not self._idle():
            return
        self._pause()
        self._step_once()

    def _step_once(self) -> bool:
        return self._advance(1)

    def _advance(self, epochs: int) -> bool:
        """Step ``epochs`` times, then draw once; a halt pauses play and says what to do."""
        try:
            for _ in range(epochs):
                self.session.step()
        except RunHalted as exc:
            self._pause()
            self.say(f"{exc}. Step back (b), edit a weight (enter) or swap an activation (h/o) to go on.")
            return False
        self.message = ""
        self.refresh_view()
        return True

    def action_back(self) -> None:
        if not self._idle():
            return
        self._pause()
        dropped = self.session.back()
        self.say("" if dropped is not None else "Already at epoch 0.")

    def action_play(self) -> None:
        if not self._idle():
            return
        if self.playing:
            self._pause()
            self.refresh_view()
            return
        if self.session.run.halted:
            self.say("Training has halted: step back (b) or change something first.", error=True)
            return
        self.playing = True
        self._schedule()
        self.refresh_view()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._play_from = (time.monotonic(), self.session.epoch)
        self._timer = self.set_interval(1 / min(self.speed, 60), self._tick)

    def _tick(self) -> None:
        """Step as many epochs as the speed asks for since play began (drawing once), so
        the rate holds even when a redraw takes longer than a timer period."""
        if not self.playing:
            return
        t0, e0 = self._play_from
        due = e0 + int((time.monotonic() - t0) * self.speed) - self.session.epoch
        self._advance(min(max(due, 1), 20))

    def _pause(self) -> None:
        self.playing = False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def action_faster(self) -> None:
        self._change_speed(+1)

    def action_slower(self) -> None:
        self._change_speed(-1)

    def _change_speed(self, d: int) -> None:
        i = min(max(SPEEDS.index(self.speed) + d, 0), len(SPEEDS) - 1) if self.speed in SPEEDS else 4
        self.speed = SPEEDS[i]
        if self.playing:
            self._schedule()
        self.say(f"Play speed: {self.speed} epochs per second.")

    def action_run_end(self) -> None:
        target = max(self.session.epochs, self.session.epoch + 1)
        self._start_run(target, stop_on_event=False)

    def action_next_event(self) -> None:
        self._start_run(self.session.epoch + 100_000, stop_on_event=True)

    def _start_run(self, target: int, stop_on_event: bool) -> None:
        if not self._idle():
            return
        self._pause()
        if self.session.run.halted:
            self.say("Training has halted: step back (b) or change something first.", error=True)
            return
        self.busy, self._stop = True, False
        self.message = "Running… (x or escape stops)"
        self.refresh_view()
        self._run_worker(target, stop_on_event)

    @work(thread=True, exclusive=True, group="train")
    def _run_worker(self, target: int, stop_on_event: bool) -> None:
        worker = get_current_worker()
        last = [time.monotonic()]

        def redraw_now_and_then() -> None:
            now = time.monotonic()
            if now - last[0] > 0.1:
                last[0] = now
                self.call_from_thread(self.refresh_view)

        reason = self.session.run_until(
            target, stop_on_event, should_stop=lambda: worker.is_cancelled or self._stop, on_step=redraw_now_and_then
        )
        self.call_from_thread(self._run_done, reason)

    def _run_done(self, reason: str) -> None:
        self.busy = False
        s = self.session
        text = {
            "end": f"Reached epoch {s.epoch}.",
            "stopped": f"Stopped at epoch {s.epoch}.",
            "event": f"Stopped at epoch {s.epoch}: " + "; ".join(e.text for e in s.trace.events[-1]),
            "halted": f"Training halted at epoch {s.epoch}: {s.record.halt.message if s.record.halt else ''}",
        }
        self.say(text[reason])

    def action_stop(self) -> None:
        if self.busy:
            self._stop = True
        elif self.playing:
            self._pause()
            self.refresh_view()

    # ------------------------------------------------------------ starts
    def _load(self, session: Session, message: str) -> None:
        self._pause()
        self.session = session
        self.say(message)

    def action_restart(self) -> None:
        if not self._idle():
            return
        self._pause()
        self.session.restart()
        self.say(f"Restarted from {self.session.start_text}.")

    def action_reseed(self) -> None:
        if not self._idle():
            return
        self._pause()
        seed = self.session.reseed()
        self.say(f"New start: seed {seed}.")

    def action_seed_prompt(self) -> None:
        if not self._idle():
            return

        def done(text: str | None) -> None:
            if text is not None:
                seed = self.session.reseed(int(text))
                self.say(f"Start: seed {seed}.")

        self.push_screen(PromptScreen("Seed (a whole number from 0 to 2**63-1)", "", validate=_seed_problem), done)

    def action_load_case(self, k: int) -> None:
        if not self._idle():
            return
        self._load(Session.from_scenario(builtin(f"case{k}")), f"Loaded case {k}: {builtin(f'case{k}').description}")

    def action_pick_scenario(self) -> None:
        if not self._idle():
            return
        options = [(n, f"{n:<12} {builtin(n).description.split('. ')[0][:70]}") for n in builtin_names()]

        def done(name: str | None) -> None:
            if name:
                sc = builtin(name)
                self._load(Session.from_scenario(sc), f"Loaded {name}: {sc.description}")

        self.push_screen(ChoiceScreen("Load a built-in scenario", options, self.session.name), done)

    def action_open_file(self) -> None:
        if not self._idle():
            return
        loaded = {}

        def check(text: str) -> str | None:
            path = text.strip()
            try:
                if path.endswith(".pt"):
                    loaded["session"] = Session.from_state_dict_file(path)
                else:
                    loaded["session"] = Session.from_scenario(resolve(path))
            except (ScenarioError, SpecError) as exc:
                return str(exc)
            return None

        def done(text: str | None) -> None:
            if text is not None:
                session = loaded["session"]
                self._load(session, f"Loaded {text.strip()}: {session.description}")

        self.push_screen(
            PromptScreen("Scenario file (.toml), PyTorch state_dict (.pt) or built-in name", "", validate=check), done
        )

    def action_save(self) -> None:
        if not self._idle():
            return
        default = f"{self.session.name.replace(' ', '-')}-epoch{self.session.epoch}.toml"

        def check(text: str) -> str | None:
            p = Path(text.strip()).expanduser()
            if not text.strip():
                return "give a file name"
            if p.is_dir():
                return f"{p} is a directory"
            if not p.parent.is_dir():
                return f"{p.parent} is not a directory"
            return None

        def write(path: Path, overwrite: bool) -> None:
            try:
                with self.session.lock:
                    sc = self.session.to_scenario()
                save(sc, path, overwrite=overwrite)
            except OSError as exc:
                self.say(f"Not saved: {exc}", error=True)
                return
            self.say(
                f"Saved {path}: `xor-tui replay {path}` reproduces this session "
                f"({len(sc.script)} action(s), {sc.epochs} epoch(s))."
            )

        def done(text: str | None) -> None:
            if text is None:
                return
            path = Path(text.strip()).expanduser()
            if path.exists():
                self.push_screen(
                    ConfirmScreen(f"{path} exists. Overwrite it?"),
                    lambda yes: write(path, True) if yes else self.say("Not saved."),
                )
            else:
                write(path, False)

        self.push_screen(PromptScreen("Save the session as a scenario file", default, validate=check), done)

    # ------------------------------------------------------------ changing things
    def _act(self, fn, ok: str) -> None:
        if not self._idle():
            return
        self._pause()
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
        if not self._idle():
            return
        names = self.session.config.layer_names

        def pick_act(layer: str | None) -> None:
            if layer is None:
                return
            current = self.session.config.activations[names.index(layer)].name
            self.push_screen(
                ChoiceScreen(f"Activation for {layer}", [(a, a) for a in ACTIVATIONS], current),
                lambda act: (
                    act and self._act(lambda: self.session.set_activation(layer, act), f"{layer} activation: {act}.")
                ),
            )

        self.push_screen(ChoiceScreen("Which layer?", [(n, n) for n in names], "hidden"), pick_act)

    def action_set_lr(self) -> None:
        if not self._idle():
            return

        def check(text: str) -> str | None:
            try:
                engine.check_lr(float(text), "learning rate")
            except ValueError as exc:
                return str(exc) if isinstance(exc, SpecError) else f"{text!r} is not a number"
            return None

        self.push_screen(
            PromptScreen("Learning rate", f"{self.session.config.lr:g}", validate=check),
            lambda t: t is not None and self._act(lambda: self.session.set_lr(t), "learning rate: {result:g}."),
        )

    def action_cycle_loss(self) -> None:
        self._act(self.session.cycle_loss, "loss: {result}.")

    def action_edit(self) -> None:
        if not self._idle():
            return
        name = self.selected
        value = self.session.record.value(engine.parse_param(name, self.session.config))

        def check(text: str) -> str | None:
            try:
                check_value(text, name)
            except SpecError as exc:
                return str(exc)
            return None

        self.push_screen(
            PromptScreen(
                f"New value for {name}",
                f"{value:.6g}",
                validate=check,
                hint="A finite number with |value| <= 1e6. The diagnosis updates at once.",
            ),
            lambda t: t is not None and self._act(lambda: self.session.set_param(name, t), f"{name} = {{result:.6g}}."),
        )

    def _select(self, d: int) -> None:
        names = [r.name for r in self.session.param_rows()]
        i = names.index(self.selected) if self.selected in names else 0
        self.selected = names[(i + d) % len(names)]
        self.refresh_view()

    def action_select_prev(self) -> None:
        self._select(-1)

    def action_select_next(self) -> None:
        self._select(+1)

    def on_params_table_highlighted(self, event: ParamsTable.Highlighted) -> None:
        if event.name != self.selected:
            self.selected = event.name
            self.query_one(NetworkDiagram).show(self.frame, event.name)

    def on_params_table_chosen(self, event: ParamsTable.Chosen) -> None:
        self.selected = event.name
        self.action_edit()

    def on_network_diagram_param_clicked(self, event: NetworkDiagram.ParamClicked) -> None:
        self.selected = event.name
        self.refresh_view()

    # ------------------------------------------------------------ survey and help
    def action_survey(self) -> None:
        if not self._idle():
            return
        self._pause()
        from .screens.survey import SurveyScreen

        self.push_screen(SurveyScreen(self.session.run.initial_config))

    def action_find_seed(self) -> None:
        if not self._idle():
            return

        def check(text: str) -> str | None:
            if text.strip() not in [str(k) for k in range(1, 9)]:
                return "enter a case number from 1 to 8"
            return None

        self.push_screen(
            PromptScreen(
                "Find a seed whose start is in case…",
                "6",
                validate=check,
                hint="Searches seeds from a random point; the 2-2-1 ReLU/ReLU net.",
            ),
            lambda t: t is not None and self._find_seed(int(t)),
        )

    @work(thread=True, exclusive=True, group="seed")
    def _find_seed(self, case: int) -> None:
        import random

        from ..core.survey import find_seed

        seed = find_seed(case, start=random.randrange(2**31))
        self.call_from_thread(self._found_seed, case, seed)

    def _found_seed(self, case: int, seed: int | None) -> None:
        if seed is None:
            self.say(f"No seed found for case {case}.", error=True)
            return
        self.session = Session.from_seed(seed)
        self.say(f"Seed {seed} starts in case {case}.")

    def action_help(self) -> None:
        keys = [(KEY_LABELS.get(k, k), d) for k, _, d, _ in KEYS]
        keys[1:1] = [("→ / ←", "Also step / step back")]
        keys.append(("1 … 8", "Load the source's case 1 … 8"))
        self.push_screen(HelpScreen(keys))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for _, action, description, _ in KEYS:
            if action != "quit":
                yield SystemCommand(description, f"xor-tui: {description.lower()}", lambda a=action: self.run_action(a))
        for k in range(1, 9):
            yield SystemCommand(
                f"Load case {k}", builtin(f"case{k}").description[:80], lambda k=k: self.action_load_case(k)
            )


_boxed = boxed


def _seed_problem(text: str) -> str | None:
    try:
        check_seed(text.strip())
    except SpecError as exc:
        return str(exc)
    return None
