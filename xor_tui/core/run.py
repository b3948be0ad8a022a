"""A single training run with full history: step, step back, act, replay a script."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from . import engine, losses
from .activations import SpecError, parse_activation
from .engine import Config, Layer, ParamRef


@dataclass(frozen=True)
class Halt:
    """Why training stopped at an epoch: torch's own message plus plain words."""

    epoch: int
    message: str
    rows: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class Action:
    """One change to a run, at an epoch: applied to that epoch's state before its forward.

    kind: ``set`` (target = parameter name, value = float), ``activation`` (target =
    layer name, value = spec), ``lr`` (target = layer name or None, value = float),
    ``loss`` (value = name), ``reseed`` (value = int seed), ``zeros``.
    """

    epoch: int
    kind: str
    value: object = None
    target: str | None = None

    def describe(self) -> str:
        if self.kind == "set":
            return f"set {self.target} = {self.value:.6g}"
        if self.kind == "activation":
            return f"{self.target} activation -> {self.value}"
        if self.kind == "lr":
            where = f" of {self.target}" if self.target else ""
            return f"learning rate{where} -> {self.value:g}"
        if self.kind == "loss":
            return f"loss -> {self.value}"
        if self.kind == "reseed":
            return f"reseed {self.value}"
        return self.kind


ACTION_KINDS = ("set", "activation", "lr", "loss", "reseed", "zeros")


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
                config, params = apply_action(config, params, action)
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
        action = replace(action, epoch=cur.epoch)
        config, params = apply_action(cur.config, cur.params, action)
        self.records[-1] = measure(cur.epoch, config, params, cur.actions + (action,))
        return self.records[-1]


def apply_action(config: Config, params: list[Layer], action: Action) -> tuple[Config, list[Layer]]:
    kind = action.kind
    if kind == "set":
        ref = engine.parse_param(action.target, config)
        value = check_value(action.value, action.target, limit=FLOAT32_MAX)
        return config, engine.with_value(params, ref, value)
    if kind == "activation":
        names = config.layer_names
        if action.target not in names:
            raise SpecError(f"unknown layer {action.target!r}; expected one of {', '.join(names)}")
        return config.with_activation(names.index(action.target), parse_activation(action.value)), params
    if kind == "lr":
        value = action.value
        engine.check_lr(value, "learning rate")
        if action.target is None:
            return replace(config, lr=float(value), layer_lr=None), params
        names = config.layer_names
        if action.target not in names:
            raise SpecError(f"unknown layer {action.target!r}; expected one of {', '.join(names)}")
        rates = list(config.layer_lr or [config.lr] * len(names))
        rates[names.index(action.target)] = float(value)
        return replace(config, layer_lr=tuple(rates)), params
    if kind == "loss":
        if action.value not in losses.NAMES:
            raise SpecError(f"unknown loss {action.value!r}; expected one of {', '.join(losses.NAMES)}")
        return replace(config, loss=action.value), params
    if kind == "reseed":
        return config, engine.init_from_seed(check_seed(action.value), config.sizes)
    if kind == "zeros":
        return config, engine.zeros(config.sizes)
    raise SpecError(f"unknown action {kind!r}; expected one of {', '.join(ACTION_KINDS)}")


MAX_ABS_VALUE = 1e6
FLOAT32_MAX = 3.4028234663852886e38


def check_value(value, what: str = "value", limit: float = MAX_ABS_VALUE) -> float:
    """A parameter value a user may type: a finite number of sane magnitude."""
    if isinstance(value, bool):
        raise SpecError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise SpecError(f"{what}: {value!r} is not a number") from None
    if not isinstance(value, (int, float)):
        raise SpecError(f"{what}: expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise SpecError(f"{what}: {value} is not finite; enter an ordinary number")
    if abs(value) > limit:
        raise SpecError(f"{what}: {value:g} is absurdly large (|value| must be at most {limit:g})")
    return value


def check_seed(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        else:
            raise SpecError(f"seed must be a whole number, got {value!r}")
    if not 0 <= value < 2**63:
        raise SpecError(f"seed must be between 0 and 2**63-1, got {value}")
    return value
