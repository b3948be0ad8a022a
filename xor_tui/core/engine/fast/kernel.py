"""The survey's fast path: a fused numba kernel, bit for bit the same as the torch engine.

One network per SIMD lane: the nine parameters of a 2-2-1 network are loaded once per
epoch from a small structure-of-arrays block (it stays in L1), the whole epoch (forward,
loss, backward, SGD) runs in registers, and the results are written back. The arithmetic
is PyTorch's, operation by operation and in the same order: every product and sum is
rounded on its own (numba's ``fastmath`` is off, so LLVM contracts nothing) except the SGD
update, which torch computes as one fused multiply-add (``w.add(g, alpha=-lr)``) and so
do we, through the ``llvm.fma.f32`` intrinsic. Networks that halt (BCELoss's range error,
a non-finite loss) or reach a fixed point (an update that changes nothing) are masked and,
between slices of epochs, compacted away. The networks are cut into pieces of a few blocks
that the threads take in turn.

numba (``epoch.py``) lowers the kernel for every setting once per machine; each setting's
machine code is made from that with llvmlite and kept in the user's cache folder; every later
survey loads it and calls it through ctypes (which releases the GIL), without importing numba:
~30 ms instead of the ~1.1 s numba's import and own cache took of every ``xor-tui survey``.

Which settings take this path: a 2-2-1 network with ReLU, LeakyReLU(slope) or identity
in the hidden layer; ReLU, LeakyReLU(slope), identity or sigmoid at the output (any, with
BCEWithLogitsLoss, which does not use it); BCELoss, BCEWithLogitsLoss or MSELoss; any
learning rate; no per-layer rates, no weight decay.
Everything else (other activations, two hidden layers, other widths) takes the torch
engine. ``supported(config)`` says which, and why not.

Sigmoid (at the output, or inside BCEWithLogitsLoss) follows torch's scalar kernel,
``1 / (1 + exp(-z))`` with the C library's ``expf``: that is what torch computes on the
four rows of a single run (the student's loop). torch's batched kernel uses a vectorised
exp that differs from it in the last bit on about 4% of inputs, so for these settings the
fast survey equals single runs exactly, which the torch survey did only to ~1e-6.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import itertools
import os
import re
import stat
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from xor_tui.core.engine.fast.constants import (  # noqa: F401  (the kinds are part of this module's face)
    ARGS,
    BCE,
    CHUNK,
    HALTS,
    LANES,
    LEAKY,
    LOGITS,
    LOSS_KIND,
    MSE,
    PIECEWISE_ACTS,
    RAN_OUT,
    RELU,
    REPEATS,
    ROWS,
    SHIFT,
    SIGMOID,
    SPAN,
)

# --------------------------------------------------------------------- cache location


def cache_dir() -> Path:
    """Where compiled kernels are kept: the user's cache folder, never site-packages."""
    if os.environ.get("XOR_TUI_CACHE"):  # "~/x" quoted in a shell arrives unexpanded
        return Path(os.environ["XOR_TUI_CACHE"]).expanduser().absolute() / "numba"
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "xor-tui" / "numba"


def _find_numba() -> str | None:
    """None when numba and llvmlite are installed (found, not imported: importing numba takes
    ~1 s, which only compiling a kernel needs), else why the fast path is unavailable."""
    from importlib.util import find_spec

    missing = [name for name in ("numba", "llvmlite") if find_spec(name) is None]
    return f"numba is not available (no module named {missing[0]!r})" if missing else None


_UNAVAILABLE: str | None = _find_numba()


class Unavailable(RuntimeError):
    """A kernel cannot be had here: numba cannot be imported (a broken install: ``supported``
    says so from then on), or a setting's kernel could not be made (``failed`` says so)."""




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
    if config.output_act_used and out.name not in PIECEWISE_ACTS + ("sigmoid",):  # unused: any will do
        return f"the fast path has no {out.label} output"
    return None


# --------------------------------------------------------------------- driving it

