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
that the threads take in turn. The same kernel judges states (``judge``): which pre-
activations are positive, which parameters receive a gradient, whether a state halts and
which rows it gets right, from the same forward and backward pass.

Compiling never blocks a caller. A setting's kernel is built by a child process
(``warm``, ``build.py``), so the caller keeps going on the torch engine (the same bits)
and takes the kernel when ``is_ready`` says so; ``cancel_builds`` (also at exit, and a
child whose parent is gone ends itself) leaves no process behind. What the child builds:

- numba lowers the kernel for every setting (the kinds as arguments) once per machine and
  numba version, kept as LLVM bitcode; each setting's machine code is made from that with
  llvmlite alone (the kinds become constants, LLVM optimises the module) and kept as an
  object file, which every later process loads (~30 ms) and calls through ctypes, without
  importing numba: numba's own cache costs ~1 s of every ``xor-tui survey`` (importing numba
  and preparing its compiler, measured in benchmarks/wait.py), and its code was ~9% slower.
- this uses numba's internals (a library's LLVM module, its C wrapper's conventions), so the
  first build with a new numba checks its own machine code against numba's compiled function
  on a sample; if anything differs or fails, every setting is built with numba's own
  ``cache=True`` instead (``epoch.make``; the cache under this folder), loaded through numba.

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

import atexit
import contextlib
import ctypes
import functools
import hashlib
import itertools
import os
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from xor_tui.core.engine.fast.constants import (  # noqa: F401  (the kinds are part of this module's face)
    ARGS,
    BCE,
    BIT_GRAD,
    BIT_HALTS,
    BIT_HIDDEN,
    BIT_OUTPUT,
    BIT_RIGHT,
    CHUNK,
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
    TRAIN,
)

if TYPE_CHECKING:  # (not imported at run time: net imports torch, which a build process never needs)
    from concurrent.futures import Future, ThreadPoolExecutor

    from numba.core.ccallback import CFunc

    from xor_tui.core.engine.activations import Activation
    from xor_tui.core.engine.net import Config, Layer

Kinds = tuple[int, int, int]  # (loss, output kind, hidden kind): the constants of a setting's kernel
# a kernel as a C function called through ctypes (its arguments: ARGS[what]; it returns an int64)
Kernel = Callable[..., int]

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
    says so from then on), or a setting's kernel could not be built (``failed`` says so), or
    (``NotReady``) it has not been built yet."""


class NotReady(Unavailable):
    """The kernel is neither loaded nor in the cache: ``warm`` builds it, ``load`` waits for that."""


def supported(config: Config) -> str | None:
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


def _kinds(config: Config) -> Kinds:
    """(loss, output kind, hidden kind) of a supported setting: its kernel's constants."""
    hid, out = config.activations
    loss = LOSS_KIND[config.loss]
    okind = SIGMOID if out.name == "sigmoid" else RELU if out.name == "relu" else LEAKY
    if not config.output_act_used:  # never applied: one kernel serves every output activation
        okind = RELU
    return loss, okind, RELU if hid.name == "relu" else LEAKY


def _why(exc: BaseException) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}"


def _slope(act: Activation) -> np.float32:
    """The slope of a LeakyReLU (torch passes it to its kernel as float32); identity is slope 1;
    unused for ReLU and sigmoid."""
    if act.name == "leaky_relu":
        return np.float32(act.param)
    return np.float32(1.0) if act.name == "identity" else np.float32(0.0)


# --------------------------------------------------------------------- the cache's files

_MAGIC = b"xor-tui kernel 3\n"
_CTYPES: dict[str, type[ctypes.c_int64 | ctypes.c_int32 | ctypes.c_float]] = {
    "i64": ctypes.c_int64,
    "i32": ctypes.c_int32,
    "f32": ctypes.c_float,
}


def _c_args(what: str) -> tuple[type[ctypes.c_void_p | ctypes.c_int64 | ctypes.c_int32 | ctypes.c_float], ...]:
    return tuple(ctypes.c_void_p if a.endswith("*") else _CTYPES[a] for a in ARGS[what].split())


