"""A small linear feasibility routine whose "no" is a proof: the target solver's test.

The question: is there an x with ``G x <= h`` and ``lo <= x <= hi``? If so, which such x is
nearest to ``x0`` (the least sum of |x - x0|)? The problems the target solver asks are tiny
(1 to 9 variables, a few dozen rows), so a dense tableau simplex is enough:

- Phase I maximises one uniform slack s (``G x + s <= h``), starting from x0, where every row
  holds once s is low enough: no artificial variables, and the phase's dual values are at once
  a certificate when the best s is negative. Bland's rule (smallest index enters, ties leave by
  smallest index) means it cannot cycle, and a pivot budget bounds it anyway.
- Phase II keeps s at 0 and minimises the change from x0.

Soundness. A "feasible" answer comes with its point, which the caller checks (the target
solver checks it with the engine itself, in float32). An "infeasible" answer is proved: the
dual values y >= 0 of the rows satisfy ``min over the box of (G^T y) . x > y . h``, so every x
in the box breaks some row. That inequality is evaluated in float64 with a rigorous error
bound (each product and sum rounds by at most 2^-53 relatively, so the total error is below
``4 N 2^-53`` times the sum of the magnitudes of the terms); when the margin is too thin for
that bound, the same simplex runs again in exact rational arithmetic (``fractions.Fraction``,
on the very same float64 data) and its answer is exact. Nothing is decided by a tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike

MAX_PIVOTS = 400  # far above what these problems take (measured: at most a few dozen)
_U = 2.0**-53


@dataclass(frozen=True)
class LPResult:
    """What ``solve`` found.

    ``status`` is "feasible" (``x`` satisfies every row, up to float64 rounding when not
    exact), "infeasible" (proved: see the module's docstring; ``certificate`` holds the row
    multipliers y) or "unknown" (the pivot budget ran out; never seen in practice).
    ``exact`` says the rational simplex decided it.
    """

    status: str
    x: tuple[float, ...] | None = None
    certificate: tuple[float, ...] | None = None
    exact: bool = False
    pivots: int = 0

    @property
    def feasible(self) -> bool:
        """True when a point satisfying every row was found."""
        return self.status == "feasible"


class _Tableau:
    """A dense simplex tableau for: maximise c.v subject to A v + slack = b (b >= 0), v >= 0.

    Works on float64 or on Fraction (numpy object arrays): ``zero`` is the tolerance on the
    reduced costs and pivots (0 for exact arithmetic)."""

    def __init__(self, A: np.ndarray, b: np.ndarray, exact: bool) -> None:
        m, n = A.shape
        dtype = object if exact else float
        T = np.zeros((m + 1, n + m + 1), dtype=dtype)
        if exact:
            T[:] = Fraction(0)
        T[:m, :n] = A
        for i in range(m):
            T[i, n + i] = Fraction(1) if exact else 1.0
        T[:m, -1] = b
        self.T, self.m, self.n = T, m, n
        self.basis = list(range(n, n + m))
        self.exact = exact
        self.tol = 0 if exact else 1e-11
        self.pivots = 0

    def set_objective(self, c: np.ndarray) -> None:
        """Maximise c.v (c over the n structural columns); the row is priced out for the basis."""
        T = self.T
        T[-1, :] = Fraction(0) if self.exact else 0.0
        T[-1, : self.n] = -c
        for i, j in enumerate(self.basis):
            if T[-1, j] != 0:
                T[-1, :] = T[-1, :] - T[-1, j] * T[i, :]

    def pivot(self, i: int, j: int) -> None:
        """Make column j basic in row i."""
        T = self.T
        T[i, :] = T[i, :] / T[i, j]
        col = T[:, j].copy()
        col[i] = 0
        nz = np.flatnonzero(col != 0)
        if len(nz):
            T[nz, :] -= np.outer(col[nz], T[i, :])
        self.basis[i] = j
        self.pivots += 1

    def optimise(self, banned: frozenset[int] = frozenset()) -> bool:
        """Bland's rule to optimality; False when the pivot budget ran out."""
        T, tol = self.T, self.tol
        basis = np.array(self.basis)
        while True:
            candidates = np.flatnonzero(T[-1, :-1] < -tol)
            enter = next((int(j) for j in candidates if int(j) not in banned), None)
            if enter is None:
                return True
            if self.pivots >= MAX_PIVOTS:
                return False
            col = T[: self.m, enter]
            rows = np.flatnonzero(col > tol)
            if not len(rows):  # unbounded: cannot happen, every variable is bounded by a row
                return False
            ratios = T[rows, -1] / col[rows]
            best = ratios.min()
            tied = rows[ratios == best]
            leave = int(tied[np.argmin(basis[tied])])
            self.pivot(leave, enter)
            basis[leave] = enter

    def values(self) -> list[Fraction | float]:
        """The value of every column at the current basis."""
        v: list[Fraction | float] = [Fraction(0) if self.exact else 0.0] * (self.n + self.m)
        for i, j in enumerate(self.basis):
            v[j] = self.T[i, -1]
        return v