SLICE_WORK = 1 << 24  # network-epochs per kernel call: a stop request waits at most ~0.1 s
PIECES = 16  # pieces per thread in each slice of epochs (see train)


def _kinds(config) -> tuple[int, int, int]:
    """(loss, output kind, hidden kind) of a supported setting: its kernel's constants."""
    hid, out = config.activations
    loss = LOSS_KIND[config.loss]
    okind = SIGMOID if out.name == "sigmoid" else RELU if out.name == "relu" else LEAKY
    if not config.output_act_used:  # never applied: one kernel serves every output activation
        okind = RELU
    return loss, okind, RELU if hid.name == "relu" else LEAKY


def _why(exc: Exception) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}"


def _numba_code():
    """The numba half (imports numba): only to lower the generic modules, once per machine."""
    global _UNAVAILABLE
    try:
        from xor_tui.core.engine.fast import epoch
    except Exception as exc:  # a broken install: the torch engine takes over
        _UNAVAILABLE = f"numba is not available ({_why(exc)})"
        raise Unavailable(_UNAVAILABLE) from exc
    return epoch


def _slope(act) -> np.float32:
    """The slope of a LeakyReLU (torch passes it to its kernel as float32); identity is slope 1;
    unused for ReLU and sigmoid."""
    if act.name == "leaky_relu":
        return np.float32(act.param)
    return np.float32(1.0) if act.name == "identity" else np.float32(0.0)


# --------------------------------------------------------------------- machine code
#
# numba lowers the kernel for every setting once per machine (~12 s with its import; kept as
# LLVM bitcode); each setting's kernel is made from that with llvmlite alone (~1 s) and kept
# as an object file; later runs load that machine code (~30 ms: numba's own cache would import
# numba and prepare its compiler first, ~1.1 s of every `xor-tui survey`) and call it through
# ctypes, which releases the GIL, so the threads run it side by side.

_MAGIC = b"xor-tui kernel 2\n"
_CTYPES = {"i64": ctypes.c_int64, "i32": ctypes.c_int32, "f32": ctypes.c_float}


def _c_args(what: str) -> tuple:
    return tuple(ctypes.c_void_p if a.endswith("*") else _CTYPES[a] for a in ARGS[what].split())


_NATIVE: dict = {}  # (what, kinds) -> (llvmlite engine, ctypes function)
_NATIVE_LOCK = threading.Lock()


@functools.cache
def _digest() -> str:
    """What the machine code depends on: the kernel's source (both halves), the compiler
    (llvmlite, which numba pins) and this machine's CPU and its features."""
    import llvmlite
    import llvmlite.binding as llvm

    here = Path(__file__)
    h = hashlib.sha256(here.read_bytes() + here.with_name("epoch.py").read_bytes())
    h.update(f"{llvmlite.__version__} {llvm.get_process_triple()} {llvm.get_host_cpu_name()}".encode())
    h.update(llvm.get_host_cpu_features().flatten().encode())
    return h.hexdigest()[:20]


def object_path(config, what: str = "survey") -> Path:
    """The cache file of this setting's compiled kernel (its name carries ``_digest``)."""
    loss, out, hid = _kinds(config)
    return cache_dir() / f"{what}-{loss}{out}{hid}-{_digest()}.o"


def generic_path(what: str = "survey") -> Path:
    """The cache file of the kernel for every setting, as numba lowers it (LLVM bitcode)."""
    return cache_dir() / f"{what}-any-{_digest()}.bc"


_MAX_OBJECT = 64 << 20  # bytes; the kernels are ~20 KB, their generic module ~300 KB


def _seal(path: Path, body: bytes) -> bytes:
    """The checksum a cache file carries: of its own name and contents, so a whole file copied
    to another name (another setting's kernel, the generic module) does not pass for it."""
    return hashlib.sha256(path.name.encode() + b"\0" + body).digest()


