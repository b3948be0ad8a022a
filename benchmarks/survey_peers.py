"""Peers of the fused survey kernel for benchmarks/survey_speed.py: other ways one would train
100,000 networks of the source's setting (2-2-1, ReLU hidden and output, BCELoss, SGD) at once.

Each peer is ``(start, config, epochs) -> (seconds, end layers)``: start and end layers
batch-first, [(w (N,2,2), b (N,2)), (v (N,1,2), c (N,1))] as torch tensors; the seconds
are training only, the compile or warm-up of its first call kept in WARMUP[name]. All follow
the kernel's semantics: a network whose outputs BCELoss refuses (outside [0, 1] or NaN)
halts (no update, its state stays), ReLU's gradient at 0 is 0, BCE's backward is
(y - t) / max((1 - y) * y, 1e-12) / 4, and each SGD update is rounded once, as optim.SGD's
``add(alpha=-lr)`` is (a fused multiply-add).

- numba:     @njit(parallel=True, fastmath=False), prange over networks (both cores), plain
             scalar code per network in PyTorch's order, the update as one fma (the kernel's
             fma32 intrinsic); a network stops at its halt or when an update changes nothing
- compile:   one batched epoch (nine (N,) float32 tensors in and out) through torch.compile
             (inductor, C++ on the CPU), called ``epochs`` times; the same arithmetic as the
             kernel written element-wise, the update done in float64 and rounded to float32:
             inductor has no fma, and p + (-lr) * g in float32 rounds twice (the float64 sum
             rounded again to float32 could in principle differ from one rounding, in about one
             case in 2^29; no such case on 100,000 starts x 200 epochs)
- jax-grad:  jax.grad of the per-network loss (x @ w.T + b, jax.nn.relu, BCE whose backward is
             torch's, by custom_vjp), vmapped over the networks, shard_map over 2 host devices,
             the epochs in a lax.fori_loop; the update in float64, rounded once. Not every end
             state is ours (~95% on 100,000 starts): XLA sums the output bias's gradient over
             the four rows as (g0 + g2) + (g1 + g3), not left to right as torch does
- jax-hand:  the same loop with the backward written by hand in PyTorch's order (the compile
             peer's epoch, traced by JAX)

JAX needs XLA_FLAGS before it is imported: this module adds
--xla_force_host_platform_device_count=2 and --xla_cpu_max_isa=AVX (unless XLA_FLAGS names
them already). XLA:CPU contracts a * b + c into one fma on any machine that has FMA, whatever
--xla_cpu_enable_fast_math says (the pipeline always allows fusion); capping the ISA at AVX,
which has no FMA, is the flag that stops it. The flags are the process's, so both JAX peers run
under them (XLA_FLAGS=--xla_cpu_max_isa=AVX2 lets XLA contract, to compare). jax is no
dependency of the project: without it the JAX peers are skipped.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time

import numpy as np
import torch

JAX_VERSION = "0.10.2"  # the version these peers were checked with (numpy 2.4, torch 2.13, numba 0.68)

LABELS = {
    "numba": "numba prange",
    "compile": "torch.compile",
    "jax-grad": "jax.grad",
    "jax-hand": "jax hand bwd",
}
WARMUP: dict[str, float] = {}  # name -> seconds of compiling / warming up (first call only)

EPS = 1e-12  # BCELoss's backward: max((1 - y) * y, EPSILON), as float32 where it is used


def unavailable(name: str) -> str | None:
    """Why peer ``name`` cannot run here, or None."""
    if name == "numba" and importlib.util.find_spec("numba") is None:
        return "numba not installed (pip install numba)"
    if name == "compile":
        from torch._inductor.cpp_builder import get_cpp_compiler

        try:
            if shutil.which(get_cpp_compiler()) is None:
                return "torch.compile needs a C++ compiler (apt-get install g++)"
        except Exception as exc:  # noqa: BLE001 - any reason it cannot find one
            return f"torch.compile needs a C++ compiler ({exc})"
    if name.startswith("jax") and importlib.util.find_spec("jax") is None:
        return f"jax not installed (pip install jax=={JAX_VERSION})"
    return None


def _rows(start) -> np.ndarray:
    """The start as (N, 9) float32: hidden weight, hidden bias, output weight, output bias."""
    (w, b), (v, c) = start
    n = w.shape[0]
    return np.ascontiguousarray(
        np.concatenate([t.reshape(n, -1).numpy() for t in (w, b, v, c)], axis=1), dtype=np.float32
    )


def _layers(rows: np.ndarray) -> list:
    """(N, 9) float32 back to batch-first layers (views of one tensor)."""
    t = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))
    n = t.shape[0]
    return [(t[:, 0:4].reshape(n, 2, 2), t[:, 4:6]), (t[:, 6:8].reshape(n, 1, 2), t[:, 8:9])]


def _neg_lr(config) -> float:
    return float(np.float32(-config.lr))  # optim.SGD's alpha=-lr, as the float32 kernel uses it


# ---------------------------------------------------------------- numba, one network per iteration


_numba_fn = None


def _numba_train():
    global _numba_fn
    if _numba_fn is not None:
        return _numba_fn
    from numba import njit, prange

    from xor_tui.core.engine.fast.epoch import fma32  # sets NUMBA_DISABLE_INTEL_SVML before numba loads

    f32 = np.float32
    ZERO, ONE, FOUR, EPS32 = f32(0.0), f32(1.0), f32(4.0), f32(EPS)
    X0, X1 = f32(0.0), f32(1.0)  # the inputs' two values; rows (0,0) (0,1) (1,0) (1,1)

    @njit(inline="always", fastmath=False, error_model="numpy")
    def relu(z):
        return ZERO if z <= ZERO else z  # NaN stays NaN

    @njit(inline="always", fastmath=False, error_model="numpy")
    def out_grad(y, t):
        # binary_cross_entropy_backward(1, y, t) / 4, then relu's backward (0 where y is 0)
        d = (ONE - y) * y
        den = EPS32 if d < EPS32 else d
        g = ((y - t) / den) / FOUR
        return g if y > ZERO else ZERO

    @njit(parallel=True, fastmath=False, error_model="numpy")
    def train(P, epochs, neg_lr):
        for k in prange(P.shape[0]):
            w00, w01, w10, w11 = P[k, 0], P[k, 1], P[k, 2], P[k, 3]
            b0, b1, v0, v1, c = P[k, 4], P[k, 5], P[k, 6], P[k, 7], P[k, 8]
            for _ in range(epochs):
                # forward, nn.Linear's order: x * w, + x * w, + b
                h00 = relu((X0 * w00 + X0 * w01) + b0)
                h01 = relu((X0 * w10 + X0 * w11) + b1)
                h10 = relu((X0 * w00 + X1 * w01) + b0)
                h11 = relu((X0 * w10 + X1 * w11) + b1)
                h20 = relu((X1 * w00 + X0 * w01) + b0)
                h21 = relu((X1 * w10 + X0 * w11) + b1)
                h30 = relu((X1 * w00 + X1 * w01) + b0)
                h31 = relu((X1 * w10 + X1 * w11) + b1)
                y0 = relu((h00 * v0 + h01 * v1) + c)
                y1 = relu((h10 * v0 + h11 * v1) + c)
                y2 = relu((h20 * v0 + h21 * v1) + c)
                y3 = relu((h30 * v0 + h31 * v1) + c)
                if not ((y0 <= ONE) and (y1 <= ONE) and (y2 <= ONE) and (y3 <= ONE)):
                    break  # BCELoss refuses (above 1 or NaN; ReLU is never below 0): halted
                g0, g1, g2, g3 = out_grad(y0, X0), out_grad(y1, X1), out_grad(y2, X1), out_grad(y3, X0)
                # backward: the output layer, summed over the rows in order
                gv0 = ((g0 * h00 + g1 * h10) + g2 * h20) + g3 * h30
                gv1 = ((g0 * h01 + g1 * h11) + g2 * h21) + g3 * h31
                gc = ((g0 + g1) + g2) + g3
                u00 = g0 * v0 if h00 > ZERO else ZERO
                u01 = g0 * v1 if h01 > ZERO else ZERO
                u10 = g1 * v0 if h10 > ZERO else ZERO
                u11 = g1 * v1 if h11 > ZERO else ZERO
                u20 = g2 * v0 if h20 > ZERO else ZERO
                u21 = g2 * v1 if h21 > ZERO else ZERO
                u30 = g3 * v0 if h30 > ZERO else ZERO
                u31 = g3 * v1 if h31 > ZERO else ZERO
                gw00 = ((u00 * X0 + u10 * X0) + u20 * X1) + u30 * X1
                gw01 = ((u00 * X0 + u10 * X1) + u20 * X0) + u30 * X1
                gw10 = ((u01 * X0 + u11 * X0) + u21 * X1) + u31 * X1
                gw11 = ((u01 * X0 + u11 * X1) + u21 * X0) + u31 * X1
                gb0 = ((u00 + u10) + u20) + u30
                gb1 = ((u01 + u11) + u21) + u31
                # SGD: p + (-lr) * g rounded once
                n00, n01 = fma32(neg_lr, gw00, w00), fma32(neg_lr, gw01, w01)
                n10, n11 = fma32(neg_lr, gw10, w10), fma32(neg_lr, gw11, w11)
                nb0, nb1 = fma32(neg_lr, gb0, b0), fma32(neg_lr, gb1, b1)
                nv0, nv1, nc = fma32(neg_lr, gv0, v0), fma32(neg_lr, gv1, v1), fma32(neg_lr, gc, c)
                same = (
                    n00 == w00 and n01 == w01 and n10 == w10 and n11 == w11
                    and nb0 == b0 and nb1 == b1 and nv0 == v0 and nv1 == v1 and nc == c
                )  # fmt: skip
                w00, w01, w10, w11, b0, b1, v0, v1, c = n00, n01, n10, n11, nb0, nb1, nv0, nv1, nc
                if same:
                    break  # a fixed point: every later epoch is this one again
            P[k, 0], P[k, 1], P[k, 2], P[k, 3] = w00, w01, w10, w11
            P[k, 4], P[k, 5], P[k, 6], P[k, 7], P[k, 8] = b0, b1, v0, v1, c

    _numba_fn = train
    return train


def numba_peer(start, config, epochs: int) -> tuple[float, list]:
    """numba, one network per prange iteration, both cores."""
    if "numba" not in WARMUP:
        t0 = time.perf_counter()
        fn = _numba_train()
        fn(_rows(start)[:4].copy(), 1, np.float32(_neg_lr(config)))  # compile for these types
        WARMUP["numba"] = time.perf_counter() - t0
    fn = _numba_train()
    P = _rows(start)
    t0 = time.perf_counter()
    fn(P, epochs, np.float32(_neg_lr(config)))
    return time.perf_counter() - t0, _layers(P)


# ---------------------------------------------------------------- one batched epoch, element-wise


def _fold(terms):
    """((t0 + t1) + t2) + t3: a sum in a fixed order, as torch's small reductions here."""
    s = terms[0]
    for t in terms[1:]:
        s = s + t
    return s


