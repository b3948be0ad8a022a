"""What the app does to a run, as plain Python: the TUI only calls these and draws Frames.

A session owns one run and its trace (diagnoses and events per epoch) and knows how it
started, so it can restart, reseed, load, and save itself as a scenario that replays it.
``frame()`` gives what the app draws for an epoch, as immutable data built under the lock.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from xor_tui.core.budget import Cancelled
from xor_tui.core.engine import losses, net
from xor_tui.core.engine.actions import (
    Action,
    Reseed,
    SetActivation,
    SetLoss,
    SetLr,
    SetParam,
    Zeros,
    check_seed,
    check_value,
    parse_number,
)
from xor_tui.core.engine.activations import NAMES as ACTIVATIONS
from xor_tui.core.engine.activations import SpecError, parse_activation
from xor_tui.core.engine.net import Config, Layer
from xor_tui.core.engine.run import Record, Run, RunHalted, Start
from xor_tui.core.io.folder import DEFAULT_QUOTA, Files, Refused, file_stem
from xor_tui.core.io.scenario import RunTo, Scenario, ScenarioError, Task
from xor_tui.core.rules import target as targeting
from xor_tui.core.rules.checks import CheckResult, edits_made, evaluate
from xor_tui.core.rules.diagnosis import Diagnosis, Event
from xor_tui.core.studies.replay import Trace, apply_entry, history
from xor_tui.core.studies.survey import SurveyResult
from xor_tui.core.studies.sweep import DEFAULT_LRS as SWEEP_LRS
from xor_tui.core.studies.sweep import DEFAULT_SCALES as SWEEP_SCALES
from xor_tui.core.studies.sweep import SweepResult
from xor_tui.core.view import Edit, Explanation, Frame, LessonStep, LessonView, RuleStatus, TargetResult, build_frame

# events worth stopping for when running to the next one
NOTABLE = {"dies", "revives", "freezes", "thaws", "halts", "nan", "case"}
DEFAULT_EPOCHS = 200
MAX_UNDO = 1000  # the user's changes that b can undo one by one (the oldest are forgotten)
NUDGES = (0.01, 0.1)  # the nudge steps: shift+arrow, alt+arrow


class Snapshot(NamedTuple):
    """A state copied out of a session (``Session.snapshot``): what a search works on."""

    version: int
    config: Config
    params: list[Layer]


class Session:
    """One run, its trace and how it started, and everything the app does to them (see the module)."""

    def __init__(self, run: Run, name: str, description: str = "", epochs: int = DEFAULT_EPOCHS):
        self.name = name
        self.description = description
        self.epochs = epochs
        # a background run steps while the UI reads: every change and every read of the
        # history happens under this lock
        self.lock = threading.RLock()
        self.version = 0  # bumped by every move and change: what was computed for a state is stale once it moves
        # a lesson (a scenario with steps or tasks): where it stands; see begin_task
        self.lesson: Scenario | None = None
        self.task_index = 0
        self.task_status: list[str] = []
        self._task_base: list[Action] = []  # the run's actions when the current task began
        self._lesson_actions: list[Action] = []  # actions the lesson applied (setup): not the student's
        # ((version, task index), CheckResult): the last check
        self._checked: tuple[tuple[int, int], CheckResult] | None = None
        self._task_version = -1  # the version at which the current task began
        self._set_run(run)

    def _set_run(self, run: Run) -> None:
        with self.lock:
            self.run = run
            self.trace = Trace.follow(run)
            # per stored epoch: its loss (NaN where not computed) and how many events
            # happened up to it; kept in step with the run so a Frame is cheap at any length
            self._losses = array("d")
            self._event_ends = array("q")
            self._events: list[Event] = []
            # losses of the epochs stepped back over, nearest first (shown ahead of the current
            # epoch); stepping forward consumes them, any change drops them
            self._ahead: list[float] = []
            # the user's own changes, newest last, as (the record before, the actions after):
            # b undoes them one by one at the epoch they were made (``undo_edit``)
            self._edits: list[tuple[Record, tuple[Action, ...]]] = []
            self._sync()

    def _sync(self) -> None:
        """Bring the trace, loss history and event index in line with the run (under the lock)."""
        self._undo: dict[str, object] | None = None  # any move or change: a restart can no longer be undone
        self.version += 1
        self.trace.sync()
        n = len(self.run.records)
        keep = min(len(self._losses), n - 1)  # the current record may have been replaced
        del self._losses[keep:]
        del self._event_ends[keep:]
        del self._events[self._event_ends[-1] if keep else 0 :]
        losses = self.run.losses(keep, n)
        self._losses.extend(math.nan if v is None else v for v in losses)
        total = len(self._events)
        counts = self.trace.event_counts(keep, n)  # {epoch: how many}, only where there are any
        if not counts:
            self._event_ends.extend(itertools.repeat(total, n - keep))
            return
        for k in range(keep, n):
            c = counts.get(k)
            if c:
                self._events.extend(self.trace.events[k])
                total += c
            self._event_ends.append(total)

    # ------------------------------------------------------------ construction
    @classmethod
    def from_scenario(cls, sc: Scenario) -> Session:
        """A session on the scenario ``sc``; a lesson's first task begins at once."""
        s = cls(sc.new_run(), sc.name, sc.description, sc.epochs)
        if sc.is_lesson:
            s.lesson = sc
            s.task_status = ["todo"] * len(sc.tasks)
            if sc.tasks:
                s.begin_task(0)
                s._undo = None  # nothing to bring back on a fresh load
        return s

    @classmethod
    def from_state_dict_file(cls, path: str) -> Session:
        """A 2-2-1 ReLU/ReLU run (the source's setting) from a PyTorch state_dict file."""
        from xor_tui.core.io.files import load_state_dict

        values = load_state_dict(path)
        config = Config()
        net.from_state_dict(values, config)
        return cls(
            Run(config, Start("explicit", values=values)), Path(path).stem, f"Start weights imported from {path}."
        )

    @classmethod
    def from_builtin(cls, name: str) -> Session:
        """A built-in scenario (``case1`` ... ``case8``, the exercises, lessons); raises
        ScenarioError for an unknown name."""
        from xor_tui.core.io.scenario import builtin

        return cls.from_scenario(builtin(name))

    @classmethod
    def from_seed(cls, seed: int, config: Config | None = None) -> Session:
        seed = check_seed(seed)
        return cls(
            Run(config or Config(), Start("seed", seed=seed)),
            f"seed {seed}",
            "PyTorch's default nn.Linear start for this seed, the source's setting.",
        )

    # ------------------------------------------------------------ state
    # every read takes the lock: a background run may be stepping (RLock: nesting is fine)
    @property
    def record(self) -> Record:
        with self.lock:
            return self.run.current

    @property
    def diagnosis(self) -> Diagnosis:
        """The current epoch's diagnosis."""
        with self.lock:
            return self.trace.diagnoses[len(self.run.records) - 1]

    @property
    def epoch(self) -> int:
        with self.lock:
            return self.run.epoch

    @property
    def config(self) -> Config:
        with self.lock:
            return self.run.config

    @property
    def start_text(self) -> str:
        """The run's start (``seed 0``, ``given weights``, ``all zeros``), with ``, edited`` when
        an action at epoch 0 changed its parameters (a lesson's setup, the student's own edit,
        a scenario's script): the weights shown at epoch 0 are then not that start's."""
        with self.lock:
            said = self.run.start.describe()
            if any(a.epoch == 0 and isinstance(a, (SetParam, Zeros, Reseed)) for a in self.run.actions()):
                said += ", edited"
            return said

    def frame(self, epoch: int | None = None) -> Frame:
        """What the app draws for the current epoch (or a stored earlier one), built under the lock."""
        with self.lock:
            k = len(self.run.records) - 1 if epoch is None else epoch
            if not 0 <= k < len(self.run.records):
                raise IndexError(f"epoch {epoch} is not stored (0 to {len(self.run.records) - 1})")
            rec = self.run.records[k]
            prev = self.run.records[k - 1] if k else None
            total = self._event_ends[k]
            first = max(total - Frame.MAX_EVENTS, 0)
            newest = self._events[first:total][::-1]
            history = memoryview(self._losses[: k + 1].tobytes()).cast("d")
            ahead = self._ahead if epoch is None else ()
            before, diagnoses = self._lookback(k)
            return build_frame(
                self.name, rec, diagnoses[-1], prev, newest, total, self.start_text, self.epochs, history,
                losses_ahead=ahead, case_before=before, case_diagnoses=diagnoses,
            )  # fmt: skip

    def _lookback(self, k: int) -> tuple[list[Record], list[Diagnosis]]:
        """The records of the ``Frame.CASE_LOOKBACK`` epochs before epoch ``k`` and the trace's
        diagnoses of those and of ``k`` (kept by the trace: no diagnosis made twice). Under the lock."""
        lo = max(0, k - Frame.CASE_LOOKBACK)
        records, diagnoses = self.run.records, self.trace.diagnoses
        return [records[j] for j in range(lo, k)], [diagnoses[j] for j in range(lo, k + 1)]

    SUBJECTS = ("param", "unit", "loss", "halt", "case")
    """What ``explain`` explains: a parameter, a unit, the loss, a halt, the case."""

    def explain(self, subject: str, name: str | None = None, epoch: int | None = None) -> Explanation:
        """Why, not only what: the explanation of ``subject`` (one of ``SUBJECTS``) at the current
        epoch (or a stored earlier one), the numbers exactly as the engine computed them (see
        ``core.rules.explain``). ``name``: the parameter (``output.bias[0]``) or the unit (``h[0]``
        or ``hidden[0]``) for "param" and "unit". A halt is explained with the step of the epoch
        before it; the case with where it changed in the epochs just before. Raises SpecError, one
        line, for a name the network lacks or a halt asked of an epoch that did not halt."""
        from xor_tui.core.rules import explain as ex

        if subject not in self.SUBJECTS:
            raise SpecError(f"unknown subject {subject!r}: one of {', '.join(self.SUBJECTS)}")
        if subject in ("param", "unit") and not name:
            raise SpecError(f"which {'parameter' if subject == 'param' else 'unit'}? a name is needed")
        with self.lock:
            k = len(self.run.records) - 1 if epoch is None else epoch
            if not 0 <= k < len(self.run.records):
                raise IndexError(f"epoch {epoch} is not stored (0 to {len(self.run.records) - 1})")
            rec = self.run.records[k]
            if subject == "param":
                assert name is not None  # checked above
                return ex.explain_param(rec, name)
            if subject == "unit":
                assert name is not None
                return ex.explain_unit(rec, name)
            if subject == "loss":
                return ex.explain_loss(rec)
            if subject == "halt":
                return ex.explain_halt(rec, self.run.records[k - 1] if k else None)
            before, diagnoses = self._lookback(k)
            return ex.explain_case(rec, before, diagnoses)

    # ------------------------------------------------------------ moving
    def step(self) -> Record:
        """One epoch; raises RunHalted when training has halted."""
        with self.lock:
            rec = self.run.step()
            self._sync()
            if self._ahead:
                self._ahead.pop(0)
            return rec

    def back(self) -> list[str] | None:
        """Step back one epoch. None at epoch 0; otherwise what was undone with the dropped
        epoch (the descriptions of changes made at it, empty when there were none)."""
        with self.lock:
            if len(self.run.records) <= 1:
                return None
            dropped = [a.describe() for a in self.run.current.actions if a not in self.run.script]
            self._ahead.insert(0, self._losses[-1])
            self.run.back()
            self._sync()
            if dropped:
                self._ahead.clear()
            return dropped

    SLICE = 4096  # epochs per fused-kernel stretch in run_until: the screen is redrawn between them

    def run_until(
        self,
        epoch: int,
        stop_on_event: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
        on_step: Callable[[], None] | None = None,
        note: Callable[[str], None] | None = None,
    ) -> str:
        """Step to ``epoch`` (or a halt, a notable event, or a stop request); say why it stopped:
        end, halted, event, stopped, or fixed (the state no longer changes, so no event can
        come; a run to ``epoch`` fills the remaining epochs in at once instead). ``note``
        hears one line when the fused kernel starts compiling in the background (see
        ``Run.prepare_fast``): the run steps on the torch engine meanwhile."""
        while True:
            if should_stop():
                return "stopped"
            if not self._ahead:  # the whole way: a long one builds the kernel in the background
                self.run.prepare_fast(epoch, note)
            with self.lock:
                if self.run.halted:
                    return "halted"
                if self.run.epoch >= epoch:
                    return "end"
                if self.run.settled():
                    if stop_on_event:
                        return "fixed"
                    self.run.advance(epoch)
                    self._sync()
                    continue
                k = self.run.epoch
                end = None if self._ahead else self.run.fast_end(min(epoch, k + self.SLICE))
                if end is None:
                    self.step()
                    notable = stop_on_event and any(e.kind in NOTABLE for e in self.trace.events[-1])
                else:  # a stretch through the fused kernel, cut back to its first notable event
                    self.run.advance(end, fill=not stop_on_event, note=note)
                    notable = False
                    if stop_on_event:

                        def notable_past(e: int, evs: list[Event], k: int = k) -> bool:
                            return e > k and any(v.kind in NOTABLE for v in evs)

                        j = self.trace.sync(stop=notable_past)
                        if j is not None:
                            self.run.goto(j)
                            notable = True
                    self._sync()
            if on_step is not None:
                on_step()
            if notable:
                return "event"

    _KEPT = (
        "run",
        "trace",
        "_losses",
        "_event_ends",
        "_events",
        "_ahead",
        "_edits",
        "name",
        "description",
        "lesson",
        "task_index",
        "task_status",
        "_task_base",
        "_lesson_actions",
    )

    def _own(self, actions: Iterable[Action]) -> list[Action]:
        """Of ``actions``, the user's own: not the scenario's script, not a lesson's setup."""
        return [a for a in actions if a not in self.run.script and a not in self._lesson_actions]

    def restart(self) -> list[str]:
        """Back to the start (the scenario's own script kept). Returns the user's own changes it
        dropped, described; until the next move or change, ``undo_restart`` brings the run back
        exactly as it was."""
        with self.lock:
            run = self.run
            dropped = [f"{a.describe()} at epoch {a.epoch}" for a in self._own(run.actions())]
            kept = {k: getattr(self, k) for k in self._KEPT} if run.epoch or run.actions() != run.script else None
            self._set_run(Run(run.initial_config, run.start, run.script))
            self._undo = kept
            return dropped

    def reseed(self, seed: int | None = None) -> int:
        """A new start: PyTorch's default for ``seed`` (a random one when None), in the setting
        shown now (activations, loss, rates: the ones changed during the run too); ``undo_restart``
        brings the run before it back, until the next move or change."""
        seed = check_seed(random.randrange(2**31) if seed is None else seed)
        with self.lock:
            kept = {k: getattr(self, k) for k in self._KEPT}
            self._set_run(Run(self.run.config, Start("seed", seed=seed)))
            self._undo = kept
            self.lesson = None  # another start: the lesson is left (b right after brings it back)
            self.task_status, self._task_base, self._lesson_actions = [], [], []
        self.name = f"seed {seed}"
        self.description = "PyTorch's default nn.Linear start for this seed."
        return seed

    @property
    def can_undo_restart(self) -> bool:
        """A restart or reseed was the last thing done: ``undo_restart`` can bring the run back."""
        with self.lock:
            return self._undo is not None

    def undo_restart(self) -> bool:
        """The run as it was before the last restart or reseed (its epoch, edits and history);
        False when there is none to bring back (something moved or changed since)."""
        with self.lock:
            if self._undo is None:
                return False
            for k, v in self._undo.items():
                setattr(self, k, v)
            self._undo = None
            self.version += 1
            return True

    # ------------------------------------------------------------ acting
    def _act(self, action: Action, own: bool = True) -> Record:
        """Apply ``action`` at the current epoch; ``own``: the user's, so b can undo it."""
        with self.lock:
            before = self.run.current
            rec = self.run.act(action)
            self._sync()
            self._ahead.clear()
            if own:
                self._edits.append((before, rec.actions))
                del self._edits[:-MAX_UNDO]
            return rec

    def undo_edit(self) -> str | None:
        """Undo the newest of the user's own changes made at the current epoch (an edit, a
        nudge, an activation...), exactly: the state before it comes back. Returns what was
        undone, described; None when this epoch holds no change of the user's to undo."""
        with self.lock:
            cur = self.run.current
            while self._edits:
                before, actions = self._edits[-1]
                if before.epoch < cur.epoch:
                    return None  # made at an earlier epoch: stepping back reaches it first
                if before.epoch == cur.epoch and actions == cur.actions:
                    break
                self._edits.pop()  # dropped with an epoch stepped back over, or replaced since
            else:
                return None
            self._edits.pop()
            undone = cur.actions[-1]
            self.run.restore(before)
            self._sync()
            self._ahead.clear()
            return undone.describe()

    def set_param(self, name: str, text: object) -> float:
        """Set one weight or bias from user input; refuse text, NaN, inf and absurd sizes."""
        net.parse_param(name, self.config)
        value = check_value(text, name)
        self._act(SetParam(self.epoch, name, value))
        return value

    def nudge(self, name: str, step: float) -> float:
        """Move one weight or bias by ``step`` (its float32 value plus the step, rounded to
        float32 as any value typed is): an edit recorded like a typed one. Returns the value."""
        net.parse_param(name, self.config)
        with self.lock:
            value = float(np.float32(self.frame_value(name) + step))  # the value recorded is the one held
            return self.set_param(name, value)

    def frame_value(self, name: str) -> float:
        """The current value of the parameter ``name``."""
        ref = net.parse_param(name, self.config)
        with self.lock:
            return float(self.run.current.value(ref))

    # ------------------------------------------------------------ make it case k
    def snapshot(self) -> Snapshot:
        """The current state (its ``version``, setting and parameters), copied under the lock:
        a search on it can run on another thread while the run moves on."""
        with self.lock:
            rec = self.run.current
            return Snapshot(self.version, rec.config, [(w.clone(), b.clone()) for w, b in rec.params])

    def target(self, case: int, max_edits: int = 3, at: Snapshot | None = None) -> TargetResult:
        """The fewest parameters to set so that the current state (or the snapshot ``at``) is
        robustly in ``case`` (``core.rules.target.solve``): 20-150 ms, so call it off the UI
        thread. Its status says found, already, exceeds (needs more than ``max_edits``),
        budget, or unsupported (why)."""
        snap = at or self.snapshot()
        return targeting.solve(snap.config, snap.params, case, max_edits)

    def rule_report(self, case: int, at: Snapshot | None = None) -> list[RuleStatus]:
        """Each rule of ``case`` for the current state (or the snapshot ``at``), holding or not,
        with the single parameters that would make a failing one hold (``target.rule_report``;
        a few ms). Empty where the cases do not apply (``target_unsupported`` says why)."""
        snap = at or self.snapshot()
        return targeting.rule_report(snap.config, snap.params, case)

    def target_unsupported(self) -> str | None:
        """Why the eight cases (and so target mode) do not apply to this setting, or None."""
        return targeting.supported(self.config)

    def apply_edits(self, edits: tuple[Edit, ...] | list[Edit]) -> list[str]:
        """Set each edit's parameter to its new value, one recorded edit each (as typed: b
        undoes them one by one, w saves them). Returns them described."""
        done = []
        for e in edits:
            value = self.set_param(e.param, e.after)
            done.append(f"{e.param} = {value:.6g}")
        return done

    def set_activation(self, layer: str, spec: str) -> None:
        act = parse_activation(spec)
        if layer not in self.config.layer_names:
            raise SpecError(f"unknown layer {layer!r}")
        self._act(SetActivation(self.epoch, layer, act.spec))

    def cycle_activation(self, layer: str) -> str:
        names = self.config.layer_names
        current = self.config.activations[names.index(layer)].name
        nxt = ACTIVATIONS[(ACTIVATIONS.index(current) + 1) % len(ACTIVATIONS)]
        self.set_activation(layer, nxt)
        return nxt

    def check_lr(self, text: object) -> float | tuple[float, ...]:
        """A learning rate a user typed, checked: one for every layer, or one per layer written
        ``0.01/0.001`` (as the status line shows them); raises SpecError with the reason."""
        parts = str(text).split("/")
        if len(parts) == 1:
            return net.check_lr(parse_number(parts[0], "learning rate"), "learning rate")
        names = self.config.layer_names
        if len(parts) != len(names):
            raise SpecError(
                f"{len(parts)} learning rates for {len(names)} layers ({', '.join(names)}): "
                "give one for all, or one per layer separated by /"
            )
        return tuple(net.check_lr(parse_number(p, f"lr of {n}"), f"lr of {n}") for p, n in zip(parts, names))

    def set_lr(self, text: object) -> str | None:
        """Set the learning rate(s) typed (see check_lr); returns them as text, or None when
        they are the rates already in use (nothing changes)."""
        value = self.check_lr(text)
        c = self.config
        if isinstance(value, tuple):
            current = tuple(c.lr_of(i) for i in range(len(c.layer_names)))
            if value == current:
                return None
            with self.lock:
                for name, v, now in zip(c.layer_names, value, current):
                    if v != now:
                        self._act(SetLr(self.epoch, v, name))
            return net.rates_text(c.lr, value)
        if c.layer_lr is None and value == c.lr:
            return None
        self._act(SetLr(self.epoch, value))
        return f"{value:g}"

    def set_loss(self, name: str) -> None:
        self._act(SetLoss(self.epoch, name))

    def cycle_loss(self) -> str:
        nxt = losses.NAMES[(losses.NAMES.index(self.config.loss) + 1) % len(losses.NAMES)]
        self.set_loss(nxt)
        return nxt

    # ------------------------------------------------------------ saving
    def to_scenario(self, name: str | None = None) -> Scenario:
        """The start, the settings and every action taken: replaying it gives this session.

        Its length is the current epoch (replay ends on the state shown); at epoch 0, where
        that would be an empty run, the session's own length (e.g. a scenario's 200); a lesson
        keeps its narrative steps (not its tasks: see ``lesson_saved_without``), and is at least as
        long as its last step. After
        changes of the user's own, the description says so first: a saved "case3" whose
        weights were edited is no longer the source's case 3."""
        with self.lock:
            actions = list(self.run.actions())
            own = self._own(actions)
            description = self.description
            if own:
                said = "; ".join(f"{a.describe()} at epoch {a.epoch}" for a in own[:3])
                more = f"; and {len(own) - 3} more" if len(own) > 3 else ""
                before = f" Before the edits: {description}" if description else ""
                description = f"Edited from {self.name}: {said}{more}.{before}"
            lesson = self.lesson
            epochs = self.epoch or self.epochs
            if lesson is not None:  # long enough for every narrative step (the file must hold them all)
                epochs = max([epochs, *(st.epoch for st in lesson.steps if st.epoch is not None)])
            return Scenario(
                name or self.name,
                self.run.initial_config,
                self.run.start,
                epochs,
                description,
                actions,
                # a lesson keeps its narrative; not its tasks nor its expectations: they check the
                # lesson's own start, and replayed from this session's start and actions they
                # would fail (`lesson_saved_without` says so to the user)
                steps=list(lesson.steps) if lesson is not None else [],
            )

    @property
    def lesson_saved_without(self) -> str:
        """What ``to_scenario`` leaves out of a lesson, in words ("" when not in a lesson)."""
        sc = self.lesson
        if sc is None or not sc.tasks:
            return ""
        return f"{len(sc.tasks)} tasks are not in it (they check the lesson's own start): c opens {sc.name} again"

    # ------------------------------------------------------------ a lesson
    @property
    def task(self) -> Task | None:
        """The lesson's current task (None: no lesson, no tasks, or all behind)."""
        sc = self.lesson
        if sc is None or not 0 <= self.task_index < len(sc.tasks):
            return None
        return sc.tasks[self.task_index]

    def begin_task(self, i: int, restart: bool | None = None) -> list[str]:
        """Make task ``i`` the current one and begin it as ``replay.begin_task`` does: back to
        the lesson's start when the task restarts (``restart`` overrides the task's own), then
        the lesson's setup applied (the lesson's actions, not the student's edits: neither
        counted for ``max_edits`` nor undone by b). Right after, ``undo_restart`` brings the
        run and the lesson back as they were. Returns what was done, in words.
        ``i`` equal to the number of tasks puts the lesson past its last task."""
        sc = self.lesson
        if sc is None or not 0 <= i <= len(sc.tasks):
            raise IndexError(f"no task {i}")
        said: list[str] = []
        with self.lock:
            kept = {k: getattr(self, k) for k in self._KEPT}
            self._checked = None
            if i == len(sc.tasks):
                self.task_index = i
                return said
            task = sc.tasks[i]
            if task.restart if restart is None else restart:
                self.restart()
                self._lesson_actions = []
                said.append(f"back to the lesson's start, {self.start_text}")
            # the lesson's own actions (kept apart: they are not the student's)
            self._lesson_actions = list(self._lesson_actions)
            for entry in task.setup:
                apply_entry(self.run, entry)
                if not isinstance(entry, RunTo):
                    self._lesson_actions.append(self.run.current.actions[-1])
            if task.setup:
                self._sync()
                self._ahead.clear()
                said.append("the task's setup applied: " + "; ".join(_entry_text(e) for e in task.setup[:3]))
                if len(task.setup) > 3:
                    said[-1] += f"; and {len(task.setup) - 3} more"
            self.task_index = i
            self._task_base = list(self.run.actions())
            self.task_status = list(self.task_status)
            self._undo = kept  # b right after brings back the run and the lesson as they were
            self.version += 1
            self._task_version = self.version
        return said

    def restart_task(self) -> list[str]:
        """Begin the current task again from the lesson's start (``r`` in a lesson)."""
        return self.begin_task(self.task_index, restart=True)

    def next_task(self) -> tuple[str, list[str]]:
        """Move on: the current task is marked skipped unless it is done, and the next one
        begins. Returns (what became of the task left: done or skipped, what was done)."""
        i = self.task_index
        if self.lesson is None or i >= len(self.lesson.tasks):
            raise IndexError("no task to move on from")
        with self.lock:
            kept_status = self.task_status
            left = kept_status[i] if kept_status[i] == "done" else "skipped"
            said = self.begin_task(i + 1)
            self.task_status = list(kept_status)
            self.task_status[i] = left
            return left, said

    def previous_task(self) -> list[str]:
        """Go back to the previous task and begin it again (its status is kept)."""
        if self.lesson is None or self.task_index == 0:
            raise IndexError("no task before this one")
        return self.begin_task(self.task_index - 1)

    def task_edits(self) -> int:
        """Parameters the student has set during the current task (a lesson's setup aside)."""
        with self.lock:
            base = self._task_base
            return edits_made(a for a in self.run.actions() if a not in base and a not in self._lesson_actions)

    def check_task(self) -> tuple[CheckResult | None, bool]:
        """The current task's check on the run as it stands (``checks.evaluate``, the function
        replay uses), and whether it has just passed: a task that holds after a change is
        marked done. Cached per state: cheap to ask at every redraw. At the moment a task
        begins nothing is checked (its check must not hold before the student acts)."""
        task = self.task
        if task is None:
            return None, False
        with self.lock:
            key = (self.version, self.task_index)
            if self._checked is not None and self._checked[0] == key:
                return self._checked[1], False
            res = evaluate(task.check, history(self.trace), self.task_edits())
            self._checked = (key, res)
            moved = self.version != self._task_version  # something moved or changed since it began
            fresh = res.ok and moved and self.task_status[self.task_index] != "done"
            if fresh:
                self.task_status = list(self.task_status)
                self.task_status[self.task_index] = "done"
            return res, fresh

    def lesson_view(self) -> LessonView | None:
        """Where the lesson stands, for the app's lesson panel (None: not a lesson)."""
        sc = self.lesson
        if sc is None:
            return None
        res, _ = self.check_task()
        task = self.task
        epoch = self.epoch
        narrative = [LessonStep(st.text, None, st.title) for st in sc.steps_at(None)]
        reached = [st.epoch for st in sc.steps if st.epoch is not None and st.epoch <= epoch]
        if reached:
            narrative += [LessonStep(st.text, st.epoch, st.title) for st in sc.steps_at(max(reached))]
        return LessonView(
            sc.name,
            self.task_index,
            len(sc.tasks),
            task.title if task else "",
            task.text if task else "",
            task.hint if task else "",
            self.task_status[self.task_index] if task else "",
            res,
            self.task_edits() if task else 0,
            tuple(self.task_status),
            tuple(narrative),
        )


    # ------------------------------------------------------------ files (through a Files policy)
    def save_as(self, files: Files, path: Path, overwrite: bool = False) -> Scenario:
        """Write this session as a scenario file at ``path`` (from ``files.writable``), counted
        against ``files``' quota; returns what was written. Raises OSError (a refusal, a
        vanished folder) or ScenarioError (one that replay would refuse), each one line."""
        from xor_tui.core.io.scenario import checked_text

        sc = self.to_scenario()
        files.write(path, checked_text(sc, path), overwrite)
        return sc

    def save_screen(self, files: Files, svg: str, session_file: Path | None) -> Path:
        """Save a screenshot ``svg`` next to the session: in the folder of the file it came from
        (``session_file``), else the current folder (confined: the policy's root), named after
        the scenario and the epoch, numbered (-1, -2...: the first name not taken), never
        overwriting. Raises OSError with a one-line message."""
        stem = f"{file_stem(self.name)}-epoch{self.epoch}"
        return files.write_numbered(files.folder_for(session_file), stem, ".svg", svg)


