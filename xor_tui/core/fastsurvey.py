"""The survey's fast path: a fused numba kernel, bit for bit the same as the torch engine.

One network per SIMD lane: the nine parameters of a 2-2-1 network are loaded once per
epoch from a small structure-of-arrays block (it stays in L1), the whole epoch (forward,
loss, backward, SGD) runs in registers, and the results are written back. The arithmetic
is PyTorch's, operation by operation and in the same order: every product and sum is
rounded on its own (numba's ``fastmath`` is off, so LLVM contracts nothing) except the SGD
update, which torch computes as one fused multiply-add (``w.add(g, alpha=-lr)``) and so
do we, through the ``llvm.fma.f32`` intrinsic. Networks that halt (BCELoss's range error,
a non-finite loss) or reach a fixed point (an update that changes nothing) are masked and,
once they are a quarter of a block, compacted away. Blocks are split between threads
(the kernel releases the GIL).

Which settings take this path: a 2-2-1 network with ReLU, LeakyReLU(slope) or identity
in the hidden layer; ReLU, LeakyReLU(slope), identity or sigmoid at the output; BCELoss,
BCEWithLogitsLoss or MSELoss; any learning rate; no per-layer rates, no weight decay.
Everything else (other activations, two hidden layers, other widths) takes the torch
engine. ``supported(config)`` says which, and why not.

Sigmoid (at the output, or inside BCEWithLogitsLoss) follows torch's scalar kernel,
``1 / (1 + exp(-z))`` with the C library's ``expf``: that is what torch computes on the
four rows of a single run (the student's loop). torch's batched kernel uses a vectorised
exp that differs from it in the last bit on about 4% of inputs, so for these settings the
fast survey equals single runs exactly, which the torch survey did only to ~1e-6.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

CHUNK = 512  # networks per block: 9 x 512 float32 = 18 KB of parameters, in L1
COMPACT = 4  # compact a block once a quarter of its lanes have finished

# --------------------------------------------------------------------- cache location


def cache_dir() -> Path:
    """Where compiled kernels are kept: the user's cache folder, never site-packages."""
    if os.environ.get("XOR_TUI_CACHE"):
        return Path(os.environ["XOR_TUI_CACHE"]) / "numba"
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "xor-tui" / "numba"


_UNAVAILABLE: str | None = None
try:
    _dir = cache_dir()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(_dir))
    os.environ.setdefault("NUMBA_DISABLE_INTEL_SVML", "1")  # SVML's exp is not the C library's
    import numba
    from llvmlite import ir as llvm_ir
    from numba import njit, types
    from numba.core import cgutils
    from numba.extending import intrinsic

    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]
except Exception as exc:  # ImportError, or a broken install
    _UNAVAILABLE = f"numba is not available ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"

# loss kinds and output kinds: compile-time constants of each kernel
BCE, MSE, LOGITS = 0, 1, 2
PIECEWISE, SIGMOID = 0, 1
RAN_OUT, HALTS, REPEATS = 0, 1, 2  # why a trajectory stopped
LOSS_KIND = {"bce": BCE, "mse": MSE, "bce-logits": LOGITS}
PIECEWISE_ACTS = ("relu", "leaky_relu", "identity")


def supported(config) -> str | None:
    """None when ``config`` takes the fast path, else the reason in a few words."""
    if _UNAVAILABLE:
        return _UNAVAILABLE
    if config.sizes != (2, 2, 1):
        return f"the fast path trains 2-2-1 networks, not {config.shape_text}"
    if config.layer_lr is not None or config.weight_decay:
        return "the fast path has no per-layer learning rates or weight decay"
    hid, out = config.activations
    if hid.name not in PIECEWISE_ACTS:
        return f"the fast path has no {hid.label} hidden layer"
    if out.name not in PIECEWISE_ACTS + ("sigmoid",):
        return f"the fast path has no {out.label} output"
    return None  # (BCEWithLogitsLoss takes the pre-activation: the output activation is unused)


# --------------------------------------------------------------------- the kernel