def epoch_math(p, x, neg_lr: float, where, wide, narrow):
    """One epoch of every network, element-wise in PyTorch's order (the kernel's arithmetic).

    ``p``: nine (N,) float32 arrays (hidden weight w00 w01 w10 w11, bias b0 b1, output weight
    v0 v1, bias c); ``x``: the (4, 2) inputs as an array (data, so that no compiler folds
    0 * w); ``where``, ``wide`` (to float64), ``narrow`` (to float32): the library's. Returns
    the nine arrays of the next state, the old one where BCELoss refuses the outputs."""
    w00, w01, w10, w11, b0, b1, v0, v1, c = p
    w, b, v = ((w00, w01), (w10, w11)), (b0, b1), (v0, v1)
    target = (0.0, 1.0, 1.0, 0.0)
    h, y, g = [], [], []
    for r in range(4):
        z = [(x[r, 0] * w[j][0] + x[r, 1] * w[j][1]) + b[j] for j in range(2)]
        h.append([where(zj <= 0.0, 0.0, zj) for zj in z])
        q = (h[r][0] * v0 + h[r][1] * v1) + c
        y.append(where(q <= 0.0, 0.0, q))
    ok = (y[0] >= 0.0) & (y[0] <= 1.0)
    for r in range(1, 4):
        ok = ok & (y[r] >= 0.0) & (y[r] <= 1.0)
    for r in range(4):
        d = (1.0 - y[r]) * y[r]
        den = where(d < EPS, EPS, d)
        gr = ((y[r] - target[r]) / den) / 4.0
        g.append(where(y[r] > 0.0, gr, 0.0))
    gv = [_fold([g[r] * h[r][j] for r in range(4)]) for j in range(2)]
    gc = _fold(g)
    u = [[where(h[r][j] > 0.0, g[r] * v[j], 0.0) for j in range(2)] for r in range(4)]
    gw = [[_fold([u[r][j] * x[r, k] for r in range(4)]) for k in range(2)] for j in range(2)]
    gb = [_fold([u[r][j] for r in range(4)]) for j in range(2)]
    grads = (gw[0][0], gw[0][1], gw[1][0], gw[1][1], gb[0], gb[1], gv[0], gv[1], gc)
    # SGD: p + (-lr) * g rounded once to float32 (the product is exact in float64)
    return tuple(where(ok, narrow(wide(pi) + neg_lr * wide(gi)), pi) for pi, gi in zip(p, grads))