def _version(package: str) -> str:
    """An installed package's version, read without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


@functools.cache
def _digest() -> str:
    """What the machine code depends on: the kernel's source (numba's half, the constants and
    the compiler, build.py), numba (which lowers it) and llvmlite (which compiles it), this
    machine's CPU and its features. A file made under another digest is never loaded."""
    import llvmlite.binding as llvm

    here = Path(__file__)
    h = hashlib.sha256(b"".join(here.with_name(f).read_bytes() for f in ("build.py", "epoch.py", "constants.py")))
    h.update(f"{_version('numba')} {_version('llvmlite')} {llvm.get_process_triple()}".encode())
    h.update(f"{llvm.get_host_cpu_name()} {llvm.get_host_cpu_features().flatten()}".encode())
    return h.hexdigest()[:20]


def _name(what: str, kinds: Kinds) -> str:
    return f"{what}-{''.join(map(str, kinds))}-{_digest()}"


def object_path(config: Config, what: str = "survey") -> Path:
    """The cache file of this setting's compiled kernel (its name carries ``_digest``)."""
    return cache_dir() / f"{_name(what, _kinds(config))}.o"


def generic_path(what: str = "survey") -> Path:
    """The cache file of the kernel for every setting, as numba lowers it (LLVM bitcode)."""
    return cache_dir() / f"{what}-any-{_digest()}.bc"


def _numba_path(what: str, kinds: Kinds) -> Path:
    """The note that this setting's kernel is in numba's own cache (see ``_own_dir``)."""
    return cache_dir() / f"{_name(what, kinds)}.numba"


def _refused_path(what: str) -> Path:
    """The note that this numba's internals are not what the private compiler expects: every
    setting is built with numba's own cache (the note says why)."""
    return cache_dir() / f"{what}-own-{_digest()}.why"


def _own_dir() -> Path:
    """numba's own cache (``cache=True``), where the private compiler cannot be used."""
    return cache_dir() / "own"


_MAX_OBJECT = 64 << 20  # bytes; the kernels are ~20 KB, their generic module ~500 KB


def _seal(path: Path, body: bytes) -> bytes:
    """The checksum a cache file carries: of its own name and contents, so a whole file copied
    to another name (another setting's kernel, the generic module) does not pass for it."""
    return hashlib.sha256(path.name.encode() + b"\0" + body).digest()


def _private(info: os.stat_result) -> bool:
    """Ours, and writable by no one else (what is in the folder is code this process runs)."""
    return not hasattr(os, "getuid") or (info.st_uid == os.getuid() and not info.st_mode & 0o022)


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
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_OBJECT or not _private(info):
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


UNUSED_DAYS = 30  # kernel files of another version unused this long are removed
_CACHE_NAME = re.compile(r"(?:survey|path)-[0-9a-z]+-([0-9a-f]{20})\.(?:o|bc|lock|numba|why)")


def prune(folder: Path | None = None) -> list[str]:
    """Remove from the cache folder the kernel files of other versions (other digests) that
    no process has loaded for UNUSED_DAYS (loading one refreshes its time): each version
    leaves ~1 MB behind, and another installation still in use keeps its files. Only our
    own regular files are touched. Returns the names removed."""
    folder = cache_dir() if folder is None else folder
    cutoff = time.time() - UNUSED_DAYS * 86400
    removed: list[str] = []
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


LOCK_WAIT = 120.0  # seconds to wait for another process compiling the same kernel


@contextlib.contextmanager
def _compiling(path: Path) -> Iterator[None]:
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


# --------------------------------------------------------------------- loading


@functools.cache
def _llvm() -> Any:
    """llvmlite's binding, its native target ready (once per process). (Any: llvmlite has no
    types.)"""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm


def _symbol(what: str) -> str:
    return f"xor_tui_{what}_kernel"


def _load_object(body: bytes, what: str) -> tuple[object, Kernel]:
    """(what keeps it alive, the C function) of an object file made by ``_specialise``."""
    llvm = _llvm()
    machine = llvm.Target.from_default_triple().create_target_machine()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)
    engine.add_object_file(llvm.ObjectFileRef.from_data(body))
    engine.finalize_object()
    address = engine.get_function_address(_symbol(what))
    if not address:
        raise RuntimeError(f"the cached kernel has no {_symbol(what)}")
    return engine, ctypes.CFUNCTYPE(ctypes.c_int64, *_c_args(what))(address)


class NumbaHalf(Protocol):
    """What the driver and the builder use of the numba half (epoch.py, a module imported only
    to compile: ``_numba_epoch`` returns the module itself)."""

    def make(self, what: str, kinds: Kinds, cache: bool) -> CFunc[Kernel]:
        """One setting's kernel compiled by numba alone (see epoch.make)."""
        ...

    def generic_module(self, what: str) -> tuple[bytes, CFunc[Kernel]]:
        """Every setting's kernel lowered by numba, as LLVM bitcode (see epoch.generic_module)."""
        ...


