"""A survey at every point of a grid of learning rate x init scale.

"How much luck does it take?" as a picture: each point trains the same N starts (one draw,
seed S, scaled by the point's init scale: PyTorch's bound 1/sqrt(fan_in) times it) with the
point's learning rate, and records the share of each outcome. The grid is log-spaced.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from xor_tui.core.engine.activations import SpecError
from xor_tui.core.engine.net import Config, Layer
from xor_tui.core.studies.survey import OUTCOMES, Engines, Plan, draw, run_survey

MAX_POINTS_PER_AXIS = 40
MAX_WORK = 2 * 10**11  # network-epochs over the whole grid (a few minutes on the fast path)


# the default grid: 13 log-spaced points each way put lr 0.001, 0.01, 0.1 and 1 and init scale 1
# (PyTorch's own start) on the grid, so the current setting's cell is itself, not a neighbour
DEFAULT_LRS = "0.001:1:13"
DEFAULT_SCALES = "0.25:4:13"


def log_range(text: str, option: str, low: float, high: float) -> list[float]:
    """``A:B:K``: K log-spaced values from A to B (both included); ``A``: the single value A."""
    parts = text.split(":") if isinstance(text, str) else []
    if len(parts) not in (1, 3):
        raise SpecError(f"{option}: expected FROM:TO:COUNT (e.g. 0.001:1:13) or one number, got {text[:40]!r}")
    try:
        a = float(parts[0])
        b = float(parts[1]) if len(parts) == 3 else a
    except ValueError:
        raise SpecError(f"{option}: FROM and TO must be numbers, got {text[:40]!r}") from None
    count = 1
    if len(parts) == 3:
        try:
            count = int(parts[2])
        except ValueError:
            raise SpecError(f"{option}: COUNT must be a whole number, got {parts[2][:20]!r}") from None
    for v in (a, b):
        if not (math.isfinite(v) and low <= v <= high):
            raise SpecError(f"{option}: values must be finite numbers from {low:g} to {high:g}, got {v:g}")
    if not 1 <= count <= MAX_POINTS_PER_AXIS:
        raise SpecError(f"{option}: COUNT must be from 1 to {MAX_POINTS_PER_AXIS}, got {count}")
    if count == 1 and len(parts) == 3 and a != b:
        raise SpecError(f"{option}: COUNT 1 takes one value; give FROM alone ({a:g}) or a COUNT of 2 or more")
    if count > 1 and a >= b:
        raise SpecError(f"{option}: FROM must be below TO, got {a:g}:{b:g}")
    if count == 1:
        return [a]
    la, lb = math.log(a), math.log(b)
    values = [float(f"{math.exp(la + (lb - la) * k / (count - 1)):.12g}") for k in range(count)]
    values[0], values[-1] = a, b  # exactly the ends asked for
    return values


@dataclass
class SweepResult:
    config: Config  # the setting whose lr the grid replaces
    lrs: list[float]
    scales: list[float]
    n: int
    epochs: int
    seed: int
    shares: torch.Tensor  # (len(scales), len(lrs), 4): share of each outcome, OUTCOMES order
    seconds: float
    engine: str = ""  # which engine trained the points (see run_sweep)

    def share(self, outcome: str) -> torch.Tensor:
        return self.shares[..., OUTCOMES.index(outcome)]

    def nearest(self, lr: float, scale: float = 1.0) -> tuple[int, int]:
        """(row, column) of the grid point closest to (scale, lr) in log space."""
        col = min(range(len(self.lrs)), key=lambda k: abs(math.log(self.lrs[k] / lr)))
        row = min(range(len(self.scales)), key=lambda k: abs(math.log(self.scales[k] / scale)))
        return row, col

    def config_at(self, row: int, col: int) -> Config:
        return point_config(self.config, self.lrs[col])

    def points(self) -> Iterator[tuple[int, int, float, float]]:
        """(row, column, init scale, learning rate) of each grid point, row by row."""
        for i, scale in enumerate(self.scales):
            for j, lr in enumerate(self.lrs):
                yield i, j, scale, lr

    def to_json(self) -> dict[str, Any]:
        c = self.config
        return {
            "n": self.n,
            "epochs": self.epochs,
            "seed": self.seed,
            "config": {
                "shape": c.shape_text,
                "activations": [a.spec for a in c.activations],
                "loss": c.loss,
            },
            "lr": self.lrs,
            "init_scale": self.scales,
            "points": [
                {"lr": lr, "init_scale": scale, **{o: float(self.shares[i, j, k]) for k, o in enumerate(OUTCOMES)}}
                for i, j, scale, lr in self.points()
            ],
            "seconds": self.seconds,
            "engine": self.engine,
        }

    def csv_text(self) -> str:
        lines = ["lr,init_scale," + ",".join(OUTCOMES)]
        for i, j, scale, lr in self.points():
            lines.append(f"{lr!r},{scale!r}," + ",".join(f"{float(self.shares[i, j, k])!r}" for k in range(4)))
        return "\n".join(lines) + "\n"


def point_config(config: Config, lr: float) -> Config:
    """The setting at a grid point: the grid's learning rate, one rate for every layer."""
    return replace(config, lr=lr, layer_lr=None)