# ---------------------------------------------------------------- torch.compile


_compiled = None


def compile_peer(start, config, epochs: int) -> tuple[float, list]:
    """A batched one-epoch function through torch.compile (inductor), called ``epochs`` times."""
    global _compiled
    neg_lr = _neg_lr(config)
    P = _rows(start)
    params = tuple(torch.from_numpy(P[:, i].copy()) for i in range(9))
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

    def epoch(p, x):
        return epoch_math(p, x, neg_lr, torch.where, lambda t: t.double(), lambda t: t.float())

    with torch.no_grad():
        if _compiled is None or _compiled[0] != neg_lr:
            _compiled = (neg_lr, torch.compile(epoch, dynamic=False))
        fn = _compiled[1]
        if "compile" not in WARMUP:
            t0 = time.perf_counter()
            fn(params, x)  # compiles for this N (one epoch, thrown away)
            WARMUP["compile"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(epochs):
            params = fn(params, x)
        seconds = time.perf_counter() - t0
    return seconds, _layers(torch.stack(params, 1).numpy())


# ---------------------------------------------------------------- JAX


def _jax():
    """jax, imported with 2 host devices and no FMA contraction (see the module's notes)."""
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            flags += " --xla_force_host_platform_device_count=2"
        if "xla_cpu_max_isa" not in flags:
            flags += " --xla_cpu_max_isa=AVX"
        os.environ["XLA_FLAGS"] = flags.strip()
    import jax

    jax.config.update("jax_enable_x64", True)  # for the float64 update; every array here is typed
    return jax


def _mesh(jax):
    from jax.sharding import Mesh

    devices = jax.devices()[:2]
    return Mesh(np.array(devices), ("n",)), len(devices)


def _padded(P: np.ndarray, parts: int) -> np.ndarray:
    extra = -len(P) % parts
    return np.concatenate([P, np.repeat(P[:1], extra, axis=0)]) if extra else P


_jax_cache: dict = {}


def _run_jax(name: str, make, P: np.ndarray, epochs: int, config):
    """Compile (once per shape) and run ``make(jax, neg_lr)``'s loop: (seconds, (N, 9) rows)."""
    jax = _jax()
    n = len(P)
    mesh, parts = _mesh(jax)
    P = _padded(P, parts)
    key = (name, P.shape, _neg_lr(config))
    args = make.place(jax, mesh, P)
    if key not in _jax_cache:
        t0 = time.perf_counter()
        _jax_cache[key] = make(jax, mesh, _neg_lr(config)).lower(args, np.int32(epochs)).compile()
        WARMUP[name] = WARMUP.get(name, 0.0) + time.perf_counter() - t0
    fn = _jax_cache[key]
    jax.block_until_ready(args)
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(args, np.int32(epochs)))
    seconds = time.perf_counter() - t0
    return seconds, make.rows(out)[:n]