def _numba_epoch() -> NumbaHalf:
    """The numba half (imports numba, its cache pointed into our cache folder first)."""
    global _UNAVAILABLE
    folder = str(_own_dir())
    if "numba" not in sys.modules:
        os.environ["NUMBA_CACHE_DIR"] = folder  # numba reads it when imported
    try:
        from xor_tui.core.engine.fast import epoch
    except Exception as exc:  # a broken install: the torch engine takes over
        _UNAVAILABLE = f"numba is not available ({_why(exc)})"
        raise Unavailable(_UNAVAILABLE) from exc
    import numba

    # read when a function's cache is made (XOR_TUI_CACHE may move). (The ignore: numba sets its
    # config's attributes from the environment as it is imported; none is declared)
    numba.config.CACHE_DIR = folder  # type: ignore[attr-defined]
    return epoch


def _own_cacheable() -> bool:
    """numba's own cache may be used: its folder is ours alone (numba unpickles what it finds
    there). Elsewhere numba would fall back to a __pycache__ beside the source."""
    folder = _own_dir()
    try:
        _cache_folder(folder)
        return _private(os.stat(cache_dir())) and _private(os.stat(folder)) and os.access(folder, os.W_OK)
    except OSError:
        return False


def _load_numba(what: str, kinds: Kinds) -> tuple[object, Kernel]:
    """(the numba function, its C function) from numba's own cache (~1 s: numba's import and
    compiler; a stale entry is compiled again, in this process)."""
    fn = _numba_epoch().make(what, kinds, cache=_own_cacheable())
    assert fn.address is not None  # a cfunc is compiled as it is made
    return fn, ctypes.CFUNCTYPE(ctypes.c_int64, *_c_args(what))(fn.address)


_NATIVE: dict[tuple[str, Kinds], tuple[object, Kernel]] = {}  # (what, kinds) -> (what keeps it alive, the kernel)
_NATIVE_LOCK = threading.RLock()
_FAILED: dict[tuple[str, Kinds], str] = {}  # (what, kinds) -> why it could not be made
# (what, kinds) -> when the cache last held neither file (checked again after a second)
_ABSENT: dict[tuple[str, Kinds], float] = {}


def _from_cache(what: str, kinds: Kinds) -> tuple[object, Kernel] | None:
    """The loaded kernel from the cache folder, or None when it holds neither its object file
    nor the note that numba's own cache has it."""
    body = _read_object(cache_dir() / f"{_name(what, kinds)}.o")
    if body is not None:
        return _load_object(body, what)
    if _read_object(_numba_path(what, kinds)) is not None:
        return _load_numba(what, kinds)
    return None


def _kernel_for(config: Config, what: str = "survey") -> Kernel:
    """This setting's kernel (``what`` "survey", or the trajectory "path") as a C function:
    loaded, or loaded now from the cache or from a finished build. Raises NotReady when it
    has not been built (``warm`` builds it), Unavailable when it cannot be had here
    (remembered: the callers fall back to the torch engine without trying again)."""
    key = (what, _kinds(config))
    with _NATIVE_LOCK:
        if key in _NATIVE:
            return _NATIVE[key][1]
        if key in _FAILED:
            raise Unavailable(_FAILED[key])
        build = _BUILDS.get(key)
        if build is not None and build.cancelled:
            build = None
        loaded: tuple[object, Kernel] | None
        try:
            if build is not None and build.done and build.ok:
                loaded = _load_object(build.body, what) if build.kind == "object" else _load_numba(what, key[1])
            else:
                loaded = _from_cache(what, key[1])
        except Exception as exc:
            _FAILED[key] = f"the fast kernel could not be loaded here ({_why(exc)})"
            raise Unavailable(_FAILED[key]) from exc
        if loaded is None:
            if build is not None and build.done:
                _FAILED[key] = build.error or "the fast kernel could not be built here"
                raise Unavailable(_FAILED[key])
            raise NotReady(f"the fast kernel for this setting is not built yet ({what})")
        _NATIVE[key] = loaded
        _ABSENT.pop(key, None)
        return loaded[1]


