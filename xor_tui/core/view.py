"""What the app shows, as plain immutable data: one ``Frame`` per state.

``Session.frame()`` builds a Frame under the session's lock, for the current epoch or any
stored one. Widgets render Frames only: every rule (dead unit, frozen parameter, case)
comes from ``diagnosis``, never recomputed in the view. A Frame holds tuples, floats,
strings and frozen dataclasses; ``Frame.grid`` runs the engine's own forward
(``net.forward_bl``, float32, the order of sums of training) over a grid of input points,
once per frame and grid (for the input-space view and the per-neuron heatmaps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray

from xor_tui.core.engine import losses, net
from xor_tui.core.engine.net import Config, Layer
from xor_tui.core.engine.run import Record
from xor_tui.core.rules.checks import CheckResult
from xor_tui.core.rules.diagnosis import Diagnosis, Event, is_active
from xor_tui.core.rules.explain import (
    CaseExplanation,
    Explanation,
    Factor,
    HaltExplanation,
    LossExplanation,
    ParamExplanation,
    UnitExplanation,
    explain_case,
    num,
    signed,
)
from xor_tui.core.rules.outcomes import OUTCOMES, outcome_legend  # what the survey screens name
from xor_tui.core.rules.target import Edit, Lever, RuleStatus, TargetResult
from xor_tui.core.text import capitalised, printable  # for what widgets write

ROWS = net.ROWS  # "(0,0)" "(0,1)" "(1,0)" "(1,1)"
INPUTS = ("x1", "x2")

_GridKey = tuple[tuple[float, ...], tuple[float, ...]]  # Frame.grid's xs and ys


def mark(v: float) -> str:
    """The sign of a pre-activation: ``+`` (active, > 0), ``-`` (< 0), ``0`` (exactly 0:
    inactive, ReLU's gradient there is 0), ``?`` (NaN)."""
    if is_active(v):
        return "+"
    if v < 0:
        return "-"
    if v == 0:
        return "0"
    return "?"


@dataclass(frozen=True)
class Unit:
    """One neuron (hidden or output), with what it does on each XOR row."""

    name: str
    """The engine's name: ``hidden[0]``, ``hidden2[1]``, ``output[0]``."""
    short: str
    """A short label for drawing: ``h[0]``, ``h2[1]``, ``out``."""
    layer: int
    """Layer index: 0 is the first hidden layer, the last one is the output."""
    index: int
    """The unit's index within its layer."""
    state: str
    """``alive`` (active on all four rows), ``dead`` (diagnosis: flat activation, inactive
    on all four rows) or ``k of 4`` (active on k rows)."""
    dead: bool
    """The diagnosis lists this unit as dead."""
    active_rows: int
    """On how many of the four rows the pre-activation is > 0."""
    marks: tuple[str, str, str, str]
    """Per XOR row, the sign of the pre-activation: ``+``, ``-``, ``0`` or ``?`` (NaN)."""
    pre: tuple[float, float, float, float]
    """Pre-activation per row."""
    out: tuple[float, float, float, float]
    """Output (after the activation) per row."""
    activation: str
    """The layer's activation label, e.g. ``ReLU``, ``LeakyReLU(0.01)``."""
    bias: str
    """The name of this unit's bias parameter."""


@dataclass(frozen=True)
class Edge:
    """One weight: a connection from a source (input ``x1``/``x2`` or a unit) to a unit."""

    param: str
    """Parameter name, e.g. ``hidden.weight[1][0]``."""
    source: str
    """Source name: ``x1``, ``x2`` or a unit name."""
    target: str
    """Target unit name."""
    layer: int
    """Layer index of the target unit."""
    source_index: int
    """Index of the source within its layer (input index for the first layer)."""
    target_index: int
    """Index of the target unit within its layer."""
    value: float
    """The weight's value."""
    grad: float | None
    """Its gradient at this epoch; None when halted (no backward)."""
    flowing: bool
    """Nonzero gradient this epoch (diagnosis)."""
    frozen: bool
    """Zero gradient this epoch (diagnosis); both flags are False when halted."""


@dataclass(frozen=True)
class Bias:
    """One unit's bias."""

    param: str
    """Parameter name, e.g. ``hidden.bias[0]``."""
    unit: str
    """The unit it belongs to."""
    layer: int
    """Layer index."""
    index: int
    """Unit index within the layer."""
    value: float
    """The bias's value."""
    grad: float | None
    """Its gradient; None when halted."""
    flowing: bool
    """Nonzero gradient this epoch."""
    frozen: bool
    """Zero gradient this epoch."""


@dataclass(frozen=True)
class Row:
    """One XOR row through the network."""

    x1: float
    """First input."""
    x2: float
    """Second input."""
    target: float
    """The XOR target, 0 or 1."""
    hidden_pre: tuple[tuple[float, ...], ...]
    """Per hidden layer, the pre-activation of each unit."""
    hidden_out: tuple[tuple[float, ...], ...]
    """Per hidden layer, the output of each unit."""
    output_pre: float
    """The output unit's pre-activation."""
    output_out: float
    """The output unit's output (after its activation)."""
    prediction: float
    """What the loss reads as the probability of 1 (the output, or sigmoid of the
    pre-activation for bce-logits)."""
    correct: bool
    """The prediction is on the target's side of 0.5 (False for NaN)."""
    offending: bool
    """This row's output made training halt."""
    verdict: str = ""
    """What the row panels mark: ``right`` (on the target's side of 0.5), ``wrong``, or
    ``refused`` (the loss refused this row's output: at a halt, 2.876 is on no side of ½)."""


@dataclass(frozen=True)
class Param:
    """One line of the parameters table."""

    name: str
    """Parameter name."""
    value: float
    """Its value."""
    grad: float | None
    """Its gradient (None when halted)."""
    change: float | None
    """Change since the previous stored epoch; None at epoch 0 or after a shape change."""
    frozen: bool
    """Zero gradient this epoch (diagnosis)."""


@dataclass(frozen=True)
class HaltInfo:
    """Why training halted at this epoch."""

    epoch: int
    """The epoch it halted at."""
    message: str
    """Torch's own message, e.g. ``all elements of input should be between 0 and 1``."""
    reason: str
    """The reason in plain words."""
    rows: tuple[int, ...]
    """Indices of the offending rows."""
    values: tuple[float, ...]
    """The exact output values on those rows."""


@dataclass(frozen=True)
class ConfigSummary:
    """The settings at this epoch."""

    shape: str
    """``2-2-1`` and the like."""
    layer_names: tuple[str, ...]
    """``hidden``, (``hidden2``), ``output``."""
    activations: tuple[str, ...]
    """Per layer, the activation label (``ReLU``, ``LeakyReLU(0.01)``)."""
    activation_names: tuple[str, ...]
    """Per layer, the activation name (``relu``, ``leaky_relu``)."""
    loss: str
    """Loss name: ``bce``, ``bce-logits``, ``mse``."""
    loss_label: str
    """Torch's class name for it: ``BCELoss`` ..."""
    lr: float
    """The learning rate."""
    layer_lr: tuple[float, ...] | None
    """Per-layer learning rates, when set."""
    weight_decay: float
    """L2 weight decay."""
    start: str
    """How the run started: ``seed 0``, ``explicit``, ``zeros``."""
    epoch: int
    """This frame's epoch."""
    epochs: int
    """The scenario's epochs (where ``e`` stops)."""

    @property
    def lr_text(self) -> str:
        """``0.001`` or ``0.01/0.001`` for per-layer rates."""
        return net.rates_text(self.lr, self.layer_lr)


@dataclass(frozen=True, eq=False)
class Surface:
    """The network over a grid of input points (``Frame.grid``): arrays of shape (ny, nx),
    row i at ``ys[i]``, column j at ``xs[j]``; float32 values as the engine computed them."""

    prediction: NDArray[np.float32]
    """What the loss reads as the probability of 1; NaN where not finite."""
    pre: tuple[NDArray[np.float32], ...]
    """Per layer (hidden ones, then the output), (units, ny, nx) pre-activations."""
    out: tuple[NDArray[np.float32], ...]
    """Per layer, (units, ny, nx) outputs after the activation."""
    finite: bool
    """Every prediction is finite."""
    active: tuple[NDArray[np.bool_], ...] = ()
    """Per layer, (units, ny, nx): where each unit is active (``diagnosis.is_active``)."""


@dataclass(frozen=True)
class Frame:
    """Everything the app draws for one state. Build with ``Session.frame()``."""

    name: str
    """The session's name (scenario name or ``seed S``)."""
    epoch: int
    """The epoch shown: the state after this many updates."""
    units: tuple[Unit, ...]
    """Every neuron, layer by layer."""
    edges: tuple[Edge, ...]
    """Every weight, layer by layer, target-major (as ``net.all_params`` orders them)."""
    biases: tuple[Bias, ...]
    """Every bias, layer by layer."""
    rows: tuple[Row, Row, Row, Row]
    """The four XOR rows (0,0) (0,1) (1,0) (1,1)."""
    params: tuple[Param, ...]
    """Every parameter, in the engine's order (weights then bias per layer)."""
    events: tuple[Event, ...]
    """Events up to this epoch, newest first (at most ``MAX_EVENTS``)."""
    events_total: int
    """How many events happened up to this epoch (may exceed ``len(events)``)."""
    explanation: tuple[str, ...]
    """The diagnosis in words, one line per point."""
    case: int | None
    """The source's case 1-8, or None."""
    nearest: int | None
    """When no case matches, the nearest one."""
    case_text: str
    """``case 3``, ``none (nearest 7)`` or ``n/a``."""
    difference: str
    """Why no case matches (or why cases do not apply)."""
    halt: HaltInfo | None
    """Why training halted at this epoch, or None."""
    config: ConfigSummary
    """Settings at this epoch."""
    loss: float | None
    """This epoch's loss (None when it could not be computed)."""
    losses: Sequence[float]
    """Loss per epoch 0..epoch as a compact read-only float sequence; NaN where not computed."""
    _net: tuple[Config, list[Layer]] | tuple[()] = field(default=(), repr=False, compare=False)
    # (Config, the parameters batch-last as the engine's forward takes them)
    _grids: dict[_GridKey, Surface] = field(default_factory=dict, repr=False, compare=False)
    # Frame.grid's surfaces, newest last
    losses_ahead: Sequence[float] = field(default=(), compare=False)
    """After stepping back: the losses of the epochs stepped back over (epoch+1 onwards), which
    stepping forward again reproduces; empty once anything changes. NaN where not computed."""
    _case: tuple[Record, tuple[Record, ...], tuple[Diagnosis, ...] | None] | tuple[()] = field(
        default=(), repr=False, compare=False
    )
    # (record, the records of the epochs just before it, the diagnoses of all of them): what
    # ``checklist`` is made from, on first use
    _made: dict[str, CaseExplanation] = field(default_factory=dict, repr=False, compare=False)

    MAX_EVENTS = 500
    CASE_LOOKBACK = 10
    """Epochs before this one that the checklist looks back over for a change of case."""

    @property
    def checklist(self) -> CaseExplanation | None:
        """The case checklist (``explain_case``): each rule of the case, or of the nearest one,
        with the live counts and ✓/✗; n/a with its reason; where the case changed in the last
        ``CASE_LOOKBACK`` epochs, which rule flipped. Made on first use, once per frame. None
        for a Frame built without a record's history."""
        if "checklist" not in self._made:
            if not self._case:
                return None
            record, before, diagnoses = self._case
            self._made["checklist"] = explain_case(record, before, diagnoses)
        return self._made["checklist"]

    @property
    def halted(self) -> bool:
        """Training halted at this epoch."""
        return self.halt is not None

    @property
    def layer_names(self) -> tuple[str, ...]:
        """``hidden``, (``hidden2``), ``output``."""
        return self.config.layer_names

    def unit(self, name: str) -> Unit:
        """The unit called ``name``."""
        return next(u for u in self.units if u.name == name)

    def param(self, name: str) -> Param:
        """The parameter called ``name``."""
        return next(p for p in self.params if p.name == name)

    def _forward(self, points: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        if not self._net:  # a Frame made without build_frame
            raise ValueError("this Frame holds no network (build_frame makes one that does)")
        config, params = self._net
        _, pre, out = net.forward_bl(params, config, points)
        return pre, out, losses.predictions(config.loss, pre[-1], out[-1])[:, 0, 0]

    GRIDS_KEPT = 4  # grids a frame keeps (the input plane, the tiles, a maximised copy...)

    def grid(self, xs: Sequence[float], ys: Sequence[float]) -> Surface:
        """The network at every point (x, y) for x in ``xs`` and y in ``ys``: computed once per
        frame and grid, however often a widget redraws it."""
        key: _GridKey = (tuple(float(x) for x in xs), tuple(float(y) for y in ys))
        cache = self._grids
        if key in cache:
            return cache[key]
        gx, gy = np.meshgrid(np.asarray(key[0], dtype=np.float32), np.asarray(key[1], dtype=np.float32))
        points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))
        pre, out, p = self._forward(points)
        ny, nx = gx.shape

        def as_grid(t: torch.Tensor) -> NDArray[np.float32]:
            return t[:, :, 0].T.reshape(-1, ny, nx).numpy()

        pred: NDArray[np.float32] = p.reshape(ny, nx).numpy()
        finite = bool(np.isfinite(pred).all())
        surface = Surface(
            np.where(np.isfinite(pred), pred, np.nan),
            tuple(as_grid(z) for z in pre),
            tuple(as_grid(a) for a in out),
            finite,
            tuple(is_active(as_grid(z)) for z in pre),
        )
        if len(cache) >= self.GRIDS_KEPT:
            del cache[next(iter(cache))]
        cache[key] = surface
        return surface