class _Hand:
    """jax-hand: the nine parameters as nine (N,) arrays, sharded over the devices."""

    @staticmethod
    def place(jax, mesh, P):
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as S

        sh = NamedSharding(mesh, S("n"))
        return tuple(jax.device_put(np.ascontiguousarray(P[:, i]), sh) for i in range(9))

    @staticmethod
    def rows(out):
        return np.stack([np.asarray(a) for a in out], 1)

    def __call__(self, jax, mesh, neg_lr):
        import jax.numpy as jnp
        from jax.sharding import PartitionSpec as S

        x = jnp.asarray([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=jnp.float32)

        def local(p, epochs, x):
            def body(_, p):
                return epoch_math(
                    p, x, neg_lr, jnp.where, lambda a: a.astype(jnp.float64), lambda a: a.astype(jnp.float32)
                )

            return jax.lax.fori_loop(0, epochs, body, p)

        spec = (S("n"),) * 9
        run = jax.shard_map(local, mesh=mesh, in_specs=(spec, S(), S()), out_specs=spec)
        # x is an argument of the sharded function (data to XLA, so 0 * w is not folded)
        return jax.jit(lambda p, epochs: run(p, epochs, x))


class _Grad(_Hand):
    """jax-grad: the layers as (N,2,2) (N,2) (N,1,2) (N,1), jax.grad of one network's loss, vmapped."""

    @staticmethod
    def place(jax, mesh, P):
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as S

        n = len(P)
        sh = NamedSharding(mesh, S("n"))
        parts = (P[:, 0:4].reshape(n, 2, 2), P[:, 4:6], P[:, 6:8].reshape(n, 1, 2), P[:, 8:9])
        return tuple(jax.device_put(np.ascontiguousarray(a), sh) for a in parts)

    @staticmethod
    def rows(out):
        n = out[0].shape[0]
        return np.concatenate([np.asarray(a).reshape(n, -1) for a in out], 1)

    def __call__(self, jax, mesh, neg_lr):
        import jax.numpy as jnp
        from jax.sharding import PartitionSpec as S

        x = jnp.asarray([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=jnp.float32)
        t = jnp.asarray([[0.0], [1.0], [1.0], [0.0]], dtype=jnp.float32)
        eps = np.float32(EPS)

        @jax.custom_vjp
        def bce(y, t):  # BCELoss, mean over the rows; log clamped at -100
            return jnp.mean(-(t * jnp.maximum(jnp.log(y), -100.0) + (1.0 - t) * jnp.maximum(jnp.log(1.0 - y), -100.0)))

        def bce_fwd(y, t):
            return bce(y, t), (y, t)

        def bce_bwd(res, g):  # torch's binary_cross_entropy_backward, then the mean's / numel
            y, t = res
            return ((g * (y - t)) / jnp.maximum((1.0 - y) * y, eps)) / np.float32(y.size), jnp.zeros_like(t)

        bce.defvjp(bce_fwd, bce_bwd)

        def loss(params, x, t):
            w, b, v, c = params
            y = jax.nn.relu(jax.nn.relu(x @ w.T + b) @ v.T + c)
            return bce(y, t), y

        grad = jax.vmap(jax.grad(loss, has_aux=True), in_axes=(0, None, None))

        def local(p, epochs, x, t):
            def body(_, p):
                gs, y = grad(p, x, t)
                ok = jnp.all((y >= 0.0) & (y <= 1.0), axis=(1, 2))  # BCELoss accepts them
                new = []
                for pi, gi in zip(p, gs):
                    step = (pi.astype(jnp.float64) + neg_lr * gi.astype(jnp.float64)).astype(jnp.float32)
                    new.append(jnp.where(ok.reshape((-1,) + (1,) * (pi.ndim - 1)), step, pi))
                return tuple(new)

            return jax.lax.fori_loop(0, epochs, body, p)

        spec = (S("n"),) * 4
        run = jax.shard_map(local, mesh=mesh, in_specs=(spec, S(), S(), S()), out_specs=spec)
        return jax.jit(lambda p, epochs: run(p, epochs, x, t))


_HAND, _GRAD = _Hand(), _Grad()


def jax_hand_peer(start, config, epochs: int) -> tuple[float, list]:
    """JAX, the backward by hand in PyTorch's order, shard_map over 2 host devices."""
    seconds, rows = _run_jax("jax-hand", _HAND, _rows(start), epochs, config)
    return seconds, _layers(rows)


def jax_grad_peer(start, config, epochs: int) -> tuple[float, list]:
    """JAX, jax.grad of one network's loss vmapped, shard_map over 2 host devices."""
    seconds, rows = _run_jax("jax-grad", _GRAD, _rows(start), epochs, config)
    return seconds, _layers(rows)


PEERS = {"numba": numba_peer, "compile": compile_peer, "jax-grad": jax_grad_peer, "jax-hand": jax_hand_peer}
