"""Why, not only what: a state's numbers explained with the engine's own arithmetic.

For any state of any run (a ``Record``), five explanations, each a frozen dataclass a widget
can draw, with ``lines()`` (plain text) and ``to_json`` (a JSON-ready dict):

- ``explain_param``: a parameter's gradient as the chain rule, row by row (every factor with
  its value, a zero one named with its cause), the row terms summed in the engine's order, and
  the SGD update as ``optim.SGD`` computes it;
- ``explain_unit``: a neuron's pre-activation per row as w·x + b, whether it is alive, dead or
  active on k of 4 rows and why, and the smallest single change that would make it active on
  a row where it is not;
- ``explain_loss``: each row's loss term (BCELoss's clamp of each log at -100 where it applies)
  and the mean;
- ``explain_halt``: which outputs BCELoss refused (or which numbers are not finite) and the
  step of the epoch before that carried them there;
- ``explain_case``: the checklist of the case rules (``diagnosis.CASE_RULES``) with the live
  counts, and which rule flipped where the case changed.

Every number is the engine's: the forward and backward of ``net.evaluate`` (with ``chain``, it
keeps the per-row intermediates of its backward pass) and ``net.sgd_step``. The row terms are
the very products the backward pass sums, and summed here in its order they give its gradient
bit for bit (tests compare every one with torch's autograd). The factors of a row (∂L/∂ŷ, an
activation's derivative, a weight, an input) are shown for reading; the engine multiplies them
in its own order, so their product may differ from the row term in the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from xor_tui.core.engine import losses, net
from xor_tui.core.engine.activations import Activation, SpecError
from xor_tui.core.engine.net import Config, ParamRef, UnitRef
from xor_tui.core.engine.run import Record
from xor_tui.core.rules import diagnosis
from xor_tui.core.rules.diagnosis import CASE_RULES, COUNTS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "CaseExplanation",
    "Explanation",
    "Factor",
    "HaltExplanation",
    "LossExplanation",
    "ParamExplanation",
    "UnitExplanation",
    "explain_case",
    "explain_halt",
    "explain_loss",
    "explain_param",
    "explain_unit",
    "num",
    "to_json",
]

ROWS = net.ROWS
BCE_EPSILON = np.float32(1e-12)  # BCELoss's backward divides by max(ŷ(1 - ŷ), 1e-12)
LOG_CLAMP = -100.0  # BCELoss clamps each log at -100
MARGIN = 0.01  # a suggested change puts the pre-activation this far past 0, not on the boundary
F32 = np.float32


def num(v: float | None, digits: int = 6) -> str:
    """A number as the explanations print it: ``digits`` significant digits, ``0`` for ±0,
    ``inf``/``nan`` as Python spells them, ``-`` for None."""
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.{digits}g}"


def signed(v: float, digits: int = 5) -> str:
    """A change, with its sign: ``+2.6375``."""
    return "0" if v == 0 else f"{v:+.{digits}g}"


def _f(t: torch.Tensor | np.floating) -> float:
    return float(t)


def _sum_in_order(values: Sequence[float]) -> float:
    """((a + b) + c) + d in float32: the order in which the engine sums the four rows."""
    acc = F32(values[0])
    for v in values[1:]:
        acc = F32(acc + F32(v))
    return float(acc)


def _short(config: Config, layer: int, unit: int) -> str:
    return UnitRef(layer, unit).short(config)


# ---------------------------------------------------------------- the engine's numbers


@dataclass(frozen=True)
class _State:
    """One forward and backward of a record (the engine's ``evaluate`` with ``chain``), batch
    index dropped: tensors per layer (4, units), and the same numbers as Python floats, read
    once (``[layer][row][unit]``; weights ``[layer][unit][input]``)."""

    config: Config
    params: list[tuple[torch.Tensor, torch.Tensor]]  # batch of one, as the engine takes them
    pre: list[torch.Tensor]
    out: list[torch.Tensor]
    grads: list[tuple[torch.Tensor, torch.Tensor]] | None  # batch of one; None when halted
    new: list[tuple[torch.Tensor, torch.Tensor]] | None  # net.sgd_step's result
    z: list[list[list[float]]]  # pre-activations
    a: list[list[list[float]]]  # outputs
    up: list[list[list[float]]]  # ∂L/∂ of each output
    delta: list[list[list[float]]]  # ∂L/∂z
    dact: list[list[list[float]]]  # each activation's derivative at each pre-activation (for reading)
    w: list[list[list[float]]]
    b: list[list[float]]
    x: list[list[list[float]]]  # each layer's inputs: [layer][row][input]
    sig: list[float]  # σ(z) of the output per row (bce-logits' prediction)


_CACHE: list[tuple[Record, _State]] = []  # the last few records explained (a panel asks for many names)


def _state(record: Record) -> _State:
    for rec, st in _CACHE:
        if rec is record:
            return st
    config = record.config
    halted = record.halted
    p = net.evaluate(record.params, config, grads=not halted, chain=not halted)
    pre = [t[0] for t in p.pre]
    out = [t[0] for t in p.out]
    dact = [act.backward(torch.ones_like(z), z, a) for act, z, a in zip(config.activations, pre, out)]
    grads = new = None
    up: list[list[list[float]]] = []
    delta: list[list[list[float]]] = []
    if not halted:
        grads = p.grads
        new = net.sgd_step(record.params, grads, config)
        up = [u[0].tolist() for u in p.upstream]
        delta = [g[0].tolist() for g in p.delta]
    zl, al = [t.tolist() for t in pre], [t.tolist() for t in out]
    st = _State(
        config, record.params, pre, out, grads, new, zl, al, up, delta, [t.tolist() for t in dact],
        [w[0].tolist() for w, _ in record.params], [b[0].tolist() for _, b in record.params],
        [net.X.tolist()] + al[:-1], torch.sigmoid(pre[-1][:, 0]).tolist(),
    )  # fmt: skip
    _CACHE.insert(0, (record, st))
    del _CACHE[4:]
    return st


def _halted_note(record: Record) -> str:
    h = record.halt
    assert h is not None
    return f"training halted at epoch {h.epoch} ({h.message}): {h.reason}; there is no gradient (see the halt)"


# ---------------------------------------------------------------- a parameter


@dataclass(frozen=True)
class PathTerm:
    """One path from the output down to a unit two layers below it (through one unit of the layer
    between): its factors and their product."""

    via: str
    factors: tuple[Factor, ...]
    value: float


@dataclass(frozen=True)
class Factor:
    """One factor of a row's chain-rule product."""

    kind: str  # loss, activation, weight, paths, input
    name: str  # what it is: "∂L/∂ŷ", "ReLU'(z of h[0])", "output.weight[0][1]", "x1", "h[1]"
    text: str  # as printed in the product: "-1/(4ŷ) = -2637.11", "ReLU'(-0.4677) = 0"
    value: float
    zero: bool
    why: str | None = None  # for a zero factor: its cause in words
    paths: tuple[PathTerm, ...] = ()  # kind "paths": the sum over the units between


@dataclass(frozen=True)
class Partial:
    """An intermediate number of the backward pass on one row, exactly as the engine computed it:
    ∂L/∂ŷ, ∂L/∂z of a unit (its pre-activation), ∂L/∂ of a unit's output."""

    name: str
    value: float


@dataclass(frozen=True)
class RowTerm:
    """One XOR row's contribution to a gradient."""

    row: int
    row_text: str
    target: float
    prediction: float  # ŷ (σ(z) for bce-logits)
    factors: tuple[Factor, ...]
    partials: tuple[Partial, ...]
    term: float  # the engine's product for this row
    zero: bool
    why: str | None  # why the term is 0: its zero factors, or an underflow


@dataclass(frozen=True)
class Update:
    """The SGD step of one parameter, as ``optim.SGD`` computes it."""

    lr: float
    value: float
    grad: float
    weight_decay: float  # 0 when not applied to this parameter
    decayed_grad: float  # grad + weight_decay * value (torch's add), = grad without decay
    new_value: float
    change: float  # new_value - value

    def lines(self, name: str) -> list[str]:
        """The update in words and numbers."""
        out = []
        g = self.grad
        if self.weight_decay:
            out.append(
                f"weight decay folded into the gradient: g' = g + wd × value = {num(g)} + {num(self.weight_decay)} × "
                f"({num(self.value)}) = {num(self.decayed_grad)}"
            )
            g = self.decayed_grad
        gname = "g'" if self.weight_decay else "gradient"
        out.append(
            f"SGD step (lr {num(self.lr)}): new = value - lr × {gname} = {num(self.value)} - {num(self.lr)} × "
            f"({num(g)}) = {num(self.new_value)} (one fused multiply-add, rounded once)"
        )
        if self.change == 0:
            out.append(f"{name} does not move" + (": its gradient is 0" if g == 0 else " (the step is below its ulp)"))
        else:
            out.append(f"the step moves {name} by {signed(self.change)}")
        return out


@dataclass(frozen=True)
class ParamExplanation:
    """Why a parameter's gradient is what it is, and what the step does with it."""

    kind_: str  # "param"
    name: str
    epoch: int
    setting: str
    value: float
    gradient: float | None  # the engine's; None when halted
    total: float | None  # the row terms summed here in the engine's order (equals ``gradient``)
    rows: tuple[RowTerm, ...]
    zero: bool
    why: str | None  # for a zero gradient: every row's cause, or the terms cancel
    update: Update | None
    flowing: int | None  # parameters with a nonzero gradient in this state
    of: int
    halted: str | None
    formula: str  # the chain in symbols

    def lines(self) -> list[str]:
        """The explanation as plain text, one line each."""
        out = [f"{self.name} at epoch {self.epoch} ({self.setting})"]
        if self.halted:
            out.append(f"value {num(self.value)}; {self.halted}")
            return out
        out.append(
            f"value {num(self.value)}, gradient {num(self.gradient)} "
            f"({self.flowing} of {self.of} parameters receive gradient)"
        )
        out.append(f"the chain rule, row by row: {self.formula}")
        for r in self.rows:
            product = " × ".join(f.text for f in r.factors)
            out.append(f"  row {r.row_text}, t = {num(r.target)}, ŷ = {num(r.prediction)}: {product} -> {num(r.term)}")
            for f in r.factors:
                for p in f.paths:
                    out.append(f"      via {p.via}: {' × '.join(x.text for x in p.factors)} = {num(p.value)}")
            if r.zero:
                out.append(f"      0 because {r.why}")
        terms = " + ".join(f"({num(r.term)})" if r.term < 0 else num(r.term) for r in self.rows)
        out.append(f"sum of the row terms, in the engine's order ((a + b) + c) + d: {terms} = {num(self.total)}")
        if self.zero:
            out.append(f"the gradient is 0: {self.why}")
        if self.update is not None:
            out.extend(self.update.lines(self.name))
        return out


def _act_zero_why(act: Activation, z: float, o: float, unit: str, row: str) -> str:
    lab = act.label
    zs = num(z, 4)
    if act.name == "relu":
        if z == 0:
            return f"ReLU'(0) = 0: {unit}'s pre-activation is exactly 0 on row {row}, which counts as inactive"
        return f"ReLU'({zs}) = 0: {unit} is inactive on row {row}"
    if act.name == "leaky_relu":
        return f"{lab}'({zs}) = 0: its slope below 0 is 0, and {unit} is inactive on row {row}"
    if act.name == "elu":
        if not act.param:
            return f"{lab}'({zs}) = 0: its alpha is 0, and {unit} is inactive on row {row}"
        return f"{lab}'({zs}) = alpha·e^z underflows to 0 in float32 on row {row}"
    if act.name == "sigmoid":
        return f"Sigmoid'({zs}) = σ(z)(1 - σ(z)) = 0: σ(z) rounds to {num(o)} in float32 (saturated) on row {row}"
    if act.name == "tanh":
        return f"Tanh'({zs}) = 1 - tanh²(z) = 0: tanh(z) rounds to {num(o)} in float32 (saturated) on row {row}"
    if act.name == "softplus":
        return f"Softplus'({zs}) = σ(z) underflows to 0 in float32 on row {row}"
    return f"{lab}'({zs}) = 0 in float32 on row {row}"


def _loss_factor(state: _State, r: int) -> list[Factor]:
    """The loss's factor(s) on row r: ∂L/∂ŷ and the output activation's derivative, or for
    BCEWithLogitsLoss ∂L/∂z at once."""
    config = state.config
    last = len(config.sizes) - 2
    t = float(net.TARGET[r, 0])
    z = state.z[last][r][0]
    y = state.a[last][r][0]
    row = ROWS[r]
    if config.loss == "bce-logits":
        v = state.delta[last][r][0]
        s = state.sig[r]
        why = f"σ(z) = σ({num(z, 4)}) rounds to {num(s)}, the target, in float32" if v == 0 else None
        return [Factor("loss", "∂L/∂z", f"∂L/∂z = (σ(z) - t)/4 = ({num(s)} - {num(t)})/4 = {num(v)}", v, v == 0, why)]
    g = state.up[last][r][0]
    if config.loss == "bce":
        d = F32(F32(1) - F32(y)) * F32(y)
        if d < BCE_EPSILON:
            form = "(ŷ - t)/max(ŷ(1 - ŷ), 1e-12)/4 (BCELoss's backward clamps the denominator at 1e-12)"
        elif t == 1:
            form = "-1/(4ŷ)"
        elif t == 0:
            form = "1/(4(1 - ŷ))"
        else:
            form = "(ŷ - t)/(4ŷ(1 - ŷ))"
    else:
        form = "2(ŷ - t)/4"
    why = f"∂L/∂ŷ = 0: ŷ = {num(y)} equals the target {num(t)} on row {row}" if g == 0 else None
    out = [Factor("loss", "∂L/∂ŷ", f"∂L/∂ŷ = {form} = {num(g)}", g, g == 0, why)]
    out.append(_act_factor(state, last, 0, r))
    return out


def _act_factor(state: _State, layer: int, unit: int, r: int) -> Factor:
    act = state.config.activations[layer]
    z = state.z[layer][r][unit]
    o = state.a[layer][r][unit]
    d = state.dact[layer][r][unit]
    uname = _short(state.config, layer, unit)
    why = _act_zero_why(act, z, o, uname, ROWS[r]) if d == 0 else None
    text = f"{act.label}'(z_{uname} = {num(z, 4)}) = {num(d)}"
    return Factor("activation", f"{act.label}'(z_{uname})", text, d, d == 0, why)


def _weight_factor(state: _State, layer: int, unit: int, source: int) -> Factor:
    w = state.w[layer][unit][source]
    name = ParamRef(layer, "weight", unit, source).name(state.config)
    why = f"{name} = 0: a zero weight passes no gradient back" if w == 0 else None
    return Factor("weight", name, f"{name} ({num(w)})", w, w == 0, why)


def _input_factor(state: _State, layer: int, source: int, r: int) -> Factor:
    row = ROWS[r]
    if layer == 0:
        x = _f(net.X[r, source])
        name = f"x{source + 1}"
        why = f"{name} = 0 on row {row}: the input is 0" if x == 0 else None
        return Factor("input", name, f"{name} ({num(x)})", x, x == 0, why)
    config = state.config
    below = layer - 1
    v = state.a[below][r][source]
    uname = _short(config, below, source)
    why = None
    if v == 0:
        act = config.activations[below]
        z = state.z[below][r][source]
        if act.flat_below_zero and not z > 0:
            why = f"{uname} outputs {act.label}({num(z, 4)}) = 0 on row {row}: it is inactive there"
        else:
            why = f"{uname} outputs 0 on row {row}"
    return Factor("input", uname, f"{uname} ({num(v)})", v, v == 0, why)


def _paths_factor(state: _State, layer: int, unit: int, r: int) -> Factor:
    """For a unit two layers below the output: Σ over the units k between of
    output.weight[0][k] · f'(z of k) · weight[k][unit] (∂L/∂z of the output factored out)."""
    config = state.config
    mid = layer + 1
    last = len(config.sizes) - 2
    paths = []
    total = F32(0)
    for k in range(config.sizes[mid + 1]):
        fs = (_weight_factor(state, last, 0, k), _act_factor(state, mid, k, r), _weight_factor(state, mid, k, unit))
        prod = F32(F32(F32(fs[0].value) * F32(fs[1].value)) * F32(fs[2].value))
        total = F32(total + prod)
        paths.append(PathTerm(_short(config, mid, k), fs, float(prod)))
    v = float(total)
    why = None
    if v == 0:
        blocked = [p for p in paths if any(f.zero for f in p.factors)]
        if len(blocked) == len(paths):
            why = "every path is blocked: " + "; ".join(
                f"via {p.via}, {next(f.why for f in p.factors if f.zero)}" for p in paths
            )
        elif all(p.value == 0 for p in paths):
            why = "every path's product underflows float32"
        else:
            why = "the paths cancel"
    names = ", ".join(p.via for p in paths)
    return Factor("paths", f"Σ via {names}", f"Σ via {names} ({num(v)})", v, v == 0, why, tuple(paths))


def _unit_factors(state: _State, layer: int, unit: int, r: int) -> list[Factor]:
    """The factors of ∂L/∂z of a unit on row r, from the loss down."""
    config = state.config
    last = len(config.sizes) - 2
    fs = _loss_factor(state, r)
    if layer == last:
        return fs
    if layer == last - 1:
        fs.append(_weight_factor(state, last, 0, unit))
    else:
        fs.append(_paths_factor(state, layer, unit, r))
    fs.append(_act_factor(state, layer, unit, r))
    return fs


def _partials(state: _State, layer: int, unit: int, r: int) -> list[Partial]:
    config = state.config
    last = len(config.sizes) - 2
    out = []
    if config.loss != "bce-logits":
        out.append(Partial("∂L/∂ŷ", state.up[last][r][0]))
    out.append(Partial("∂L/∂z of out", state.delta[last][r][0]))
    for li in range(last - 1, layer - 1, -1):
        units = [unit] if li == layer else range(config.sizes[li + 1])
        for k in units:
            name = _short(config, li, k)
            out.append(Partial(f"∂L/∂{name}", state.up[li][r][k]))
            out.append(Partial(f"∂L/∂z of {name}", state.delta[li][r][k]))
    return out


def _formula(config: Config, ref: ParamRef) -> str:
    last = len(config.sizes) - 2
    acts = config.activations
    parts = ["(σ(z_out) - t)/4"] if config.loss == "bce-logits" else ["∂L/∂ŷ", f"{acts[last].label}'(z_out)"]
    me = _short(config, ref.layer, ref.unit)
    if ref.layer == last - 1:
        parts += [f"output.weight[0][{ref.unit}]", f"{acts[ref.layer].label}'(z_{me})"]
    elif ref.layer == last - 2:
        mid = _short(config, last - 1, 0).split("[")[0]
        parts += [
            f"Σ_k output.weight[0][k]·{acts[last - 1].label}'(z_{mid}[k])·"
            f"{config.layer_names[last - 1]}.weight[k][{ref.unit}]",
            f"{acts[ref.layer].label}'(z_{me})",
        ]
    if ref.source is not None:
        parts.append(f"x{ref.source + 1}" if ref.layer == 0 else _short(config, ref.layer - 1, ref.source))
    else:
        parts.append("1 (a bias)")
    return f"∂L/∂{ref.name(config)} = Σ over the 4 rows of " + " × ".join(parts)


def _update(state: _State, record: Record, ref: ParamRef) -> Update:
    config = state.config
    assert state.grads is not None and state.new is not None
    value, new_value = record.value(ref), net.get_value(state.new, ref)
    g = net.get_value(state.grads, ref)
    wd = config.weight_decay if (ref.kind == "weight" or config.decay_bias) else 0.0
    decayed = g
    if wd:  # the same call on the same tensor as sgd_step: its bits
        li = ref.layer
        w, b = record.params[li]
        gw, gb = state.grads[li]
        if ref.kind == "weight":
            decayed = _f(gw.add(w, alpha=wd)[0, ref.unit, ref.source])
        else:
            decayed = _f(gb.add(b, alpha=wd)[0, ref.unit])
    change = float(np.float64(new_value) - np.float64(value))
    return Update(config.lr_of(ref.layer), value, g, wd, decayed, new_value, change)


def _setting(record: Record) -> str:
    return record.config.summary()


def explain_param(record: Record, name: str) -> ParamExplanation:
    """Why parameter ``name`` (``output.bias[0]``, ``hidden.weight[1][0]``) has its gradient in
    this state, row by row, and what SGD does with it. SpecError for a name the network lacks."""
    config = record.config
    ref = net.parse_param(name, config)
    pname = ref.name(config)
    of = len(net.all_params(config))
    value = record.value(ref)
    formula = _formula(config, ref)
    if record.halted:
        return ParamExplanation(
            "param", pname, record.epoch, _setting(record), value, None, None, (), False, None, None, None, of,
            _halted_note(record), formula,
        )  # fmt: skip
    state = _state(record)
    assert state.grads is not None
    layer, unit, src = ref.layer, ref.unit, ref.source
    rows: list[RowTerm] = []
    for r in range(4):
        factors = _unit_factors(state, layer, unit, r)
        delta = state.delta[layer][r][unit]
        if src is not None:  # a weight: times its input
            factors.append(_input_factor(state, layer, src, r))
            term = float(F32(delta) * F32(state.x[layer][r][src]))
        else:
            term = delta
        zeros = [f for f in factors if f.zero]
        yhat = state.sig[r] if config.loss == "bce-logits" else state.a[-1][r][0]
        why = None
        if term == 0:
            if zeros:
                why = "; ".join(f.why for f in zeros if f.why)
            else:
                why = "the product underflows float32 (below 1.4e-45) though no factor is 0"
        rows.append(
            RowTerm(
                r, ROWS[r], float(net.TARGET[r, 0]), yhat, tuple(factors),
                tuple(_partials(state, layer, unit, r)), term, term == 0, why,
            )
        )  # fmt: skip
    grads = state.grads
    gradient = net.get_value(grads, ref)
    total = _sum_in_order([r.term for r in rows])
    why = None
    if gradient == 0:
        if all(r.zero for r in rows):
            causes: dict[str | None, list[str]] = {}
            for row in rows:
                causes.setdefault(row.why, []).append(row.row_text)
            why = "every row term is 0: " + "; ".join(
                f"{'row' if len(rs) == 1 else 'rows'} {', '.join(rs)}: {c}" for c, rs in causes.items()
            )
        else:
            why = "the row terms cancel: their sum is exactly 0"
    flowing = sum(1 for q in net.all_params(config) if net.get_value(grads, q) != 0)
    return ParamExplanation(
        "param", pname, record.epoch, _setting(record), value, gradient, total, tuple(rows), gradient == 0, why,
        _update(state, record, ref), flowing, of, None, formula,
    )  # fmt: skip


# ---------------------------------------------------------------- a unit


@dataclass(frozen=True)
class PreRow:
    """A unit's pre-activation on one row: Σ input × weight + bias, as the engine sums it."""

    row: int
    row_text: str
    inputs: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    pre: float  # the engine's
    active: bool  # pre > 0 (exactly 0 is inactive: ReLU'(0) = 0)
    out: float

    def text(self, input_names: Sequence[str]) -> str:
        """``(-0.1)(x1 = 0) + (0.3)(x2 = 1) + (-0.05) = 0.25``."""
        terms = " + ".join(f"({num(w)})({n} = {num(x)})" for w, x, n in zip(self.weights, self.inputs, input_names))
        return f"{terms} + ({num(self.bias)}) = {num(self.pre)}"


@dataclass(frozen=True)
class Suggestion:
    """The smallest single change of one of a unit's parameters that makes it active on a row
    where it is not (verified with the engine's forward)."""

    param: str
    value: float
    new_value: float
    change: float
    row: int
    row_text: str
    pre_before: float
    pre_after: float  # the engine's, with the new value
    active_rows_after: int


@dataclass(frozen=True)
class UnitExplanation:
    """Why a neuron is alive, dead or active on k of 4 rows."""

    kind_: str  # "unit"
    name: str  # hidden[0]
    short: str  # h[0]
    epoch: int
    setting: str
    activation: str
    flat_below_zero: bool
    formula: str
    input_names: tuple[str, ...]
    rows: tuple[PreRow, ...]
    active_rows: int
    state: str  # alive, dead, k of 4, inactive
    why: str
    params: tuple[str, ...]  # its incoming weights and bias
    frozen: tuple[str, ...] | None  # those with a zero gradient; None when halted
    suggestion: Suggestion | None
    suggestion_note: str

    def lines(self) -> list[str]:
        """The explanation as plain text, one line each."""
        out = [f"{self.short} ({self.name}) at epoch {self.epoch} ({self.setting})"]
        out.append(f"{self.activation} unit; pre-activation per row: z = {self.formula}")
        for r in self.rows:
            mark = "active" if r.active else ("inactive (exactly 0)" if r.pre == 0 else "inactive")
            out.append(f"  row {r.row_text}: {r.text(self.input_names)}  {mark}, outputs {num(r.out)}")
        out.append(f"{self.state}: {self.why}")
        if self.frozen:
            out.append(f"no gradient this epoch: {', '.join(self.frozen)}")
        if self.suggestion is not None:
            s = self.suggestion
            out.append(
                f"smallest single change that makes it active on a row: {s.param} from {num(s.value)} to "
                f"{num(s.new_value)} ({signed(s.change)}): on row {s.row_text} z goes {num(s.pre_before)} -> "
                f"{num(s.pre_after)}; then active on {s.active_rows_after} of 4 rows"
            )
        elif self.suggestion_note:
            out.append(self.suggestion_note)
        return out


def _state_words(act: Activation, k: int, layer: int) -> tuple[str, str]:
    if k == 4:
        return "alive", "its pre-activation is positive on all four rows"
    if k == 0:
        if act.flat_below_zero:
            revive = (
                "its inputs are the fixed XOR inputs, so only an edit can revive it"
                if layer == 0
                else "it can revive only if the units feeding it change"
            )
            return "dead", (
                f"its pre-activation is <= 0 on all four rows, so {act.label} outputs 0 there and passes no "
                f"gradient: its weights and bias receive no gradient through it; {revive}"
            )
        return "inactive", (
            f"its pre-activation is <= 0 on all four rows, but {act.label} still passes gradient below 0, "
            "so it is not dead"
        )
    if act.flat_below_zero:
        return f"{k} of 4", (
            f"active (pre-activation > 0) on {k} of the 4 rows; on the others {act.label} outputs 0 and passes no "
            "gradient"
        )
    return f"{k} of 4", f"pre-activation > 0 on {k} of the 4 rows"


def _suggest(record: Record, state: _State, ref: UnitRef, rows: list[PreRow]) -> tuple[Suggestion | None, str]:
    config = state.config
    inactive = [r for r in rows if not r.active]
    if not inactive:
        return None, ""
    layer, unit = ref.layer, ref.unit
    b = state.b[layer]
    cands = []
    for pr in inactive:
        z = pr.pre
        if not math.isfinite(z):
            continue
        scale = abs(b[unit]) + sum(abs(x * wv) for x, wv in zip(pr.inputs, pr.weights))
        target = max(MARGIN, 1e-3 * scale)
        options = [(ParamRef(layer, "bias", unit), 1.0, b[unit])]
        options += [(ParamRef(layer, "weight", unit, i), pr.inputs[i], pr.weights[i]) for i in range(len(pr.inputs))]
        for q, a, v in options:
            if a == 0 or not math.isfinite(a):
                continue
            exact = v + (target - z) / a  # the pre-activation is linear in each of its parameters
            # 4 decimals, as a person would type it; if that rounds towards the boundary, away from it
            away = math.ceil(exact * 1e4) / 1e4 if a > 0 else math.floor(exact * 1e4) / 1e4
            for new in dict.fromkeys((round(exact, 4), round(away, 4))):
                if abs(new) <= 1e6:
                    cands.append((abs(new - v), q.kind != "bias", pr.row, q, v, new))
    if not cands:
        return None, "no single weight or bias of this unit can make it active: its inputs are 0 on every such row"
    for _, _, r, q, v, new in sorted(cands, key=lambda c: c[:3])[:50]:
        p = net.evaluate(net.with_value(record.params, q, new), config, grads=False)
        z_after = p.pre[layer][0, :, unit]
        if bool(z_after[r] > 0):  # the engine's forward confirms it
            return (
                Suggestion(
                    q.name(config), v, float(F32(new)), float(np.float64(F32(new)) - np.float64(v)), r, ROWS[r],
                    rows[r].pre, _f(z_after[r]), int((z_after > 0).sum()),
                ),
                "",
            )  # fmt: skip
    return None, "no single change found that the engine confirms"


def explain_unit(record: Record, name: str) -> UnitExplanation:
    """Why unit ``name`` (``h[0]`` or ``hidden[0]``, ``h2[1]``, ``out`` or ``output[0]``) is alive,
    dead or active on k of 4 rows, and the smallest change that would make it active on a row."""
    config = record.config
    ref = net.parse_unit(name, config)
    state = _state(record)
    layer, unit = ref.layer, ref.unit
    act = config.activations[layer]
    short = ref.short(config)
    w, b, xs = state.w[layer], state.b[layer], state.x[layer]
    n_in = config.sizes[layer]
    input_names = tuple(f"x{i + 1}" for i in range(n_in)) if layer == 0 else tuple(
        _short(config, layer - 1, i) for i in range(n_in)
    )
    lname = config.layer_names[layer]
    formula = " + ".join(f"{lname}.weight[{unit}][{i}]·{input_names[i]}" for i in range(n_in))
    formula += f" + {lname}.bias[{unit}]"
    rows = []
    for r in range(4):
        z = state.z[layer][r][unit]
        rows.append(
            PreRow(
                r, ROWS[r], tuple(xs[r][:n_in]), tuple(w[unit][:n_in]),
                b[unit], z, z > 0, state.a[layer][r][unit],
            )
        )  # fmt: skip
    k = sum(r.active for r in rows)
    st, why = _state_words(act, k, layer)
    if layer == len(config.sizes) - 2 and not config.output_act_used:
        why += f"; BCEWithLogitsLoss takes z itself, so {act.label} is not used and gradient flows on every row"
    exact0 = [r.row_text for r in rows if r.pre == 0]
    if exact0:
        why += f" (on row {', '.join(exact0)} it is exactly 0, which counts as inactive: ReLU'(0) = 0)"
    params = [ParamRef(layer, "weight", unit, i) for i in range(n_in)] + [ParamRef(layer, "bias", unit)]
    frozen = None
    if state.grads is not None:
        frozen = tuple(q.name(config) for q in params if net.get_value(state.grads, q) == 0)
    sugg, note = _suggest(record, state, ref, rows)
    return UnitExplanation(
        "unit", ref.name(config), short, record.epoch, _setting(record), act.label, act.flat_below_zero, formula,
        input_names, tuple(rows), k, st, why, tuple(q.name(config) for q in params), frozen, sugg, note,
    )  # fmt: skip


# ---------------------------------------------------------------- the loss


@dataclass(frozen=True)
class LossRow:
    """One row's loss term."""

    row: int
    row_text: str
    target: float
    z: float
    prediction: float  # ŷ (sigmoid(z) for bce-logits)
    term: float | None  # None where BCELoss refuses ŷ
    text: str
    clamped: bool  # BCELoss's clamp of a log at -100 applies


@dataclass(frozen=True)
class LossExplanation:
    """The loss of a state, row by row, and the mean."""

    kind_: str  # "loss"
    loss: str  # bce, bce-logits, mse
    label: str  # BCELoss, ...
    epoch: int
    setting: str
    formula: str
    rows: tuple[LossRow, ...]
    total: float | None  # the row terms summed in the engine's order, in float32
    mean: float | None  # the engine's loss
    refused: str | None  # why there is no loss

    def lines(self) -> list[str]:
        """The explanation as plain text, one line each."""
        out = [f"the loss at epoch {self.epoch} ({self.setting}): {self.label}, the mean of the four row terms"]
        out.append(f"each row: {self.formula}")
        for r in self.rows:
            out.append(f"  row {r.row_text}, target {num(r.target)}: {r.text}")
        if any(r.clamped for r in self.rows):
            c, cost = num(LOG_CLAMP), num(-LOG_CLAMP)
            out.append(f"BCELoss clamps each log at {c}, so a row with ŷ exactly on the wrong side costs {cost}")
        if self.mean is None:
            out.append(f"no loss: {self.refused}")
            return out
        terms = " + ".join(num(r.term) for r in self.rows)
        out.append(f"mean, summed in the engine's order: ({terms}) / 4 = {num(self.mean)}")
        return out


def _log_text(v: float) -> str:
    """log(v) as a reader would want it printed: -inf for 0."""
    return "-inf" if v <= 0 else num(math.log(v))


def explain_loss(record: Record) -> LossExplanation:
    """Each row's loss term, BCELoss's clamp where it applies, and the mean, as the engine computed
    them (its losses; a halted BCE state has none: which rows it refuses)."""
    config = record.config
    state = _state(record)
    last = len(config.sizes) - 2
    z = state.pre[last][:, :1]
    y = state.out[last][:, :1]
    t = net.TARGET
    name = config.loss
    rows = []
    refused = None
    if name == "bce":
        bad = losses.out_of_range(y[:, 0])
        per = F.binary_cross_entropy(y.masked_fill(bad[:, None], 0.5), t, reduction="none")[:, 0]
        c = num(LOG_CLAMP)
        formula = f"-(t·max(log ŷ, {c}) + (1 - t)·max(log(1 - ŷ), {c}))"
        for r in range(4):
            tv, yv = float(t[r, 0]), _f(y[r, 0])
            if bool(bad[r]):
                rows.append(
                    LossRow(r, ROWS[r], tv, _f(z[r, 0]), yv, None, f"ŷ = {num(yv)} is outside [0, 1]: refused", False)
                )
                continue
            term = _f(per[r])
            if tv == 1:
                lg = _log_text(yv)
                clamped = yv <= 0 or math.log(yv) < LOG_CLAMP
                text = f"ŷ = {num(yv)}: -max(log ŷ, {c}) = -max({lg}, {c}) = {num(term)}"
            elif tv == 0:
                lg = _log_text(1 - yv)
                clamped = yv >= 1 or math.log1p(-yv) < LOG_CLAMP
                text = f"ŷ = {num(yv)}: -max(log(1 - ŷ), {c}) = -max({lg}, {c}) = {num(term)}"
            else:
                clamped = yv <= 0 or yv >= 1
                text = f"ŷ = {num(yv)}: {num(term)}"
            if clamped:
                text += f" (the log is clamped at {c})"
            rows.append(LossRow(r, ROWS[r], tv, _f(z[r, 0]), yv, term, text, clamped))
        if bool(bad.any()):
            refused = (
                f"BCELoss refuses ŷ outside [0, 1] (row {', '.join(ROWS[r] for r in range(4) if bool(bad[r]))}): "
                f"{record.halt.message if record.halt else 'halted'}"
            )
    elif name == "mse":
        per = F.mse_loss(y, t, reduction="none")[:, 0]
        formula = "(ŷ - t)²"
        for r in range(4):
            tv, yv = float(t[r, 0]), _f(y[r, 0])
            term = _f(per[r])
            text = f"ŷ = {num(yv)}: ({num(yv)} - {num(tv)})² = {num(term)}"
            rows.append(LossRow(r, ROWS[r], tv, _f(z[r, 0]), yv, term, text, False))
    else:
        per = F.binary_cross_entropy_with_logits(z, t, reduction="none")[:, 0]
        formula = "(1 - t)·z - log σ(z), on z (the output's pre-activation; ŷ = σ(z))"
        for r in range(4):
            tv, zv = float(t[r, 0]), _f(z[r, 0])
            s = _f(torch.sigmoid(z[r : r + 1, 0]))
            term = _f(per[r])
            text = f"z = {num(zv)}: ({num(1 - tv)})·({num(zv)}) - log σ({num(zv)}) = {num(term)}"
            rows.append(LossRow(r, ROWS[r], tv, zv, s, term, text, False))
    mean = None
    total = None
    if refused is None:
        total = _sum_in_order([r.term if r.term is not None else math.nan for r in rows])
        mean = float(F32(total) / F32(4))
        if record.loss is not None and not math.isnan(record.loss) and mean != record.loss:
            mean = record.loss  # pragma: no cover - the engine's number wins (tests check they agree)
        if not math.isfinite(mean):
            refused = "the loss is not finite"
    return LossExplanation(
        "loss", name, losses.LABELS[name], record.epoch, _setting(record), formula, tuple(rows), total, mean, refused
    )


# ---------------------------------------------------------------- a halt


@dataclass(frozen=True)
class Refused:
    """A row whose output BCELoss refused (or that is not finite)."""

    row: int
    row_text: str
    target: float
    z: float
    value: float
    why: str  # above 1, below 0, NaN, inf


@dataclass(frozen=True)
class RowGradient:
    """∂L/∂ŷ (∂L/∂z for bce-logits) on one row at the epoch before a halt."""

    row: int
    row_text: str
    target: float
    prediction: float
    value: float
    text: str


@dataclass(frozen=True)
class Step:
    """One parameter's step at the epoch before a halt."""

    param: str
    value: float
    grad: float
    new_value: float
    change: float


@dataclass(frozen=True)
class HaltExplanation:
    """Why training halted: the refused outputs and the step that carried them there."""

    kind_: str  # "halt"
    epoch: int
    setting: str
    message: str
    reason: str
    refused: tuple[Refused, ...]
    nonfinite: tuple[tuple[str, float], ...]  # (where, value) for every number that is not finite
    actions: tuple[str, ...]  # changes applied at the halting epoch, before its forward
    previous: int | None  # the epoch whose step led here
    lr: str
    row_gradients: tuple[RowGradient, ...]
    driver: int | None  # the row with the largest |∂L/∂ŷ| at the epoch before
    steps: tuple[Step, ...]  # largest change first
    z_before: tuple[float, ...]
    z_after: tuple[float, ...]
    note: str
    summary: str  # the story in one sentence

    def lines(self) -> list[str]:
        """The explanation as plain text, one line each."""
        out = [f"training halted at epoch {self.epoch} ({self.setting}): {self.message}", f"  {self.reason}"]
        if self.summary:
            out.append(f"in short: {self.summary}")
        if self.refused:
            out.append(f"outputs BCELoss refuses at epoch {self.epoch}:")
            for r in self.refused:
                out.append(f"  row {r.row_text}, target {num(r.target)}: z = {num(r.z)}, ŷ = {num(r.value)}: {r.why}")
        if self.nonfinite:
            out.append("numbers that are not finite: " + ", ".join(f"{w} = {v}" for w, v in self.nonfinite))
        if self.actions:
            out.append(f"changed at epoch {self.epoch}, before its forward pass: {'; '.join(self.actions)}")
        if self.previous is None:
            out.append(self.note)
            return out
        out.append(f"what carried it there: the SGD step of epoch {self.previous} (lr {self.lr})")
        out.append(f"  at epoch {self.previous}, the loss's gradient per row:")
        for g in self.row_gradients:
            tag = "   <- the largest" if g.row == self.driver else ""
            out.append(f"    row {g.row_text}, target {num(g.target)}, ŷ = {num(g.prediction)}: {g.text}{tag}")
        out.append("  each parameter's step, largest first (gradient: value -> new value, change):")
        for s in self.steps:
            out.append(f"    {s.param}: {num(s.grad)}: {num(s.value)} -> {num(s.new_value)} ({signed(s.change)})")
        pairs = ", ".join(f"{ROWS[r]} {num(a)} -> {num(b)}" for r, a, b in zip(range(4), self.z_before, self.z_after))
        out.append(f"  the output's pre-activation z per row, epoch {self.previous} -> {self.epoch}: {pairs}")
        if self.note:
            out.append(self.note)
        return out


def _nonfinite(record: Record) -> list[tuple[str, float]]:
    config = record.config
    out = []
    if record.loss is not None and not math.isfinite(record.loss):
        out.append(("loss", record.loss))
    for li in range(len(config.layer_names)):
        for what, t in (("pre", record.pre[li]), ("out", record.out[li])):
            for r in range(4):
                for j in range(t.shape[1]):
                    v = _f(t[r, j])
                    if not math.isfinite(v):
                        out.append((f"{_short(config, li, j)} {what} on row {ROWS[r]}", v))
    return out


def explain_halt(record: Record, previous: Record | None = None) -> HaltExplanation:
    """Why ``record`` halted: which outputs BCELoss refuses (or which numbers are not finite) and,
    given ``previous`` (the record of the epoch before), the step that carried them there.
    SpecError when ``record`` has not halted."""
    if not record.halted:
        raise SpecError(f"epoch {record.epoch} is not a halt: training goes on there")
    config = record.config
    h = record.halt
    assert h is not None
    last = len(config.sizes) - 2
    refused = []
    y = record.out[last][:, 0]
    for r in h.rows:
        v = _f(y[r])
        why = "NaN" if math.isnan(v) else ("above 1" if v > 1 else "below 0")
        refused.append(Refused(r, ROWS[r], float(net.TARGET[r, 0]), _f(record.pre[last][r, 0]), v, why))
    actions = tuple(a.describe() for a in record.actions)
    base: dict[str, Any] = dict(
        kind_="halt", epoch=record.epoch, setting=_setting(record), message=h.message, reason=h.reason,
        refused=tuple(refused), nonfinite=tuple(_nonfinite(record)), actions=actions,
    )  # fmt: skip
    if previous is None or previous.halted or previous.epoch != record.epoch - 1:
        if record.epoch == 0:
            note = "it halts at its very start: the starting weights already give these outputs"
        elif previous is not None and previous.halted:
            note = f"epoch {previous.epoch} had halted already"
        else:
            note = "the epoch before is not at hand"
        return HaltExplanation(
            **base, previous=None, lr=config.lr_text, row_gradients=(), driver=None, steps=(), z_before=(),
            z_after=tuple(_f(v) for v in record.pre[last][:, 0]), note=note, summary="",
        )  # fmt: skip
    pc = previous.config
    st = _state(previous)
    grads, new = st.grads, st.new
    assert grads is not None and new is not None  # it was stepped from: it has a gradient
    steps = []
    for q in net.all_params(pc):
        v, nv = previous.value(q), net.get_value(new, q)
        steps.append(Step(q.name(pc), v, net.get_value(grads, q), nv, float(np.float64(nv) - np.float64(v))))
    steps.sort(key=lambda s: -abs(s.change) if math.isfinite(s.change) else -math.inf)
    row_grads = []
    plast = len(pc.sizes) - 2
    for r in range(4):
        if pc.loss == "bce-logits":
            v = st.delta[plast][r][0]
            s = st.sig[r]
            row_grads.append(RowGradient(r, ROWS[r], float(net.TARGET[r, 0]), s, v, f"∂L/∂z = (σ(z) - t)/4 = {num(v)}"))
        else:
            f = _loss_factor(st, r)[0]
            row_grads.append(RowGradient(r, ROWS[r], float(net.TARGET[r, 0]), st.a[plast][r][0], f.value, f.text))
    driver = max(range(4), key=lambda r: abs(row_grads[r].value) if math.isfinite(row_grads[r].value) else math.inf)
    note = ""
    if actions:
        note = f"the change at epoch {record.epoch} ({'; '.join(actions)}) came after that step"
    summary = _halt_summary(previous, record, steps, row_grads, driver, refused, h.message)
    return HaltExplanation(
        **base, previous=previous.epoch, lr=pc.lr_text, row_gradients=tuple(row_grads), driver=driver,
        steps=tuple(steps), z_before=tuple(_f(v) for v in previous.pre[plast][:, 0]),
        z_after=tuple(_f(v) for v in record.pre[last][:, 0]), note=note, summary=summary,
    )  # fmt: skip


def _halt_summary(
    previous: Record,
    record: Record,
    steps: list[Step],
    row_grads: list[RowGradient],
    driver: int,
    refused: list[Refused],
    message: str,
) -> str:
    """The halt in one sentence, built from the row that left [0, 1]: its ŷ before and after the
    step; of the step, the parameter whose change alone moves that row's output the most that
    way (each measured by the engine's forward pass with only that parameter stepped); and the
    row whose term makes up most of that parameter's gradient."""
    pc = previous.config
    last = len(pc.sizes) - 2
    before = [_f(v) for v in previous.pre[last][:, 0]]
    crossed = [r for r in refused if math.isfinite(r.z) and math.isfinite(before[r.row])]
    if not crossed or pc.sizes != record.config.sizes:  # NaN, or the net was reshaped: the old story
        g, big = row_grads[driver], steps[0]
        return (
            f"at epoch {previous.epoch} row {g.row_text} has ŷ = {num(g.prediction)} with target "
            f"{num(g.target)}, where the loss's gradient is {g.text.split(' = ', 1)[1]}; {big.param}'s gradient "
            f"is {num(big.grad)}, and one step of lr {pc.lr_text} moves it by {signed(big.change)}; at epoch "
            f"{record.epoch} " + _refused_words(refused, message)
        )
    up = crossed[0].why == "above 1"
    # the refused row that the step moved the most, the way it left [0, 1]
    focus = max(crossed, key=lambda r: (r.z - before[r.row]) if up else (before[r.row] - r.z))
    rt = focus.row_text
    moved: list[tuple[float, Step]] = []
    for st in steps:
        if not (st.change and math.isfinite(st.new_value)):
            continue
        ref = net.parse_param(st.param, pc)
        alone = net.evaluate(net.with_value(previous.params, ref, st.new_value), pc, grads=False)
        z = _f(alone.pre[last][0][focus.row, 0])
        if math.isfinite(z):
            moved.append(((z - before[focus.row]) * (1 if up else -1), st))
    y0 = _f(previous.out[last][focus.row, 0])
    text = (
        f"at epoch {previous.epoch} ŷ on row {rt} is {num(y0)} (target {num(focus.target)}); the step of epoch "
        f"{previous.epoch} takes it to {num(focus.value)} at epoch {record.epoch}: " + _refused_words(refused, message)
    )
    if not moved:
        return text
    by, big = max(moved, key=lambda m: m[0])
    if by <= 0:
        return text + "; no parameter's change alone moves that row's output that way: only together"
    terms = explain_param(previous, big.param).rows
    main = max(terms, key=lambda t: abs(t.term) if math.isfinite(t.term) else math.inf)
    g = row_grads[main.row]
    return (
        f"{text}. Of that step, {big.param}'s change ({signed(big.change)}) alone moves z on row {rt} the most "
        f"({signed(by if up else -by)}); its gradient {num(big.grad)} comes mostly from row {main.row_text}, where the "
        f"loss's gradient is {g.text.split(' = ', 1)[1]}"
    )


def _refused_words(refused: list[Refused], message: str) -> str:
    if not refused:
        return f"the loss cannot be computed ({message})"
    whys = {r.why for r in refused}
    which = "every ŷ is" if len(refused) == 4 else f"ŷ on row {', '.join(r.row_text for r in refused)} is"
    what = next(iter(whys)) if len(whys) == 1 else "outside [0, 1]"
    return f"{which} {what}, which BCELoss refuses"


# ---------------------------------------------------------------- the case


@dataclass(frozen=True)
class CountValue:
    """One count of the case rule, live."""

    key: str
    symbol: str
    what: str
    value: int
    of: int
    needs: str


@dataclass(frozen=True)
class RuleCheck:
    """One rule of a case with the live counts it looks at."""

    text: str
    holds: bool
    counts: tuple[CountValue, ...]


@dataclass(frozen=True)
class CaseChange:
    """The case changed from one epoch to the next, and which rules flipped."""

    epoch: int
    before: str
    after: str
    flips: tuple[str, ...]


@dataclass(frozen=True)
class CaseExplanation:
    """The case checklist: the rules of the case (or of the nearest one) with the live counts."""

    kind_: str  # "case"
    epoch: int
    setting: str
    label: str  # case 7, no case (nearest 4), case n/a
    case: int | None
    nearest: int | None
    reason: str | None  # why n/a
    counts: tuple[CountValue, ...]
    flowing: tuple[str, ...]
    frozen: tuple[str, ...]
    checked: int | None  # the case whose rules are listed
    checks: tuple[RuleCheck, ...]
    history: tuple[tuple[int, str], ...]  # (epoch, label) of the epochs looked back over, oldest first
    changes: tuple[CaseChange, ...]
    flicker: bool

    def lines(self) -> list[str]:
        """The explanation as plain text, one line each."""
        out = [f"{self.label} at epoch {self.epoch} ({self.setting})"]
        if self.reason:
            out.append(f"n/a: {self.reason}")
            return out
        main = [c for c in self.counts if c.key in ("p", "o", "n")]
        out.append("counts: " + "; ".join(f"{c.symbol} = {c.value} of {c.of} {c.what}" for c in main))
        if self.frozen:
            out.append(f"  no gradient: {', '.join(self.frozen)}")
        failed = sum(not c.holds for c in self.checks)
        head = (
            f"case {self.checked}'s rules, all hold:"
            if self.case is not None
            else f"case {self.checked}'s rules (the nearest case; {failed} of {len(self.checks)} fail):"
        )
        out.append(head)
        for c in self.checks:
            live = ", ".join(f"{v.symbol} = {v.value} (needs {v.needs})" for v in c.counts)
            out.append(f"  {'✓' if c.holds else '✗'} {c.text}: {live}")
        if self.history:
            first, last = self.history[0][0], self.history[-1][0]
            out.append(f"epochs {first} to {last}: " + " ".join(_short_label(lab) for _, lab in self.history))
        if self.flicker:
            n = len(self.changes)
            out.append(f"the case flickers: it changed {n} times in these epochs, near a rule's boundary")
        for ch in self.changes:
            out.append(f"  at epoch {ch.epoch}: {ch.before} -> {ch.after}: {'; '.join(ch.flips) or 'no rule flipped'}")
        return out


def _short_label(label: str) -> str:
    if label.startswith("case ") and label != "case n/a":
        return label[5:]
    if label.startswith("no case"):
        return "none"
    return "n/a"


def _count_values(
    counts: dict[str, int], keys: Sequence[str], needs: dict[str, str] | None = None
) -> tuple[CountValue, ...]:
    return tuple(
        CountValue(k, COUNTS[k].symbol, COUNTS[k].what, counts[k], COUNTS[k].of, (needs or {}).get(k, "")) for k in keys
    )


def explain_case(
    record: Record, before: Sequence[Record] = (), diagnoses: Sequence[diagnosis.Diagnosis] | None = None
) -> CaseExplanation:
    """The case checklist of ``record``: each rule of its case (or of the nearest case) with the
    live counts, ✓/✗; n/a with its reason. ``before``: the records of the epochs just before it,
    oldest first (say the last ten), to find where the case changed and which rule flipped.
    ``diagnoses``: the diagnoses of ``[*before, record]`` when the caller has them already (a
    session's trace keeps them), instead of diagnosing each record again."""
    if diagnoses is not None and len(diagnoses) != len(before) + 1:
        raise ValueError(f"{len(diagnoses)} diagnoses for {len(before) + 1} records")
    d = diagnoses[-1] if diagnoses is not None else diagnosis.diagnose(record)
    label = diagnosis.case_label(d)
    common: dict[str, Any] = dict(kind_="case", epoch=record.epoch, setting=_setting(record), label=label, case=d.case)
    if not d.classified:
        return CaseExplanation(
            **common, nearest=None, reason=d.difference, counts=(), flowing=(), frozen=(), checked=None, checks=(),
            history=(), changes=(), flicker=False,
        )  # fmt: skip
    counts = d.counts
    checked = d.case if d.case is not None else d.nearest
    assert counts is not None and checked is not None
    checks = []
    for rule in CASE_RULES[checked]:
        needs = {c.count: c.needs for c in rule.conditions}
        checks.append(RuleCheck(rule.text, rule.holds(counts), _count_values(counts, list(needs), needs)))
    history = []
    changes = []
    prev_d = None
    known = list(diagnoses) if diagnoses is not None else [None] * len(before) + [d]
    for rec, dd in zip([*before, record], known):
        dd = dd or diagnosis.diagnose(rec)
        history.append((rec.epoch, diagnosis.case_label(dd)))
        if prev_d is not None and prev_d.classified and dd.classified and dd.case_text != prev_d.case_text:
            flips = tuple(diagnosis.flipped_text(f) for f in diagnosis.flipped(prev_d, dd))
            changes.append(CaseChange(rec.epoch, diagnosis.case_label(prev_d), diagnosis.case_label(dd), flips))
        prev_d = dd
    return CaseExplanation(
        **common, nearest=d.nearest, reason=None, counts=_count_values(counts, list(COUNTS)),
        flowing=tuple(sorted(d.flowing)), frozen=tuple(sorted(d.frozen)), checked=checked, checks=tuple(checks),
        history=tuple(history) if before else (), changes=tuple(changes), flicker=len(changes) >= 2,
    )  # fmt: skip


# ---------------------------------------------------------------- JSON

Explanation = ParamExplanation | UnitExplanation | LossExplanation | HaltExplanation | CaseExplanation


def _json_fields(v: DataclassInstance | type[DataclassInstance]) -> dict[str, object]:
    """A dataclass's fields as a JSON-ready dict."""
    d: dict[str, object] = {}
    for f in fields(v):
        key = "kind" if f.name == "kind_" else f.name
        d[key] = _json_value(getattr(v, f.name))
    return d


def _json_value(v: Any) -> Any:
    if is_dataclass(v):
        return _json_fields(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)  # "inf", "-inf", "nan": JSON has no such numbers
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    return v


def to_json(explanation: Explanation) -> dict[str, object]:
    """Any explanation as a JSON-ready dict (a ``kind`` field says which; numbers that are not
    finite become the strings "inf", "-inf", "nan")."""
    return _json_fields(explanation)
