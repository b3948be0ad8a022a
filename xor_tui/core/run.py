"""A single training run with full history: step, step back, act, replay a script."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import engine, losses
from .actions import ACTION_KINDS, FLOAT32_MAX, MAX_ABS_VALUE, Action, check_seed, check_value
from .activations import SpecError
from .engine import Config, Layer, ParamRef

__all__ = [  # actions live in .actions; re-exported for callers that import them from here
    "ACTION_KINDS", "FLOAT32_MAX", "MAX_ABS_VALUE", "Action", "check_seed", "check_value", "SpecError",
    "Halt", "MAX_EPOCHS", "Record", "Run", "RunHalted", "Start", "measure",
]


MAX_EPOCHS = 1_000_000  # the longest run a scenario or `replay --epochs` may ask for


@dataclass(frozen=True)
class Halt:
    """Why training stopped at an epoch: torch's own message plus plain words."""

    epoch: int
    message: str
    rows: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class Record:
    """The state after ``epoch`` updates, the forward pass on it, its loss and gradients."""

    epoch: int
    config: Config
    params: list[Layer]  # batch of one
    pre: list[torch.Tensor]  # per layer (4, units)
    out: list[torch.Tensor]
    loss: float | None
    grads: list[Layer] | None  # None when halted
    halt: Halt | None
    actions: tuple[Action, ...] = ()

    @property
    def halted(self) -> bool:
        return self.halt is not None

    def value(self, ref: ParamRef) -> float:
        return engine.get_value(self.params, ref)

    def grad(self, ref: ParamRef) -> float | None:
        return None if self.grads is None else engine.get_value(self.grads, ref)

    def predictions(self) -> torch.Tensor:
        return losses.predictions(self.config.loss, self.pre[-1], self.out[-1])[:, 0]


def _unbounded_reason(act, values: list[float]) -> str:
    lo, hi = act.bounded
    if any(math.isnan(v) for v in values):
        return "the output is NaN, so the loss cannot be computed"
    above = any(v > 1 for v in values)
    if above and hi > 1:
        return f"{act.label} output is unbounded above, and BCELoss needs values in [0, 1]"
    if not above and lo < 0:
        return f"{act.label} output can be negative, and BCELoss needs values in [0, 1]"
    return "BCELoss needs outputs in [0, 1]"


def measure(epoch: int, config: Config, params: list[Layer], actions=()) -> Record:
    p = engine.evaluate(params, config)
    pre = [t[0] for t in p.pre]
    out = [t[0] for t in p.out]
    if not bool(p.valid[0]):
        y = out[-1][:, 0]
        bad = tuple(int(r) for r in torch.nonzero(losses.out_of_range(y)).flatten())
        values = [float(y[r]) for r in bad]
        halt = Halt(epoch, losses.torch_message(y), bad, _unbounded_reason(config.activations[-1], values))
        return Record(epoch, config, params, pre, out, None, None, halt, tuple(actions))
    loss = float(p.loss[0])
    halt = None
    if not math.isfinite(loss):
        halt = Halt(epoch, f"loss is {loss}", (), "the loss is not finite; a step would only spread NaN or inf")
        return Record(epoch, config, params, pre, out, loss, None, halt, tuple(actions))
    return Record(epoch, config, params, pre, out, loss, p.grads, None, tuple(actions))


class RunHalted(RuntimeError):
    pass


@dataclass
class Start:
    """Where a run begins: a seed, all zeros, or explicit values."""

    kind: str  # "seed", "zeros", "explicit"
    seed: int | None = None
    values: dict | None = None  # state_dict-like nested lists, for "explicit"

    def params(self, config: Config) -> list[Layer]:
        if self.kind == "seed":
            return engine.init_from_seed(int(self.seed), config.sizes)
        if self.kind == "zeros":
            return engine.zeros(config.sizes)
        return engine.from_state_dict(self.values, config)

    def describe(self) -> str:
        if self.kind == "seed":
            return f"seed {self.seed}"
        return self.kind


class Run:
    """History of records; ``records[-1]`` is the current state (forward already done)."""

    def __init__(self, config: Config, start: Start, script: list[Action] | None = None):
        self.start = start
        self.initial_config = config
        self.script = sorted(script or [], key=lambda a: a.epoch)
        params = start.params(config)
        self.records: list[Record] = []
        self.records.append(self._enter(0, config, params))

    # -- state
    @property
    def current(self) -> Record:
        return self.records[-1]

    @property
    def epoch(self) -> int:
        return self.current.epoch

    @property
    def config(self) -> Config:
        return self.current.config

    @property
    def halted(self) -> bool:
        return self.current.halted

    def actions(self) -> list[Action]:
        return [a for r in self.records for a in r.actions]

    # -- moving
    def _enter(self, epoch: int, config: Config, params: list[Layer]) -> Record:
        """Make the record of a new epoch, applying the script's actions for it first."""
        applied = []
        for action in self.script:
            if action.epoch == epoch:
                config, params = action.apply(config, params)
                applied.append(action)
        return measure(epoch, config, params, applied)

    def step(self) -> Record:
        cur = self.current
        if cur.halted:
            raise RunHalted(f"training halted at epoch {cur.epoch}: {cur.halt.message}")
        params = engine.sgd_step(cur.params, cur.grads, cur.config)
        rec = self._enter(cur.epoch + 1, cur.config, params)
        self.records.append(rec)
        return rec

    def back(self) -> bool:
        if len(self.records) <= 1:
            return False
        self.records.pop()
        return True

    def goto(self, epoch: int) -> None:
        while self.epoch > epoch and self.back():
            pass

    def act(self, action: Action) -> Record:
        """Apply a user action to the current state; diagnosis is recomputed at once."""
        cur = self.current
        action = action.at(cur.epoch)
        config, params = action.apply(cur.config, cur.params)
        self.records[-1] = measure(cur.epoch, config, params, cur.actions + (action,))
        return self.records[-1]
