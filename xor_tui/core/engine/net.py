"""The network arithmetic, batched over any number of networks.

A single run is a batch of one, a survey a batch of 100,000: both go through these
functions, so they follow the same trajectory. Every operation is element-wise with
sums taken in a fixed order; tests check that the results equal ``nn.Linear``,
``BCELoss``, autograd and ``optim.SGD`` bit for bit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn as nn

from xor_tui.core.engine import losses
from xor_tui.core.engine.activations import Activation, SpecError

X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
TARGET = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
ROWS = ("(0,0)", "(0,1)", "(1,0)", "(1,1)")

MAX_UNITS = 4
MAX_HIDDEN_LAYERS = 2

Layer = tuple[torch.Tensor, torch.Tensor]  # (weight (B, out, in), bias (B, out))


@dataclass(frozen=True)
class Config:
    """Everything about training except the weights."""

    hidden: tuple[int, ...] = (2,)
    activations: tuple[Activation, ...] = (Activation("relu"), Activation("relu"))
    loss: str = "bce"
    lr: float = 0.001
    layer_lr: tuple[float, ...] | None = None
    weight_decay: float = 0.0
    decay_bias: bool = False

    def __post_init__(self) -> None:
        if not 1 <= len(self.hidden) <= MAX_HIDDEN_LAYERS:
            raise SpecError(f"expected 1 or 2 hidden layers, got {len(self.hidden)}")
        for units in self.hidden:
            if not (isinstance(units, int) and 1 <= units <= MAX_UNITS):
                raise SpecError(f"a hidden layer has 1 to {MAX_UNITS} units, got {units!r}")
        if len(self.activations) != len(self.hidden) + 1:
            raise SpecError(f"expected {len(self.hidden) + 1} activations (one per layer), got {len(self.activations)}")
        losses.check_name(self.loss)
        check_lr(self.lr, "learning rate")
        if self.layer_lr is not None:
            if len(self.layer_lr) != len(self.hidden) + 1:
                raise SpecError(f"expected {len(self.hidden) + 1} per-layer learning rates, got {len(self.layer_lr)}")
            for value in self.layer_lr:
                check_lr(value, "per-layer learning rate")
        if not (math.isfinite(self.weight_decay) and 0 <= self.weight_decay <= 10):
            raise SpecError(f"weight decay must be a finite number in [0, 10], got {self.weight_decay!r}")

    @property
    def layer_names(self) -> tuple[str, ...]:
        return layer_names(len(self.hidden))

    @property
    def sizes(self) -> tuple[int, ...]:
        return (2, *self.hidden, 1)

    @property
    def shape_text(self) -> str:
        return "-".join(str(s) for s in self.sizes)

    @property
    def lr_text(self) -> str:
        return rates_text(self.lr, self.layer_lr)

    @property
    def output_act_used(self) -> bool:
        """False for BCEWithLogitsLoss, which takes the output's pre-activation z: whatever the
        output activation is, it is not applied."""
        return self.loss != "bce-logits"

    def summary(self, lr: bool = True) -> str:
        """The setting in one line: ``2-2-1 ReLU/ReLU, bce, lr 0.001`` (without the learning rate
        when ``lr`` is false) and its weight decay, if any."""
        text = f"{self.shape_text} {'/'.join(a.label for a in self.activations)}, {self.loss}"
        if not self.output_act_used and self.activations[-1].name != "identity":
            text += " (which takes z: the output activation is unused)"
        if lr:
            text += f", lr {self.lr_text}"
        if self.weight_decay:
            text += f", weight decay {self.weight_decay:g}{' (biases too)' if self.decay_bias else ''}"
        return text

    def layer_index(self, name: str) -> int:
        """The index of a layer by name; SpecError for a name this network does not have."""
        names = self.layer_names
        if name not in names:
            shown = repr(name[:40]) if isinstance(name, str) else type(name).__name__
            raise SpecError(f"unknown layer {shown}; expected one of {', '.join(names)}")
        return names.index(name)

    def lr_of(self, layer: int) -> float:
        return self.layer_lr[layer] if self.layer_lr is not None else self.lr

    def with_activation(self, layer: int, act: Activation) -> Config:
        acts = list(self.activations)
        acts[layer] = act
        return replace(self, activations=tuple(acts))


def rates_text(lr: float, layer_lr: Sequence[float] | None = None) -> str:
    """``0.001``, or ``8/2/0.25`` for per-layer rates (one per layer, input side first)."""
    return f"{lr:g}" if layer_lr is None else "/".join(f"{v:g}" for v in layer_lr)


MAX_LR = 1e6


def check_lr(value: object, what: str = "learning rate") -> float:
    """A learning rate: a finite number above 0 and at most MAX_LR; returned as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{what}: expected a number above 0, got {type(value).__name__}")
    if isinstance(value, int) and value > MAX_LR:
        digits = len(str(value))
        raise SpecError(f"{what}: expected a number above 0 and at most {MAX_LR:g}, got a {digits}-digit number")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise SpecError(f"{what}: expected a number above 0, got {value:g}")
    if value > MAX_LR:
        raise SpecError(f"{what}: expected a number above 0 and at most {MAX_LR:g}, got {value:g}")
    return value