def _entry_text(entry: Action | RunTo) -> str:
    return entry.describe()


class Opened:
    """What ``open_path`` found: a ``session`` (a built-in, a scenario file, a state_dict) and
    the ``file`` it came from (None for a built-in), or the path of a printout ``log`` (for
    ``load_printout``, off the UI thread)."""

    def __init__(self, session: Session | None = None, file: Path | None = None, log: str | None = None) -> None:
        self.session, self.file, self.log = session, file, log


def open_path(text: str, files: Files) -> Opened:
    """What a user typed at ``f``: a built-in scenario's name, a scenario file (.toml), a
    PyTorch state_dict (.pt), or a printout log of the source's loop (its runs, not yet
    recovered), each read only where ``files`` allows. Raises ScenarioError, SpecError or
    OSError, each with a one-line message."""
    from xor_tui.core.io.scenario import builtin, builtin_names, load

    name = text.strip()
    if name in builtin_names():
        return Opened(Session.from_scenario(builtin(name)))
    path = files.readable(name)
    try:
        if name.endswith(".pt"):
            return Opened(Session.from_state_dict_file(str(path)), path)
        if not name.endswith(".toml") and not path.exists():
            raise ScenarioError(
                name, "", "neither a built-in scenario nor a file; built-in: " + ", ".join(builtin_names())
            )
        return Opened(Session.from_scenario(load(path, files)), path)
    except (ScenarioError, SpecError):
        if looks_like_printout(str(path)):  # the student's printed log: read and recovered off the UI thread
            return Opened(log=str(path))
        raise