def solve(G: ArrayLike, h: ArrayLike, lo: ArrayLike, hi: ArrayLike, x0: ArrayLike, exact: bool = False) -> LPResult:
    """Is there an x with ``G x <= h`` and ``lo <= x <= hi``; if so the one nearest ``x0`` in
    the sum of |x - x0|. ``x0`` must lie in the box. See the module's docstring."""
    h, lo, hi, x0 = (np.asarray(a, dtype=float) for a in (h, lo, hi, x0))
    G = np.asarray(G, dtype=float).reshape(-1, len(x0))
    rows, n = G.shape
    if rows == 0:
        return LPResult("feasible", tuple(float(v) for v in x0))
    if not exact:
        # one row alone that no point of the box satisfies: its own unit multiplier proves it
        row_min = np.minimum(G * lo, G * hi).sum(1)
        for i in np.flatnonzero(row_min > h):
            y = np.zeros(rows)
            y[i] = 1.0
            if _proves(y, G, h, lo, hi):
                return LPResult("infeasible", certificate=tuple(y))
    res = _simplex(G, h, lo, hi, x0, exact)
    if res.status == "infeasible" and not exact and not _proves(res.certificate, G, h, lo, hi):
        return _simplex(G, h, lo, hi, x0, True)
    if res.status == "unknown" and not exact:
        return _simplex(G, h, lo, hi, x0, True)
    return res