def _read_object(path: Path) -> bytes | None:
    """The cache file at ``path``, or None when it is missing, not a regular file (a FIFO
    would block, a device never end), too big, writable by others or not ours (its code runs
    in this process), or not whole or not the file of that name: LLVM must never see a damaged
    one, it would abort the process."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_OBJECT:
            return None
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(_MAX_OBJECT + 1)
        head = len(_MAGIC) + 32
        body = data[head:]
        if data[: len(_MAGIC)] != _MAGIC or _seal(path, body) != data[len(_MAGIC) : head]:
            return None
        with contextlib.suppress(OSError):
            os.utime(fd)  # in use: `prune` keeps it
        return body
    except OSError:
        return None
    finally:
        os.close(fd)


def _cache_folder(folder: Path) -> None:
    """Create the cache folder for this user alone (its files are code this process runs)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)


def _write_object(path: Path, body: bytes) -> bool:
    """Atomically (several processes may compile at once), readable and writable by this
    user only. False when it cannot be written (a full disk, a read-only folder, a folder in
    the way): that only means compiling again next time, and nothing is left behind."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        _cache_folder(path.parent)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + _seal(path, body) + body)
        os.replace(tmp, path)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False


@functools.cache
def _llvm():
    """llvmlite's binding, its native target ready (once per process)."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm


def _load_object(body: bytes, what: str):
    llvm = _llvm()
    machine = llvm.Target.from_default_triple().create_target_machine()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)
    engine.add_object_file(llvm.ObjectFileRef.from_data(body))
    engine.finalize_object()
    address = engine.get_function_address(_symbol(what))
    if not address:
        raise RuntimeError(f"the cached kernel has no {_symbol(what)}")
    return engine, ctypes.CFUNCTYPE(ctypes.c_int64, *_c_args(what))(address)


def _symbol(what: str) -> str:
    return f"xor_tui_{what}_kernel"


def _kernel_for(config, what: str = "survey"):
    """This setting's survey kernel (or trajectory: ``what`` "path") as a C function: loaded
    from the cache, or compiled and cached. Raises Unavailable when it cannot be had here
    (remembered: the callers fall back to the torch engine without trying again)."""
    key = (what, _kinds(config))
    with _NATIVE_LOCK:
        if key in _FAILED:
            raise Unavailable(_FAILED[key])
        if key not in _NATIVE:
            try:
                _NATIVE[key] = _load_object(_object(config, what), what)
            except Exception as exc:
                _FAILED[key] = f"the fast kernel could not be made here ({_why(exc)})"
                raise Unavailable(_FAILED[key]) from exc
        return _NATIVE[key][1]


_FAILED: dict = {}  # (what, kinds) -> why it could not be made


def load(config, what: str = "survey") -> None:
    """Load (or compile and cache) this setting's kernel now; raises Unavailable (see _kernel_for)."""
    _kernel_for(config, what)


def failed(config, what: str = "survey") -> bool:
    """True when this setting's kernel could not be made in this process (see _kernel_for)."""
    return (what, _kinds(config)) in _FAILED


def _cached(path: Path, make: Callable[[], bytes], again: bool = False) -> bytes:
    """The cache file at ``path``, made (and kept) when missing or when ``again``. Another
    process may be making it: its lock is waited for, then the file read again."""
    body = None if again else _read_object(path)
    if body is None:
        with _compiling(path):
            body = None if again else _read_object(path)
            if body is None:
                body = make()
                _write_object(path, body)
    return body


def _object(config, what: str) -> bytes:
    kinds = _kinds(config)

    def make() -> bytes:
        try:
            return _specialise(_generic(what), what, kinds)
        except Unavailable:
            raise
        except Exception:  # a cached generic module LLVM cannot use: numba makes it again
            return _specialise(_generic(what, again=True), what, kinds)

    return _cached(object_path(config, what), make)


def _generic(what: str, again: bool = False) -> bytes:
    """The kernel for every setting (LLVM bitcode): from the cache, or from numba (~10 s,
    once per machine; other processes wait for it rather than compile it too)."""

    def make() -> bytes:
        body = _numba_code().generic_module(what)
        prune()  # a new version of the kernel (or of llvmlite, or another CPU): tidy up the old
        return body

    return _cached(generic_path(what), make, again)