def is_ready(config: Config, what: str = "survey") -> bool:
    """True when this setting's kernel runs now without compiling: loaded, built by a finished
    build, or in the cache folder (loading takes ~30 ms). Cheap enough to ask every step."""
    key = (what, _kinds(config))
    if key in _NATIVE:
        return True
    if key in _FAILED:
        return False
    build = _BUILDS.get(key)
    if build is not None and not build.cancelled:
        if build.done and not build.ok:
            _FAILED[key] = build.error
        return build.done and build.ok
    if time.monotonic() - _ABSENT.get(key, -10.0) < 1.0:
        return False
    if _read_object(cache_dir() / f"{_name(what, key[1])}.o") or _read_object(_numba_path(what, key[1])):
        return True
    _ABSENT[key] = time.monotonic()
    return False


def needs_compiling(config: Config, what: str = "survey") -> bool:
    """True when this setting's kernel is neither loaded nor in the cache folder yet."""
    return not is_ready(config, what)


def load(config: Config, what: str = "survey") -> None:
    """Have this setting's kernel loaded now: from the cache, or built (in a child process) and
    waited for. Raises Unavailable when it cannot be had here. For tests, benchmarks and
    ``run_survey(fast=True)``; everything else keeps going on the torch engine meanwhile."""
    why = supported(config)
    if why is not None:  # (a cached kernel of the same kinds would compute another setting)
        raise Unavailable(why)
    with contextlib.suppress(NotReady):
        _kernel_for(config, what)
        return
    build = warm(config, what)
    if build is not None:  # None: built by another process meanwhile, or failed (_kernel_for says so)
        build.wait()
    _kernel_for(config, what)


def failed(config: Config, what: str = "survey") -> bool:
    """True when this setting's kernel could not be made in this process (see _kernel_for)."""
    return (what, _kinds(config)) in _FAILED


def timed_compile(config: Config) -> float:
    """Have this setting's survey kernel loaded (``load``); return the seconds it took."""
    t0 = time.perf_counter()
    load(config)
    return time.perf_counter() - t0


# --------------------------------------------------------------------- building, in a child process

# what a build takes here (2 cores, load ~2): numba's generic module ~20 s once per machine
# and numba version (the trajectory's ~3 s), then ~1.5-3 s a setting (the trajectory's
# ~0.5 s), the process's start included; numba's own cache (where the private compiler is
# refused) ~25 s a setting
COMPILE_SECONDS = {"survey": 3.0, "path": 1.0}
GENERIC_SECONDS = {"survey": 20.0, "path": 3.0}


def compile_estimate(config: Config, what: str = "survey") -> float:
    """Roughly how long building this setting's kernel would take here, in seconds."""
    generic = _read_object(generic_path(what)) is not None
    return COMPILE_SECONDS[what] + (0.0 if generic else GENERIC_SECONDS[what])


