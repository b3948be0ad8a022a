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
from collections.abc import Callable
from pathlib import Path

from xor_tui.core.engine import losses, net
from xor_tui.core.engine.actions import (
    Action,
    SetActivation,
    SetLoss,
    SetLr,
    SetParam,
    check_seed,
    check_value,
    parse_number,
)
from xor_tui.core.engine.activations import NAMES as ACTIVATIONS
from xor_tui.core.engine.activations import SpecError, parse_activation
from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import Record, Run, RunHalted, Start
from xor_tui.core.io.scenario import Scenario
from xor_tui.core.rules.diagnosis import Diagnosis, Event
from xor_tui.core.studies.replay import Trace
from xor_tui.core.view import Frame, build_frame

# events worth stopping for when running to the next one
NOTABLE = {"dies", "revives", "freezes", "thaws", "halts", "nan", "case"}
DEFAULT_EPOCHS = 200


class Session:
    def __init__(self, run: Run, name: str, description: str = "", epochs: int = DEFAULT_EPOCHS):
        self.name = name
        self.description = description
        self.epochs = epochs
        # a background run steps while the UI reads: every change and every read of the
        # history happens under this lock
        self.lock = threading.RLock()
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
            self._sync()

    def _sync(self) -> None:
        """Bring the trace, loss history and event index in line with the run (under the lock)."""
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
        return cls(sc.new_run(), sc.name, sc.description, sc.epochs)

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
        return self.run.start.describe()

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
            diag = self.trace.diagnoses[k]
            return build_frame(
                self.name, rec, diag, prev, newest, total, self.start_text, self.epochs, history, losses_ahead=ahead
            )

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
                        j = self.trace.sync(stop=lambda e, evs, k=k: e > k and any(v.kind in NOTABLE for v in evs))
                        if j is not None:
                            self.run.goto(j)
                            notable = True
                    self._sync()
            if on_step is not None:
                on_step()
            if notable:
                return "event"

    def restart(self) -> None:
        with self.lock:
            run = self.run
            self._set_run(Run(run.initial_config, run.start, run.script))

    def reseed(self, seed: int | None = None) -> int:
        seed = check_seed(random.randrange(2**31) if seed is None else seed)
        with self.lock:
            self._set_run(Run(self.run.initial_config, Start("seed", seed=seed)))
        self.name = f"seed {seed}"
        self.description = "PyTorch's default nn.Linear start for this seed."
        return seed

    # ------------------------------------------------------------ acting
    def _act(self, action: Action) -> Record:
        with self.lock:
            rec = self.run.act(action)
            self._sync()
            self._ahead.clear()
            return rec

    def set_param(self, name: str, text) -> float:
        """Set one weight or bias from user input; refuse text, NaN, inf and absurd sizes."""
        net.parse_param(name, self.config)
        value = check_value(text, name)
        self._act(SetParam(self.epoch, name, value))
        return value

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

    def check_lr(self, text) -> float | tuple[float, ...]:
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

    def set_lr(self, text) -> str | None:
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
        that would be an empty run, the session's own length (e.g. a scenario's 200). After
        changes of the user's own, the description says so first: a saved "case3" whose
        weights were edited is no longer the source's case 3."""
        with self.lock:
            actions = list(self.run.actions())
            own = [a for a in actions if a not in self.run.script]
            description = self.description
            if own:
                said = "; ".join(f"{a.describe()} at epoch {a.epoch}" for a in own[:3])
                more = f"; and {len(own) - 3} more" if len(own) > 3 else ""
                before = f" Before the edits: {description}" if description else ""
                description = f"Edited from {self.name}: {said}{more}.{before}"
            return Scenario(
                name or self.name,
                self.run.initial_config,
                self.run.start,
                self.epoch or self.epochs,
                description,
                actions,
            )


__all__ = ["Session", "RunHalted", "SpecError", "NOTABLE", "Frame"]