# ---------------------------------------------------------------- printout logs (the app's f)

PRINTOUT_SECONDS = 60.0  # the budget of one `f` on a printout log: reading, parsing and recovery


def looks_like_printout(path: str) -> bool:
    """Whether ``path`` is a readable regular file (within the log size cap) holding a printout's
    epoch header: a byte search, no parsing, safe on the UI thread. What it holds is known only
    once ``load_printout`` has read it (off the UI thread)."""
    from xor_tui.core.io.files import ReadError, read_regular
    from xor_tui.core.io.printout import MAX_LOG_BYTES

    try:
        raw = read_regular(path, MAX_LOG_BYTES)
    except (ReadError, ValueError):  # ValueError: a path the OS refuses (a NUL byte in it)
        return False
    return b"epoches" in raw or "epoches".encode("utf-16-le") in raw or "epoches".encode("utf-16-be") in raw


def load_printout(
    path: str, cancel: Callable[[], bool] | None = None, seconds: float = PRINTOUT_SECONDS
) -> Scenario:
    """The first run of the printout log at ``path`` as a Scenario: the file read, parsed and its
    float32 start recovered, all in this one call and under one budget of ``seconds``.

    Slow (seconds): call it off the UI thread. ``cancel()`` is asked at every line block and every
    epoch computed: once it says True, ``Cancelled`` is raised within milliseconds and nothing of
    the load is kept. Any other failure (a log it cannot use, the budget running out) raises a
    ValueError with a one-line message.
    """
    from xor_tui.core.budget import Budget, OutOfTime
    from xor_tui.core.studies.recover import load_log

    budget = Budget(seconds, cancel)
    try:
        return load_log(path, budget=budget)
    except OutOfTime as exc:
        raise ValueError(f"{path}: the budget of {seconds:g} s ran out while {exc.stage or 'recovering'}") from None


