"""Recover a float32 start (and the learning rate) from a printout.

A printout shows every tensor at 4 decimals (or 5 significant digits where torch chose
scientific notation) and the loss at full float32 precision. The start is somewhere in the
rounding box of the epoch-0 state dict; ``recover`` finds a float32 point in that box whose
replay prints every printed entry and loss exactly as printed, at every printed epoch:

1. sample the box and train every sample at once with the batched engine;
2. from the best samples, Levenberg-Marquardt steps on the printed values (a Jacobian from
   central differences, all candidates of a step trained in one batch);
3. around the best point, float32 neighbours a few ulps away, many at once, until one
   reproduces every printed value (the full-precision losses are the hard part).

The batched engine gives torch's own bits, and the result is checked at the end by printing
its replay through real torch modules and comparing the text entry by entry. When nothing
within the time limit reproduces everything, the best start is returned with the count of
reproduced values and the worst mismatch.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from xor_tui.core.budget import Budget, OutOfTime, Stopped, unbounded
from xor_tui.core.engine import net
from xor_tui.core.engine.activations import parse_activation
from xor_tui.core.engine.net import Config, Layer, Pass
from xor_tui.core.engine.run import MAX_EPOCHS, Run, Start
from xor_tui.core.io.printout import STATE_KEYS, Block, PrintedRun, PrintedTensor, compare, epoch_lines, parse_lines
from xor_tui.core.io.scenario import Scenario

if TYPE_CHECKING:
    from xor_tui.core.rules.diagnosis import Diagnosis

DEFAULT_LR = 0.001
LOSS_RTOL = 1e-6  # a printed loss is reproduced within this relative distance (exactly where we can)
_EXACT_LOSSES = 4  # up to this many printed losses, the search aims at every one to the last bit
_DEBUG = bool(os.environ.get("XOR_RECOVER_DEBUG"))  # print the search's progress
TIME_LIMIT = 60.0  # seconds: the default budget of a whole import (``import --budget``, ``f``)
SEARCH_LIMIT = 20.0  # seconds one run's start search may take (then its best start is kept): one run
# that no start reproduces leaves the budget's rest to the others
_CLOUD = 512  # neighbours per chain and step once the search is near (each epoch costs about the same for 64)
_DRAWN = 32  # neighbours drawn per neighbour kept (the linear model keeps the best)
_GAP = 1e-3  # the margin LP is solved to this duality gap (in half-widths): far finer than float32 noise
_SETTLE = 20_000  # networks trained, after every value matched, in search of exact losses
SEARCH_BLOCKS = 40  # printed epochs the rate and start searches aim at (all are checked at the end)

_BIG = 1e3  # residual of a value a candidate never printed (it halted before)
_MARGIN = 0.2  # aim this share of the half-width inside each rounding interval
_LAMBDAS = (0.0, 1e-3, 1e-1, 10.0, 1e3)  # Levenberg-Marquardt dampings tried at every step


@dataclass
class Recovery:
    """What ``recover`` found: a start (our parameter names, float32 values as floats)."""

    start: dict[str, list[Any]]  # nested lists of floats
    config: Config
    reproduced: int
    total: int
    mismatches: list[tuple[int, str, str, str]]  # (epoch, label, printed, replayed)
    seconds: float
    candidates: int  # networks trained during the search
    epochs: int  # epochs the replay needs (last printed + 1)
    losses: int = 0  # printed losses
    exact_losses: int = 0  # of which the replay gives exactly (the others within LOSS_RTOL, or missed)
    inexact_epochs: list[int] | None = None  # printed epochs whose loss is matched only within LOSS_RTOL

    @property
    def complete(self) -> bool:
        return self.reproduced == self.total

    @property
    def worst(self) -> tuple[int, str, str, str] | None:
        """The mismatch farthest from its printed value (in units of its last printed digit)."""
        if not self.mismatches:
            return None
        return max(self.mismatches, key=lambda m: _distance(m[2], m[3]))

    def worst_text(self) -> str:
        w = self.worst
        if w is None:
            return ""
        epoch, label, printed, ours = w
        return f"epoch {epoch} {label}: printed {printed}, replay gives {ours}"


def _distance(printed: str, ours: str) -> float:
    try:
        a = float(printed.split(":")[-1])
        b = float(ours.split(":")[-1])
    except ValueError:
        return math.inf
    lo, hi = interval(printed) if ":" not in printed else (a, a)
    width = max(hi - lo, abs(a) * 2**-23, 1e-30)
    return abs(a - b) / width


# ---------------------------------------------------------------- printed values as intervals

_TEXT_RE = re.compile(r"^-?(\d+)\.(\d*)(?:e([+-]?\d+))?$")


def interval(text: str) -> tuple[float, float]:
    """The values torch would print as ``text`` (4 decimals, scientific, or an integer ``k.``)."""
    v = float(text)
    m = _TEXT_RE.match(text)
    if m is None or not m.group(2) and m.group(3) is None:
        return v, v  # int mode ("0.", "3.") or a bare integer: exactly that value
    half = 0.5 * 10.0 ** (int(m.group(3) or 0) - len(m.group(2)))
    lo, hi = v - half, v + half
    if text.startswith("-"):
        hi = min(hi, 0.0)
    else:
        lo = max(lo, 0.0)
    return lo, hi


@dataclass
class _Targets:
    """Every printed value of a run, flat over its printed epochs (losses included)."""

    epochs: list[int]
    lo: torch.Tensor  # (M,) float64: the interval of values torch prints as the printed text
    hi: torch.Tensor
    half: torch.Tensor  # half-width used to normalise (half a float32 ulp for a loss)
    is_loss: torch.Tensor  # (M,) bool
    halt_epoch: int | None
    units: int
    sizes: list[int]  # entries per printed epoch (loss included, except in a crashed block)

    @property
    def last(self) -> int:
        return self.epochs[-1]


def _targets(run: PrintedRun) -> _Targets:
    lo, hi, half, is_loss, sizes = [], [], [], [], []
    for b in run.blocks:
        n = 0
        for _label, text in b.entries()[:-1]:
            a, z = interval(text)
            lo.append(a)
            hi.append(z)
            half.append(max((z - a) / 2, 1e-12))
            is_loss.append(False)
            n += 1
        if b.halt is None:
            v = float(torch.tensor(b.loss, dtype=torch.float32))
            lo.append(v)
            hi.append(v)
            # aim at the last bit when few losses are printed; with many, float32 noise makes
            # every one exact only for the very start that printed them: aim within LOSS_RTOL
            exact = sum(x.halt is None for x in run.blocks) <= _EXACT_LOSSES
            half.append(float(_ulp(torch.tensor([v]))[0]) / 2 if exact else max(abs(v) * LOSS_RTOL, 1e-30))
            is_loss.append(True)
            n += 1
        sizes.append(n)
    halt = run.halt.epoch if run.halt is not None else None
    return _Targets(
        run.epochs,
        torch.tensor(lo, dtype=torch.float64),
        torch.tensor(hi, dtype=torch.float64),
        torch.tensor(half, dtype=torch.float64),
        torch.tensor(is_loss),
        halt,
        run.blocks[0].units,
        sizes,
    )


def _box(block: Block) -> tuple[torch.Tensor, torch.Tensor]:
    """The rounding box of a printed state dict, flat in our parameter order (float64)."""
    lo, hi = [], []
    for key in STATE_KEYS:
        for text in block.tensors[key].texts:
            a, z = interval(text)
            lo.append(a)
            hi.append(z)
    return torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64)


def _layers(x: torch.Tensor, h: int) -> list[Layer]:
    """Flat starts (9, B) -> batch-last layers (weight (out, in, B), bias (out, B))."""
    n1 = 2 * h
    return [
        (x[0:n1].reshape(h, 2, -1).contiguous(), x[n1 : n1 + h].contiguous()),
        (x[n1 + h : n1 + 2 * h].reshape(1, h, -1).contiguous(), x[n1 + 2 * h : n1 + 2 * h + 1].contiguous()),
    ]


def _values(p: Pass, params: list[Layer], h: int) -> torch.Tensor:
    """Every printed entry of one epoch for a batch, in the printout's order: (n_entries, B)."""
    (w1, b1), (w2, b2) = params
    b = w1.shape[-1]
    return torch.cat(
        [
            p.pre[0].reshape(4 * h, b),
            p.out[0].reshape(4 * h, b),
            p.pre[1].reshape(4, b),
            p.out[1].reshape(4, b),
            w1.reshape(2 * h, b),
            b1,
            w2.reshape(h, b),
            b2,
        ]
    )