def layer_names(n_hidden: int) -> tuple[str, ...]:
    return ("hidden",) + tuple(f"hidden{i + 2}" for i in range(n_hidden - 1)) + ("output",)


# ---------------------------------------------------------------- initialisation


def init_from_seed(seed: int, sizes: tuple[int, ...]) -> list[Layer]:
    """The start ``torch.manual_seed(seed)`` then ``nn.Linear`` per layer would give."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        mods = [nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
    finally:
        torch.random.set_rng_state(state)
    return [(m.weight.detach().clone()[None], m.bias.detach().clone()[None]) for m in mods]


def init_batch(generator: torch.Generator, n: int, sizes: tuple[int, ...]) -> list[Layer]:
    """n starts drawn from nn.Linear's default distribution: U(-1/sqrt(fan_in), +)."""
    layers = []
    for i in range(len(sizes) - 1):
        bound = 1 / math.sqrt(sizes[i])
        w = torch.empty(n, sizes[i + 1], sizes[i]).uniform_(-bound, bound, generator=generator)
        b = torch.empty(n, sizes[i + 1]).uniform_(-bound, bound, generator=generator)
        layers.append((w, b))
    return layers


def zeros(sizes: tuple[int, ...], n: int = 1) -> list[Layer]:
    return [(torch.zeros(n, sizes[i + 1], sizes[i]), torch.zeros(n, sizes[i + 1])) for i in range(len(sizes) - 1)]


# ---------------------------------------------------------------- one epoch


@dataclass
class Pass:
    """Forward and backward through a batch of networks on the four XOR rows.

    Tensors are batch-first views: ``pre[l]`` is (B, 4, units), grads (B, out, in) and (B, out).
    """

    pre: list[torch.Tensor]
    out: list[torch.Tensor]
    loss: torch.Tensor | None  # (B,), NaN where it could not be computed; None if not asked
    valid: torch.Tensor  # (B,) False where BCELoss refuses the outputs
    grads: list[Layer] = field(default_factory=list)
    # with ``chain=True`` only: per layer, the gradient of the loss with respect to its
    # outputs (``upstream``) and its pre-activations (``delta``), one value per row and unit:
    # the intermediate numbers of the backward pass, as it computed them
    upstream: list[torch.Tensor] = field(default_factory=list)
    delta: list[torch.Tensor] = field(default_factory=list)