if not _UNAVAILABLE:
    f32 = np.float32
    ZERO, ONE, TWO, FOUR = f32(0.0), f32(1.0), f32(2.0), f32(4.0)
    EPS = f32(1e-12)  # BCELoss's backward: max((1 - y) * y, EPSILON)

    @intrinsic
    def fma32(typingctx, a, b, c):
        """a * b + c rounded once, as torch's vectorised ``add(alpha=)`` does."""
        sig = types.float32(types.float32, types.float32, types.float32)

        def codegen(context, builder, signature, args):
            f = llvm_ir.FloatType()
            fn = cgutils.get_or_insert_function(builder.module, llvm_ir.FunctionType(f, [f, f, f]), "llvm.fma.f32")
            return builder.call(fn, args)

        return sig, codegen

    _h = njit(fastmath=False, error_model="numpy")

    @_h
    def _fwd(z, slope, relu):
        # relu: z <= 0 -> 0 (NaN stays NaN, -inf gives 0 as torch's clamp does);
        # leaky_relu: z > 0 ? z : z * slope; identity is leaky with slope 1 (z * 1 == z)
        if z <= ZERO:
            return ZERO if relu else z * slope
        return z

    @_h
    def _bwd(g, z, slope, relu):
        # threshold_backward(g, relu(z), 0) / leaky_relu_backward(g, z, slope)
        if z > ZERO:
            return g
        return ZERO if relu else g * slope

    @_h
    def _sigmoid(z):
        # torch's scalar sigmoid kernel: 1 / (1 + exp(-z)) with the C library's expf
        return ONE / (ONE + np.exp(-z))

    @_h
    def _finite(x):
        return (x - x) == ZERO

    # the output layer's activation (forward, backward) and the loss (gradient, halt test):
    # each kernel is compiled with one of each, passed as compile-time function arguments

    @_h
    def back_sigmoid(g, y):
        return g * (ONE - y) * y  # sigmoid_backward(g, y)

    @_h
    def grad_bce(z, y, t):
        # binary_cross_entropy_backward(1, y, t) = 1 * (y - t) / max((1 - y) * y, EPS), then / 4
        d = (ONE - y) * y
        den = EPS if d < EPS else d
        return ((y - t) / den) / FOUR

    @_h
    def grad_mse(z, y, t):
        return ((TWO * (y - t)) * ONE) / FOUR  # mse_loss_backward(1, y, t): 2 * (y - t) * 1, then / 4

    @_h
    def grad_logits(z, y, t):
        return (_sigmoid(z) - t) / FOUR

    @_h
    def _bce_ok(y):
        return (y >= ZERO) & (y <= ONE)

    @_h
    def halt_bce(q0, q1, q2, q3, y0, y1, y2, y3):
        return ~(_bce_ok(y0) & _bce_ok(y1) & _bce_ok(y2) & _bce_ok(y3))  # BCELoss refuses

    @_h
    def halt_mse(q0, q1, q2, q3, y0, y1, y2, y3):
        d0, d1, d2, d3 = y0, y1 - ONE, y2 - ONE, y3
        return ~_finite((((d0 * d0 + d1 * d1) + d2 * d2) + d3 * d3) / FOUR)

    @_h
    def _logits_row(z, t):
        # (1 - t) * z - log_sigmoid(z): only whether the loss is finite is used
        m = z if z < ZERO else ZERO
        return (ONE - t) * z - (m - np.log1p(np.exp(-abs(z))))

    @_h
    def halt_logits(q0, q1, q2, q3, y0, y1, y2, y3):
        loss = ((_logits_row(q0, ZERO) + _logits_row(q1, ONE)) + _logits_row(q2, ONE)) + _logits_row(q3, ZERO)
        return ~_finite(loss / FOUR)

    # One epoch of one network (forward, loss, backward, SGD) for a loss and an output kind.
    # Returns the nine updated parameters, whether this state halts (no step is possible from
    # it) and whether the update changed nothing (a fixed point). The survey's kernel and a
    # single run's trajectory both call it with their LOSS and OUT closure constants: inlined,
    # every branch on them folds away. (A module-level function, not a closure: numba's cache
    # key pickles closure variables, and a dispatcher pickles differently in every process.)
    @njit(inline="always", fastmath=False, error_model="numpy")
    def one_epoch(LOSS, OUT, w00, w01, w10, w11, b0, b1, v0, v1, c, hs, hrelu, os_, orelu, neg_lr):
        x0, x1 = ZERO, ONE
        t0, t1 = ZERO, ONE
        # forward: rows (0,0) (0,1) (1,0) (1,1); x * w then + x * w then + b
        z00 = (x0 * w00 + x0 * w01) + b0
        z01 = (x0 * w10 + x0 * w11) + b1
        z10 = (x0 * w00 + x1 * w01) + b0
        z11 = (x0 * w10 + x1 * w11) + b1
        z20 = (x1 * w00 + x0 * w01) + b0
        z21 = (x1 * w10 + x0 * w11) + b1
        z30 = (x1 * w00 + x1 * w01) + b0
        z31 = (x1 * w10 + x1 * w11) + b1
        h00 = _fwd(z00, hs, hrelu)
        h01 = _fwd(z01, hs, hrelu)
        h10 = _fwd(z10, hs, hrelu)
        h11 = _fwd(z11, hs, hrelu)
        h20 = _fwd(z20, hs, hrelu)
        h21 = _fwd(z21, hs, hrelu)
        h30 = _fwd(z30, hs, hrelu)
        h31 = _fwd(z31, hs, hrelu)
        q0 = (h00 * v0 + h01 * v1) + c
        q1 = (h10 * v0 + h11 * v1) + c
        q2 = (h20 * v0 + h21 * v1) + c
        q3 = (h30 * v0 + h31 * v1) + c
        if OUT == SIGMOID:
            y0, y1, y2, y3 = _sigmoid(q0), _sigmoid(q1), _sigmoid(q2), _sigmoid(q3)
        else:
            y0, y1, y2 = _fwd(q0, os_, orelu), _fwd(q1, os_, orelu), _fwd(q2, os_, orelu)
            y3 = _fwd(q3, os_, orelu)
        if LOSS == BCE:
            bad = halt_bce(q0, q1, q2, q3, y0, y1, y2, y3)
            g0, g1 = grad_bce(q0, y0, t0), grad_bce(q1, y1, t1)
            g2, g3 = grad_bce(q2, y2, t1), grad_bce(q3, y3, t0)
        elif LOSS == MSE:
            bad = halt_mse(q0, q1, q2, q3, y0, y1, y2, y3)
            g0, g1 = grad_mse(q0, y0, t0), grad_mse(q1, y1, t1)
            g2, g3 = grad_mse(q2, y2, t1), grad_mse(q3, y3, t0)
        else:
            bad = halt_logits(q0, q1, q2, q3, y0, y1, y2, y3)
            g0, g1 = grad_logits(q0, y0, t0), grad_logits(q1, y1, t1)
            g2, g3 = grad_logits(q2, y2, t1), grad_logits(q3, y3, t0)
        if LOSS == LOGITS:  # the gradient is already w.r.t. the pre-activation
            pass
        elif OUT == SIGMOID:
            g0, g1 = back_sigmoid(g0, y0), back_sigmoid(g1, y1)
            g2, g3 = back_sigmoid(g2, y2), back_sigmoid(g3, y3)
        else:
            g0, g1 = _bwd(g0, q0, os_, orelu), _bwd(g1, q1, os_, orelu)
            g2, g3 = _bwd(g2, q2, os_, orelu), _bwd(g3, q3, os_, orelu)
        # backward
        gv0 = ((g0 * h00 + g1 * h10) + g2 * h20) + g3 * h30
        gv1 = ((g0 * h01 + g1 * h11) + g2 * h21) + g3 * h31
        gc = ((g0 + g1) + g2) + g3
        u00 = _bwd(g0 * v0, z00, hs, hrelu)
        u01 = _bwd(g0 * v1, z01, hs, hrelu)
        u10 = _bwd(g1 * v0, z10, hs, hrelu)
        u11 = _bwd(g1 * v1, z11, hs, hrelu)
        u20 = _bwd(g2 * v0, z20, hs, hrelu)
        u21 = _bwd(g2 * v1, z21, hs, hrelu)
        u30 = _bwd(g3 * v0, z30, hs, hrelu)
        u31 = _bwd(g3 * v1, z31, hs, hrelu)
        gw00 = ((u00 * x0 + u10 * x0) + u20 * x1) + u30 * x1
        gw01 = ((u00 * x0 + u10 * x1) + u20 * x0) + u30 * x1
        gw10 = ((u01 * x0 + u11 * x0) + u21 * x1) + u31 * x1
        gw11 = ((u01 * x0 + u11 * x1) + u21 * x0) + u31 * x1
        gb0 = ((u00 + u10) + u20) + u30
        gb1 = ((u01 + u11) + u21) + u31
        # SGD: one fused multiply-add per parameter
        n00 = fma32(neg_lr, gw00, w00)
        n01 = fma32(neg_lr, gw01, w01)
        n10 = fma32(neg_lr, gw10, w10)
        n11 = fma32(neg_lr, gw11, w11)
        nb0 = fma32(neg_lr, gb0, b0)
        nb1 = fma32(neg_lr, gb1, b1)
        nv0 = fma32(neg_lr, gv0, v0)
        nv1 = fma32(neg_lr, gv1, v1)
        nc = fma32(neg_lr, gc, c)
        same = (
            (n00 == w00)
            & (n01 == w01)
            & (n10 == w10)
            & (n11 == w11)
            & (nb0 == b0)
            & (nb1 == b1)
            & (nv0 == v0)
            & (nv1 == v1)
            & (nc == c)
        )
        return n00, n01, n10, n11, nb0, nb1, nv0, nv1, nc, bad, same

    def _make(LOSS, OUT):
        """One kernel for a loss and an output kind. Both are closure constants: every branch on
        them folds away, so the lane loop is straight-line code and vectorises. (Only plain
        numbers in the closure: numba's cache key pickles them, and they pickle the same in
        every process.)"""

        @njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
        def kernel(P, halt, live, clo, chi, e0, e1, hs, hrelu, os_, orelu, neg_lr):
            """Train the live networks among clo..chi-1 for epochs e0..e1-1; return net-epochs computed."""
            total = 0
            for blo in range(clo, chi, CHUNK):
                hi = min(blo + CHUNK, chi)
                lo = blo
                n = hi - lo
                idx = np.empty(n, np.int64)
                m = 0
                for k in range(lo, hi):
                    if live[k]:
                        idx[m] = k
                        m += 1
                if m == 0:
                    continue
                a0 = np.empty(m, np.float32)
                a1 = np.empty(m, np.float32)
                a2 = np.empty(m, np.float32)
                a3 = np.empty(m, np.float32)
                a4 = np.empty(m, np.float32)
                a5 = np.empty(m, np.float32)
                a6 = np.empty(m, np.float32)
                a7 = np.empty(m, np.float32)
                a8 = np.empty(m, np.float32)
                run = np.ones(m, np.bool_)
                hep = np.full(m, -1, np.int32)
                for i in range(m):
                    k = idx[i]
                    a0[i] = P[0, k]
                    a1[i] = P[1, k]
                    a2[i] = P[2, k]
                    a3[i] = P[3, k]
                    a4[i] = P[4, k]
                    a5[i] = P[5, k]
                    a6[i] = P[6, k]
                    a7[i] = P[7, k]
                    a8[i] = P[8, k]
                for epoch in range(e0, e1):
                    total += m
                    finished = False
                    ep = np.int32(epoch)
                    for i in range(m):
                        w00, w01, w10, w11 = a0[i], a1[i], a2[i], a3[i]
                        b0, b1, v0, v1, c = a4[i], a5[i], a6[i], a7[i], a8[i]
                        n00, n01, n10, n11, nb0, nb1, nv0, nv1, nc, bad, same = one_epoch(
                            LOSS, OUT, w00, w01, w10, w11, b0, b1, v0, v1, c, hs, hrelu, os_, orelu, neg_lr
                        )
                        r = run[i]
                        step = r & ~bad
                        a0[i] = n00 if step else w00
                        a1[i] = n01 if step else w01
                        a2[i] = n10 if step else w10
                        a3[i] = n11 if step else w11
                        a4[i] = nb0 if step else b0
                        a5[i] = nb1 if step else b1
                        a6[i] = nv0 if step else v0
                        a7[i] = nv1 if step else v1
                        a8[i] = nc if step else c
                        stop = r & (bad | same)
                        hep[i] = ep if (r & bad) else hep[i]
                        run[i] = r & ~stop
                        finished |= stop
                    if not finished:
                        continue
                    stopped = 0
                    for i in range(m):
                        stopped += 0 if run[i] else 1
                    if stopped * COMPACT < m and epoch + 1 < e1:
                        continue
                    j = 0
                    for i in range(m):
                        if run[i]:
                            a0[j], a1[j], a2[j], a3[j], a4[j] = a0[i], a1[i], a2[i], a3[i], a4[i]
                            a5[j], a6[j], a7[j], a8[j] = a5[i], a6[i], a7[i], a8[i]
                            idx[j], hep[j], run[j] = idx[i], hep[i], True
                            j += 1
                        else:
                            k = idx[i]
                            P[0, k], P[1, k], P[2, k], P[3, k], P[4, k] = a0[i], a1[i], a2[i], a3[i], a4[i]
                            P[5, k], P[6, k], P[7, k], P[8, k] = a5[i], a6[i], a7[i], a8[i]
                            halt[k] = hep[i]
                            live[k] = False
                    m = j
                    if m == 0:
                        break
                for i in range(m):
                    k = idx[i]
                    P[0, k], P[1, k], P[2, k], P[3, k], P[4, k] = a0[i], a1[i], a2[i], a3[i], a4[i]
                    P[5, k], P[6, k], P[7, k], P[8, k] = a5[i], a6[i], a7[i], a8[i]
                    halt[k] = hep[i]
                    live[k] = run[i]
            return total

        return kernel

    def _make_path(LOSS, OUT):
        """A single run's trajectory: the survey's epoch, one network, every state kept."""

        @njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
        def path(p, rows, hs, hrelu, os_, orelu, neg_lr):
            """From the nine parameters ``p`` of a state, step up to len(rows) times, writing
            each new state into ``rows``. Returns (states written, why it stopped): RAN_OUT,
            HALTS (the last state, ``p`` itself if none was written, halts) or REPEATS (the
            last state written is bit for bit the one before: a fixed point)."""
            w00, w01, w10, w11, b0, b1, v0, v1, c = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]
            for i in range(rows.shape[0]):
                n00, n01, n10, n11, nb0, nb1, nv0, nv1, nc, bad, same = one_epoch(
                    LOSS, OUT, w00, w01, w10, w11, b0, b1, v0, v1, c, hs, hrelu, os_, orelu, neg_lr
                )
                if bad:
                    return i, HALTS
                rows[i, 0], rows[i, 1], rows[i, 2], rows[i, 3], rows[i, 4] = n00, n01, n10, n11, nb0
                rows[i, 5], rows[i, 6], rows[i, 7], rows[i, 8] = nb1, nv0, nv1, nc
                # bit for bit, as the run compares states: == alone takes -0.0 for +0.0
                if same and (
                    _sign(n00) == _sign(w00)
                    and _sign(n01) == _sign(w01)
                    and _sign(n10) == _sign(w10)
                    and _sign(n11) == _sign(w11)
                    and _sign(nb0) == _sign(b0)
                    and _sign(nb1) == _sign(b1)
                    and _sign(nv0) == _sign(v0)
                    and _sign(nv1) == _sign(v1)
                    and _sign(nc) == _sign(c)
                ):
                    return i + 1, REPEATS
                w00, w01, w10, w11, b0, b1, v0, v1, c = n00, n01, n10, n11, nb0, nb1, nv0, nv1, nc
            return rows.shape[0], RAN_OUT

        return path

    @_h
    def _sign(x):
        return math.copysign(ONE, x)

    KERNELS = {(loss, out): _make(loss, out) for loss in (BCE, MSE) for out in (PIECEWISE, SIGMOID)}
    KERNELS[(LOGITS, PIECEWISE)] = KERNELS[(LOGITS, SIGMOID)] = _make(LOGITS, PIECEWISE)
    PATHS = {(loss, out): _make_path(loss, out) for loss in (BCE, MSE) for out in (PIECEWISE, SIGMOID)}
    PATHS[(LOGITS, PIECEWISE)] = PATHS[(LOGITS, SIGMOID)] = _make_path(LOGITS, PIECEWISE)