@dataclass
class _Score:
    misses: torch.Tensor  # (B,) printed values not reproduced (a missed crash counts one)
    inexact: torch.Tensor  # (B,) printed losses matched only to LOSS_RTOL, not exactly
    cost: torch.Tensor  # (B,) sum of squared normalised distances outside the intervals
    values: torch.Tensor | None = None  # (M, B) float64, NaN where not computed


def _simulate(
    x: torch.Tensor, config: Config, tg: _Targets, keep: bool = False, budget: Budget | None = None
) -> _Score:
    """Train a batch of flat float32 starts (9, B) through the printed epochs and score them
    (``budget`` checked at every epoch)."""
    n = x.shape[1]
    params = _layers(x, tg.units)
    halted = torch.full((n,), -1, dtype=torch.long)
    rows = []
    crash_miss = torch.zeros(n, dtype=torch.bool)
    k = 0
    for epoch in range(tg.last + 1):
        if budget is not None:
            budget.check()
        printed = epoch == tg.epochs[k]
        p = net.evaluate_bl(params, config, grads=epoch < tg.last, loss_value=printed)
        bad = ~p.valid if p.loss is None else ~p.valid | ~torch.isfinite(p.loss)
        gone = halted >= 0  # halted at an earlier epoch: nothing after that was printed
        newly = bad & ~gone
        halted[newly] = epoch
        if printed:
            f = _values(p, params, tg.units).double()
            if tg.halt_epoch == epoch:
                crash_miss = ~newly  # the printout crashed here: so must the candidate
            else:
                assert p.loss is not None  # asked for (loss_value=printed)
                loss = p.loss.double().masked_fill(bad, math.nan)
                f = torch.cat([f, loss[None]])
            f[:, gone] = math.nan
            rows.append(f)
            k += 1
            if k == len(tg.epochs):
                break
        params = net.sgd_step(params, p.grads, config)
    f = torch.cat(rows)
    lo, hi, half = tg.lo[:, None], tg.hi[:, None], tg.half[:, None]
    tol = torch.where(tg.is_loss, tg.lo.abs() * LOSS_RTOL, 0.0)[:, None]
    out = ~((f >= lo - tol) & (f <= hi + tol))  # NaN counts as out
    inexact = (tg.is_loss[:, None] & (f != lo)).sum(0)
    mid = (lo + hi) * 0.5
    inner = torch.where(tg.is_loss[:, None], 0.0, half * (1 - _MARGIN))
    r = ((f - mid).abs() - inner).clamp_min(0) / half
    r = r.nan_to_num(_BIG, _BIG, _BIG).clamp_max(_BIG)
    cost = (r * r).sum(0) + crash_miss.double() * 100
    misses = out.sum(0) + crash_miss
    return _Score(misses, inexact, cost, f if keep else None)


