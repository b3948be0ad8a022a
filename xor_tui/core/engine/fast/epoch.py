"""The survey's numba code: the fused kernel and a single run's trajectory (see kernel.py).

Imported only by a kernel build (``build.py``, a child process): to lower the generic module
(every setting's kernel, the kinds as arguments) once per machine, from which each setting's
machine code is made with llvmlite; or, where that cannot be done with this numba, to compile
each setting with numba's own ``cache=True`` (``make``). The bodies (``survey_body``,
``path_body``) are written once and inlined into both.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, cast

import numpy as np

from xor_tui.core.engine.fast.constants import (
    ARGS,
    BCE,
    BIT_GRAD,
    BIT_HALTS,
    BIT_HIDDEN,
    BIT_OUTPUT,
    BIT_RIGHT,
    CHUNK,
    DEC_END,
    DEC_HALTED,
    DEC_SIZE,
    DECODE,
    HALTS,
    JUDGE_END,
    JUDGE_LAYERS,
    JUDGE_START,
    JUDGE_STATES,
    LANES,
    LEAKY,
    LOGITS,
    MSE,
    RAN_OUT,
    RELU,
    REPEATS,
    ROWS,
    SHIFT,
    SIGMOID,
    SPAN,
)

os.environ.setdefault("NUMBA_DISABLE_INTEL_SVML", "1")  # SVML's exp is not the C library's
import numba  # noqa: E402
from llvmlite import ir as llvm_ir  # noqa: E402
from numba import carray, cfunc, njit, types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

if TYPE_CHECKING:
    import ctypes
    from collections.abc import Callable
    from typing import Literal, TypeAlias, TypedDict

    from numba.core.ccallback import CFunc
    from numba.core.typing import Signature
    from numba.core.typing.context import BaseContext
    from numpy.typing import NDArray

    # Annotations here are for mypy alone: numba infers its own types (from the kernels' C
    # signatures, ``_signature``) and never reads them; with the module's postponed
    # annotations they are not even evaluated, and a function's bytecode is the same with or
    # without them. What numba's scalars and arrays are in Python's own terms:
    F32: TypeAlias = np.float32
    Bool: TypeAlias = np.bool  # the comparisons of float32s and & | ~ of them
    # a kernel's pointer arguments (numba.carray takes ctypes' pointers)
    F32Ptr: TypeAlias = ctypes._Pointer[ctypes.c_float]
    I32Ptr: TypeAlias = ctypes._Pointer[ctypes.c_int32]
    I64Ptr: TypeAlias = ctypes._Pointer[ctypes.c_int64]
    U8Ptr: TypeAlias = ctypes._Pointer[ctypes.c_uint8]
    Grid: TypeAlias = NDArray[np.float32]  # a 2-D view of the caller's float32 memory (carray)
    Ints: TypeAlias = NDArray[np.int32]
    Bytes: TypeAlias = NDArray[np.uint8]
    Longs: TypeAlias = NDArray[np.int64]
    # forward_backward's results: nine gradients, whether the state halts, the hidden and
    # output pre-activations (8 + 4) and the outputs (4)
    Pass: TypeAlias = tuple[
        F32, F32, F32, F32, F32, F32, F32, F32, F32, Bool,
        F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32,
    ]  # fmt: skip
    # one_epoch's: the nine updated parameters, halts, and whether the update changed nothing
    Step: TypeAlias = tuple[F32, F32, F32, F32, F32, F32, F32, F32, F32, Bool, Bool]

    class Options(TypedDict):
        """The options every kernel here is compiled with (numba.cfunc's keywords)."""

        fastmath: bool
        error_model: Literal["python", "numpy"]

f32 = np.float32
ZERO, ONE, TWO, FOUR, HALF = f32(0.0), f32(1.0), f32(2.0), f32(4.0), f32(0.5)
EPS = f32(1e-12)  # BCELoss's backward: max((1 - y) * y, EPSILON)

_h = njit(fastmath=False, error_model="numpy")  # small helpers: LLVM inlines them
_inl = njit(inline="always", fastmath=False, error_model="numpy")  # inlined by numba


@intrinsic
def _fma32(
    typingctx: BaseContext, a: types.Type, b: types.Type, c: types.Type
) -> tuple[Signature, Callable[[BaseContext, llvm_ir.IRBuilder, Signature, list[llvm_ir.Value]], llvm_ir.Value]]:
    """a * b + c rounded once, as torch's vectorised ``add(alpha=)`` does."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(
        context: BaseContext, builder: llvm_ir.IRBuilder, signature: Signature, args: list[llvm_ir.Value]
    ) -> llvm_ir.Value:
        f = llvm_ir.FloatType()
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]  # numba's cgutils has no annotations
            builder.module, llvm_ir.FunctionType(f, [f, f, f]), "llvm.fma.f32"
        )
        return builder.call(fn, args)

    return sig, codegen


# In jitted code an intrinsic is called without its typing context: fma32(a, b, c) is a float32.
# numba's stubs type the Python-level call instead (the typing context first; it raises), so
# the type checker is told what jitted code sees
fma32 = cast("Callable[[F32, F32, F32], F32]", _fma32)


# Every function below that takes a KIND, LOSS, OUT or HID gets it from the kernel's first
# arguments, which fastsurvey makes constants before LLVM optimises: every branch on them
# folds away.


@_h
def _fwd(KIND: int, z: F32, slope: F32) -> F32:
    # relu: z <= 0 -> 0 (NaN stays NaN, -inf gives 0 as torch's clamp does);
    # leaky_relu: z > 0 ? z : z * slope; identity is leaky with slope 1 (z * 1 == z)
    if KIND == RELU:
        return ZERO if z <= ZERO else z
    return z * slope if z <= ZERO else z


@_h
def _bwd(KIND: int, g: F32, z: F32, y: F32, slope: F32) -> F32:
    # relu: threshold_backward(g, y, 0) is g where the output y = relu(z) is positive, else 0;
    # leaky_relu_backward(g, z, slope) is g where z > 0, else g * slope. Both are written with
    # the forward's test (z <= 0), so that one comparison serves forward and backward. They
    # differ from torch's only for z NaN, and then the output is NaN, so the loss is NaN or
    # BCELoss refuses it: the epoch halts and its gradient is never used.
    if KIND == RELU:
        return ZERO if z <= ZERO else g
    return g * slope if z <= ZERO else g


@_h
def _sigmoid(z: F32) -> F32:
    # torch's scalar sigmoid kernel: 1 / (1 + exp(-z)) with the C library's expf
    return ONE / (ONE + np.exp(-z))  # type: ignore[no-any-return]  # numpy types a ufunc of a scalar as Any


@_h
def _finite(x: F32) -> Bool:
    return (x - x) == ZERO  # type: ignore[no-any-return]  # numpy types a scalar's == as Any


# the output layer's activation (forward, backward) and the loss (gradient, halt test):
# each kernel is compiled with one of each, passed as compile-time function arguments


@_h
def back_sigmoid(g: F32, y: F32) -> F32:
    return g * (ONE - y) * y  # sigmoid_backward(g, y)


@_h
def grad_bce(z: F32, y: F32, t: F32) -> F32:
    # binary_cross_entropy_backward(1, y, t) = 1 * (y - t) / max((1 - y) * y, EPS), then / 4
    d = (ONE - y) * y
    den = EPS if d < EPS else d
    return ((y - t) / den) / FOUR


@_h
def grad_mse(z: F32, y: F32, t: F32) -> F32:
    return ((TWO * (y - t)) * ONE) / FOUR  # mse_loss_backward(1, y, t): 2 * (y - t) * 1, then / 4


@_h
def grad_logits(z: F32, y: F32, t: F32) -> F32:
    return (_sigmoid(z) - t) / FOUR


@_h
def _bce_ok(OUT: int, y: F32) -> Bool:
    # ReLU and sigmoid outputs are never below 0 (NaN fails y <= 1 too): one test is enough
    if OUT == LEAKY:
        return (y >= ZERO) & (y <= ONE)
    return y <= ONE


@_h
def halt_bce(OUT: int, y0: F32, y1: F32, y2: F32, y3: F32) -> Bool:
    return ~(_bce_ok(OUT, y0) & _bce_ok(OUT, y1) & _bce_ok(OUT, y2) & _bce_ok(OUT, y3))  # BCELoss refuses


@_h
def halt_mse(q0: F32, q1: F32, q2: F32, q3: F32, y0: F32, y1: F32, y2: F32, y3: F32) -> Bool:
    d0, d1, d2, d3 = y0, y1 - ONE, y2 - ONE, y3
    return ~_finite((((d0 * d0 + d1 * d1) + d2 * d2) + d3 * d3) / FOUR)


@_h
def _logits_row(z: F32, t: F32) -> F32:
    # (1 - t) * z - log_sigmoid(z): only whether the loss is finite is used
    m = z if z < ZERO else ZERO
    return (ONE - t) * z - (m - np.log1p(np.exp(-abs(z))))  # type: ignore[no-any-return]  # as in _sigmoid


@_h
def halt_logits(q0: F32, q1: F32, q2: F32, q3: F32, y0: F32, y1: F32, y2: F32, y3: F32) -> Bool:
    loss = ((_logits_row(q0, ZERO) + _logits_row(q1, ONE)) + _logits_row(q2, ONE)) + _logits_row(q3, ZERO)
    return ~_finite(loss / FOUR)


@_inl
def forward_backward(
    LOSS: int, OUT: int, HID: int, w00: F32, w01: F32, w10: F32, w11: F32, b0: F32, b1: F32, v0: F32, v1: F32,
    c: F32, hs: F32, os_: F32,
) -> Pass:  # fmt: skip
    """Forward, loss and backward of one network on the four rows: its nine gradients,
    whether this state halts (no step is possible from it), the hidden and output
    pre-activations and the outputs. The epoch (``one_epoch``) and the judging of a state
    (``judge_bits``) both call it: one arithmetic."""
    OKIND = RELU if OUT == RELU else LEAKY
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
    h00 = _fwd(HID, z00, hs)
    h01 = _fwd(HID, z01, hs)
    h10 = _fwd(HID, z10, hs)
    h11 = _fwd(HID, z11, hs)
    h20 = _fwd(HID, z20, hs)
    h21 = _fwd(HID, z21, hs)
    h30 = _fwd(HID, z30, hs)
    h31 = _fwd(HID, z31, hs)
    q0 = (h00 * v0 + h01 * v1) + c
    q1 = (h10 * v0 + h11 * v1) + c
    q2 = (h20 * v0 + h21 * v1) + c
    q3 = (h30 * v0 + h31 * v1) + c
    if OUT == SIGMOID:
        y0, y1, y2, y3 = _sigmoid(q0), _sigmoid(q1), _sigmoid(q2), _sigmoid(q3)
    else:
        y0, y1, y2 = _fwd(OKIND, q0, os_), _fwd(OKIND, q1, os_), _fwd(OKIND, q2, os_)
        y3 = _fwd(OKIND, q3, os_)
    if LOSS == BCE:
        bad = halt_bce(OUT, y0, y1, y2, y3)
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
        g0, g1 = _bwd(OKIND, g0, q0, y0, os_), _bwd(OKIND, g1, q1, y1, os_)
        g2, g3 = _bwd(OKIND, g2, q2, y2, os_), _bwd(OKIND, g3, q3, y3, os_)
    # backward
    gv0 = ((g0 * h00 + g1 * h10) + g2 * h20) + g3 * h30
    gv1 = ((g0 * h01 + g1 * h11) + g2 * h21) + g3 * h31
    gc = ((g0 + g1) + g2) + g3
    u00 = _bwd(HID, g0 * v0, z00, h00, hs)
    u01 = _bwd(HID, g0 * v1, z01, h01, hs)
    u10 = _bwd(HID, g1 * v0, z10, h10, hs)
    u11 = _bwd(HID, g1 * v1, z11, h11, hs)
    u20 = _bwd(HID, g2 * v0, z20, h20, hs)
    u21 = _bwd(HID, g2 * v1, z21, h21, hs)
    u30 = _bwd(HID, g3 * v0, z30, h30, hs)
    u31 = _bwd(HID, g3 * v1, z31, h31, hs)
    gw00 = ((u00 * x0 + u10 * x0) + u20 * x1) + u30 * x1
    gw01 = ((u00 * x0 + u10 * x1) + u20 * x0) + u30 * x1
    gw10 = ((u01 * x0 + u11 * x0) + u21 * x1) + u31 * x1
    gw11 = ((u01 * x0 + u11 * x1) + u21 * x0) + u31 * x1
    gb0 = ((u00 + u10) + u20) + u30
    gb1 = ((u01 + u11) + u21) + u31
    return (
        gw00, gw01, gw10, gw11, gb0, gb1, gv0, gv1, gc, bad,
        z00, z01, z10, z11, z20, z21, z30, z31, q0, q1, q2, q3, y0, y1, y2, y3,
    )  # fmt: skip


@_inl
def one_epoch(
    LOSS: int, OUT: int, HID: int, w00: F32, w01: F32, w10: F32, w11: F32, b0: F32, b1: F32, v0: F32, v1: F32,
    c: F32, hs: F32, os_: F32, neg_lr: F32,
) -> Step:  # fmt: skip
    """One epoch of one network (forward, loss, backward, SGD). Returns the nine updated
    parameters, whether this state halts (no step is possible from it) and whether the
    update changed nothing (a fixed point). The survey's kernel and a single run's
    trajectory both call it: one arithmetic."""
    (
        gw00, gw01, gw10, gw11, gb0, gb1, gv0, gv1, gc, bad,
        _z00, _z01, _z10, _z11, _z20, _z21, _z30, _z31, _q0, _q1, _q2, _q3, _y0, _y1, _y2, _y3,
    ) = forward_backward(LOSS, OUT, HID, w00, w01, w10, w11, b0, b1, v0, v1, c, hs, os_)  # fmt: skip
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


@_h
def _bit(on: bool | Bool, k: int) -> np.int32:
    return np.int32(1 << k) if on else np.int32(0)


@_inl
def judge_bits(
    LOSS: int, OUT: int, HID: int, w00: F32, w01: F32, w10: F32, w11: F32, b0: F32, b1: F32, v0: F32, v1: F32,
    c: F32, hs: F32, os_: F32,
) -> np.int32:  # fmt: skip
    """What the survey judges of one state, as the bits of an int32 (constants.BIT_*): which
    hidden and output pre-activations are positive, which of the nine parameters receive a
    gradient, whether the state halts, and on which rows the prediction is on the right side
    of 0.5 (sigmoid(z) with BCEWithLogitsLoss, else the output)."""
    (
        gw00, gw01, gw10, gw11, gb0, gb1, gv0, gv1, gc, bad,
        z00, z01, z10, z11, z20, z21, z30, z31, q0, q1, q2, q3, y0, y1, y2, y3,
    ) = forward_backward(LOSS, OUT, HID, w00, w01, w10, w11, b0, b1, v0, v1, c, hs, os_)  # fmt: skip
    if LOSS == LOGITS:
        p0, p1, p2, p3 = _sigmoid(q0), _sigmoid(q1), _sigmoid(q2), _sigmoid(q3)
    else:
        p0, p1, p2, p3 = y0, y1, y2, y3
    bits = (
        _bit(z00 > ZERO, BIT_HIDDEN) | _bit(z01 > ZERO, BIT_HIDDEN + 1)
        | _bit(z10 > ZERO, BIT_HIDDEN + 2) | _bit(z11 > ZERO, BIT_HIDDEN + 3)
        | _bit(z20 > ZERO, BIT_HIDDEN + 4) | _bit(z21 > ZERO, BIT_HIDDEN + 5)
        | _bit(z30 > ZERO, BIT_HIDDEN + 6) | _bit(z31 > ZERO, BIT_HIDDEN + 7)
        | _bit(q0 > ZERO, BIT_OUTPUT) | _bit(q1 > ZERO, BIT_OUTPUT + 1)
        | _bit(q2 > ZERO, BIT_OUTPUT + 2) | _bit(q3 > ZERO, BIT_OUTPUT + 3)
        | _bit(gw00 != ZERO, BIT_GRAD) | _bit(gw01 != ZERO, BIT_GRAD + 1)
        | _bit(gw10 != ZERO, BIT_GRAD + 2) | _bit(gw11 != ZERO, BIT_GRAD + 3)
        | _bit(gb0 != ZERO, BIT_GRAD + 4) | _bit(gb1 != ZERO, BIT_GRAD + 5)
        | _bit(gv0 != ZERO, BIT_GRAD + 6) | _bit(gv1 != ZERO, BIT_GRAD + 7)
        | _bit(gc != ZERO, BIT_GRAD + 8)
        | _bit(bad, BIT_HALTS)
        | _bit(p0 < HALF, BIT_RIGHT) | _bit(p1 > HALF, BIT_RIGHT + 1)
        | _bit(p2 > HALF, BIT_RIGHT + 2) | _bit(p3 < HALF, BIT_RIGHT + 3)
    )  # fmt: skip
    return bits


@_inl
def _group_epoch(
    LOSS: int, OUT: int, HID: int, W: Grid, WI: Ints, A: int, B: int, ep: np.int32, CHECK: bool, hs: F32, os_: F32,
    neg_lr: F32,
) -> bool:  # fmt: skip
    """One epoch of a group of LANES networks. Rows A..A+ROWS-1 of W hold their state: nine
    parameters, then (as int32, through the view WI) running (1/0) and halt epoch (-1:
    none); the new state goes to rows B..B+ROWS-1. A network that halts keeps its state
    (and records the epoch) and stops running; with CHECK (the slice's last epoch) so does
    one whose update changed nothing: a fixed point, which would only repeat itself (its
    later epochs, until the slice ends, change no bit but maybe a zero's sign; the torch
    engine looks for them every few epochs too). Writing other rows keeps every store
    unconditional: "new if running else old" stored back in place becomes a masked store,
    slow on AMD and never forwarded to the next epoch's loads. A, B and CHECK are constants
    where it is inlined (without CHECK the nine comparisons fold away). Returns whether any
    network still runs."""
    running = False
    for j in range(LANES):
        w00, w01, w10, w11 = W[A, j], W[A + 1, j], W[A + 2, j], W[A + 3, j]
        b0, b1, v0, v1, c = W[A + 4, j], W[A + 5, j], W[A + 6, j], W[A + 7, j], W[A + 8, j]
        n00, n01, n10, n11, nb0, nb1, nv0, nv1, nc, bad, same = one_epoch(
            LOSS, OUT, HID, w00, w01, w10, w11, b0, b1, v0, v1, c, hs, os_, neg_lr
        )
        ri = WI[A + 9, j]
        r = ri != 0
        step = r & ~bad
        W[B, j] = n00 if step else w00
        W[B + 1, j] = n01 if step else w01
        W[B + 2, j] = n10 if step else w10
        W[B + 3, j] = n11 if step else w11
        W[B + 4, j] = nb0 if step else b0
        W[B + 5, j] = nb1 if step else b1
        W[B + 6, j] = nv0 if step else v0
        W[B + 7, j] = nv1 if step else v1
        W[B + 8, j] = nc if step else c
        go = r & ~(bad | (same & CHECK))
        WI[B + 9, j] = np.int32(1) if go else np.int32(0)
        # the old halt epoch loaded whatever happens (loaded only when kept, it became a masked
        # load of the row the last epoch stored; measured, that cost no time, but plain loads
        # are what the rest of the epoch does)
        was = WI[A + 10, j]
        WI[B + 10, j] = ep if (r & bad) else was
        running |= go
    return running


_TYPES = {"i64": types.int64, "i32": types.int32, "u8": types.uint8, "f32": types.float32}


def _signature(what: str, kinds: bool) -> Signature:
    """The kernel as a C function: ``constants.ARGS[what]``, after LOSS OUT HID (int64) in
    the generic module (``kinds``)."""
    # (the ignore: numba's types.CPointer is an untyped class, which its stubs do not cover)
    args = [types.CPointer(_TYPES[a[:-1]]) if a.endswith("*") else _TYPES[a] for a in ARGS[what].split()]  # type: ignore[no-untyped-call]
    return types.int64(*(types.int64,) * (3 if kinds else 0), *args)


@_h
def _judge_range(
    LOSS: int, OUT: int, HID: int, layers: int, P: Grid, w4: Grid, b2: Grid, v2: Grid, c1: Grid, out: Ints, W: Grid,
    WI: Ints, lo: int, hi: int, hs: F32, os_: F32, decode: int, T: Ints, codes: Bytes, end_codes: Bytes,
    halt: Longs,
) -> None:  # fmt: skip
    """``judge_bits`` of networks lo..hi-1 into ``out``: their start (``layers``: the rows of
    w4 b2 v2 c1) or their states (the rows of P), a group of LANES at a time (a short last
    group padded with copies of its first network), in rows 0..9 of W; with ``decode`` bit 1,
    each one's code as a start by the table T into ``codes``, with bit 2 as an end into
    ``end_codes`` (``halt`` telling the networks that halted in training; constants.DECODE).
    Not inlined: the kernel calls it from three places."""
    for blo in range(lo, hi, LANES):
        m = min(LANES, hi - blo)
        for j in range(LANES):
            k = blo + j if j < m else blo
            if layers:
                W[0, j], W[1, j], W[2, j], W[3, j] = w4[k, 0], w4[k, 1], w4[k, 2], w4[k, 3]
                W[4, j], W[5, j], W[6, j], W[7, j], W[8, j] = b2[k, 0], b2[k, 1], v2[k, 0], v2[k, 1], c1[k, 0]
            else:
                for q in range(9):
                    W[q, j] = P[k, q]
        for j in range(LANES):
            WI[9, j] = judge_bits(
                LOSS, OUT, HID, W[0, j], W[1, j], W[2, j], W[3, j], W[4, j], W[5, j], W[6, j], W[7, j], W[8, j],
                hs, os_,
            )  # fmt: skip
        for j in range(m):
            out[blo + j] = WI[9, j]
        if decode & 1:
            for j in range(m):
                b = WI[9, j]
                e = T[b & 0xFFF]
                codes[blo + j] = np.uint8(T[(e & 0xFFFFFF) + ((b >> BIT_GRAD) & 0x3FF)] | ((e >> 24) << 4))
        if decode & 2:
            for j in range(m):
                at = DEC_HALTED if halt[blo + j] >= 0 else DEC_END + (WI[9, j] >> BIT_GRAD)
                end_codes[blo + j] = np.uint8(T[at])


@_h
def survey_body(
    LOSS: int, OUT: int, HID: int, P_: F32Ptr, w4_: F32Ptr, b2_: F32Ptr, v2_: F32Ptr, c1_: F32Ptr, halt_: I64Ptr,
    live_: U8Ptr, n: int, clo: int, chi: int, e0: int, e1: int, hs: F32, os_: F32, neg_lr: F32, S_: F32Ptr,
    R_: I32Ptr, H_: I32Ptr, NET_: I64Ptr, W_: F32Ptr, MODE: int, bits_: I32Ptr, ends_: I32Ptr, T_: I32Ptr,
    codes_: U8Ptr, end_codes_: U8Ptr,
) -> int:  # fmt: skip
    """Train the live networks among clo..chi-1 for epochs e0..e1-1; return net-epochs computed.
    Row k of P holds network k's nine parameters; a call from epoch 0 reads them from the
    start's layers (w4 b2 v2 c1, a row per network) instead, and writes P. S R H NET W are
    the caller's scratch: every group's parameters, run flags (1/0), halt epochs and
    networks, and the group being trained (twice, see _group_epoch; WI: W as int32).

    With MODE JUDGE_LAYERS (the start's layers) or JUDGE_STATES (the rows of P) it trains
    nothing: it writes ``judge_bits`` of each network among clo..chi-1 into ``bits`` and
    returns how many it judged. With JUDGE_START (from epoch 0) and JUDGE_END it judges each
    block's starts before training it (into ``bits``) and its states after (into ``ends``):
    the survey's three passes in one call. With DECODE as well, each judged state's code too
    (the table T_ into ``codes`` for the starts, ``end_codes`` for the ends; judging alone,
    both: constants.DECODE).

    The live networks of each block of CHUNK are packed into groups of LANES; a group's
    nine parameters, its run mask and halt epochs sit in one small local array, and the
    lane loop (a fixed LANES iterations over that one array, so no runtime alias checks
    and no remainder) runs inside the epoch loop for a slice of epochs. Between slices
    the networks that stopped are written out and the rest packed into fewer groups.
    (One function: as arrays of constant shapes here, the lane loops are vectorised.)"""
    L = LANES
    G0 = (CHUNK + L - 1) // L
    P, w4, b2, v2, c1 = (
        carray(P_, (n, 9)),
        carray(w4_, (n, 4)),
        carray(b2_, (n, 2)),
        carray(v2_, (n, 2)),
        carray(c1_, (n, 1)),
    )
    halt, live, bits, ends = carray(halt_, (n,)), carray(live_, (n,)), carray(bits_, (n,)), carray(ends_, (n,))
    decode = MODE & DECODE
    T = carray(T_, (DEC_SIZE if decode else 1,))
    codes, end_codes = carray(codes_, (n if decode else 1,)), carray(end_codes_, (n if decode else 1,))
    S, R, H, NET = carray(S_, (G0, 9, L)), carray(R_, (G0, L)), carray(H_, (G0, L)), carray(NET_, (G0, L))
    W = carray(W_, (2 * ROWS, L))
    WI = W.view(np.int32)
    if MODE & (JUDGE_LAYERS | JUDGE_STATES):
        _judge_range(
            LOSS, OUT, HID, MODE & JUDGE_LAYERS, P, w4, b2, v2, c1, bits, W, WI, clo, chi, hs, os_,
            3 if decode else 0, T, codes, end_codes, halt,
        )  # fmt: skip
        return chi - clo
    total = 0
    for blo in range(clo, chi, CHUNK):
        hi = min(blo + CHUNK, chi)
        if MODE & JUDGE_START and e0 == 0:
            _judge_range(
                LOSS, OUT, HID, 1, P, w4, b2, v2, c1, bits, W, WI, blo, hi, hs, os_, 1 if decode else 0, T, codes,
                end_codes, halt,
            )  # fmt: skip
        m = 0
        if e0 == 0:  # the start: every network is live
            for k in range(blo, hi):
                g, j = m >> SHIFT, m & (L - 1)
                NET[g, j] = k
                S[g, 0, j], S[g, 1, j], S[g, 2, j], S[g, 3, j] = w4[k, 0], w4[k, 1], w4[k, 2], w4[k, 3]
                S[g, 4, j], S[g, 5, j], S[g, 6, j], S[g, 7, j] = b2[k, 0], b2[k, 1], v2[k, 0], v2[k, 1]
                S[g, 8, j] = c1[k, 0]
                R[g, j] = 1
                H[g, j] = -1
                m += 1
        else:
            for k in range(blo, hi):  # gather the live ones (no branch: a dead one is overwritten)
                g, j = m >> SHIFT, m & (L - 1)
                NET[g, j] = k
                for q in range(9):
                    S[g, q, j] = P[k, q]
                R[g, j] = 1
                H[g, j] = -1
                m += 1 if live[k] else 0
        if m > 0:
            epoch = e0
            span = 1 if e0 == 0 else SPAN  # about half the starts stop after the first epoch
            while epoch < e1 and m > 0:
                G = (m + L - 1) // L
                for j in range(m, G * L):  # padding: a copy of lane 0, never running
                    g, jj = j >> SHIFT, j & (L - 1)
                    NET[g, jj] = -1
                    R[g, jj] = 0
                    for q in range(9):
                        S[g, q, jj] = S[0, q, 0]
                end = min(e1, epoch + span)
                for g in range(G):
                    for q in range(9):
                        for j in range(L):
                            W[q, j] = S[g, q, j]
                    for j in range(L):
                        WI[9, j] = R[g, j]
                        WI[10, j] = H[g, j]
                    cur = 0  # the rows holding the group's state: 0.. or ROWS..
                    last = end - 1  # the fixed points are looked for in the slice's last epoch only
                    for ep in range(epoch, last):
                        if cur == 0:
                            running = _group_epoch(LOSS, OUT, HID, W, WI, 0, ROWS, np.int32(ep), False, hs, os_, neg_lr)
                            cur = ROWS
                        else:
                            running = _group_epoch(LOSS, OUT, HID, W, WI, ROWS, 0, np.int32(ep), False, hs, os_, neg_lr)
                            cur = 0
                        if not running:
                            break
                    else:
                        if cur == 0:
                            _group_epoch(LOSS, OUT, HID, W, WI, 0, ROWS, np.int32(last), True, hs, os_, neg_lr)
                            cur = ROWS
                        else:
                            _group_epoch(LOSS, OUT, HID, W, WI, ROWS, 0, np.int32(last), True, hs, os_, neg_lr)
                            cur = 0
                    for q in range(9):
                        for j in range(L):
                            S[g, q, j] = W[cur + q, j]
                    for j in range(L):
                        R[g, j] = WI[cur + 9, j]
                        H[g, j] = WI[cur + 10, j]
                was, epoch = epoch, end
                span = SPAN if span == 1 else span * 2
                # write out every network (the running ones will be again) and pack the running
                # ones: no branch, as about half of them stop in the first slice, at random
                keep = 0
                more = epoch < e1
                for j in range(m):
                    g, jj = j >> SHIFT, j & (L - 1)
                    k = NET[g, jj]
                    # epochs computed: up to its halt, else all of the slice's (only a halt stops
                    # a network before the slice's last epoch, and the group runs while one runs)
                    h = H[g, jj]
                    total += h - was + 1 if h >= was else epoch - was
                    for q in range(9):
                        P[k, q] = S[g, q, jj]
                    halt[k] = H[g, jj]
                    run = R[g, jj] != 0
                    live[k] = run
                    g2, j2 = keep >> SHIFT, keep & (L - 1)
                    NET[g2, j2] = k
                    H[g2, j2] = H[g, jj]
                    for q in range(9):
                        S[g2, q, j2] = S[g, q, jj]
                    keep += 1 if (run and more) else 0
                for j in range(keep):
                    R[j >> SHIFT, j & (L - 1)] = 1
                m = keep
        if MODE & JUDGE_END:
            _judge_range(
                LOSS, OUT, HID, 0, P, w4, b2, v2, c1, ends, W, WI, blo, hi, hs, os_, 2 if decode else 0, T, codes,
                end_codes, halt,
            )  # fmt: skip
    return total


@_h
def _sign(x: F32) -> float:
    return math.copysign(ONE, x)


@_h
def path_body(
    LOSS: int, OUT: int, HID: int, p_: F32Ptr, rows_: F32Ptr, count: int, hs: F32, os_: F32, neg_lr: F32
) -> int:
    """A single run's trajectory: from the nine parameters ``p`` of a state, step up to
    ``count`` times, writing each new state into a row of ``rows``. Returns 4 x (states
    written) + why it stopped: RAN_OUT, HALTS (the last state, ``p`` itself if none was
    written, halts) or REPEATS (the last state written is bit for bit the one before: a
    fixed point)."""
    p, rows = carray(p_, (9,)), carray(rows_, (count, 9))
    w00, w01, w10, w11, b0, b1, v0, v1, c = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]
    for i in range(count):
        n00, n01, n10, n11, nb0, nb1, nv0, nv1, nc, bad, same = one_epoch(
            LOSS, OUT, HID, w00, w01, w10, w11, b0, b1, v0, v1, c, hs, os_, neg_lr
        )
        if bad:
            return 4 * i + HALTS
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
            return 4 * (i + 1) + REPEATS
        w00, w01, w10, w11, b0, b1, v0, v1, c = n00, n01, n10, n11, nb0, nb1, nv0, nv1, nc
    return 4 * count + RAN_OUT


_OPTIONS: Options = {"fastmath": False, "error_model": "numpy"}


def generic(what: str) -> CFunc[Callable[..., int]]:
    """The survey kernel (``what`` "survey") or the trajectory ("path") for every setting as a
    numba C function, the loss and activation kinds as its first three arguments. Callable
    as it is (slowly: numba.config.OPT may be 0); ``generic_module`` takes its LLVM module."""
    if what == "survey":

        @cfunc(_signature("survey", True), **_OPTIONS)
        def kernel(
            LOSS: int, OUT: int, HID: int, P_: F32Ptr, w4_: F32Ptr, b2_: F32Ptr, v2_: F32Ptr, c1_: F32Ptr,
            halt_: I64Ptr, live_: U8Ptr, n: int, clo: int, chi: int, e0: int, e1: int, hs: F32, os_: F32, neg_lr: F32,
            S_: F32Ptr, R_: I32Ptr, H_: I32Ptr, NET_: I64Ptr, W_: F32Ptr, MODE: int, bits_: I32Ptr, ends_: I32Ptr,
            T_: I32Ptr, codes_: U8Ptr, end_codes_: U8Ptr,
        ) -> int:  # fmt: skip
            return survey_body(
                LOSS, OUT, HID, P_, w4_, b2_, v2_, c1_, halt_, live_, n, clo, chi, e0, e1, hs, os_, neg_lr,
                S_, R_, H_, NET_, W_, MODE, bits_, ends_, T_, codes_, end_codes_,
            )  # fmt: skip

        return kernel

    @cfunc(_signature("path", True), **_OPTIONS)
    def path(
        LOSS: int, OUT: int, HID: int, p_: F32Ptr, rows_: F32Ptr, count: int, hs: F32, os_: F32, neg_lr: F32
    ) -> int:
        return path_body(LOSS, OUT, HID, p_, rows_, count, hs, os_, neg_lr)

    return path


def generic_module(what: str) -> tuple[bytes, CFunc[Callable[..., int]]]:
    """``generic(what)`` lowered by numba and not optimised (the kinds become constants first,
    so every branch on them folds), as LLVM bitcode, with the numba function it came from
    (kernel.py's builder checks its own machine code against it). Uses numba's internals
    (a CodeLibrary's final module): a numba that has changed them raises here, and the
    builder falls back to numba's own cache (``make``)."""
    import llvmlite.binding as llvm

    # (numba sets its config's attributes from the environment as it is imported: they have no
    # declarations for a type checker; and a CFunc's _library is not in numba's stubs)
    opt = numba.config.OPT  # type: ignore[attr-defined]
    numba.config.OPT = 0  # type: ignore[attr-defined]  # optimised only once the kinds are constants: branches fold
    try:
        fn = generic(what)
    finally:
        numba.config.OPT = opt  # type: ignore[attr-defined]
    return llvm.parse_assembly(str(fn._library._final_module)).as_bitcode(), fn  # type: ignore[attr-defined]


def make(what: str, kinds: tuple[int, int, int], cache: bool) -> CFunc[Callable[..., int]]:
    """One setting's kernel compiled by numba alone, the kinds as constants (closure
    variables: numba's cache keys its entries by their values), kept by numba's own
    ``cache=True`` in numba.config.CACHE_DIR when ``cache``. The layout constants are
    closure variables too, so that a change of constants.py is a new cache entry."""
    LOSS, OUT, HID = kinds
    LAYOUT = (CHUNK, LANES, SHIFT, SPAN, ROWS, JUDGE_LAYERS, JUDGE_STATES, JUDGE_START, JUDGE_END, DECODE, DEC_END)
    if what == "survey":

        @cfunc(_signature("survey", False), cache=cache, **_OPTIONS)
        def kernel(
            P_: F32Ptr, w4_: F32Ptr, b2_: F32Ptr, v2_: F32Ptr, c1_: F32Ptr, halt_: I64Ptr, live_: U8Ptr, n: int,
            clo: int, chi: int, e0: int, e1: int, hs: F32, os_: F32, neg_lr: F32, S_: F32Ptr, R_: I32Ptr,
            H_: I32Ptr, NET_: I64Ptr, W_: F32Ptr, MODE: int, bits_: I32Ptr, ends_: I32Ptr, T_: I32Ptr,
            codes_: U8Ptr, end_codes_: U8Ptr,
        ) -> int:  # fmt: skip
            if LAYOUT[0] != CHUNK:  # never: LAYOUT is only part of the cache's key
                return -1
            return survey_body(
                LOSS, OUT, HID, P_, w4_, b2_, v2_, c1_, halt_, live_, n, clo, chi, e0, e1, hs, os_, neg_lr,
                S_, R_, H_, NET_, W_, MODE, bits_, ends_, T_, codes_, end_codes_,
            )  # fmt: skip

        return kernel

    @cfunc(_signature("path", False), cache=cache, **_OPTIONS)
    def path(p_: F32Ptr, rows_: F32Ptr, count: int, hs: F32, os_: F32, neg_lr: F32) -> int:
        if LAYOUT[0] != CHUNK:
            return -1
        return path_body(LOSS, OUT, HID, p_, rows_, count, hs, os_, neg_lr)

    return path