# --------------------------------------------------------------------- driving it

SLICE_WORK = 1 << 23  # network-epochs per kernel call: a stop request waits at most ~0.1 s


def _kernel_for(config):
    out = config.activations[-1]
    kind = SIGMOID if out.name == "sigmoid" else PIECEWISE
    return KERNELS[(LOSS_KIND[config.loss], kind)]


def _piecewise(act) -> tuple[np.float32, bool]:
    """(slope, is_relu) of a ReLU / LeakyReLU / identity layer (sigmoid: unused)."""
    if act.name == "relu":
        return np.float32(0.0), True
    if act.name == "leaky_relu":
        return np.float32(act.param), False  # torch passes the slope to its kernel as float32
    return np.float32(1.0), False


def _example_args(config) -> tuple:
    hs, hrelu = _piecewise(config.activations[0])
    os_, orelu = _piecewise(config.activations[-1])
    P, halt, live = np.zeros((9, 1), np.float32), np.full(1, -1, np.int64), np.ones(1, np.bool_)
    return (P, halt, live, 0, 1, 0, 1, hs, hrelu, os_, orelu, np.float32(-config.lr))


def needs_compiling(config) -> bool:
    """True when this setting's kernel is neither loaded nor in the cache folder yet."""
    kernel = _kernel_for(config)
    if kernel.signatures:
        return False
    try:  # numba's own cache index, asked the way the dispatcher will ask it
        sig = tuple(numba.typeof(a) for a in _example_args(config))
        key = kernel._cache._index_key(sig, kernel.targetctx.codegen())
        return key not in kernel._cache._cache_file._load_index()
    except Exception:
        return True


