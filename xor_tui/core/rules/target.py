"""Make it case k: the fewest parameters to change so that a start is in the source's case k.

For the source's 2-2-1 network (ReLU in both layers, BCELoss). ``solve`` answers with the
edits (parameter, from, to); ``rule_report`` says, for each rule of a case, whether it holds
and which single parameter moves it and which way (for the app's target panel).

What "in case k" means here: **robustly** in case k (``robust_cases``, one definition for the
solver, its tests and its users):

- the engine's own diagnosis (``diagnosis.classify`` on ``net.evaluate``) says case k and the
  start does not halt (every output in [0, 1] for BCELoss);
- every quantity whose sign decides the case keeps ``margin`` from its boundary: the 8 hidden
  and 4 output pre-activations (|z| >= margin), and each active output is at most 1 - margin
  (so BCELoss accepts it, which a first try at case 3 with output bias 0.5 did not). A value
  typed to 4 decimals, or the next step's small update, cannot flip a sign;
- the output weight of every unit that passes gradient is nonzero, at least ``V_MARGIN``
  (0.001) from 0: only exactly 0 would stop its unit's gradients, so its size does not matter,
  but typed to 3 decimals it must not become 0;
- the parameters with a nonzero gradient are those the signs imply (no two rows' terms
  cancelling to exactly 0 by coincidence).

How the search works. At a start, the case depends only on signs: which of the 8 hidden and 4
output pre-activations are positive (which gradients are nonzero follows from these and from
the output weights being nonzero). So ``_pattern_table`` classifies all 2^12 sign patterns
once, with the diagnosis's own rules. For a set S of parameters to change (sizes 1, 2, 3...,
every set of a size before the next size) and a sign pattern of case k that S can reach, the
conditions are linear inequalities in the parameters of S, except where S holds an output
weight v_j and a parameter of hidden unit j: there z_out = ... + v_j * relu(z_j) is bilinear.
Fixing the sign of v_j (both signs are tried; where unit j reaches no active output row only
v_j < 0 is needed, since lowering v_j then only lowers outputs that must stay negative) and
writing the unit's free parameters as psi = v_j * theta makes them linear again (z_j > m
becomes v_j z_j > m v_j for v_j > 0). Each such system goes to ``lp.solve``, which says
"infeasible" only with a proof (a Farkas certificate checked with a rigorous error bound, else
an exact rational simplex). So when a size has no solution, no set of that size can make the
start robustly case k: the minimum is exact, not a guess. Every solution found is checked by
the engine before it is offered.

Chosen values stay within [-BOX, BOX] and keep margin + SLACK in the search (so rounding them
to 3 decimals keeps the margin). Which solution of the fewest parameters is offered: for each
set, the sign pattern nearest the start's (fewest signs flipped) that it can reach, with the
least total change there; of those, the set with the least total change; values rounded to 2
decimals where that keeps the margin (else 3, 4, or as found). The search is bounded by a budget of linear programs
(``BUDGET``: a few hundred milliseconds); running out is reported, never a hang.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import ArrayLike

from xor_tui.core.engine import net
from xor_tui.core.engine.net import Config, Layer
from xor_tui.core.rules import diagnosis, lp

MARGIN = 0.05  # distance kept from every sign boundary (pre-activation units)
SLACK = 0.002  # extra margin the search keeps for the values it chooses (3-decimal rounding)
V_MARGIN = 0.001  # an output weight that passes gradient stays this far from 0 (3 decimals)
V_SLACK = 0.0005
BOX = 2.0  # chosen values lie in [-BOX, BOX]
BUDGET = 3000  # linear programs per search (~0.3 ms each; 200 seeds x 8 cases took at most 855)
MAX_EDITS = 9

# the nine parameters, in net.all_params order
PARAMS = (
    "hidden.weight[0][0]",
    "hidden.weight[0][1]",
    "hidden.weight[1][0]",
    "hidden.weight[1][1]",
    "hidden.bias[0]",
    "hidden.bias[1]",
    "output.weight[0][0]",
    "output.weight[0][1]",
    "output.bias[0]",
)
_XS = ((0, 0), (0, 1), (1, 0), (1, 1))
_W = ((0, 1), (2, 3))  # hidden.weight[j][i] index
_B = (4, 5)  # hidden.bias[j]
_V = (6, 7)  # output.weight[0][j]
_C = 8  # output.bias[0]


def supported(config: Config) -> str | None:
    """None when the solver applies to this setting, else why not (one line)."""
    if not diagnosis.is_source_net(config):
        return "the eight cases are defined for a 2-2-1 network with ReLU in both layers"
    if config.loss != "bce":
        return f"the target solver knows the source's BCELoss; this setting uses {config.loss}"
    return None


# ---------------------------------------------------------------- the sign patterns


def _bits(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pattern index -> hidden signs (N, 4 rows, 2 units) and output signs (N, 4)."""
    hid = np.stack([np.stack([(index >> (2 * r + j)) & 1 for j in range(2)], -1) for r in range(4)], 1).astype(bool)
    out = np.stack([(index >> (8 + r)) & 1 for r in range(4)], -1).astype(bool)
    return hid, out