@dataclass(frozen=True)
class LessonStep:
    """A lesson's narrative text: shown on loading (``epoch`` None) or once the run has
    reached ``epoch``."""

    text: str
    """The teacher's words."""
    epoch: int | None = None
    """When it is shown: None on loading, else from this epoch on."""
    title: str = ""
    """An optional heading."""


@dataclass(frozen=True)
class LessonView:
    """Where a lesson stands (``Session.lesson_view``): its current task, that task's check
    as it stands now (``checks.evaluate`` on the session's run), and the narrative reached."""

    name: str
    """The lesson's name."""
    index: int
    """The current task, from 0; equal to ``count`` once the last task is behind."""
    count: int
    """How many tasks the lesson has (0: narrative only)."""
    title: str
    """The current task's title ("" when there is none)."""
    text: str
    """What the current task asks."""
    hint: str
    """Its hint ("" when it has none)."""
    status: str
    """The current task: ``todo``, ``done`` (its check held after a change) or ``skipped``."""
    check: CheckResult | None
    """The current task's check on the run as it stands (None when there is no task)."""
    edits: int
    """Parameters the student has set during this task (``max_edits`` counts these)."""
    statuses: tuple[str, ...]
    """Every task's status, in order."""
    narrative: tuple[LessonStep, ...]
    """The steps shown on loading, then those of the latest epoch the run has reached."""

    @property
    def finished(self) -> bool:
        """Every task is behind (done or skipped), or there was none."""
        return self.index >= self.count

    @property
    def done(self) -> int:
        """How many tasks are done."""
        return self.statuses.count("done")