class Build:
    """One kernel being built by a child process (``python -m xor_tui.core.engine.fast.build``).
    Its output is read by a thread of this process; ``cancel`` kills it. The child also ends
    itself when this process is gone, so none is left behind even by ``os._exit`` or a kill."""

    def __init__(self, what: str, kinds: Kinds) -> None:
        self.what, self.kinds = what, kinds
        self.kind = ""  # "object" (machine code in ``body``) or "numba" (in numba's own cache)
        self.body = b""
        self.error = ""
        self.started = time.monotonic()
        self.seconds: float | None = None  # how long it took, once done
        self.cancelled = False  # killed by ``cancel``: not a failure (a later warm builds again)
        self._done = threading.Event()
        root = str(Path(__file__).resolve().parents[4])  # this xor_tui's folder, whatever sys.path says
        env = dict(os.environ, XOR_TUI_CACHE=str(cache_dir().parent))
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        cmd = [sys.executable, "-m", "xor_tui.core.engine.fast.build", what, *map(str, kinds), str(os.getpid())]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, close_fds=True
        )
        threading.Thread(target=self._read, name="xor-tui-kernel-build", daemon=True).start()

    def _read(self) -> None:
        try:
            out, err = self._proc.communicate()
        except Exception as exc:  # noqa: BLE001 - reported as the build's error
            out, err = b"", _why(exc).encode()
        head, _, rest = out.partition(b"\n")
        if self._proc.returncode == 0 and head == b"object" and rest:
            self.kind, self.body = "object", rest
        elif self._proc.returncode == 0 and head == b"numba":
            self.kind = "numba"
        else:
            lines = [line for line in (rest or err).decode(errors="replace").splitlines() if line.strip()]
            code = self._proc.returncode
            why = lines[-1] if lines else f"the build process ended with status {code}"
            self.error = f"the fast kernel could not be built here ({why[:300]})"
        self.seconds = time.monotonic() - self.started
        self._done.set()

    @property
    def done(self) -> bool:
        """The child has ended (built, failed or cancelled) and its output is read."""
        return self._done.is_set()

    @property
    def ok(self) -> bool:
        """Done, and the kernel was built."""
        return self._done.is_set() and bool(self.kind)

    @property
    def elapsed(self) -> float:
        """Seconds since the build started (or that it took)."""
        return self.seconds if self.seconds is not None else time.monotonic() - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the build to end (at most ``timeout`` seconds); True when it has."""
        return self._done.wait(timeout)

    def cancel(self) -> None:
        """Kill the child (nothing is kept of a build cut short) and wait for its end."""
        if not self._done.is_set():
            self.cancelled = True
            with contextlib.suppress(OSError):
                self._proc.kill()
            self._done.wait(5)


_BUILDS: dict[tuple[str, Kinds], Build] = {}  # (what, kinds) -> Build, the latest of each


def warm(config: Config, what: str = "survey") -> Build | None:
    """Start building this setting's kernel in a child process, unless it is ready, being
    built, or cannot be had here (None then, and when ready). Returns at once."""
    if supported(config) is not None:
        return None
    key = (what, _kinds(config))
    with _NATIVE_LOCK:
        build = _BUILDS.get(key)
        if build is not None and not build.cancelled and (not build.done or build.ok):
            return build
        if key in _NATIVE or is_ready(config, what) or key in _FAILED:
            return None
        _BUILDS[key] = build = Build(what, key[1])
        return build


def building(config: Config, what: str = "survey") -> Build | None:
    """The build of this setting's kernel under way in this process, if any."""
    build = _BUILDS.get((what, _kinds(config)))
    return build if build is not None and not build.done else None


def cancel_builds() -> None:
    """Kill every build under way (a process leaving; also run at exit)."""
    for build in list(_BUILDS.values()):
        build.cancel()


atexit.register(cancel_builds)


# --------------------------------------------------------------------- driving it

SLICE_WORK = 1 << 24  # network-epochs per kernel call: a stop request waits at most ~0.1 s
PIECES = 16  # pieces per thread in each slice of epochs (see advance)


@dataclass
class Networks:
    """n 2-2-1 networks during a survey, as the kernel keeps them (the torch engine trains them
    in this form too when it stands in for the kernel): ``P`` (n, 9) float32, a row of nine
    parameters per network (hidden weight, hidden bias, output weight, output bias); ``halt``
    (n,) int64, the epoch each halted at (-1: none); ``live`` (n,) uint8, 1 while a network
    still trains (0: halted, or at a fixed point); ``epoch``, the updates made so far. Until
    the first kernel call, ``layers`` holds the start as four contiguous arrays, which that
    call reads (and fills ``P`` from): packing them here took 3 ms of a 30 ms survey."""

    P: NDArray[np.float32]
    halt: NDArray[np.int64]
    live: NDArray[np.uint8]
    epoch: int = 0
    layers: tuple[NDArray[np.float32], ...] | None = None

    @classmethod
    def start(cls, start: list[Layer]) -> Networks:
        """From batch-first layers [(w (N,2,2), b (N,2)), (v (N,1,2), c (N,1))] (torch tensors)."""
        (w, b), (v, c) = start
        n = w.shape[0]
        layers = tuple(np.ascontiguousarray(t.reshape(n, k).numpy()) for t, k in ((w, 4), (b, 2), (v, 2), (c, 1)))
        return cls(np.empty((n, 9), np.float32), np.full(n, -1, np.int64), np.ones(n, np.uint8), 0, layers)

    @classmethod
    def start_rows(cls, rows: NDArray[np.float32]) -> Networks:
        """From (N, 9) float32 rows."""
        n = len(rows)
        layers = tuple(np.ascontiguousarray(rows[:, a:b]) for a, b in ((0, 4), (4, 6), (6, 8), (8, 9)))
        return cls(np.empty((n, 9), np.float32), np.full(n, -1, np.int64), np.ones(n, np.uint8), 0, layers)

    @property
    def n(self) -> int:
        """How many networks."""
        return len(self.P)

    def rows(self) -> NDArray[np.float32]:
        """``P``, filled from the start's layers first if no kernel call has."""
        if self.layers is not None:
            self.P[:] = np.concatenate(self.layers, axis=1)
            self.layers = None
        return self.P

    def head(self) -> tuple[int, ...]:
        """The kernel's first arguments: the addresses of ``P``, of the start's four layers (until
        the first kernel call fills ``P``; then ``P`` for each), of ``halt`` and ``live``; then n."""
        layers = self.layers if self.layers is not None else (self.P,) * 4
        arrays: tuple[NDArray[Any], ...] = (self.P, *layers, self.halt, self.live)
        return (*(a.ctypes.data for a in arrays), self.n)

    def final_layers(self) -> list[Layer]:
        """The current states as batch-first torch layers (views of ``P``)."""
        import torch

        T = torch.from_numpy(self.rows())
        n = self.n
        return [(T[:, 0:4].reshape(n, 2, 2), T[:, 4:6]), (T[:, 6:8].reshape(n, 1, 2), T[:, 8:9])]