def pattern_index(hid: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Hidden signs (..., 4, 2) and output signs (..., 4) -> pattern index 0..4095."""
    idx = np.zeros(hid.shape[:-2], dtype=np.int64)
    for r in range(4):
        for j in range(2):
            idx |= hid[..., r, j].astype(np.int64) << (2 * r + j)
        idx |= out[..., r].astype(np.int64) << (8 + r)
    return idx


def _generic_grads(hid: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Which of the nine gradients are nonzero for these signs, output weights nonzero and no
    cancellation: (N, 9) in PARAMS order."""
    x = np.array(_XS, dtype=bool)  # (4, 2)
    both = out[:, :, None] & hid  # (N, 4 rows, 2 units): row active at the output and in unit j
    g = np.zeros((len(hid), 9), dtype=bool)
    for j in range(2):
        for i in range(2):
            g[:, _W[j][i]] = (both[:, :, j] & x[None, :, i]).any(1)
        g[:, _B[j]] = both[:, :, j].any(1)
        g[:, _V[j]] = both[:, :, j].any(1)
    g[:, _C] = out.any(1)
    return g


def _features(hid: np.ndarray, out: np.ndarray, grads: np.ndarray) -> diagnosis.Features:
    """The diagnosis's own features of sign patterns (so its rules decide, not a copy)."""
    pre0 = torch.from_numpy(np.where(hid, 1.0, -1.0).astype(np.float32))
    pre1 = torch.from_numpy(np.where(out, 1.0, -1.0).astype(np.float32))[:, :, None]
    g = torch.from_numpy(grads.astype(np.float32))
    layers = [(g[:, 0:4].reshape(-1, 2, 2), g[:, 4:6]), (g[:, 6:8].reshape(-1, 1, 2), g[:, 8:9])]
    return diagnosis.features([pre0, pre1], layers)


@lru_cache(maxsize=1)
def _pattern_table() -> tuple[np.ndarray, np.ndarray]:
    """For all 4,096 sign patterns: the case by the diagnosis's rules (0: none) and the
    generic gradient set (4096, 9)."""
    hid, out = _bits(np.arange(4096))
    grads = _generic_grads(hid, out)
    case = diagnosis.classify(_features(hid, out, grads)).numpy()
    return case, grads


def cases_by_pattern() -> np.ndarray:
    """The case (0 for none) of each of the 4,096 sign patterns (``pattern_index``)."""
    return _pattern_table()[0].copy()


# ---------------------------------------------------------------- robustly in case k


def robust_cases(
    values: np.ndarray, config: Config, margin: float = MARGIN, v_margin: float = V_MARGIN
) -> np.ndarray:
    """For a batch of starts, (B, 9) values in PARAMS order (taken as float32): the case each
    is robustly in (see the module's docstring), 0 where none. One pass of the batched engine
    (``net.evaluate_bl``: forward and backward, as a run computes them).

    The case is the pattern table's, which is the diagnosis's ``classify`` of the same signs
    and gradient set: once the engine's signs and nonzero gradients are required to be those
    of a pattern, its features are that pattern's, so the diagnosis would say the same."""
    t = torch.from_numpy(np.ascontiguousarray(np.asarray(values, dtype=np.float32).T))  # (9, B)
    layers = [(t[0:4].reshape(2, 2, -1), t[4:6]), (t[6:8].reshape(1, 2, -1), t[8:9])]
    p = net.evaluate_bl(layers, config, grads=True, loss_value=False)
    z1, z2 = p.pre[0], p.pre[1][:, 0, :]  # (4 rows, 2 units, B), (4 rows, B)
    (gw1, gb1), (gw2, gb2) = p.grads
    flowing = torch.cat([gw1.reshape(4, -1), gb1, gw2.reshape(2, -1), gb2]) != 0  # (9, B)
    hid, out = z1 > 0, z2 > 0
    signs = torch.cat([hid.reshape(8, -1), out]).int()  # bit 2r + j: hidden unit j on row r; 8 + r: output
    idx = (signs * _BIT[:12, None]).sum(0)
    table, generic = _pattern_tensors()
    conn = (out[:, None, :] & hid).any(0)  # (2 units, B)
    ok = p.valid & (z1.reshape(8, -1).abs().amin(0) >= margin) & (z2.abs().amin(0) >= margin)
    ok &= torch.where(out, z2, 0.0).amax(0) <= 1 - margin
    ok &= (~conn | (t[6:8].abs() >= v_margin)).all(0)
    ok &= (flowing.int() * _BIT[:9, None]).sum(0) == generic[idx]
    return torch.where(ok, table[idx], 0).numpy()


_BIT = 2 ** torch.arange(12, dtype=torch.int32)


def engine_cases(values: np.ndarray, config: Config) -> np.ndarray:
    """The case the diagnosis gives each start of a batch ((B, 9) values, taken as float32),
    0 where none (or where it halts): ``diagnosis.classify`` on the batched engine's numbers."""
    t = torch.from_numpy(np.ascontiguousarray(np.asarray(values, dtype=np.float32)))
    layers = [(t[:, 0:4].reshape(-1, 2, 2), t[:, 4:6]), (t[:, 6:8].reshape(-1, 1, 2), t[:, 8:9])]
    p = net.evaluate(layers, config)
    case = diagnosis.classify(diagnosis.features(p.pre, p.grads))
    return torch.where(p.valid, case, 0).numpy()


@lru_cache(maxsize=1)
def _pattern_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """The pattern table as tensors: the case per pattern, and its gradient set as 9 bits."""
    case, grads = _pattern_table()
    bits = (grads.astype(np.int32) * (2 ** np.arange(9, dtype=np.int32))).sum(1)
    return torch.from_numpy(case.astype(np.int64)), torch.from_numpy(bits.astype(np.int32))


def boundary_distance(params: list[Layer], config: Config) -> float:
    """How far a start (batch of one) is from the nearest boundary of its signs, in the units
    of ``margin``: the least |z| over every pre-activation, and (a ReLU output under BCELoss)
    of 1 - z over the active outputs; the engine's float32 numbers. (The output weights of
    units that pass gradient are held to ``V_MARGIN`` apart by ``robust_cases``.)"""
    p = net.evaluate(params, config, grads=False)
    parts = [float(z[0].abs().min()) for z in p.pre]
    if config.activations[-1].name == "relu" and config.loss == "bce":
        z = p.pre[-1][0].double()
        parts += [float(1 - v) for v in z.flatten() if v > 0]
    return min(parts)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Edit:
    """One parameter set to a new value."""

    param: str  # e.g. "output.bias[0]"
    before: float
    after: float


@dataclass(frozen=True)
class TargetResult:
    """What ``solve`` found for one target case.

    ``status``: "already" (the start is robustly in the case: no edit), "found" (``edits``),
    "exceeds" (proved: no set of at most ``max_edits`` parameters does it), "budget" (the
    search ran out of its budget first: nothing proved), "unsupported" (another setting).
    ``proved``: fewer edits cannot do it (every smaller set was refuted). ``result_case`` is
    the engine's diagnosis of the edited start, ``next_case`` after one engine step (None at a
    halt), ``distance`` its least distance from a boundary (``boundary_distance``).
    """

    case: int
    status: str
    edits: tuple[Edit, ...] = ()
    params: dict[str, list[Any]] | None = None  # the edited start as a state dict (nested lists of floats)
    result_case: int | None = None
    next_case: int | None = None
    distance: float | None = None
    margin: float = MARGIN
    max_edits: int = 3
    proved: bool = False
    programs: int = 0  # linear programs solved
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the start is (now) in the case: found, or already."""
        return self.status in ("found", "already")

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (what ``xor-tui target --json`` prints)."""
        return {
            "case": self.case,
            "status": self.status,
            "edits": [{"param": e.param, "from": e.before, "to": e.after} for e in self.edits],
            "result_case": self.result_case,
            "next_case": self.next_case,
            "distance": self.distance,
            "margin": self.margin,
            "max_edits": self.max_edits,
            "proved_minimal": self.proved,
            "programs": self.programs,
            "params": self.params,
            "message": self.message,
        }


# ---------------------------------------------------------------- the search


def vector(params: list[Layer]) -> np.ndarray:
    """Batch-of-one layers -> the nine values in PARAMS order (float64 of the float32s)."""
    (w1, b1), (w2, b2) = params
    return np.concatenate([w1[0].reshape(-1), b1[0], w2[0].reshape(-1), b2[0]]).astype(np.float64)


def _layers(vectors: np.ndarray) -> list[Layer]:
    """(B, 9) values -> batch-first float32 layers, as the engine takes them."""
    t = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    return [(t[:, 0:4].reshape(-1, 2, 2), t[:, 4:6]), (t[:, 6:8].reshape(-1, 1, 2), t[:, 8:9])]


def _model(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hidden (4, 2) and output (4,) pre-activations in float64."""
    z1 = np.array([[x[_W[j][0]] * a + x[_W[j][1]] * b + x[_B[j]] for j in range(2)] for a, b in _XS])
    z2 = x[_C] + (np.maximum(z1, 0) * x[[_V[0], _V[1]]]).sum(1)
    return z1, z2


class _Budget(Exception):
    pass


_SPREAD = [sum(((b >> r) & 1) << (2 * r) for r in range(4)) for b in range(16)]


def _index(b0: int, b1: int, out: int) -> int:
    """Pattern index from unit 0's and unit 1's row bits and the output's row bits."""
    return _SPREAD[b0] | (_SPREAD[b1] << 1) | (out << 8)


_SystemArgs = tuple[tuple[int, ...], np.ndarray, np.ndarray, list[bool], tuple["float | None", ...], tuple[int, ...]]
"""One sign pattern's system, as ``_Search.system`` takes it: (S, hid, out, coupled, sigma, free_out)."""


@dataclass
class _Search:
    """One search: the start, the case, the margins, and the count of linear programs."""

    x: np.ndarray  # the start's nine values
    case: int
    margin: float
    budget: int
    programs: int = 0
    unknown: int = 0  # programs that ended undecided (never seen)
    lost: int = 0  # feasible systems for which the engine confirmed no point
    _unit_cache: dict[tuple[int, tuple[int, ...], int], bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.z1, self.z2 = _model(self.x)
        self.m_lp = self.margin + SLACK
        self.v_lp = V_MARGIN + V_SLACK
        self.table = _pattern_table()[0]
        b0, b1 = (sum(int(self.z1[r, j] > 0) << r for r in range(4)) for j in range(2))
        self.current = _index(b0, b1, sum(int(z > 0) << r for r, z in enumerate(self.z2)))

    def _lp(self, G: ArrayLike, h: ArrayLike, lo: ArrayLike, hi: ArrayLike, x0: ArrayLike) -> lp.LPResult:
        """One linear program, counted against the budget."""
        if self.programs >= self.budget:
            raise _Budget
        self.programs += 1
        res = lp.solve(G, h, lo, hi, x0)
        if res.status == "unknown":
            self.unknown += 1
        return res

    # -- which rows a set of parameters can move
    @staticmethod
    def _row_free(S: frozenset[int], r: int, j: int) -> bool:
        a, b = _XS[r]
        return _B[j] in S or bool(a and _W[j][0] in S) or bool(b and _W[j][1] in S)

    def _unit_patterns(self, S: frozenset[int], j: int) -> list[int]:
        """The sign patterns (4 bits, one per row) unit j can take with margin when S changes."""
        free = [self._row_free(S, r, j) for r in range(4)]
        fixed_bits = 0
        for r in range(4):
            if not free[r]:
                z = self.z1[r, j]
                if abs(z) < self.margin:
                    return []
                fixed_bits |= int(z > 0) << r
        mine = tuple(i for i in (_W[j][0], _W[j][1], _B[j]) if i in S)
        out = []
        free_rows = [r for r in range(4) if free[r]]
        for signs in itertools.product((0, 1), repeat=len(free_rows)):
            bits = fixed_bits
            for r, s in zip(free_rows, signs):
                bits |= s << r
            if not free_rows or self._unit_realisable(j, mine, bits, free_rows):
                out.append(bits)
        return out

    def _unit_realisable(self, j: int, mine: tuple[int, ...], bits: int, free_rows: list[int]) -> bool:
        """Can unit j's parameters in ``mine`` give it these signs with margin (the output aside)?"""
        key = (j, mine, bits)
        if key not in self._unit_cache:
            G: list[np.ndarray] = []
            h: list[float] = []
            for r in free_rows:
                coef, const = self._z1_expr(r, j, {p: k for k, p in enumerate(mine)}, None)
                s = 1.0 if (bits >> r) & 1 else -1.0
                G.append(-s * coef)
                h.append(s * const - self.m_lp)
            n = len(mine)
            x0 = np.clip(self.x[list(mine)], -BOX, BOX)
            self._unit_cache[key] = self._lp(G, h, np.full(n, -BOX), np.full(n, BOX), x0).feasible
        return self._unit_cache[key]

    def _z1_expr(self, r: int, j: int, pos: dict[int, int], a: int | None) -> tuple[np.ndarray, float]:
        """z_j on row r as coef . vars + const; with ``a`` (the position of v_j), the scaled
        v_j * z_j, whose free parameters are psi = v_j * theta."""
        coef = np.zeros(len(pos))
        const = 0.0
        xr = _XS[r]
        for idx, on in ((_W[j][0], xr[0]), (_W[j][1], xr[1]), (_B[j], 1)):
            if not on:
                continue
            if idx in pos:
                coef[pos[idx]] += 1.0
            elif a is not None:
                coef[a] += self.x[idx]
            else:
                const += self.x[idx]
        return coef, const

    def _out_signs(self, Sf: frozenset[int], bits: tuple[int, int], r: int) -> tuple[int, ...]:
        """The output signs row r can still take (1 active, 0 not), by interval arithmetic over
        the box: a relaxation of the linear system, so what it rules out the system would too."""
        lo, hi = (-BOX, BOX) if _C in Sf else (self.x[_C], self.x[_C])
        for j in range(2):
            if not (bits[j] >> r) & 1:
                continue
            if self._row_free(Sf, r, j):
                zl = zh = 0.0
                for idx, on in ((_W[j][0], _XS[r][0]), (_W[j][1], _XS[r][1]), (_B[j], 1)):
                    if on:
                        zl, zh = (zl - BOX, zh + BOX) if idx in Sf else (zl + self.x[idx], zh + self.x[idx])
                zl = max(zl, self.m_lp)
            else:
                zl = zh = self.z1[r, j]
            vl, vh = (-BOX, BOX) if _V[j] in Sf else (self.x[_V[j]], self.x[_V[j]])
            products = (vl * zl, vl * zh, vh * zl, vh * zh)
            lo, hi = lo + min(products), hi + max(products)
        out = []
        if lo <= -self.m_lp:
            out.append(0)
        if hi >= self.m_lp and lo <= 1 - self.m_lp:
            out.append(1)
        return tuple(out)

    def systems(self, S: tuple[int, ...]) -> Iterator[tuple[np.ndarray, _SystemArgs]]:
        """The solutions of set S, one per feasible sign pattern (and sign of the output
        weights), nearest patterns first (fewest signs flipped from the start's), each with its
        system's arguments (to solve it again from the box's centre)."""
        Sf = frozenset(S)
        units = [self._unit_patterns(Sf, j) for j in range(2)]
        combos = []
        for b0, b1 in itertools.product(*units):
            free_out, fixed_bits = [], 0
            for r in range(4):
                on = ((b0 >> r) & 1, (b1 >> r) & 1)
                if _C in Sf or any(on[j] and (_V[j] in Sf or self._row_free(Sf, r, j)) for j in range(2)):
                    free_out.append(r)
                    continue
                z = self.x[_C] + sum(self.x[_V[j]] * self.z1[r, j] for j in range(2) if on[j])
                if abs(z) < self.margin or z > 1 - self.margin:
                    break
                fixed_bits |= int(z > 0) << r
            else:
                allowed = [self._out_signs(Sf, (b0, b1), r) for r in free_out]
                for signs in itertools.product(*allowed):
                    out_bits = fixed_bits
                    for r, s in zip(free_out, signs):
                        out_bits |= s << r
                    idx = _index(b0, b1, out_bits)
                    if self.table[idx] == self.case:
                        combos.append(((idx ^ self.current).bit_count(), idx, b0, b1, out_bits, tuple(free_out)))
        combos.sort(key=lambda c: c[:2])
        for _, _, b0, b1, out_bits, free_rows in combos:
            hid = np.array([[(b0 >> r) & 1, (b1 >> r) & 1] for r in range(4)], dtype=bool)
            out = np.array([(out_bits >> r) & 1 for r in range(4)], dtype=bool)
            conn = [bool((out & hid[:, j]).any()) for j in range(2)]
            if any(conn[j] and _V[j] not in Sf and abs(self.x[_V[j]]) < V_MARGIN for j in range(2)):
                continue
            coupled = [
                _V[j] in Sf and any(i in Sf for i in (_W[j][0], _W[j][1], _B[j])) and bool(hid[:, j].any())
                for j in range(2)
            ]
            options: list[tuple[float | None, ...]] = []
            for j in range(2):
                if _V[j] in Sf and conn[j]:  # the start's sign first
                    options.append((1.0, -1.0) if self.x[_V[j]] >= 0 else (-1.0, 1.0))
                elif coupled[j]:
                    options.append((-1.0,))
                else:
                    options.append((None,))
            for sigma in itertools.product(*options):
                args: _SystemArgs = (S, hid, out, coupled, sigma, free_rows)
                sol = self.system(*args)
                if sol is not None:
                    yield sol, args

    def system(
        self,
        S: tuple[int, ...],
        hid: np.ndarray,
        out: np.ndarray,
        coupled: list[bool],
        sigma: tuple[float | None, ...],
        free_out: tuple[int, ...],
        centre: bool = False,
    ) -> np.ndarray | None:
        """Solve one sign pattern's linear system for set S: the nine values nearest the start
        (or, with ``centre``, nearest the box's centre), or None when it is infeasible."""
        pos = {p: k for k, p in enumerate(S)}
        Sf = frozenset(S)
        n = len(S)
        m = self.m_lp
        G: list[np.ndarray] = []
        h: list[float] = []
        scaled = set()
        for j in range(2):
            if coupled[j]:
                scaled |= {i for i in (_W[j][0], _W[j][1], _B[j]) if i in pos}
        # hidden signs on the rows S moves
        for j in range(2):
            a = pos[_V[j]] if coupled[j] else None
            for r in range(4):
                if not self._row_free(Sf, r, j):
                    continue
                coef, const = self._z1_expr(r, j, pos, a)
                s = 1.0 if hid[r, j] else -1.0
                if a is None:  # s z >= m
                    G.append(-s * coef)
                    h.append(s * const - m)
                else:  # sigma v (s z - m) >= 0, written in v z (linear in psi and v)
                    sj = sigma[j]
                    assert sj is not None  # a coupled unit's output weight always has a sign (systems)
                    row = -s * sj * coef
                    row[a] += sj * m
                    G.append(row)
                    h.append(0.0)
        # output signs on the rows S moves
        for r in free_out:
            coef = np.zeros(n)
            const = 0.0
            if _C in pos:
                coef[pos[_C]] += 1.0
            else:
                const += self.x[_C]
            for j in range(2):
                if not hid[r, j]:
                    continue
                if coupled[j]:
                    c, k = self._z1_expr(r, j, pos, pos[_V[j]])
                    coef += c
                    const += k
                elif _V[j] in pos:
                    coef[pos[_V[j]]] += self.z1[r, j]
                else:
                    c, k = self._z1_expr(r, j, pos, None)
                    coef += self.x[_V[j]] * c
                    const += self.x[_V[j]] * k
            if out[r]:  # m <= z <= 1 - m
                G.append(-coef)
                h.append(const - m)
                G.append(coef.copy())
                h.append(1 - m - const)
            else:  # z <= -m
                G.append(coef)
                h.append(-m - const)
        # signs of the output weights, and |theta| <= BOX for scaled parameters
        for j in range(2):
            sj = sigma[j]
            if sj is None:
                continue
            a = pos[_V[j]]
            row = np.zeros(n)
            row[a] = -sj
            G.append(row)
            h.append(-self.v_lp)
            if coupled[j]:
                for i in (_W[j][0], _W[j][1], _B[j]):
                    if i in pos:
                        for sgn in (1.0, -1.0):
                            row = np.zeros(n)
                            row[pos[i]] = sgn
                            row[a] = -sj * BOX
                            G.append(row)
                            h.append(0.0)
        lo = np.array([-BOX * BOX if p in scaled else -BOX for p in S])
        hi = -lo
        x0 = np.zeros(n)
        if not centre:
            for k, p in enumerate(S):
                if p in scaled:
                    j = 0 if p in (_W[0][0], _W[0][1], _B[0]) else 1
                    x0[k] = self.x[_V[j]] * self.x[p]
                else:
                    x0[k] = self.x[p]
            x0 = np.clip(x0, lo, hi)
        res = self._lp(np.array(G), np.array(h), lo, hi, x0)
        if not res.feasible:
            return None
        y = np.array(res.x)
        x = self.x.copy()
        for k, p in enumerate(S):
            x[p] = y[k]
        for j in range(2):
            if coupled[j]:
                a = y[pos[_V[j]]]
                for i in (_W[j][0], _W[j][1], _B[j]):
                    if i in pos:
                        x[i] = y[pos[i]] / a
        return x


def _variants(x: np.ndarray, start: np.ndarray) -> list[np.ndarray]:
    """A solution rounded to 2, 3 and 4 decimals where it changed (values a person can type),
    then as found; the first the engine confirms is offered."""
    out = []
    changed = x != start
    for d in (2, 3, 4):
        v = start.copy()
        v[changed] = np.round(x[changed], d)
        if (np.abs(v[changed]) <= BOX).all():
            out.append(v)
    out.append(x.copy())
    return out


def _confirm(
    cands: list[np.ndarray], start: np.ndarray, config: Config, case: int, margin: float
) -> list[np.ndarray | None]:
    """Of each candidate, the first variant (``_variants``) the engine finds robustly in
    ``case``, as float32-exact values; None where none is."""
    if not cands:
        return []
    variants = [_variants(c, start) for c in cands]
    flat = np.array([v for vs in variants for v in vs])
    flat32 = flat.astype(np.float32).astype(np.float64)
    got = robust_cases(flat32, config, margin)
    out, i = [], 0
    for vs in variants:
        hit = next((flat32[i + k] for k in range(len(vs)) if got[i + k] == case), None)
        out.append(hit)
        i += len(vs)
    return out


def solve(
    config: Config,
    params: list[Layer],
    case: int,
    max_edits: int = 3,
    margin: float = MARGIN,
    budget: int = BUDGET,
) -> TargetResult:
    """The fewest parameters to change so that the start ``params`` (batch-of-one layers, as a
    Record holds them) is robustly in ``case`` (see the module's docstring), with values near
    the start (which ones: the module's docstring). Never raises for a valid request; a
    setting it does not cover is status "unsupported"."""
    if isinstance(case, bool) or not isinstance(case, int) or not 1 <= case <= 8:
        raise ValueError(f"case must be 1 to 8, got {case!r}")
    if isinstance(max_edits, bool) or not isinstance(max_edits, int) or not 0 <= max_edits <= MAX_EDITS:
        raise ValueError(f"max edits must be 0 to {MAX_EDITS}, got {max_edits!r}")
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and 0 < margin <= 0.2):
        raise ValueError(f"margin must be above 0 and at most 0.2, got {margin!r}")
    base = TargetResult(case, "unsupported", margin=margin, max_edits=max_edits)
    why = supported(config)
    if why is not None:
        return _replace(base, message=why)
    start = vector(params)
    if not np.isfinite(start).all():
        return _replace(base, message="the start holds a value that is not finite")
    if robust_cases(start[None], config, margin)[0] == case:
        return _finish(base, "already", config, start, start, True, 0)
    search = _Search(start, case, margin, budget)
    exhausted = False
    refuted = True  # every smaller size was refuted with proof
    size = 0
    for size in range(1, max_edits + 1):
        before = (search.unknown, search.lost)
        try:
            found = _size(search, size, start, config, case, margin)
        except _Budget:
            found, exhausted = [], True
        if found:
            best = min(found, key=lambda v: (float(np.abs(v - start).sum()), tuple(v)))
            return _finish(base, "found", config, start, best, refuted, search.programs)
        refuted = refuted and (search.unknown, search.lost) == before
        if exhausted:
            break
    if exhausted:
        return _replace(
            base,
            status="budget",
            programs=search.programs,
            message=f"the search for case {case} ran out of its budget ({budget} linear programs) "
            f"before finding or refuting {size} edit(s)",
        )
    return _replace(
        base,
        status="exceeds",
        proved=refuted,
        programs=search.programs,
        message=f"case {case} needs more than {max_edits} edit(s) from this start: "
        f"no set of {max_edits} or fewer parameters makes it case {case} with margin {margin:g}",
    )


def _size(search: _Search, size: int, start: np.ndarray, config: Config, case: int, margin: float) -> list[np.ndarray]:
    """The engine-confirmed solutions of every set of ``size`` parameters, one per set (its
    nearest feasible pattern). Candidates are confirmed in one engine pass; a set whose
    candidate the engine does not confirm (two rows' gradients cancelling there, say) tries
    its system from the box's centre, then its next pattern."""
    pending = {S: search.systems(S) for S in itertools.combinations(range(9), size)}
    found = []
    while pending:
        cands = {}
        for S, it in list(pending.items()):
            nxt = next(it, None)
            if nxt is None:
                del pending[S]
            else:
                cands[S] = nxt
        if not cands:
            break
        keys = list(cands)
        confirmed = _confirm([cands[S][0] for S in keys], start, config, case, margin)
        retry = [S for S, ok in zip(keys, confirmed) if ok is None]
        for S, ok in zip(keys, confirmed):
            if ok is not None:
                found.append(ok)
                del pending[S]
        retried = [(S, search.system(*cands[S][1], centre=True)) for S in retry]
        again = [(S, x) for S, x in retried if x is not None]
        second = _confirm([x for _, x in again], start, config, case, margin)
        for (S, _), ok in zip(again, second):
            if ok is not None:
                found.append(ok)
                del pending[S]
        search.lost += len(retry) - sum(ok is not None for ok in second)
    return found


def _replace(r: TargetResult, **kw: Any) -> TargetResult:
    from dataclasses import replace

    return replace(r, **kw)


def _finish(
    base: TargetResult, status: str, config: Config, start: np.ndarray, best: np.ndarray, proved: bool, programs: int
) -> TargetResult:
    """Check the edited start with the engine's own diagnosis and one engine step."""
    from xor_tui.core.engine.run import Run, Start

    layers = _layers(best[None])
    sd = {k: v.tolist() for k, v in net.state_dict(layers, config).items()}
    run = Run(config, Start("explicit", values=sd))
    d0 = diagnosis.diagnose(run.current)
    next_case = None
    if not run.halted:
        run.step()
        if not run.halted:
            next_case = diagnosis.diagnose(run.current).case
    edits = tuple(
        Edit(PARAMS[i], float(np.float32(start[i])), float(np.float32(best[i])))
        for i in range(9)
        if np.float32(best[i]) != np.float32(start[i])
    )
    if status == "already":
        msg = f"the start is already in case {base.case}, with margin {base.margin:g} from every boundary"
    else:
        n = len(edits)
        msg = f"{n} edit{'s' if n != 1 else ''} make{'s' if n == 1 else ''} it case {d0.case}"
        msg += "; no fewer can" if proved else "; fewer were not all refuted"
    return _replace(
        base,
        status=status,
        edits=edits,
        params=sd,
        result_case=d0.case,
        next_case=next_case,
        distance=boundary_distance(layers, config),
        proved=proved,
        programs=programs,
        message=msg,
    )


# ---------------------------------------------------------------- the rules of a case, and what moves them

BCE_RULE = "every output within [0, 1] (BCELoss refuses anything else: the start would halt)"


@dataclass(frozen=True)
class Lever:
    """One parameter moved alone (the others as they are) past the nearest boundary beyond
    which a rule holds.

    ``threshold`` is that boundary (short of it the rule fails, just beyond it holds);
    ``suggested`` the nearest value beyond it where the rule holds and every boundary this
    parameter moves is ``margin`` away (``keeps_margin``; else the middle of the first stretch
    where it holds), rounded to few decimals; ``flips`` what changes sign on
    the way ("output on row (0,1) turns active"); ``case`` the case the engine's diagnosis then
    gives (None: none), ``robust`` whether the start is then robustly in it (``robust_cases``:
    a quantity this parameter does not move may still sit within the margin)."""

    param: str
    current: float
    direction: str  # "raise" or "lower"
    threshold: float
    suggested: float
    flips: tuple[str, ...]
    case: int | None
    robust: bool = False
    keeps_margin: bool = True

    @property
    def text(self) -> str:
        """``raise output.bias[0] above -0.2100 (to -0.16): output on row (0,1) turns active``"""
        side = "above" if self.direction == "raise" else "below"
        said = f"{self.direction} {self.param} {side} {self.threshold:+.4f} (to {self.suggested:+.4g})"
        if self.flips:
            said += ": " + ", ".join(self.flips)
        return said


@dataclass(frozen=True)
class RuleStatus:
    """One rule of the target case (or BCELoss's range, ``kind`` "bce"), whether the start
    meets it (the engine's numbers), and the single-parameter moves that would make it hold."""

    text: str
    holds: bool
    levers: tuple[Lever, ...] = ()
    kind: str = "case"


def _model_grads(hid: np.ndarray, out: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Nonzero gradients of sign patterns (N, ...) with output weights v (N, 2): the generic
    set, less the hidden parameters of a unit whose output weight is exactly 0."""
    g = _generic_grads(hid, out)
    for j in range(2):
        zero = v[:, j] == 0
        for i in (_W[j][0], _W[j][1], _B[j]):
            g[zero, i] = False
    return g


def _model_batch(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hidden (N, 4, 2) and output (N, 4) pre-activations of many nine-value vectors (float64)."""
    xr = np.array(_XS, dtype=float)  # (4, 2)
    w = xs[:, 0:4].reshape(-1, 2, 2)  # (N, unit, input)
    z1 = np.einsum("ri,nji->nrj", xr, w) + xs[:, None, 4:6]
    z2 = xs[:, 8][:, None] + (np.maximum(z1, 0) * xs[:, None, 6:8]).sum(2)
    return z1, z2


def _breakpoints(x: np.ndarray, i: int, lo: float, hi: float) -> list[float]:
    """Values of parameter i (the rest as in x) where a pre-activation crosses 0, an output
    crosses 1, or (an output weight) the parameter itself crosses 0, within (lo, hi)."""
    pts = {0.0} if i in _V else set()
    z1, _ = _model(x)
    for j in range(2):
        for r in range(4):
            terms = ((_W[j][0], _XS[r][0]), (_W[j][1], _XS[r][1]), (_B[j], 1))
            slope = sum(1.0 for idx, on in terms if on and idx == i)
            if slope:
                pts.add(x[i] - z1[r, j] / slope)
    kinks = sorted(p for p in pts if lo < p < hi)
    edges = [lo, *kinks, hi]
    for a, b in zip(edges, edges[1:]):  # the outputs are linear between kinks
        ta, tb = a + (b - a) * 0.25, a + (b - a) * 0.75
        za, zb = (_model(_with(x, i, t))[1] for t in (ta, tb))
        slope = (zb - za) / (tb - ta)
        for r in range(4):
            if slope[r] != 0:
                for level in (0.0, 1.0):
                    t = ta + (level - za[r]) / slope[r]
                    if a < t < b:
                        pts.add(t)
    return sorted(p for p in pts if lo < p < hi)


def _with(x: np.ndarray, i: int, t: float) -> np.ndarray:
    y = x.copy()
    y[i] = t
    return y


def _flips(before: tuple[np.ndarray, np.ndarray], after: tuple[np.ndarray, np.ndarray]) -> tuple[str, ...]:
    out = []
    for r in range(4):
        for j in range(2):
            if (before[0][r, j] > 0) != (after[0][r, j] > 0):
                state = "active" if after[0][r, j] > 0 else "inactive"
                out.append(f"hidden[{j}] on row {net.ROWS[r]} turns {state}")
    for r in range(4):
        if (before[1][r] > 0) != (after[1][r] > 0):
            out.append(f"output on row {net.ROWS[r]} turns {'active' if after[1][r] > 0 else 'inactive'}")
    return tuple(out)


def _margin_window(x: np.ndarray, i: int, a: float, b: float, margin: float) -> tuple[float, float]:
    """Within (a, b), where every quantity that parameter i moves keeps ``margin`` from its
    boundary (each is linear in the parameter there): an interval, empty when lo > hi."""
    ta, tb = a + (b - a) / 3, a + 2 * (b - a) / 3
    (z1a, z2a), (z1b, z2b) = _model(_with(x, i, ta)), _model(_with(x, i, tb))
    lo, hi = a, b
    qa = [*z1a.ravel(), *z2a, *(1 - z2a[z2a > 0]), *([ta] if i in _V else [])]
    qb = [*z1b.ravel(), *z2b, *(1 - z2b[z2a > 0]), *([tb] if i in _V else [])]
    for va, vb in zip(qa, qb):
        slope = (vb - va) / (tb - ta)
        if slope == 0:
            continue
        sign = 1.0 if va > 0 else -1.0  # the side it stays on within the interval
        t_at = ta + (sign * margin - va) / slope  # where sign * q = margin
        if sign * slope > 0:
            lo = max(lo, t_at)
        else:
            hi = min(hi, t_at)
    return lo, hi


def _nice(t: float, lo: float, hi: float) -> float:
    """t rounded to as few decimals (2 to 4) as keep it within [lo, hi]."""
    for d in (2, 3, 4):
        v = round(t, d)
        if lo <= v <= hi:
            return v
    return t


def rule_report(config: Config, params: list[Layer], case: int, margin: float = MARGIN) -> list[RuleStatus]:
    """The rules of ``case`` for the start ``params`` (batch-of-one layers): for each, whether
    it holds (the engine's numbers, the diagnosis's own rule) and, when it does not, every
    single-parameter move that makes it hold (``Lever``: the nearest on each side). The first
    entry is BCELoss's range (kind "bce"). Empty for a setting the cases do not cover."""
    if supported(config) is not None or not 1 <= case <= 8:
        return []
    x = vector(params)
    p = net.evaluate(params, config)
    halted = not bool(p.valid[0])
    checks = diagnosis.rule_checks(diagnosis.features(p.pre, p.grads), case)
    texts = [t for t, _ in checks]
    holds_now = [bool(v[0]) for _, v in checks]
    holds_now = [h and not halted for h in holds_now]
    # every interval of every parameter, evaluated at once
    rows = []  # (param index, a, b, midpoint)
    for i in range(9):
        lo, hi = min(-BOX, x[i]), max(BOX, x[i])
        edges = [lo, *_breakpoints(x, i, lo, hi), hi]
        rows += [(i, a, b, (a + b) / 2) for a, b in zip(edges, edges[1:]) if b > a]
    mids = np.array([_with(x, i, t) for i, _, _, t in rows])
    z1, z2 = _model_batch(mids)
    hid, out = z1 > 0, z2 > 0
    grads = _model_grads(hid, out, mids[:, 6:8])
    rule_ok = np.array([v.numpy() for _, v in diagnosis.rule_checks(_features(hid, out, grads), case)])
    # BCELoss takes the outputs (any over axis 1 of a 2-D array is an array: numpy's stubs say
    # "a bool or an array" for any axis, hence the cast)
    fine = cast(np.ndarray, ~(out & (z2 > 1)).any(1))
    rule_ok &= fine[None, :]
    before = _model(x)
    statuses: list[tuple[str, bool, list[Lever], str]] = [(BCE_RULE, not halted, [], "bce")]
    statuses += [(t, h, [], "case") for t, h in zip(texts, holds_now)]
    wanted = [fine, *rule_ok]
    pending = []  # (status index, lever fields, vector)
    for s, (_, holds, _, _) in enumerate(statuses):
        if holds:
            continue
        for i in range(9):
            here = [(k, a, b) for k, (pi, a, b, _) in enumerate(rows) if pi == i and wanted[s][k]]
            t0 = x[i]
            up = [(a, b) for _, a, b in here if a >= t0]
            down = [(a, b) for _, a, b in here if b <= t0]
            for direction, cand in (("raise", up), ("lower", down[::-1])):
                # the nearest interval where the rule holds with margin, else the nearest at all
                chosen = None
                for a, b in cand:
                    wlo, whi = _margin_window(x, i, a, b, margin)
                    if wlo <= whi:
                        chosen = (a, b, _nice(min(max(t0, wlo), whi), wlo, whi), True)
                        break
                if chosen is None and cand:
                    a, b = cand[0]
                    chosen = (a, b, (a + b) / 2, False)
                if chosen is None:
                    continue
                _, _, t, keeps = chosen
                threshold = cand[0][0] if direction == "raise" else cand[0][1]  # where it first holds
                after = _with(x, i, t)
                fields = (PARAMS[i], float(np.float32(t0)), direction, float(threshold), float(t))
                pending.append((s, fields, _flips(before, _model(after)), keeps, after))
    if pending:
        vs = np.array([v for *_, v in pending])
        cases, robust = engine_cases(vs, config), robust_cases(vs, config, margin)
        for (s, fields, flips, keeps, _), c, rc in zip(pending, cases, robust):
            statuses[s][2].append(Lever(*fields, flips, int(c) or None, bool(c and rc == c), keeps))
    return [RuleStatus(t, h, tuple(lv), kind) for t, h, lv, kind in statuses]