UNUSED_DAYS = 30  # kernel files of another version unused this long are removed
_CACHE_NAME = re.compile(r"(?:survey|path)-[0-9a-z]+-([0-9a-f]{20})\.(?:o|bc|lock)")


def prune(folder: Path | None = None) -> list[str]:
    """Remove from the cache folder the kernel files of other versions (other digests) that
    no process has loaded for UNUSED_DAYS (loading one refreshes its time): each version
    leaves ~1 MB behind, and another installation still in use keeps its files. Only our
    own regular files are touched. Returns the names removed."""
    folder = cache_dir() if folder is None else folder
    cutoff = time.time() - UNUSED_DAYS * 86400
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _CACHE_NAME.fullmatch(entry.name)
        if m is None or m.group(1) == _digest():
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            ours = not hasattr(os, "getuid") or info.st_uid == os.getuid()
            if stat.S_ISREG(info.st_mode) and ours and info.st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def _specialise(generic: bytes, what: str, kinds: tuple[int, int, int]) -> bytes:
    """One setting's kernel as an object file, made from the generic one with llvmlite alone:
    a C function ``_symbol(what)`` calls numba's entry with the three kinds as constants and
    turns its status into -1 (never: the kernel cannot raise; numba's own C wrapper would
    report it through the Python C API and numba's helpers, which a process without numba
    lacks). Everything else is made internal, numba's entry inlined, and the module gets
    LLVM's full optimisation (vectorisers included) for this machine."""
    llvm = _llvm()
    # numba marks its reference-count helpers noinline; inlined, their calls on the kernel's
    # arrays (views of the caller's memory, nothing to count) fold away, and with them the
    # reference to numba's runtime
    text = str(llvm.parse_bitcode(generic))
    text = re.sub(r"(?m)^(attributes #\d+ = \{.*)\bnoinline\b", r"\1inlinehint", text)
    module = llvm.parse_assembly(text)
    wrapper = next(f for f in module.functions if f.name.startswith("cfunc.") and not f.is_declaration)
    inner = wrapper.name.removeprefix("cfunc.")  # numba's entry: (status) f(retptr, excinfo, args)
    types_ = [str(a.type) for a in wrapper.arguments]
    params = ", ".join(f"{t} %a{i}" for i, t in enumerate(types_[3:]))
    symbol, (loss, out, hid) = _symbol(what), kinds
    module.link_in(
        llvm.parse_assembly(f"""
declare i32 @"{inner}"(ptr, ptr, {", ".join(types_)})
define i64 @{symbol}({params}) {{
  %ret = alloca i64
  store i64 -1, ptr %ret
  %exc = alloca ptr
  %status = call i32 @"{inner}"(ptr %ret, ptr %exc, i64 {loss}, i64 {out}, i64 {hid}, {params})
  %value = load i64, ptr %ret
  %ok = icmp eq i32 %status, 0
  %out = select i1 %ok, i64 %value, i64 -1
  ret i64 %out
}}
""")
    )
    for f in module.functions:
        if f.name != symbol and not f.is_declaration:
            f.linkage = "internal"
            if f.name == inner:
                f.add_function_attribute("alwaysinline")
    for g in module.global_variables:
        if not g.is_declaration:
            g.linkage = "internal"
    machine = _machine()
    tuning = llvm.create_pipeline_tuning_options(3)
    tuning.loop_vectorization = tuning.slp_vectorization = True
    builder = llvm.create_pass_builder(machine, tuning)
    first = llvm.create_new_module_pass_manager()  # the kinds into numba's entry
    first.add_always_inliner_pass()
    first.add_global_dead_code_eliminate_pass()
    first.run(module, builder)
    # then the module's full optimisation. (numba also optimises each function alone first: for
    # this kernel, whose epoch is inlined four times, that was half of a 13 s compile and made
    # it no faster)
    passes = builder.getModulePassManager()
    passes.add_global_dead_code_eliminate_pass()
    passes.add_strip_dead_prototype_pass()
    passes.run(module, builder)
    # what it calls must be in every process (the C math library's expf, log1pf, ...): LLVM
    # aborts the process on a name it cannot find, such as one of numba's runtime
    process = ctypes.CDLL(None)
    calls = {f.name for f in module.functions if f.is_declaration and not f.name.startswith("llvm.")}
    missing = sorted(name for name in calls if not hasattr(process, name))
    if missing:
        raise RuntimeError(f"the kernel would call {', '.join(missing)}")
    return machine.emit_object(module)