def _call(
    kernel: Kernel,
    nets: Networks,
    lo: int,
    hi: int,
    e0: int,
    e1: int,
    hs: np.float32,
    os_: np.float32,
    neg_lr: np.float32,
    mode: int,
    kinds: tuple[int, ...] = (),
    table: NDArray[np.int32] | None = None,
) -> tuple[int, NDArray[np.int32], NDArray[np.int32], NDArray[np.uint8], NDArray[np.uint8]]:
    """One kernel call on networks lo..hi-1 in this thread (``kinds`` first, for numba's
    generic function; ``table``: the DECODE table, with DECODE in ``mode``): (what it returned,
    the bits, ends, codes and end codes it wrote)."""
    size = max(nets.n, 1)
    bits, ends = np.zeros(size, np.int32), np.zeros(size, np.int32)
    codes, end_codes = np.zeros(size, np.uint8), np.zeros(size, np.uint8)
    head = nets.head()
    coded = _decode_args(None if table is None else (table, codes, end_codes), nets.n)
    tail = (*_scratch_for(), mode, bits.ctypes.data, ends.ctypes.data, *coded)
    got = kernel(*kinds, *head, lo, hi, e0, e1, hs, os_, neg_lr, *tail)
    if mode & (JUDGE_LAYERS | JUDGE_STATES) == 0 and e1 > e0 == 0 and (lo, hi) == (0, nets.n):
        nets.layers = None  # P is filled
    return got, bits, ends, codes, end_codes


_NO_TABLE = np.zeros(1, np.int32)  # what a call that decodes nothing passes for the table and the codes
_NO_CODES = np.zeros(1, np.uint8)

Decode = tuple[NDArray[np.int32], NDArray[np.uint8], NDArray[np.uint8]]  # the table, codes, end codes


def _decode_args(decode: Decode | None, n: int) -> tuple[int, int, int]:
    """The kernel's last three arguments: the DECODE table and the arrays of n codes it writes
    (one-element dummies without ``decode``: a call without DECODE reads none of them)."""
    if decode is None:
        return _NO_TABLE.ctypes.data, _NO_CODES.ctypes.data, _NO_CODES.ctypes.data
    table, codes, end_codes = decode
    assert len(table) == DEC_SIZE and min(len(codes), len(end_codes)) >= n  # the kernel writes n
    return table.ctypes.data, codes.ctypes.data, end_codes.ctypes.data


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """Worker threads kept for the process's lifetime (starting them took ~1 ms per survey)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:
            from concurrent.futures import ThreadPoolExecutor

            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL = ThreadPoolExecutor(workers, thread_name_prefix="xor-tui-survey")
        return _POOL


R = TypeVar("R")


def beside(fn: Callable[..., R], *args: Any) -> Future[R]:
    """``fn(*args)`` on one of the kernel's worker threads, while the caller goes on (work that
    lets go of the GIL, as numpy's does on large arrays, runs on the other core meanwhile)."""
    return _pool(1).submit(fn, *args)


def _scratch(*specs: tuple[tuple[int, ...], type[np.generic]]) -> tuple[NDArray[Any], ...]:
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


_LOCAL = threading.local()