def train(
    start: list,
    config,
    epochs: int,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    threads: int | None = None,
) -> tuple[list, np.ndarray, int]:
    """Train batch-first start layers [(w (N,2,2), b (N,2)), (v (N,1,2), c (N,1))] for ``epochs``.

    Returns the final layers (the halted state where a network halted), halt epochs (-1:
    never) and the network-epochs computed. ``stop()`` is asked between kernel calls.
    """
    import torch

    (w, b), (v, c) = start
    n = w.shape[0]
    P = np.empty((9, n), np.float32)
    P[0:4] = w.reshape(n, 4).numpy().T
    P[4:6] = b.numpy().T
    P[6:8] = v.reshape(n, 2).numpy().T
    P[8] = c.reshape(n).numpy()
    halt = np.full(n, -1, np.int64)
    live = np.ones(n, np.bool_)
    kernel = _kernel_for(config)
    hs, hrelu = _piecewise(config.activations[0])
    os_, orelu = _piecewise(config.activations[-1])
    neg_lr = np.float32(-config.lr)
    threads = threads or max(1, min(os.cpu_count() or 1, torch.get_num_threads()))
    blocks = -(-n // CHUNK)
    parts = max(1, min(threads, blocks))
    bounds = [min(n, CHUNK * (blocks * k // parts)) for k in range(parts + 1)]
    ranges = list(zip(bounds, bounds[1:]))
    trained = 0
    epoch = 0
    pool = None
    if parts > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(parts)
    try:
        while epoch < epochs:
            alive = int(live.sum())
            if alive == 0:
                break
            step = max(1, min(epochs - epoch, SLICE_WORK // alive))
            e1 = epoch + step
            args = (hs, hrelu, os_, orelu, neg_lr)
            if pool is None:
                trained += kernel(P, halt, live, 0, n, epoch, e1, *args)
            else:
                futs = [pool.submit(kernel, P, halt, live, lo, hi, epoch, e1, *args) for lo, hi in ranges]
                trained += sum(f.result() for f in futs)
            epoch = e1
            if progress is not None:
                progress(epoch, epochs)
            if stop is not None and stop():
                raise KeyboardInterrupt
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    final = [
        (torch.from_numpy(P[0:4].T.copy()).reshape(n, 2, 2), torch.from_numpy(P[4:6].T.copy())),
        (torch.from_numpy(P[6:8].T.copy()).reshape(n, 1, 2), torch.from_numpy(P[8].copy()).reshape(n, 1)),
    ]
    return final, halt, trained


def trajectory(row: np.ndarray, config, count: int) -> tuple[np.ndarray, int]:
    """A single run from the state whose nine parameters are ``row`` (float32, in the run's
    order: hidden weight, hidden bias, output weight, output bias): at most ``count`` steps,
    the same arithmetic as the survey (so as torch's single run). Returns the states
    reached, (k, 9), and why it stopped: RAN_OUT, HALTS (the last state reached, or ``row``
    when k is 0, halts) or REPEATS (the last state is bit for bit the one before).
    ``config`` must be ``supported``."""
    out = config.activations[-1]
    kind = SIGMOID if out.name == "sigmoid" else PIECEWISE
    path = PATHS[(LOSS_KIND[config.loss], kind)]
    hs, hrelu = _piecewise(config.activations[0])
    os_, orelu = _piecewise(out)
    rows = np.empty((count, 9), np.float32)
    k, why = path(np.ascontiguousarray(row, np.float32), rows, hs, hrelu, os_, orelu, np.float32(-config.lr))
    return rows[:k], int(why)


def compile_note() -> str:
    return f"compiling the fast survey kernel for this setting (first run only; cached in {numba.config.CACHE_DIR})"


def timed_compile(config) -> float:
    """Compile (or load from the cache) this setting's kernel; return the seconds it took."""
    t0 = time.perf_counter()
    _kernel_for(config)(*_example_args(config))
    return time.perf_counter() - t0