# ---------------------------------------------------------------- what else the app may ask the core


def builtin_scenarios() -> list[tuple[str, str]]:
    """Every built-in scenario as (name, description), in ``xor-tui cases`` order."""
    from xor_tui.core.io.scenario import builtin, builtin_names

    return [(name, builtin(name).description) for name in builtin_names()]


def survey(
    config: Config,
    n: int,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    note: Callable[[str], None] | None = None,
    init_scale: float = 1.0,
    stop: Callable[[], bool] | None = None,
) -> SurveyResult:
    """``n`` random starts of ``config`` trained and judged (the app's ``v``): it starts at once,
    on the torch engine while the setting's fused kernel is built in the background (the app
    lives on: the kernel is kept for next time). Seconds to minutes: call it off the UI thread."""
    from xor_tui.core.studies.survey import run_survey

    return run_survey(
        config, n, epochs, seed, progress, init_scale=init_scale, stop=stop, note=note, warm=True
    )


def sweep(
    config: Config,
    lrs: list[float],
    scales: list[float],
    n: int,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    note: Callable[[str], None] | None = None,
) -> SweepResult:
    """The survey at every point of a grid of learning rates x init scales (the app's ``V``);
    as ``survey``, it never waits for a compile. Call it off the UI thread."""
    from xor_tui.core.studies.sweep import run_sweep

    return run_sweep(config, lrs, scales, n, epochs, seed, progress, stop, note, warm=True)