def _simplex(G: np.ndarray, h: np.ndarray, lo: np.ndarray, hi: np.ndarray, x0: np.ndarray, exact: bool) -> LPResult:
    """Phase I (the largest uniform slack, from x0) and phase II (the least change from x0)."""
    rows, n = G.shape
    if exact:
        Gx, hx, lox, hix, x0x = (_fractions(a) for a in (G, h, lo, hi, x0))
    else:
        Gx, hx, lox, hix, x0x = G, h, lo, hi, x0
    # variables: p (n), q (n) with x = x0 + p - q, and s' = s + S0 >= 0; at p = q = s' = 0
    # every row holds, since S0 exceeds the worst violation at x0
    r = hx - Gx.dot(x0x)
    S0 = max(-min(r), 0) + 1
    one = Fraction(1) if exact else 1.0
    m = rows + 2 * n + 1
    A = np.zeros((m, 2 * n + 1), dtype=object if exact else float)
    if exact:
        A[:] = Fraction(0)
    b = np.empty(m, dtype=object if exact else float)
    A[:rows, :n] = Gx
    A[:rows, n : 2 * n] = -Gx
    A[:rows, 2 * n] = one
    b[:rows] = r + S0
    for i in range(n):
        A[rows + i, i] = one
        b[rows + i] = hix[i] - x0x[i]
        A[rows + n + i, n + i] = one
        b[rows + n + i] = x0x[i] - lox[i]
    A[rows + 2 * n, 2 * n] = one
    b[rows + 2 * n] = S0
    tab = _Tableau(A, b, exact)
    c = np.zeros(2 * n + 1, dtype=object if exact else float)
    if exact:
        c[:] = Fraction(0)
    c[2 * n] = one
    tab.set_objective(c)
    if not tab.optimise():
        return LPResult("unknown", exact=exact, pivots=tab.pivots)
    s_best = tab.values()[2 * n] - S0
    if s_best < 0 and (exact or s_best < -1e-12 * float(S0)):
        y = tab.T[-1, 2 * n + 1 : 2 * n + 1 + rows]
        cert = tuple(max(float(v), 0.0) for v in y)
        if exact:
            return LPResult("infeasible", certificate=cert, exact=True, pivots=tab.pivots)
        return LPResult("infeasible", certificate=cert, pivots=tab.pivots)
    # phase II: s stays at 0 (the cap row's slack never enters), the change from x0 is minimised
    cap_slack = 2 * n + 1 + rows + 2 * n
    if cap_slack in tab.basis:  # at 0 (degenerate): swap it for any column of its row, which enters at 0
        i = tab.basis.index(cap_slack)
        row = [abs(v) if j != cap_slack else 0 for j, v in enumerate(tab.T[i, :-1])]
        j = max(range(len(row)), key=row.__getitem__)
        if row[j] != 0:
            tab.pivot(i, j)
    c = np.zeros(2 * n + 1, dtype=object if exact else float)
    if exact:
        c[:] = Fraction(0)
    c[: 2 * n] = -one
    tab.set_objective(c)
    if not tab.optimise(frozenset({cap_slack})):
        return LPResult("unknown", exact=exact, pivots=tab.pivots)
    v = tab.values()
    x = tuple(float(x0x[i] + v[i] - v[n + i]) for i in range(n))
    return LPResult("feasible", x, exact=exact, pivots=tab.pivots)


def _fractions(a: np.ndarray) -> np.ndarray:
    """The same numbers as exact fractions (an object array)."""
    return np.array([Fraction(float(v)) for v in np.ravel(a)], dtype=object).reshape(np.shape(a))


def _proves(y: ArrayLike | None, G: np.ndarray, h: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """True when the multipliers y >= 0 prove that no x in [lo, hi] has G x <= h:
    min over the box of (G^T y).x exceeds y.h by more than float64 rounding can explain."""
    if y is None:
        return False
    y = np.asarray(y, dtype=float)
    d = G.T.dot(y)
    box_min = np.minimum(d * lo, d * hi).sum()
    value = box_min - y.dot(h)
    scale = (np.abs(G.T).dot(y) * np.maximum(np.abs(lo), np.abs(hi))).sum() + np.abs(y).dot(np.abs(h))
    terms = G.shape[0] + G.shape[1] + 2
    return bool(math.isfinite(value) and value > 4 * terms * _U * scale)


def proves_infeasible(y: Sequence[float] | None, G: ArrayLike, h: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> bool:
    """The certificate check, exactly (rational arithmetic on the float64 data): y >= 0 and
    min over the box of (G^T y).x > y.h. For tests and for anyone who doubts ``solve``."""
    if y is None or any(v < 0 for v in y):
        return False
    F = Fraction
    G, h, lo, hi = (np.asarray(a, dtype=float) for a in (G, h, lo, hi))
    yq = [F(float(v)) for v in y]
    total = F(0)
    for i in range(G.shape[1]):
        d = sum((yq[k] * F(float(G[k, i])) for k in range(G.shape[0])), F(0))
        total += min(d * F(float(lo[i])), d * F(float(hi[i])))
    total -= sum((yq[k] * F(float(h[k])) for k in range(G.shape[0])), F(0))
    return total > 0