def run_sweep(
    config: Config,
    lrs: list[float],
    scales: list[float],
    n: int,
    epochs: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    note: Callable[[str], None] | None = None,
    *,
    fast: bool | None = None,
    warm: bool = False,
) -> SweepResult:
    """Survey every grid point (see the module's docstring). The starts are drawn once; the
    fused kernel trains where it is ready, else the torch engine, which hands the remaining
    points (and epochs) to the kernel once a background build of it ends (``fast`` and
    ``warm`` as in ``run_survey``: a build starts when the whole grid on the torch engine
    would take longer). ``engine`` in the result says which ran."""
    t0 = time.perf_counter()
    shares = torch.zeros(len(scales), len(lrs), len(OUTCOMES), dtype=torch.float64)
    total = len(scales) * len(lrs) * max(epochs, 1)
    done = 0
    if note is not None and config.layer_lr is not None:
        note(f"the grid's learning rate is one rate for every layer: the per-layer rates {config.lr_text} are not used")
    work = float(len(scales) * len(lrs)) * n * max(epochs, 1)
    plan = Plan(point_config(config, lrs[0]), work, fast, warm, note)  # one kernel serves every point
    base = draw(config, n, seed)
    scaled: dict[float, list[Layer]] = {}
    points: list[Engines] = []  # per point: which engine trained it
    for i, j, scale, lr in SweepResult(config, lrs, scales, n, epochs, seed, shares, 0).points():
        report = None
        if progress is not None:
            report = lambda d, t, base=done: progress(base + d * max(epochs, 1) // max(t, 1), total)  # noqa: E731
        if scale not in scaled:
            s = torch.tensor(scale, dtype=torch.float32)
            scaled = {scale: base if scale == 1.0 else [(w * s, b * s) for w, b in base]}  # one row's at a time
        point = point_config(config, lr)
        r = run_survey(point, n, epochs, seed, report, stop=stop, judge_start=False, start=scaled[scale], plan=plan)
        points.append(r.engines)
        counts = np.bincount(r.outcome.numpy(), minlength=len(OUTCOMES))  # (torch's took 12 ms here)
        shares[i, j] = torch.from_numpy(counts / n)
        done += max(epochs, 1)
        if progress is not None:
            progress(done, total)
        if stop is not None and stop():
            raise KeyboardInterrupt
    engines = plan.finish()
    return SweepResult(
        config, list(lrs), list(scales), n, epochs, seed, shares, time.perf_counter() - t0,
        _engine_text(points, engines),
    )  # fmt: skip


def _engine_text(points: list[Engines], engines: Engines) -> str:
    """Which engine trained a sweep's points, in a few words."""
    if all(e.all_kernel for e in points):
        return "fused kernel"
    if all(e.kernel_from is None for e in points):
        return engines.text()
    first = next(p for p, e in enumerate(points) if e.kernel_from is not None)
    took = f", compiled meanwhile in {engines.compiled:.1f} s" if engines.compiled is not None else ""
    handed = 0 if points[first].all_kernel else points[first].kernel_from  # (the point it became ready in)
    more = f" and to epoch {handed} of the next" if handed else ""
    return f"torch engine for {first} of {len(points)} points{more}, then the fused kernel{took}"