def evaluate(params: list[Layer], config: Config, grads: bool = True, chain: bool = False) -> Pass:
    """Forward, loss and (optionally) backward for batch-first parameters. With ``chain``,
    the pass also keeps the backward's per-row intermediates (``Pass.upstream``, ``Pass.delta``,
    batch-first (B, 4, units)), which the explanation of a gradient shows."""
    bl = [(w.permute(1, 2, 0).contiguous(), b.permute(1, 0).contiguous()) for w, b in params]
    p = evaluate_bl(bl, config, grads, chain=chain)
    return Pass(
        [z.permute(2, 0, 1) for z in p.pre],
        [a.permute(2, 0, 1) for a in p.out],
        p.loss,
        p.valid,
        [(gw.permute(2, 0, 1), gb.permute(1, 0)) for gw, gb in p.grads],
        [u.permute(2, 0, 1) for u in p.upstream],
        [g.permute(2, 0, 1) for g in p.delta],
    )


# The arithmetic runs batch-last: weights (out, in, B), biases (out, B), activations
# (4, units, B). The batch is then the contiguous inner dimension of every element-wise
# operation, which is what makes 100,000 networks fast; the order of every sum is the
# same as in addmm / mm for these sizes, so a batch of one gives torch's own bits.


def forward_bl(
    params: list[Layer], config: Config, points: torch.Tensor = X
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """The forward pass, batch-last, on any input points (P, 2), the four XOR rows by default:
    (each layer's input, pre-activation and output, each (P, units, B)). The one forward of
    xor-tui: training, the survey's torch path, and every picture of the input plane."""
    n = params[0][0].shape[-1]
    a = points[:, :, None].expand(points.shape[0], 2, n)
    inputs, pre, out = [], [], []
    for (w, b), act in zip(params, config.activations):
        inputs.append(a)

        def term(i: int, a: torch.Tensor = a, w: torch.Tensor = w) -> torch.Tensor:
            return a[:, i, None, :] * w[None, :, i, :]

        if w.shape[0] == w.shape[1] == 4:
            # nn.Linear(4, 4) on four rows (MKL's kernel for that shape, COMPATIBLE mode too)
            # adds its products pairwise, (x0 w0 + x2 w2) + (x1 w1 + x3 w3); every other shape
            # here left to right (tests/test_engine_torch.py, test_explain.py)
            z = term(0).add_(term(2)).add_(term(1).add_(term(3)))
        else:
            z = term(0)
            for i in range(1, w.shape[1]):
                z.add_(term(i))
        z.add_(b[None])
        a = act.forward(z)
        pre.append(z)
        out.append(a)
    return inputs, pre, out


def evaluate_bl(
    params: list[Layer], config: Config, grads: bool = True, loss_value: bool = True, chain: bool = False
) -> Pass:
    """Forward, loss and (optionally) backward, batch-last; ``chain``: keep the backward's
    per-row intermediates (``Pass.upstream``, ``Pass.delta``) for the explanation."""
    inputs, pre, out = forward_bl(params, config)
    res = losses.compute(
        config.loss,
        pre[-1][:, 0, :],
        out[-1][:, 0, :],
        TARGET[:, :1],
        loss_value,
        nonnegative=config.activations[-1].bounded[0] >= 0,
    )
    result = Pass(pre, out, res.loss, res.valid)
    if not grads:
        return result
    last = len(params) - 1
    upstream = res.grad_y[:, None, :]
    layer_grads: list[Layer] = []
    ups: list[torch.Tensor] = []
    deltas: list[torch.Tensor] = []
    for li in range(last, -1, -1):
        if li == last and res.on_logits:
            g = res.grad_z[:, None, :]
        else:
            g = config.activations[li].backward(upstream, pre[li], out[li])
        if chain:
            ups.append(upstream)
            deltas.append(g)
        x = inputs[li]
        prod = g[:, :, None, :] * x[:, None, :, :]  # (4, out, in, B)
        gw = prod[0] + prod[1]
        gw.add_(prod[2]).add_(prod[3])
        gb = g[0] + g[1]
        gb.add_(g[2]).add_(g[3])
        layer_grads.append((gw, gb))
        if li:
            w = params[li][0]
            upstream = g[:, 0, None, :] * w[None, 0, :, :]
            for j in range(1, w.shape[0]):
                upstream.add_(g[:, j, None, :] * w[None, j, :, :])
    result.grads = layer_grads[::-1]
    result.upstream, result.delta = ups[::-1], deltas[::-1]
    return result


def sgd_step(params: list[Layer], grads: list[Layer], config: Config) -> list[Layer]:
    """torch.optim.SGD's update (weight decay folded into the gradient), out of place."""
    new = []
    for li, ((w, b), (gw, gb)) in enumerate(zip(params, grads)):
        lr = config.lr_of(li)
        wd = config.weight_decay
        if wd:
            gw = gw.add(w, alpha=wd)
            if config.decay_bias:
                gb = gb.add(b, alpha=wd)
        new.append((w.add(gw, alpha=-lr), b.add(gb, alpha=-lr)))
    return new


# ---------------------------------------------------------------- parameter names

_PARAM_RE = re.compile(r"^(?P<layer>[a-z0-9]+)\.(?P<kind>weight|bias)\[(?P<j>\d+)\](?:\[(?P<i>\d+)\])?$")


@dataclass(frozen=True)
class ParamRef:
    layer: int
    kind: str  # "weight" or "bias"
    unit: int
    source: int | None = None

    def name(self, config: Config) -> str:
        base = f"{config.layer_names[self.layer]}.{self.kind}[{self.unit}]"
        return base if self.source is None else f"{base}[{self.source}]"


def parse_param(text: str, config: Config) -> ParamRef:
    """``hidden.weight[0][1]`` or ``output.bias[0]`` -> a checked reference."""
    m = _PARAM_RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise SpecError(f"parameter {text!r} is not of the form layer.weight[j][i] or layer.bias[j]")
    names = config.layer_names
    if m["layer"] not in names:
        raise SpecError(f"parameter {text!r}: unknown layer; expected one of {', '.join(names)}")
    layer = names.index(m["layer"])
    outs, ins = config.sizes[layer + 1], config.sizes[layer]
    j = int(m["j"])
    if j >= outs:
        raise SpecError(f"parameter {text!r}: {m['layer']} has {outs} unit(s), index {j} is out of range")
    if m["kind"] == "weight":
        if m["i"] is None:
            raise SpecError(f"parameter {text!r}: a weight needs two indices, [unit][input]")
        i = int(m["i"])
        if i >= ins:
            raise SpecError(f"parameter {text!r}: {m['layer']} has {ins} input(s), index {i} is out of range")
        return ParamRef(layer, "weight", j, i)
    if m["i"] is not None:
        raise SpecError(f"parameter {text!r}: a bias takes one index, [unit]")
    return ParamRef(layer, "bias", j)


_UNIT_RE = re.compile(r"^(?P<layer>[a-z][a-z0-9]*)(?:\[(?P<j>\d{1,3})\])?$")


@dataclass(frozen=True)
class UnitRef:
    """One neuron: its layer (0 is the first hidden layer, the last is the output) and index."""

    layer: int
    unit: int

    def name(self, config: Config) -> str:
        """The name in files and messages: ``hidden[0]``, ``hidden2[1]``, ``output[0]``."""
        return f"{config.layer_names[self.layer]}[{self.unit}]"

    def short(self, config: Config) -> str:
        """The name on screen: ``h[0]``, ``h2[1]``, ``out``."""
        lname = config.layer_names[self.layer]
        if lname == "output":
            return "out"
        return f"{lname.replace('hidden', 'h')}[{self.unit}]"


def parse_unit(text: str, config: Config) -> UnitRef:
    """A unit by either of its names: as on screen (``h[0]``, ``h2[1]``, ``out``) or as in
    files and messages (``hidden[0]``, ``hidden2[1]``, ``output[0]``; ``output`` and ``out[0]``
    too). The one parser of unit names; SpecError with the names this network has."""
    m = _UNIT_RE.match(text.strip()) if isinstance(text, str) else None
    layer = None
    if m:
        names = config.layer_names
        word = m["layer"]
        if word in ("out", "output"):
            layer = len(names) - 1
        elif word in names:
            layer = names.index(word)
        elif word.startswith("h") and "hidden" + word[1:] in names[:-1]:
            layer = names.index("hidden" + word[1:])
    if layer is None:
        shown = repr(text[:40]) if isinstance(text, str) else type(text).__name__
        known = [UnitRef(li, j) for li in range(len(config.sizes) - 1) for j in range(config.sizes[li + 1])]
        raise SpecError(
            f"unknown unit {shown}; expected one of {', '.join(u.short(config) for u in known)} "
            f"(or {', '.join(u.name(config) for u in known)})"
        )
    assert m is not None  # a layer was found in it
    units = config.sizes[layer + 1]
    lname, shown = config.layer_names[layer], repr(text.strip())
    j = 0 if m["j"] is None and units == 1 else (int(m["j"]) if m["j"] is not None else None)
    if j is None:
        raise SpecError(f"unit {shown}: which one? {lname} has {units} units: give [0] to [{units - 1}]")
    if j >= units:
        raise SpecError(f"unit {shown}: {lname} has {units} unit(s), index {j} is out of range")
    return UnitRef(layer, j)


def all_params(config: Config) -> list[ParamRef]:
    refs = []
    for li in range(len(config.sizes) - 1):
        for j in range(config.sizes[li + 1]):
            for i in range(config.sizes[li]):
                refs.append(ParamRef(li, "weight", j, i))
        for j in range(config.sizes[li + 1]):
            refs.append(ParamRef(li, "bias", j))
    return refs


def get_value(params: list[Layer], ref: ParamRef, index: int = 0) -> float:
    w, b = params[ref.layer]
    return float(w[index, ref.unit, ref.source] if ref.kind == "weight" else b[index, ref.unit])


def with_value(params: list[Layer], ref: ParamRef, value: float) -> list[Layer]:
    new = [(w.clone(), b.clone()) for w, b in params]
    w, b = new[ref.layer]
    if ref.kind == "weight":
        w[:, ref.unit, ref.source] = value
    else:
        b[:, ref.unit] = value
    return new


def state_dict(params: list[Layer], config: Config, index: int = 0) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for name, (w, b) in zip(config.layer_names, params):
        out[f"{name}.weight"] = w[index].clone()
        out[f"{name}.bias"] = b[index].clone()
    return out


def from_state_dict(sd: Mapping[str, object], config: Config) -> list[Layer]:
    """Explicit start values keyed like nn.Module.state_dict(); shapes are checked."""
    expected: dict[str, tuple[int, ...]] = {}
    for li, name in enumerate(config.layer_names):
        expected[f"{name}.weight"] = (config.sizes[li + 1], config.sizes[li])
        expected[f"{name}.bias"] = (config.sizes[li + 1],)
    unknown = sorted(set(sd) - set(expected))
    if unknown:
        raise SpecError(f"unknown parameter {unknown[0]!r}; expected {', '.join(expected)}")
    missing = [k for k in expected if k not in sd]
    if missing:
        raise SpecError(f"missing parameter {missing[0]!r}")
    layers = []
    for name in config.layer_names:
        pair = []
        for kind in ("weight", "bias"):
            key = f"{name}.{kind}"
            try:
                t = torch.as_tensor(sd[key], dtype=torch.float32)
            except (TypeError, ValueError, RuntimeError):
                raise SpecError(f"{key}: expected nested lists of numbers of shape {list(expected[key])}") from None
            if tuple(t.shape) != expected[key]:
                raise SpecError(f"{key}: expected shape {list(expected[key])}, got {list(t.shape)}")
            if not torch.isfinite(t).all():
                raise SpecError(f"{key}: every value must be finite (no NaN or inf)")
            pair.append(t.clone()[None])
        layers.append((pair[0], pair[1]))
    return layers
