"""What a user or a script can do to a run: one class per action.

Each action knows how to apply itself to a state (``apply``), say what it did
(``describe``) and write and read itself as a ``[[script]]`` entry (``to_toml`` /
``from_toml``). Constructing one validates it with the project's single check for that
value (``check_value``, ``net.check_lr``, ``check_seed``, ``parse_activation``,
``losses.check_name``): an invalid action cannot exist, and each rule is written once.
Checks that need the network (does ``hidden.weight[3][0]`` exist?) are in ``check``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self, TypeVar

from xor_tui.core.engine import losses, net
from xor_tui.core.engine.activations import SpecError, parse_activation
from xor_tui.core.engine.net import Config, Layer

MAX_ABS_VALUE = 1e6  # what a user may type into the edit dialog
FLOAT32_MAX = 3.4028234663852886e38  # what a script may set
MAX_SEED = 2**63 - 1

ScriptEntry = Mapping[str, Any]
"""A ``[[script]]`` entry as read from TOML: its keys were checked, its values not yet (Any:
each action's constructor checks them, whatever a file holds)."""
_A = TypeVar("_A")


def parse_number(text: str, what: str = "value") -> float:
    """A number a person typed: ASCII digits, a point, an exponent (Python's float() would
    also take "1_000" and other scripts' digits); one-line errors that say what is wrong."""
    t = text.strip()
    shown = repr(t[:40]) + ("…" if len(t) > 40 else "")
    if not t.isascii() or "_" in t:
        raise SpecError(f"{what}: {shown} is not a number (digits 0-9, a point and an exponent only)")
    try:
        v = float(t)
    except ValueError:
        raise SpecError(f"{what}: {shown} is not a number") from None
    if math.isinf(v) and "inf" not in t.lower():
        raise SpecError(f"{what}: {shown} is too large to be a number")
    if v == 0 and any(c in "123456789" for c in t.lower().split("e")[0]):
        raise SpecError(f"{what}: {shown} is too small: it rounds to 0")
    return v


def check_value(value: object, what: str = "value", limit: float = MAX_ABS_VALUE) -> float:
    """A parameter value: a finite number of at most ``limit`` in size (text is parsed)."""
    if isinstance(value, bool):
        raise SpecError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, str):
        value = parse_number(value, what)
    if not isinstance(value, (int, float)):
        raise SpecError(f"{what}: expected a number, got {type(value).__name__}")
    if isinstance(value, int) and abs(value) > limit:
        raise SpecError(f"{what}: a {len(str(abs(value)))}-digit number is absurdly large (at most {limit:g})")
    value = float(value)
    if not math.isfinite(value):
        raise SpecError(f"{what}: {value} is not finite; enter an ordinary number")
    if abs(value) > limit:
        raise SpecError(f"{what}: {value:g} is absurdly large (|value| must be at most {limit:g})")
    return value


def check_seed(value: object) -> int:
    """A seed: a whole number from 0 to 2**63-1 (what torch.manual_seed accepts); text is parsed."""
    if isinstance(value, bool) or not isinstance(value, int):
        t = value.strip() if isinstance(value, str) else ""
        if t.isascii() and t.removeprefix("-").isdigit():
            value = int(t) if len(t) < 100 else MAX_SEED + 1
        else:
            shown = repr(value[:40]) if isinstance(value, str) else type(value).__name__
            raise SpecError(f"seed must be a whole number, got {shown}")
    if not 0 <= value <= MAX_SEED:
        shown = f"{value}" if abs(value) < 10**30 else f"a {len(str(abs(value)))}-digit number"
        raise SpecError(f"seed must be from 0 to 2**63-1, got {shown}")
    return value


@dataclass(frozen=True)
class Action:
    """One change to a run at an epoch, applied to that epoch's state before its forward."""

    epoch: int
    kind: ClassVar[str] = ""
    KEYS: ClassVar[frozenset[str]] = frozenset()  # the keys of its [[script]] entry besides epoch

    def apply(self, config: Config, params: list[Layer]) -> tuple[Config, list[Layer]]:
        raise NotImplementedError

    def check(self, config: Config) -> None:
        """Raise SpecError if the action does not fit this network."""

    def describe(self) -> str:
        raise NotImplementedError

    def to_toml(self) -> dict[str, object]:
        raise NotImplementedError

    def at(self, epoch: int) -> Self:
        """The same action at another epoch."""
        return replace(self, epoch=epoch)

    @classmethod
    def from_toml(cls, epoch: int, item: ScriptEntry) -> Self:
        """From a [[script]] entry whose keys were checked; raises SpecError naming the key."""
        raise NotImplementedError