def _scratch_for() -> tuple[int, ...]:
    """This thread's scratch for the kernel (see epoch.survey_body: S R H NET W), as pointers:
    made once per thread (a thread runs one kernel call at a time), kept while it lives."""
    kept = getattr(_LOCAL, "scratch", None)
    if kept is None:
        groups = -(-CHUNK // LANES)
        _LOCAL.arrays = _scratch(
            ((groups, 9, LANES), np.float32),
            ((groups, LANES), np.int32),
            ((groups, LANES), np.int32),
            ((groups, LANES), np.int64),
            ((2 * ROWS, LANES), np.float32),
        )
        kept = _LOCAL.scratch = tuple(a.ctypes.data for a in _LOCAL.arrays)
    return kept


@functools.cache
def _default_threads() -> int:
    import torch

    return max(1, min(os.cpu_count() or 1, torch.get_num_threads()))


def _threads(threads: int | None) -> int:
    """The threads a kernel call uses: as many as torch's, at most one per core."""
    return threads or _default_threads()


def _each_piece(n: int, threads: int, work: Callable[[int, int, tuple[int, ...]], int]) -> int:
    """``work(lo, hi, scratch)`` on pieces of a few blocks that the threads take in turn (how
    long a piece takes depends on how many of its networks still learn, so equal halves could
    finish milliseconds apart: ~4 ms of a 30 ms survey; with small pieces the last ends soon
    after); the sum of what it returns. Never returns while a thread still works."""
    blocks = -(-n // CHUNK)
    parts = max(1, min(threads, blocks))
    per = max(1, blocks // (parts * PIECES))
    pieces = [(CHUNK * b, min(n, CHUNK * (b + per))) for b in range(0, blocks, per)]
    pool = _pool(parts - 1) if parts > 1 else None
    turn = itertools.count()  # next() on it is atomic under the GIL

    def run() -> int:
        done, scr = 0, _scratch_for()
        while (i := next(turn)) < len(pieces):
            done += work(*pieces[i], scr)
        return done

    futs = [pool.submit(run) for _ in range(parts - 1)] if pool else []
    try:
        mine = run()
    finally:  # even when interrupted: never return while a thread still writes into P
        others = [f.result() for f in futs]
    return mine + sum(others)


def advance(
    nets: Networks,
    config: Config,
    epochs: int,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    threads: int | None = None,
    starts: NDArray[np.int32] | None = None,
    ends: NDArray[np.int32] | None = None,
    decode: Decode | None = None,
) -> int:
    """Train ``nets`` from ``nets.epoch`` to ``epochs`` (or until none runs) with this setting's
    kernel, in place; the network-epochs computed. ``stop()`` is asked between kernel calls
    and raises KeyboardInterrupt. Raises NotReady when the kernel is not built.

    ``starts`` (from epoch 0) and ``ends``, int32 arrays of n: filled with ``judge_bits`` of
    the starts and of the states reached, in the same kernel calls (each block judged just
    before and after it is trained: no pass of their own); with ``decode`` (a DECODE table and
    two uint8 arrays of n), the codes of those starts and ends too (constants.DECODE)."""
    kernel = _kernel_for(config)
    hs, os_ = _slope(config.activations[0]), _slope(config.activations[-1])
    neg_lr = np.float32(-config.lr)
    threads = _threads(threads)
    trained = 0
    judged_start = starts is None
    scratch_bits = np.zeros(1, np.int32)
    coded = _decode_args(decode, nets.n)
    while nets.epoch < epochs:
        alive = int(nets.live.sum())
        if alive == 0:
            break
        e0 = nets.epoch
        # about half the starts stop in the first epoch (the kernel drops them after it), so the
        # first call is sized on half of them, the others on those still running
        step = max(1, min(epochs - e0, SLICE_WORK // (max(1, alive // 2) if e0 == 0 else alive)))
        e1 = e0 + step
        mode = TRAIN
        if not judged_start and e0 == 0:
            mode |= JUDGE_START
        if ends is not None and e1 == epochs:
            mode |= JUDGE_END
        if decode is not None and mode & (JUDGE_START | JUDGE_END):
            mode |= DECODE
        head = nets.head()
        tail = (e0, e1, hs, os_, neg_lr)
        judged = [scratch_bits if a is None else a for a in (starts, ends)]
        out = (mode, judged[0].ctypes.data, judged[1].ctypes.data, *coded)

        def work(
            lo: int,
            hi: int,
            scr: tuple[int, ...],
            head: tuple[int, ...] = head,
            tail: tuple[int, int, np.float32, np.float32, np.float32] = tail,
            out: tuple[int, ...] = out,
        ) -> int:
            return kernel(*head, lo, hi, *tail, *scr, *out)

        trained += _each_piece(nets.n, threads, work)
        judged_start = judged_start or bool(mode & JUDGE_START)
        nets.layers = None  # P is filled
        nets.epoch = e1
        if mode & JUDGE_END:
            ends = None  # judged
        if progress is not None:
            progress(e1, epochs)
        if stop is not None and stop():
            raise KeyboardInterrupt
    nets.epoch = max(nets.epoch, epochs)
    n = nets.n
    start_due = starts is not None and not judged_start  # nothing trained (epochs 0)
    if start_due or ends is not None:  # ends: every network stopped before the last epoch, or nothing trained
        # one judging of the state reached serves both (nothing trained: it is the start); the
        # codes not due go to scratch (the kernel's calls wrote them)
        if decode is not None:
            scratch = np.empty(n, np.uint8)
            decode = (decode[0], decode[1] if start_due else scratch, decode[2] if ends is not None else scratch)
        bits = judge(nets, config, threads, decode)
        if start_due:
            assert starts is not None
            starts[:n] = bits
        if ends is not None:
            ends[:n] = bits
    return trained


def judge(
    nets: Networks, config: Config, threads: int | None = None, decode: Decode | None = None
) -> NDArray[np.int32]:
    """``epoch.judge_bits`` of each network's current state (the start's, before any training),
    as int32 (constants.BIT_*): one forward and backward pass each, in the kernel; with
    ``decode``, each state's code as a start and as an end too (constants.DECODE). Raises
    NotReady when the kernel is not built."""
    kernel = _kernel_for(config)
    hs, os_ = _slope(config.activations[0]), _slope(config.activations[-1])
    bits = np.zeros(max(nets.n, 1), np.int32)
    mode = (JUDGE_LAYERS if nets.layers is not None else JUDGE_STATES) | (DECODE if decode is not None else 0)
    head = nets.head()
    tail = (nets.epoch, nets.epoch, hs, os_, np.float32(-config.lr))
    out = (mode, bits.ctypes.data, bits.ctypes.data, *_decode_args(decode, nets.n))
    _each_piece(nets.n, _threads(threads), lambda lo, hi, scr: kernel(*head, lo, hi, *tail, *scr, *out))
    return bits[: nets.n]


def train(
    start: list[Layer],
    config: Config,
    epochs: int,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    threads: int | None = None,
) -> tuple[list[Layer], NDArray[np.int64], int]:
    """Train batch-first start layers [(w (N,2,2), b (N,2)), (v (N,1,2), c (N,1))] for ``epochs``.

    Returns the final layers (the halted state where a network halted), halt epochs (-1:
    never) and the network-epochs computed. ``stop()`` is asked between kernel calls.
    """
    nets = Networks.start(start)
    trained = advance(nets, config, epochs, progress, stop, threads)
    return nets.final_layers(), nets.halt, trained


def trajectory(row: NDArray[np.float32], config: Config, count: int) -> tuple[NDArray[np.float32], int]:
    """A single run from the state whose nine parameters are ``row`` (float32, in the run's
    order: hidden weight, hidden bias, output weight, output bias): at most ``count`` steps,
    the same arithmetic as the survey (so as torch's single run). Returns the states
    reached, (k, 9), and why it stopped: RAN_OUT, HALTS (the last state reached, or ``row``
    when k is 0, halts) or REPEATS (the last state is bit for bit the one before).
    ``config`` must be ``supported``, its kernel built (else NotReady)."""
    path = _kernel_for(config, "path")
    hs, os_ = _slope(config.activations[0]), _slope(config.activations[-1])
    rows = np.empty((count, 9), np.float32)
    p = np.ascontiguousarray(row, np.float32)
    out = path(p.ctypes.data, rows.ctypes.data, count, hs, os_, float(np.float32(-config.lr)))
    k, why = divmod(out, 4)
    return rows[:k], why


def cache_writable() -> bool:
    """The cache folder keeps what a build makes (it is, or can be made, and is writable)."""
    folder = cache_dir()
    try:
        _cache_folder(folder)
        return os.access(folder, os.W_OK | os.X_OK)
    except OSError:
        return False


def compile_note(what: str = "survey") -> str:
    """The one line said when a kernel starts compiling in the background (``what``:
    "survey", or "path" for a single run's long stretches)."""
    kernel = "fast survey kernel" if what == "survey" else "fast kernel for long runs"
    folder = cache_dir()
    where = f"cached in {folder}" if cache_writable() else f"not cached: {folder} cannot be written"
    return f"compiling the {kernel} for this setting in the background (first run only; {where})"