def sweep_axis(spec: str, what: str, low: float, high: float) -> list[float]:
    """``A:B:K``: K log-spaced values from A to B (both included); raises SpecError."""
    from xor_tui.core.studies.sweep import log_range

    return log_range(spec, what, low, high)


def stop_compiles() -> None:
    """Stop the kernels compiling in the background (child processes): the app calls it when it
    leaves, so no build outlives it."""
    from xor_tui.core.studies import survey

    survey.stop_compiles()


def find_seed(case: int, start: int) -> int | None:
    """The first seed from ``start`` whose PyTorch default start is in ``case`` (the source's
    2-2-1 ReLU/ReLU net), or None within the search's limit. Takes a fraction of a second to
    seconds: call it off the UI thread."""
    from xor_tui.core.studies import survey

    return survey.find_seed(case, start=start)


__all__ = [
    "ACTIVATIONS",
    "DEFAULT_QUOTA",
    "ScenarioError",
    "builtin_scenarios",
    "check_seed",
    "check_value",
    "find_seed",
    "survey",
    "sweep",
    "sweep_axis",
    "Config",
    "SurveyResult",
    "SweepResult",
    "SWEEP_LRS",
    "SWEEP_SCALES",
    "stop_compiles",
    "Cancelled",
    "Explanation",
    "Files",
    "Frame",
    "NOTABLE",
    "Opened",
    "Refused",
    "RunHalted",
    "Scenario",
    "Session",
    "Snapshot",
    "SpecError",
    "load_printout",
    "looks_like_printout",
    "open_path",
]