def _machine():
    """A target machine for this CPU, as numba's JIT makes it."""
    llvm = _llvm()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    reloc = "static" if target.name.startswith("x86") else "pic" if target.name.startswith("ppc") else "default"
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3,
        reloc=reloc, codemodel="jitdefault", jit=True,
    )  # fmt: skip


LOCK_WAIT = 120.0  # seconds to wait for another process compiling the same kernel


@contextlib.contextmanager
def _compiling(path: Path):
    """Hold a lock file beside ``path`` while compiling it (POSIX), waiting at most LOCK_WAIT
    for another process that holds it (one stopped with Ctrl-Z would hold it for ever); after
    that, or elsewhere, or when the folder cannot be written, compile without it."""
    try:
        import fcntl

        _cache_folder(path.parent)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path.with_suffix(".lock"), flags, 0o600)
    except (ImportError, OSError):
        yield
        return
    try:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def needs_compiling(config, what: str = "survey") -> bool:
    """True when this setting's kernel is neither loaded nor in the cache folder yet."""
    if (what, _kinds(config)) in _NATIVE:
        return False
    try:
        return _read_object(object_path(config, what)) is None
    except Exception:
        return True


_POOL = None
_POOL_LOCK = threading.Lock()


def _pool(workers: int):
    """Worker threads kept for the process's lifetime (starting them took ~1 ms per survey)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:
            from concurrent.futures import ThreadPoolExecutor

            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL = ThreadPoolExecutor(workers, thread_name_prefix="xor-tui-survey")
        return _POOL


def _scratch(*specs) -> tuple:
    """Zeroed arrays of the given (shape, dtype), each starting on a cache line of its own and
    none sharing one with another thread's: the group being trained is written every epoch,
    and two threads writing one cache line would pass it back and forth between the cores."""
    line = 64
    sizes = [-(-int(np.prod(shape)) * np.dtype(dtype).itemsize // line) * line for shape, dtype in specs]
    block = np.zeros(sum(sizes) + 2 * line, np.uint8)
    at = -block.ctypes.data % line + line  # a line of padding before the first
    out = []
    for (shape, dtype), size in zip(specs, sizes):
        out.append(block[at : at + int(np.prod(shape)) * np.dtype(dtype).itemsize].view(dtype).reshape(shape))
        at += size
    return tuple(out)


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
    # one row of nine parameters per network, which the first kernel call fills from the start's
    # layers (packing them here took 3 ms of a 30 ms survey); the final layers are views of it
    P = np.empty((n, 9), np.float32)
    layers = tuple(np.ascontiguousarray(t.reshape(n, k).numpy()) for t, k in ((w, 4), (b, 2), (v, 2), (c, 1)))
    if epochs <= 0:
        P = np.concatenate(layers, axis=1)
    halt = np.full(n, -1, np.int64)
    live = np.ones(n, np.uint8)
    kernel = _kernel_for(config)
    hs, os_ = _slope(config.activations[0]), _slope(config.activations[-1])
    neg_lr = float(np.float32(-config.lr))
    threads = threads or max(1, min(os.cpu_count() or 1, torch.get_num_threads()))
    blocks = -(-n // CHUNK)
    parts = max(1, min(threads, blocks))
    # the networks in pieces of a few blocks that the threads take in turn: how long a piece
    # takes depends on how many of its networks still learn, so equal halves could finish
    # milliseconds apart (~4 ms of a 30 ms survey); with small pieces the last ends soon after
    per = max(1, blocks // (parts * PIECES))
    pieces = [(CHUNK * b, min(n, CHUNK * (b + per))) for b in range(0, blocks, per)]
    pool = _pool(parts - 1) if parts > 1 else None
    head = (*(a.ctypes.data for a in (P, *layers, halt, live)), n)
    groups = -(-CHUNK // LANES)
    kept = [  # each thread's scratch (see epoch._make): S R H NET W
        _scratch(
            ((groups, 9, LANES), np.float32),
            ((groups, LANES), np.int32),
            ((groups, LANES), np.int32),
            ((groups, LANES), np.int64),
            ((2 * ROWS, LANES), np.float32),
        )
        for _ in range(parts)
    ]
    scratch = [tuple(a.ctypes.data for a in arrays) for arrays in kept]
    trained = 0
    epoch = 0
    while epoch < epochs:
        alive = int(live.sum())
        if alive == 0:
            break
        # about half the starts stop in the first epoch (the kernel drops them after it), so the
        # first call is sized on half of them, the others on those still running
        step = max(1, min(epochs - epoch, SLICE_WORK // (max(1, alive // 2) if epoch == 0 else alive)))
        e1 = epoch + step
        tail = (epoch, e1, hs, os_, neg_lr)
        turn = itertools.count()  # next() on it is atomic under the GIL

        def work(scr, tail=tail, turn=turn) -> int:
            done = 0
            while (i := next(turn)) < len(pieces):
                done += kernel(*head, *pieces[i], *tail, *scr)
            return done

        # the pool's threads and this one take pieces until none is left
        futs = [pool.submit(work, scr) for scr in scratch[1:]] if pool else []
        try:
            trained += work(scratch[0])
        finally:  # even when interrupted: never return while a thread still writes into P
            trained += sum(f.result() for f in futs)
        epoch = e1
        if progress is not None:
            progress(epoch, epochs)
        if stop is not None and stop():
            raise KeyboardInterrupt
    T = torch.from_numpy(P)
    final = [(T[:, 0:4].reshape(n, 2, 2), T[:, 4:6]), (T[:, 6:8].reshape(n, 1, 2), T[:, 8:9])]
    return final, halt, trained


def trajectory(row: np.ndarray, config, count: int) -> tuple[np.ndarray, int]:
    """A single run from the state whose nine parameters are ``row`` (float32, in the run's
    order: hidden weight, hidden bias, output weight, output bias): at most ``count`` steps,
    the same arithmetic as the survey (so as torch's single run). Returns the states
    reached, (k, 9), and why it stopped: RAN_OUT, HALTS (the last state reached, or ``row``
    when k is 0, halts) or REPEATS (the last state is bit for bit the one before).
    ``config`` must be ``supported``."""
    path = _kernel_for(config, "path")
    hs, os_ = _slope(config.activations[0]), _slope(config.activations[-1])
    rows = np.empty((count, 9), np.float32)
    p = np.ascontiguousarray(row, np.float32)
    out = path(p.ctypes.data, rows.ctypes.data, count, hs, os_, float(np.float32(-config.lr)))
    k, why = divmod(out, 4)
    return rows[:k], why


def compile_note(what: str = "survey") -> str:
    """The one line said before a kernel is compiled (``what``: "survey", or "path" for a
    single run's long stretches)."""
    kernel = "fast survey kernel" if what == "survey" else "fast kernel for long runs"
    folder = cache_dir()
    try:
        _cache_folder(folder)
        kept = os.access(folder, os.W_OK | os.X_OK)
    except OSError:
        kept = False
    if kept:
        return f"compiling the {kernel} for this setting (first run only; cached in {folder})"
    return f"compiling the {kernel} for this setting (not cached: {folder} cannot be written)"


def timed_compile(config) -> float:
    """Compile (or load from the cache) this setting's kernel; return the seconds it took."""
    t0 = time.perf_counter()
    load(config)
    return time.perf_counter() - t0