class FieldError(SpecError):
    """A SpecError about one key of a [[script]] entry."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def _field(key: str, fn: Callable[..., _A], *args: object) -> _A:
    try:
        return fn(*args)
    except FieldError:
        raise
    except SpecError as exc:
        raise FieldError(key, str(exc)) from None


@dataclass(frozen=True)
class SetParam(Action):
    """Set one weight or bias: ``target`` like ``hidden.weight[0][1]``."""

    target: str
    value: float
    kind: ClassVar[str] = "set"
    KEYS: ClassVar[frozenset[str]] = frozenset({"set", "value"})

    def __post_init__(self) -> None:
        if not isinstance(self.target, str):
            raise SpecError(f"parameter name must be text, got {type(self.target).__name__}")
        object.__setattr__(self, "value", check_value(self.value, self.target, limit=FLOAT32_MAX))

    def check(self, config: Config) -> None:
        net.parse_param(self.target, config)

    def apply(self, config: Config, params: list[Layer]) -> tuple[Config, list[Layer]]:
        return config, net.with_value(params, net.parse_param(self.target, config), self.value)

    def describe(self) -> str:
        return f"set {self.target} = {self.value:.6g}"

    def to_toml(self) -> dict[str, object]:
        return {"epoch": self.epoch, "set": self.target, "value": self.value}

    @classmethod
    def from_toml(cls, epoch: int, item: ScriptEntry) -> Self:
        if "value" not in item:
            raise FieldError("value", "missing; a set action needs a value")
        return _field("value", cls, epoch, item["set"], item["value"])


@dataclass(frozen=True)
class SetActivation(Action):
    """Change one layer's activation: ``spec`` like ``elu`` or ``leaky_relu:0.1``."""

    layer: str
    spec: str
    kind: ClassVar[str] = "activation"
    KEYS: ClassVar[frozenset[str]] = frozenset({"activation", "layer"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", parse_activation(self.spec).spec)

    def check(self, config: Config) -> None:
        config.layer_index(self.layer)

    def apply(self, config: Config, params: list[Layer]) -> tuple[Config, list[Layer]]:
        return config.with_activation(config.layer_index(self.layer), parse_activation(self.spec)), params

    def describe(self) -> str:
        return f"{self.layer} activation -> {self.spec}"

    def to_toml(self) -> dict[str, object]:
        return {"epoch": self.epoch, "activation": self.spec, "layer": self.layer}

    @classmethod
    def from_toml(cls, epoch: int, item: ScriptEntry) -> Self:
        if "layer" not in item:
            raise FieldError("layer", "missing; say which layer's activation changes")
        return _field("activation", cls, epoch, item["layer"], item["activation"])


@dataclass(frozen=True)
class SetLr(Action):
    """Change the learning rate of every layer (``layer`` None) or of one layer."""

    value: float
    layer: str | None = None
    kind: ClassVar[str] = "lr"
    KEYS: ClassVar[frozenset[str]] = frozenset({"lr", "layer"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", net.check_lr(self.value, "learning rate"))

    def check(self, config: Config) -> None:
        if self.layer is not None:
            config.layer_index(self.layer)

    def apply(self, config: Config, params: list[Layer]) -> tuple[Config, list[Layer]]:
        if self.layer is None:
            return replace(config, lr=self.value, layer_lr=None), params
        names = config.layer_names
        rates = list(config.layer_lr or [config.lr] * len(names))
        rates[config.layer_index(self.layer)] = self.value
        return replace(config, layer_lr=tuple(rates)), params

    def describe(self) -> str:
        where = f" of {self.layer}" if self.layer else ""
        return f"learning rate{where} -> {self.value:g}"

    def to_toml(self) -> dict[str, object]:
        d: dict[str, object] = {"epoch": self.epoch, "lr": self.value}
        if self.layer is not None:
            d["layer"] = self.layer
        return d

    @classmethod
    def from_toml(cls, epoch: int, item: ScriptEntry) -> Self:
        return _field("lr", cls, epoch, item["lr"], item.get("layer"))


@dataclass(frozen=True)
class SetLoss(Action):
    """Change the loss function: one of ``losses.NAMES``."""

    name: str
    kind: ClassVar[str] = "loss"
    KEYS: ClassVar[frozenset[str]] = frozenset({"loss"})

    def __post_init__(self) -> None:
        losses.check_name(self.name)

    def apply(self, config: Config, params: list[Layer]) -> tuple[Config, list[Layer]]:
        return replace(config, loss=self.name), params

    def describe(self) -> str:
        return f"loss -> {self.name}"

    def to_toml(self) -> dict[str, object]:
        return {"epoch": self.epoch, "loss": self.name}

    @classmethod
    def from_toml(cls, epoch: int, item: ScriptEntry) -> Self:
        return _field("loss", cls, epoch, item["loss"])


@dataclass(frozen=True)
class Reseed(Action):
    """Replace the weights by PyTorch's default start for ``seed``."""

    seed: int
    kind: ClassVar[str] = "reseed"
    KEYS: ClassVar[frozenset[str]] = frozenset({"reseed"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", check_seed(self.seed))

    def apply(self, config: Config, params: list[Layer]) -> tuple[Config, list[Layer]]:
        return config, net.init_from_seed(self.seed, config.sizes)

    def describe(self) -> str:
        return f"reseed {self.seed}"

    def to_toml(self) -> dict[str, object]:
        return {"epoch": self.epoch, "reseed": self.seed}

    @classmethod
    def from_toml(cls, epoch: int, item: ScriptEntry) -> Self:
        return _field("reseed", cls, epoch, item["reseed"])


@dataclass(frozen=True)
class Zeros(Action):
    """Set every weight and bias to zero."""

    kind: ClassVar[str] = "zeros"
    KEYS: ClassVar[frozenset[str]] = frozenset({"zeros"})

    def apply(self, config: Config, params: list[Layer]) -> tuple[Config, list[Layer]]:
        return config, net.zeros(config.sizes)

    def describe(self) -> str:
        return "zeros"

    def to_toml(self) -> dict[str, object]:
        return {"epoch": self.epoch, "zeros": True}

    @classmethod
    def from_toml(cls, epoch: int, item: ScriptEntry) -> Self:
        if item["zeros"] is not True:
            raise FieldError("zeros", "expected true")
        return cls(epoch)


ACTIONS: dict[str, type[Action]] = {c.kind: c for c in (SetParam, SetActivation, SetLr, SetLoss, Reseed, Zeros)}
ACTION_KINDS = tuple(ACTIONS)
