"""Activation functions and their exact PyTorch backward kernels.

The backward of each activation is the aten kernel autograd itself would call, so
our explicit backward pass gives the same bits as ``loss.backward()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

aten = torch.ops.aten


class SpecError(ValueError):
    """A user-supplied name or value that the engine cannot use."""


@dataclass(frozen=True)
class Activation:
    """One activation with its optional parameter (slope or alpha)."""

    name: str
    param: float | None = None

    def __post_init__(self) -> None:
        # A kind that takes a parameter, made without one, takes its default, as its spec already
        # says (``Activation("leaky_relu").spec`` reads back as slope 0.01); a None here would reach
        # torch's leaky_relu/elu at the first forward and raise a TypeError.
        kind = _KINDS.get(self.name)
        if self.param is None and kind is not None and kind.default is not None:
            object.__setattr__(self, "param", kind.default)

    @property
    def spec(self) -> str:
        """The text form used in scenario files: ``relu``, ``leaky_relu:0.01``."""
        if self.param is None or self.param == _KINDS[self.name].default:
            return self.name
        return f"{self.name}:{self.param!r}"  # repr: reads back to the very same float

    @property
    def value(self) -> float:
        """The parameter of a kind that takes one: leaky_relu's slope, elu's alpha."""
        return _given(self.param)

    @property
    def label(self) -> str:
        """The name shown on screen: ``ReLU``, ``LeakyReLU(0.01)``."""
        return _KINDS[self.name].label + (f"({self.param:g})" if self.param is not None else "")

    @property
    def flat_below_zero(self) -> bool:
        """True when a negative pre-activation passes no gradient at all (ReLU)."""
        return _KINDS[self.name].flat_below_zero

    @property
    def bounded(self) -> tuple[float, float]:
        """The output's range (lowest, highest); infinite where unbounded."""
        return _KINDS[self.name].bounds

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _KINDS[self.name].forward(z, self.param)

    def backward(self, grad: torch.Tensor, z: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return _KINDS[self.name].backward(grad, z, out, self.param)


Forward = Callable[[torch.Tensor, "float | None"], torch.Tensor]
"""An activation's forward: (pre-activation z, parameter) -> output."""
Backward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "float | None"], torch.Tensor]
"""An activation's backward: (gradient w.r.t. the output, z, output, parameter) -> gradient w.r.t. z."""


def _given(param: float | None) -> float:
    """The parameter of a kind that takes one (never None: ``Activation`` fills in the default)."""
    assert param is not None, "a parametrised activation without its parameter"
    return param


@dataclass(frozen=True)
class _Kind:
    label: str
    forward: Forward
    backward: Backward
    default: float | None
    flat_below_zero: bool
    bounds: tuple[float, float]


_INF = math.inf
_KINDS: dict[str, _Kind] = {
    "relu": _Kind(
        "ReLU",
        lambda z, p: F.relu(z),
        lambda g, z, o, p: aten.threshold_backward(g, o, 0),
        None,
        True,
        (0.0, _INF),
    ),
    "leaky_relu": _Kind(
        "LeakyReLU",
        lambda z, p: F.leaky_relu(z, _given(p)),
        lambda g, z, o, p: aten.leaky_relu_backward(g, z, p, False),
        0.01,
        False,
        (-_INF, _INF),
    ),
    "elu": _Kind(
        "ELU",
        lambda z, p: F.elu(z, _given(p)),
        lambda g, z, o, p: aten.elu_backward(g, p, 1, 1, False, z),
        1.0,
        False,
        (-1.0, _INF),
    ),
    "sigmoid": _Kind(
        "Sigmoid",
        lambda z, p: torch.sigmoid(z),
        lambda g, z, o, p: aten.sigmoid_backward(g, o),
        None,
        False,
        (0.0, 1.0),
    ),
    "tanh": _Kind(
        "Tanh",
        lambda z, p: torch.tanh(z),
        lambda g, z, o, p: aten.tanh_backward(g, o),
        None,
        False,
        (-1.0, 1.0),
    ),
    "identity": _Kind(
        "Identity",
        lambda z, p: z,
        lambda g, z, o, p: g,
        None,
        False,
        (-_INF, _INF),
    ),
    "gelu": _Kind(
        "GELU",
        lambda z, p: F.gelu(z),
        lambda g, z, o, p: aten.gelu_backward(g, z),
        None,
        False,
        (-0.17, _INF),
    ),
    "softplus": _Kind(
        "Softplus",
        lambda z, p: F.softplus(z),
        lambda g, z, o, p: aten.softplus_backward(g, z, 1, 20),
        None,
        False,
        (0.0, _INF),
    ),
}

NAMES: tuple[str, ...] = tuple(_KINDS)


def parse_activation(text: str) -> Activation:
    """Parse ``name`` or ``name:param`` (slope for leaky_relu, alpha for elu)."""
    if not isinstance(text, str):
        raise SpecError(f"expected an activation name as text, got {type(text).__name__}")
    shown = repr(text[:40]) + ("..." if len(text) > 40 else "")
    name, sep, rest = text.strip().partition(":")
    name = name.strip().lower().replace("-", "_")
    if name not in _KINDS:
        raise SpecError(
            f"unknown activation {shown}; expected one of {', '.join(NAMES)} "
            "(leaky_relu's slope or elu's alpha after a colon, e.g. leaky_relu:0.01)"
        )
    kind = _KINDS[name]
    if not sep:
        return Activation(name, kind.default)
    if kind.default is None:
        raise SpecError(f"activation {name!r} takes no parameter (got {shown})")
    try:
        value = float(rest)
    except ValueError:
        raise SpecError(f"activation parameter in {shown} is not a number") from None
    if not math.isfinite(value) or not 0 <= value <= 100:
        raise SpecError(f"activation parameter in {shown} must be a finite number in [0, 100]")
    return Activation(name, value)