# ---------------------------------------------------------------- the search


def _f32(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32)


def _ulp(x: torch.Tensor) -> torch.Tensor:
    """float32 spacing at each value of x, as float64."""
    x = x.to(torch.float32).abs()
    up = torch.nextafter(x, torch.tensor(math.inf))
    return (up.double() - x.double()).clamp_min(1e-45)


def _max_margin(g: torch.Tensor, h: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
    """Maximise the last variable of z subject to g z <= h (a small LP), by a log-barrier method.

    ``z0`` must be strictly feasible. Dense float64, in numpy: a dozen variables and a few
    hundred rows, where torch's per-operation cost was most of the time (4.6 of the source's
    8 runs' 13 s in this function alone).
    """
    G = g.numpy()
    H = h.numpy()
    GT = np.ascontiguousarray(G.T)
    z = z0.numpy().copy()
    n = len(z)
    ridge = 1e-12 * np.eye(n)
    s = 1.0
    for _ in range(12):
        if len(H) / s < _GAP:  # the barrier's duality gap: len(H) / s
            break
        for _ in range(30):
            slack = H - G @ z
            inv = 1.0 / slack
            grad = GT @ inv
            grad[-1] -= s
            hess = (GT * (inv * inv)) @ G + ridge
            try:
                dz = -np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError:
                return torch.from_numpy(z)
            if not np.isfinite(dz).all():
                return torch.from_numpy(z)
            dec = float(-(grad @ dz))
            if dec < 1e-9:
                break
            gd = G @ dz
            pos = gd > 0
            step = 1.0
            if pos.any():
                step = min(1.0, 0.99 * float((slack[pos] / gd[pos]).min()))
            f0 = -s * z[-1] - float(np.log(slack).sum())
            while step > 1e-12:  # backtracking on the barrier along dz (slack is linear in the step)
                moved = slack - step * gd
                if (moved > 0).all() and -s * (z[-1] + step * dz[-1]) - float(np.log(moved).sum()) <= (
                    f0 - 0.25 * step * dec
                ):
                    break
                step *= 0.5
            if step <= 1e-12:
                break
            z = z + step * dz
        s *= 8.0
    return torch.from_numpy(z)


def _solve(
    jac: torch.Tensor, f0: torch.Tensor, tg: _Targets, x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, rho: float
) -> torch.Tensor:
    """The step dx (box units) that puts the linear model f0 + J dx deepest inside every printed
    value's interval (the largest margin, as a share of each half-width; a printed loss is an
    interval one float32 ulp wide), within the box and a trust region of ``rho`` box widths."""
    width = (hi - lo).clamp_min(1e-30)
    ok = torch.isfinite(f0) & torch.isfinite(jac).all(1)
    mid = (tg.lo + tg.hi) / 2
    a = (jac * width[None, :] / tg.half[:, None])[ok]
    c = ((f0 - mid) / tg.half)[ok]
    keep = a.abs().sum(1) > 1e-9  # a value no parameter moves cannot be steered
    a, c = a[keep], c[keep]
    n = a.shape[1]
    if len(a) == 0:
        return torch.zeros(n, dtype=torch.float64)
    ones = torch.ones(len(a), 1, dtype=torch.float64)
    up = torch.minimum((hi - x) / width, torch.tensor(rho, dtype=torch.float64)).clamp_min(1e-9)
    down = torch.minimum((x - lo) / width, torch.tensor(rho, dtype=torch.float64)).clamp_min(1e-9)
    eye = torch.eye(n, dtype=torch.float64)
    zc = torch.zeros(n, 1, dtype=torch.float64)
    g = torch.cat(
        [torch.cat([a, ones], 1), torch.cat([-a, ones], 1), torch.cat([eye, zc], 1), torch.cat([-eye, zc], 1)]
    )
    hv = torch.cat([1 - c, 1 + c, up, down])
    t0 = float((1 - c.abs()).min()) - 1.0
    z0 = torch.cat([torch.zeros(n, dtype=torch.float64), torch.tensor([t0], dtype=torch.float64)])
    z = _max_margin(g, hv, z0)
    return z[:n]


def _deviation(smooth: torch.Tensor, jac: torch.Tensor, tg: _Targets) -> float:
    """How far the steerable values are outside their intervals (sum of squares, in half-widths)."""
    rows = torch.isfinite(smooth) & torch.isfinite(jac).all(1) & (jac.abs().sum(1) > 0)
    if not rows.any():
        return 0.0
    mid = (tg.lo + tg.hi) / 2
    out = ((smooth - mid).abs() / tg.half - (1 - _MARGIN)).clamp_min(0)[rows]
    return float((out * out).sum())


@dataclass
class _Chain:
    x: torch.Tensor  # float64 (9,), a float32 value
    rho: float = 1.0  # trust region, box units
    prev_cost: float = math.inf
    # (x, smooth values at x, Jacobian): the linear model last measured
    model: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None


@dataclass
class _Search:
    config: Config
    tg: _Targets
    lo: torch.Tensor  # the start's box (float64)
    hi: torch.Tensor
    deadline: float
    generator: torch.Generator
    started: float = 0.0
    budget: Budget | None = None  # checked at every epoch trained (raises OutOfTime at its end)
    trained: int = 0
    best_x: torch.Tensor | None = None  # float32 (9,)
    best: tuple[int, int, float] = (1 << 60, 1 << 60, math.inf)
    settle: float = math.inf  # when every value matched (losses to LOSS_RTOL): a little longer for exact

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        """float32 values inside the box, as float64."""
        x = _f32(torch.maximum(torch.minimum(x, self.hi[:, None]), self.lo[:, None]))
        lo32, hi32 = _f32(self.lo), _f32(self.hi)
        # float32 rounding may step outside the box by one ulp: step back in
        x = torch.where(x.double() < self.lo[:, None], torch.nextafter(x, hi32[:, None].expand_as(x)), x)
        x = torch.where(x.double() > self.hi[:, None], torch.nextafter(x, lo32[:, None].expand_as(x)), x)
        return x.double()

    def score(self, x: torch.Tensor, keep: bool = False) -> _Score:
        x = self.clip(x)
        s = _simulate(_f32(x), self.config, self.tg, keep, self.budget)
        self.trained += x.shape[1]
        i = int(torch.argmin(s.misses.double() * 1e15 + s.inexact.double() * 1e12 + s.cost.clamp_max(1e11)))
        key = (int(s.misses[i]), int(s.inexact[i]), float(s.cost[i]))
        if key < self.best:
            if key[0] == 0 and self.best[0] != 0:
                # every value matched, losses within LOSS_RTOL: a few more candidates for exact losses
                # (counted in networks trained, not seconds: the same search on a busy machine)
                self.settle = self.trained + max(_SETTLE, 0.25 * self.trained)
            self.best, self.best_x = key, _f32(x[:, i])
            if _DEBUG:
                print(f"  {time.monotonic() - self.deadline:+.1f}s best {key} after {self.trained}", flush=True)
        return s

    @property
    def done(self) -> bool:
        now = time.monotonic()
        return self.best[:2] == (0, 0) or now > self.deadline or (self.best[0] == 0 and self.trained > self.settle)

    def sample(self, n: int) -> torch.Tensor:
        u = torch.rand(len(self.lo), n, generator=self.generator, dtype=torch.float64)
        return self.lo[:, None] + u * (self.hi - self.lo)[:, None]

    def lattice(self, ch: _Chain, n: int) -> torch.Tensor:
        """n float32 neighbours of the chain's point, a few ulps away in each coordinate.

        With a linear model at hand, many neighbours are drawn and the n that the model puts
        deepest inside the printed intervals are kept: what is left to chance is the float32
        noise, which no model predicts. The model is applied to the steps in ulps (small whole
        numbers) in float32: one small matrix product per batch of neighbours.
        """
        x = ch.x
        d = len(x)
        rows = None
        if ch.model is not None:
            xm, smooth, jac = ch.model
            rows = torch.isfinite(smooth) & torch.isfinite(jac).all(1) & (jac.abs().sum(1) > 0)
        m = int(rows.sum()) if rows is not None else 1
        raw = n if rows is None else max(n, min(_DRAWN * n, 4_000_000 // max(m, 1)))
        spread = torch.tensor([1.0, 2.0, 4.0, 8.0, 32.0], dtype=torch.float64)
        k = spread[torch.randint(0, len(spread), (raw,), generator=self.generator)]
        u = torch.rand(d, raw, generator=self.generator, dtype=torch.float64)
        steps = (u * (2 * k + 1)).floor() - k
        ulp = _ulp(x)
        cand = x[:, None] + steps * ulp[:, None]
        if rows is None or m == 0:
            return cand[:, :n]
        mid = ((self.tg.lo + self.tg.hi) / 2)[rows]
        half = self.tg.half[rows] * torch.where(self.tg.is_loss[rows], 2.0, 1.0)
        j = jac[rows]
        # the model's values in half-widths: b + a @ steps
        a = (j * ulp[None, :] / half[:, None]).float()
        b = ((smooth[rows] + j @ (x - xm) - mid) / half).float()
        worst = (torch.addmm(b[:, None], a, steps.float())).abs().amax(0)
        return cand[:, torch.argsort(worst)[:n]]

    def newton(self, chains: list[_Chain], cloud: int) -> None:
        """One step of every chain: probes for the Jacobian and a cloud of neighbours, in one batch.

        The Jacobian comes from central differences; the smooth values at the point from the
        cloud brought back to it (averaging out float32 noise); the next point from the largest
        margin the linear model allows (``_solve``).
        """
        d = len(self.lo)
        width = (self.hi - self.lo).clamp_min(1e-30)
        parts, steps, clouds = [], [], []
        for ch in chains:
            ch.x = self.clip(ch.x[:, None])[:, 0]
            step = torch.maximum(width * min(ch.rho, 1.0) / 64, 4 * _ulp(ch.x))
            eye = torch.diag(step)
            xc = self.clip(self.lattice(ch, cloud))
            parts += [ch.x[:, None], ch.x[:, None] + eye, ch.x[:, None] - eye, xc]
            steps.append(step)
            clouds.append(xc)
        s = self.score(torch.cat(parts, 1), keep=True)
        if self.done:
            return
        values = s.values
        assert values is not None  # kept: keep=True
        col = 0
        for ch, step, xc in zip(chains, steps, clouds):
            f0 = values[:, col]
            fp = values[:, col + 1 : col + 1 + d]
            fm = values[:, col + 1 + d : col + 1 + 2 * d]
            fc = values[:, col + 1 + 2 * d : col + 1 + 2 * d + xc.shape[1]]
            col += 1 + 2 * d + xc.shape[1]
            jac = (fp - fm) / (2 * step)[None, :]
            # the smooth part at x: the cloud's values brought back to x, averaged (float32 noise out)
            both = torch.cat([f0[:, None], fc - jac @ (xc - ch.x[:, None])], 1)
            fin = torch.isfinite(both)
            smooth = torch.where(fin, both, 0.0).sum(1) / fin.sum(1).clamp_min(1)
            smooth = torch.where(fin.any(1), smooth, math.nan)
            ch.model = (ch.x.clone(), smooth, jac)
            u = _deviation(smooth, jac, self.tg)
            # a trust region: grow it while the steps help, shrink it when they do not
            ch.rho = min(ch.rho * 2, 1.0) if u < ch.prev_cost else max(ch.rho / 4, 1e-6)
            ch.prev_cost = u
            dx = _solve(jac, smooth, self.tg, ch.x, self.lo, self.hi, ch.rho)
            ch.x = ch.x + dx * width


def search_run(run: PrintedRun) -> PrintedRun:
    """The run with at most SEARCH_BLOCKS of its printed epochs (the first, the last and evenly
    spaced ones between): what the searches aim at, so that their memory and time per candidate
    do not grow with a long printout. ``verify`` checks every printed epoch."""
    n = len(run.blocks)
    if n <= SEARCH_BLOCKS:
        return run
    keep = sorted({round(k * (n - 1) / (SEARCH_BLOCKS - 1)) for k in range(SEARCH_BLOCKS)})
    return PrintedRun(run.number, [run.blocks[k] for k in keep])


def _verify_seconds(run: PrintedRun) -> float:
    """A generous guess of what ``verify`` takes: a torch step per epoch, a printing per block."""
    return 0.2 + 0.0005 * run.epochs[-1] + 0.005 * len(run.blocks)


def recover(
    run: PrintedRun,
    lr: float = DEFAULT_LR,
    time_limit: float = TIME_LIMIT,
    seed: int = 0,
    samples: int = 1024,
    budget: Budget | None = None,
) -> Recovery:
    """A float32 start in the epoch-0 box whose replay at ``lr`` reproduces the printout.

    The search stops after ``time_limit`` seconds or when ``budget`` (checked at every epoch
    trained) has only the final check's time left, and returns the best start found; it raises
    Cancelled when the budget is cancelled, and OutOfTime when the budget ends before a first
    start could be scored or before the final check is done."""
    t0 = time.monotonic()
    budget = budget or unbounded()
    config = run_config(run, lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: one thread is faster, and the machine is shared
    try:
        tg = _targets(search_run(run))
        lo, hi = _box(run.blocks[0])
        # the search leaves the final check its time (or half of what is left, when that is less)
        left = budget.left()
        share = 1.0 - min(0.5, _verify_seconds(run) / left) if left > 0 else 0.0
        part = budget.part(share)
        deadline = min(t0 + time_limit, part.deadline)
        search = _Search(config, tg, lo, hi, deadline, torch.Generator().manual_seed(seed), t0, part)
        try:
            centre = ((lo + hi) / 2)[:, None]
            xs = torch.cat([centre, search.sample(samples)], 1)
            s = search.score(xs)
            chains = []
            if not search.done:
                order = torch.argsort(s.misses.double() * 1e12 + s.cost.clamp_max(1e11))
                chains = [_Chain(search.clip(xs[:, int(i), None])[:, 0]) for i in order[:4]]
            rounds = 0
            while not search.done:
                search.newton(chains, 64 if rounds < 6 else _CLOUD)
                rounds += 1
                for i, ch in enumerate(chains):
                    if ch.rho < 1e-3:  # stuck: start this chain again somewhere else in the box
                        chains[i] = _Chain(search.sample(1)[:, 0])
        except OutOfTime:
            if search.best_x is None:
                raise
    finally:
        torch.set_num_threads(threads)
    assert search.best_x is not None  # set by the first score, else OutOfTime went on up
    return verify(run, config, search.best_x, time.monotonic() - t0, search.trained, budget)


def run_config(run: PrintedRun, lr: float) -> Config:
    hidden_act, out_act = run.blocks[0].activation_names()
    return Config(
        hidden=(run.blocks[0].units,),
        activations=(parse_activation(hidden_act), parse_activation(out_act)),
        loss="bce",
        lr=lr,
    )


def start_dict(x: torch.Tensor, units: int) -> dict[str, list[Any]]:
    v = [float(t) for t in _f32(x)]
    h = units
    return {
        "hidden.weight": [v[2 * j : 2 * j + 2] for j in range(h)],
        "hidden.bias": v[2 * h : 3 * h],
        "output.weight": [v[3 * h : 4 * h]],
        "output.bias": [v[4 * h]],
    }


def replay_blocks(
    start: dict[str, list[Any]], config: Config, epochs: list[int], budget: Budget | None = None
) -> dict[int, Block]:
    """Our replay's printout at the given epochs, read back as blocks (through real torch
    printing); ``budget`` checked at every epoch."""
    run = Run(config, Start("explicit", values=start))
    out = {}
    want = set(epochs)
    while True:
        if budget is not None:
            budget.check()
        rec = run.current
        if rec.epoch in want:
            out[rec.epoch] = parse_lines(epoch_lines(rec))
        if rec.epoch >= max(epochs) or run.halted:
            break
        run.step()
    return out


def verify(
    run: PrintedRun,
    config: Config,
    x: torch.Tensor,
    seconds: float = 0.0,
    trained: int = 0,
    budget: Budget | None = None,
) -> Recovery:
    """Replay a start and compare its printout with the printed one, text against text.

    A printed loss counts as reproduced when the replay's is within LOSS_RTOL of it; how many
    are equal to the last bit is counted too.
    """
    start = start_dict(x, run.blocks[0].units)
    ours = replay_blocks(start, config, run.epochs, budget)
    mismatches = []
    inexact: list[int] = []
    for b in run.blocks:
        if b.epoch not in ours:
            mismatches += [(b.epoch, label, text, "(not reached)") for label, text in b.entries()]
            continue
        for label, printed, got in compare(b, ours[b.epoch]):
            if label == "loss" and _loss_close(printed, got):
                inexact.append(b.epoch)
                continue
            mismatches.append((b.epoch, label, printed, got))
    total = run.total
    losses = sum(1 for b in run.blocks if b.halt is None)
    return Recovery(
        start,
        config,
        total - len(mismatches),
        total,
        mismatches,
        seconds,
        trained,
        run.epochs[-1] + 1,
        losses,
        losses - len(inexact) - sum(1 for m in mismatches if m[1] == "loss" and m[2].startswith("loss:")),
        inexact,
    )


def _loss_close(printed: str, got: str) -> bool:
    if not (printed.startswith("loss: ") and got.startswith("loss: ")):
        return False
    try:
        a, b = float(printed[6:]), float(got[6:])
    except ValueError:
        return False
    return abs(a - b) <= abs(a) * LOSS_RTOL


# ---------------------------------------------------------------- the learning rate


def _moved(run: PrintedRun) -> bool:
    """Does any printed parameter or loss differ between epoch 0 and a later printed epoch?"""
    b0 = run.blocks[0]
    for b in run.blocks[1:]:
        if b.halt is not None or b.loss_text != b0.loss_text:
            return True
        if any(b.tensors[k].texts != b0.tensors[k].texts for k in STATE_KEYS):
            return True
    return False


def _lr_misfit(run: PrintedRun, config: Config, lrs: torch.Tensor, budget: Budget | None = None) -> torch.Tensor:
    """How far training the printed epoch-0 state at each learning rate lands from the later
    blocks (sum of squared distances in half-widths; the losses relative to 1e-4). Plain float32
    arithmetic with one learning rate per network: an estimate, not a bit-exact replay."""
    tg = _targets(run)
    lo, hi = _box(run.blocks[0])
    n = len(lrs)
    params = _layers(_f32(((lo + hi) / 2)[:, None].expand(-1, n)), tg.units)
    rate = lrs.to(torch.float32)
    halted = torch.full((n,), -1, dtype=torch.long)
    misfit = torch.zeros(n, dtype=torch.float64)
    k, start = 0, 0
    for epoch in range(tg.last + 1):
        if budget is not None:
            budget.check()
        printed = epoch == tg.epochs[k]
        p = net.evaluate_bl(params, config, grads=epoch < tg.last, loss_value=printed)
        bad = ~p.valid if p.loss is None else ~p.valid | ~torch.isfinite(p.loss)
        newly = bad & (halted < 0)
        halted[newly] = epoch
        if printed:
            size = tg.sizes[k]
            f = _values(p, params, tg.units).double()
            if tg.halt_epoch == epoch:
                misfit += (~newly).double() * 900.0 * size
            else:
                assert p.loss is not None  # asked for (loss_value=printed)
                f = torch.cat([f, p.loss.double()[None]])
            mid = ((tg.lo + tg.hi) / 2)[start : start + size, None]
            half = torch.where(tg.is_loss, (tg.lo.abs() * 1e-4).clamp_min(1e-9), tg.half)[start : start + size, None]
            if epoch > 0:
                # clamped: a value a rounded start cannot follow (a unit crossing zero at
                # another epoch) counts as one miss, not as a landslide
                r = ((f - mid) / half).abs().nan_to_num(1e6, 1e6, 1e6).clamp_max(1e6)
                r[:, (halted >= 0) & ~newly] = 1e6
                # r^2 near the printed value, a capped count farther out, and a log term so that
                # nearer is still better there
                misfit += ((r * r).clamp_max(900.0) + 10 * torch.log1p(r)).sum(0)
            start += size
            k += 1
            if k == len(tg.epochs):
                break
        new: list[Layer] = []
        for w, b_ in params:
            i = len(new)
            gw, gb = p.grads[i]
            new.append((w - rate * gw, b_ - rate * gb))
        params = new
    return misfit


def _round_sig(x: float, digits: int) -> float:
    return float(f"{x:.{digits - 1}e}")


def infer_lr(run: PrintedRun, budget: Budget | None = None) -> tuple[float, str]:
    """The learning rate the later printed blocks show, and how it was found.

    A coarse then finer scan of learning rates (each a network in one batch); the best is then
    rounded to the simplest decimal (1, 2 or 3 significant digits) that fits as well, since people
    type learning rates like 0.05. With nothing printed after epoch 0, or nothing that moved,
    the printout does not show the rate: 0.001 (the source's) is assumed and said so.
    ``budget`` is checked at every epoch of every scan.
    """
    if len(run.blocks) == 1:
        return DEFAULT_LR, f"assumed {DEFAULT_LR:g}: only epoch 0 is printed"
    if not _moved(run):
        return DEFAULT_LR, f"assumed {DEFAULT_LR:g}: nothing printed moves, so any rate fits"
    config = run_config(run, DEFAULT_LR)
    last = run.blocks[-1].epoch
    run = search_run(run)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lrs = torch.logspace(-6, 1, 1621, dtype=torch.float64)  # 1% apart
        m = _lr_misfit(run, config, lrs, budget)
        best = float(lrs[int(torch.argmin(m))])
        for span in (0.005, 0.0003):
            lrs = best * torch.logspace(-span, span, 81, base=10.0, dtype=torch.float64)
            m = _lr_misfit(run, config, lrs, budget)
            best = float(lrs[int(torch.argmin(m))])
        floor = float(m.min())
        simple = [_round_sig(best, d) for d in (1, 2, 3)]
        ms = _lr_misfit(run, config, torch.tensor(simple, dtype=torch.float64), budget)
    finally:
        torch.set_num_threads(threads)
    for value, fit in zip(simple, ms.tolist()):
        if abs(value / best - 1) < 0.01 and fit <= max(floor * 4, floor + 1000.0):
            best = value
            break
    else:
        best = _round_sig(best, 4)
    return best, f"inferred from the printed epochs up to {last}"


# ---------------------------------------------------------------- a printout as scenarios


@dataclass
class Imported:
    """One run of a log, recovered: its scenario (with the notes its file carries) and what was matched."""

    run: PrintedRun
    name: str
    lr: float
    lr_note: str
    recovery: Recovery
    case: int | None  # at epoch 0, from the recovered start's diagnosis
    scenario: Scenario
    notes: dict[str, list[str]]  # comment lines of the file, by section (scenario.dumps)

    @property
    def text(self) -> str:
        """The scenario file's text, as ``save`` writes it."""
        from xor_tui.core.io.scenario import dumps

        return dumps(self.scenario, self.notes)

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the scenario file atomically (scenario.save: read back before it is written)."""
        from xor_tui.core.io.scenario import save

        return save(self.scenario, path, overwrite, self.notes)


def _printed_value(t: PrintedTensor) -> str:
    """A printed tensor's entries as a TOML-like nested list of the printed texts."""
    texts = list(t.texts)
    if len(t.shape) == 2:
        rows = [texts[r * t.shape[1] : (r + 1) * t.shape[1]] for r in range(t.shape[0])]
        return "[" + ", ".join("[" + ", ".join(r) + "]" for r in rows) + "]"
    return "[" + ", ".join(texts) + "]"


def build_scenario(
    name: str, description: str, run: PrintedRun, rec: Recovery, diagnosis0: Diagnosis
) -> tuple[Scenario, dict[str, list[str]]]:
    """A scenario for a recovered run: the exact float32 start, the network and rate, and an
    expectation for every printed epoch; with notes for its file (the printed 4-decimal start,
    how much the replay reproduces, each printed loss as printed)."""
    from xor_tui.core.io.scenario import Expectation, Scenario
    from xor_tui.core.rules.diagnosis import is_source_net

    c = rec.config
    b0 = run.blocks[0]
    start_notes = [
        "float32 values recovered from the printout, written as their exact decimals; as printed at",
        "epoch 0 (torch, 4 decimals):",
    ]
    start_notes += [f"  {key} = {_printed_value(b0.tensors[key])}" for key in STATE_KEYS]
    start_notes.append(
        f"The replay reproduces {rec.reproduced} of the {rec.total} printed values"
        + (" (every tensor entry as torch prints it, every loss exactly)." if rec.complete else ".")
    )
    if not rec.complete:
        start_notes.append(f"Worst: {rec.worst_text()}")
    notes: dict[str, list[str]] = {"start": start_notes}
    expect = []
    for i, b in enumerate(run.blocks):
        e = Expectation(b.epoch)
        if b.epoch == 0:
            if is_source_net(c) and diagnosis0.case is not None:
                e.case = diagnosis0.case
            e.dead = sorted(diagnosis0.dead)
        if b.halt is not None:
            e.halted = True
        else:
            assert b.loss is not None  # a block that did not crash printed its loss
            e.loss = b.loss
            e.tolerance = abs(b.loss) * LOSS_RTOL if b.epoch in (rec.inexact_epochs or ()) else 0.0
            notes[f"expect[{i}]"] = [f"printed: loss: {b.loss_text}"]
        expect.append(e)
    sc = Scenario(name, c, Start("explicit", values=rec.start), rec.epochs, description, [], expect)
    return sc, notes


def too_long(run: PrintedRun) -> str | None:
    """Why the run cannot become a scenario, known before any work (its last printed epoch is
    past the longest run a scenario holds), or None."""
    last = run.epochs[-1]
    if last + 1 > MAX_EPOCHS:
        return f"its last printed epoch, {last:,}, is past the {MAX_EPOCHS:,} epochs a scenario can hold"
    return None


def import_run(run: PrintedRun, name: str, source: str, budget: Budget | None = None, seed: int = 0) -> Imported:
    """Infer the rate, recover the start, and build the scenario for one printed run.

    Raises OutOfTime or Cancelled (``.stage`` says what it was doing) when ``budget`` ends or is
    cancelled; ValueError when the run cannot become a scenario (``too_long``)."""
    from xor_tui.core.engine.run import measure
    from xor_tui.core.rules.diagnosis import diagnose

    why = too_long(run)
    if why is not None:
        raise ValueError(why)
    budget = budget or unbounded()
    t0 = time.monotonic()
    stage = "inferring its learning rate"
    try:
        budget.check()
        lr, note = infer_lr(run, budget)
        stage = "searching its start"
        rec = recover(run, lr, SEARCH_LIMIT, budget=budget, seed=seed)
    except Stopped as exc:
        exc.stage = stage
        raise
    rec.seconds = time.monotonic() - t0
    params = net.from_state_dict(rec.start, rec.config)
    d0 = diagnose(measure(0, rec.config, params))
    epochs = run.epochs
    shown = ", ".join(map(str, epochs)) if len(epochs) <= 6 else f"{epochs[0]}, {epochs[1]}, ..., {epochs[-1]}"
    description = (
        f"Run {run.number} of {source} (line {run.line}): epochs {shown} printed"
        + (f", crashed at epoch {run.halt.epoch}" if run.halt is not None else "")
        + f"; lr {lr:g} ({note}); the recovered float32 start reproduces {rec.reproduced} of {rec.total} "
        "printed values."
    )
    sc, notes = build_scenario(name, description, run, rec, d0)
    imp = Imported(run, name, lr, note, rec, d0.case, sc, notes)
    # the file must give back exactly the recovered start
    from xor_tui.core.io.scenario import parse

    back_sc = parse(imp.text, f"{name}.toml")
    assert back_sc.start.values is not None  # an explicit start, as written
    back = net.from_state_dict(back_sc.start.values, back_sc.config)
    for (w, b), (w2, b2) in zip(back, params):
        if not (torch.equal(w, w2) and torch.equal(b, b2)):
            raise AssertionError("scenario text does not round-trip the recovered float32 start")
    return imp


def read_log(path: str | os.PathLike[str], budget: Budget | None = None) -> list[PrintedRun]:
    """The runs printed in a log file. Raises PrintoutError with a one-line message (and
    OutOfTime or Cancelled from ``budget``, checked while parsing)."""
    from xor_tui.core.io.printout import PrintoutError, parse_log, read_log_text

    text = read_log_text(path)
    try:
        return parse_log(text, budget)
    except PrintoutError as exc:
        raise exc.at(str(path)) from None
    except Stopped as exc:
        exc.stage = "reading the log"
        raise


def load_log(
    path: str | os.PathLike[str],
    run: int = 1,
    time_limit: float = TIME_LIMIT,
    runs: list[PrintedRun] | None = None,
    budget: Budget | None = None,
) -> Scenario:
    """The app's way in: run ``run`` (1-based) of a printout log as a Scenario: reading,
    parsing and recovery in one call, all under ``budget`` (default: ``time_limit`` seconds).

    Call it off the UI thread: it raises Cancelled within a few milliseconds of the budget's
    cancel saying so, OutOfTime at its end (``.stage`` says where), and PrintoutError (a
    ValueError) with a one-line message for a log it cannot use.
    ``runs``: the log's runs when already read (``printout.printed_runs``).
    """
    from pathlib import Path

    from xor_tui.core.io.printout import PrintoutError

    budget = budget or Budget(time_limit)
    runs = read_log(path, budget) if runs is None else runs
    if not 1 <= run <= len(runs):
        raise PrintoutError(0, f"has {len(runs)} run(s); there is no run {run}", str(path))
    stem = Path(path).stem
    try:
        return import_run(runs[run - 1], f"{stem}-run{run}", Path(path).name, budget).scenario
    except ValueError as exc:
        if isinstance(exc, PrintoutError):
            raise
        raise PrintoutError(runs[run - 1].line, str(exc), str(path)) from None