def short_name(config: Config, layer: int, unit: int) -> str:
    """A unit's label for drawing: ``h[0]``, ``h2[1]``, ``out``."""
    lname = config.layer_names[layer]
    if lname == "output":
        return "out"
    return f"{lname.replace('hidden', 'h')}[{unit}]"


def build_frame(
    name: str,
    record: Record,
    diag: Diagnosis,
    prev_record: Record | None,
    events_newest_first: Sequence[Event],
    events_total: int,
    start: str,
    epochs: int,
    loss_history: Sequence[float],
    losses_ahead: Sequence[float] = (),
    case_before: Sequence[Record] = (),
    case_diagnoses: Sequence[Diagnosis] | None = None,
) -> Frame:
    """Make the Frame of one record (call under the session's lock). ``case_before``: the
    records of the epochs just before it (oldest first) and ``case_diagnoses`` the diagnoses
    of those and of ``record``, for the case checklist (``Frame.checklist``)."""
    cfg: Config = record.config
    names = cfg.layer_names
    pre: list[list[list[float]]] = [z.tolist() for z in record.pre]  # per layer: [row][unit]
    out: list[list[list[float]]] = [a.tolist() for a in record.out]
    flowing, frozen = diag.flowing, diag.frozen
    dead = set(diag.dead)

    units: list[Unit] = []
    for li, lname in enumerate(names):
        for j in range(cfg.sizes[li + 1]):
            uname = f"{lname}[{j}]"
            z, a = pre[li], out[li]
            zs = (z[0][j], z[1][j], z[2][j], z[3][j])
            k = sum(diag.active[li][j])
            state = "dead" if uname in dead else ("alive" if k == 4 else f"{k} of 4")
            units.append(
                Unit(
                    uname,
                    short_name(cfg, li, j),
                    li,
                    j,
                    state,
                    uname in dead,
                    k,
                    (mark(zs[0]), mark(zs[1]), mark(zs[2]), mark(zs[3])),
                    zs,
                    (a[0][j], a[1][j], a[2][j], a[3][j]),
                    cfg.activations[li].label,
                    f"{lname}.bias[{j}]",
                )
            )

    edges: list[Edge] = []
    biases: list[Bias] = []
    params: list[Param] = []
    for ref in net.all_params(cfg):
        pname = ref.name(cfg)
        value = record.value(ref)
        grad = record.grad(ref)
        change = None
        if prev_record is not None and prev_record.config.sizes == cfg.sizes:
            change = value - prev_record.value(ref)
        params.append(Param(pname, value, grad, change, pname in frozen))
        target = f"{names[ref.layer]}[{ref.unit}]"
        if ref.kind == "weight":
            assert ref.source is not None  # a weight's reference names its source (net.all_params)
            source = INPUTS[ref.source] if ref.layer == 0 else f"{names[ref.layer - 1]}[{ref.source}]"
            edges.append(
                Edge(
                    pname,
                    source,
                    target,
                    ref.layer,
                    ref.source,
                    ref.unit,
                    value,
                    grad,
                    pname in flowing,
                    pname in frozen,
                )
            )
        else:
            biases.append(Bias(pname, target, ref.layer, ref.unit, value, grad, pname in flowing, pname in frozen))

    preds: list[float] = record.predictions().tolist()
    halt_rows = set(record.halt.rows) if record.halt is not None else set()
    rows: list[Row] = []
    for r in range(4):
        x1, x2 = net.X[r].tolist()
        want = float(net.TARGET[r, 0])
        p = preds[r]
        rows.append(
            Row(
                x1,
                x2,
                want,
                tuple(tuple(pre[li][r]) for li in range(len(cfg.hidden))),
                tuple(tuple(out[li][r]) for li in range(len(cfg.hidden))),
                pre[-1][r][0],
                out[-1][r][0],
                p,
                p == p and (p > 0.5) == bool(want),
                r in halt_rows,
                "refused" if r in halt_rows else ("right" if p == p and (p > 0.5) == bool(want) else "wrong"),
            )
        )

    halt = None
    if record.halt is not None:
        h = record.halt
        halt = HaltInfo(h.epoch, h.message, h.reason, tuple(h.rows), tuple(out[-1][r][0] for r in h.rows))

    summary = ConfigSummary(
        cfg.shape_text,
        names,
        tuple(a.label for a in cfg.activations),
        tuple(a.name for a in cfg.activations),
        cfg.loss,
        losses.LABELS[cfg.loss],
        cfg.lr,
        cfg.layer_lr,
        cfg.weight_decay,
        start,
        record.epoch,
        epochs,
    )
    params_now = (cfg, [(w.permute(1, 2, 0).contiguous(), b.permute(1, 0).contiguous()) for w, b in record.params])
    return Frame(
        name=name,
        epoch=record.epoch,
        units=tuple(units),
        edges=tuple(edges),
        biases=tuple(biases),
        rows=(rows[0], rows[1], rows[2], rows[3]),
        params=tuple(params),
        events=tuple(events_newest_first),
        events_total=events_total,
        explanation=tuple(diag.explanation),
        case=diag.case,
        nearest=diag.nearest,
        case_text=diag.case_text,
        difference=diag.difference,
        halt=halt,
        config=summary,
        loss=record.loss,
        losses=loss_history,
        _net=params_now,
        losses_ahead=tuple(losses_ahead),
        _case=(record, tuple(case_before), None if case_diagnoses is None else tuple(case_diagnoses)),
    )


__all__ = [
    "OUTCOMES",
    "outcome_legend",
    "capitalised",
    "printable",
    "CheckResult",
    "Edit",
    "LessonStep",
    "LessonView",
    "Lever",
    "RuleStatus",
    "TargetResult",
    "Frame",
    "Unit",
    "Edge",
    "Bias",
    "Row",
    "Param",
    "HaltInfo",
    "ConfigSummary",
    "Surface",
    "Event",
    "ROWS",
    "INPUTS",
    "mark",
    "build_frame",
    "CaseExplanation",
    "Explanation",
    "Factor",
    "HaltExplanation",
    "LossExplanation",
    "ParamExplanation",
    "UnitExplanation",
    "num",
    "signed",
]
