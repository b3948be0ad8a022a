"""Building a setting's kernel: the private compiler, and numba's own cache where it cannot be used.

Run as a child process, ``python -m xor_tui.core.engine.fast.build WHAT LOSS OUT HID PARENT``,
started by ``kernel.warm`` so that no caller waits on a compile (and a compile holding the GIL
does not slow the torch engine meanwhile). Writes to stdout "object" and the machine code, or
"numba" (built in numba's own cache), and exits 0; on failure a line on stderr and status 1.
Ends itself within ~0.2 s when PARENT (the process that started it) is gone.

The private compiler (``_private_object``): numba lowers the kernel for every setting (the
kinds as arguments) to LLVM bitcode once per machine and numba version; each setting's
machine code is made from that with llvmlite alone (``_specialise``: the kinds become
constants, LLVM optimises the module) and kept as an object file that any later process
loads without numba (kernel.py). It reads numba's internals, so the first build with a numba
checks its machine code against numba's own compiled function on a sample (``_check``);
anything that differs or fails refuses it for that numba (a note in the cache), and every
setting is then built with numba's ``cache=True`` (``epoch.make``) instead.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from xor_tui.core.engine.fast.constants import (
    DEC_SIZE,
    DECODE,
    JUDGE_END,
    JUDGE_LAYERS,
    JUDGE_START,
    JUDGE_STATES,
    TRAIN,
)
from xor_tui.core.engine.fast.kernel import (
    Kernel,
    Kinds,
    Networks,
    Unavailable,
    _c_args,
    _call,
    _compiling,
    _llvm,
    _load_object,
    _name,
    _numba_epoch,
    _numba_path,
    _own_cacheable,
    _own_dir,
    _read_object,
    _refused_path,
    _symbol,
    _why,
    _write_object,
    cache_dir,
    generic_path,
    prune,
)

if TYPE_CHECKING:
    from numba.core.ccallback import CFunc


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


def build(what: str, kinds: Kinds) -> tuple[str, bytes]:
    """Build one setting's kernel (in the child process: ``build.py``): ("object", machine code)
    made by the private compiler and kept in the cache, or ("numba", b"") when it was built
    with numba's own cache instead (the private compiler is refused with this numba, or failed
    for this setting). Raises when neither can be done."""
    refused = _read_object(_refused_path(what))
    if refused is None and os.environ.get("XOR_TUI_KERNEL") != "numba":  # numba's own path, forced: benchmarks
        try:
            return "object", _cached(cache_dir() / f"{_name(what, kinds)}.o", lambda: _private_object(what, kinds))
        except Exception as exc:  # noqa: BLE001 - any failure of the private compiler: numba's own cache
            sys.stderr.write(f"xor-tui: the private compiler failed ({_why(exc)}); using numba's own cache\n")
    epoch = _numba_epoch()
    if not _own_cacheable():
        raise Unavailable(f"numba's cache folder {_own_dir()} is not private to this user")
    epoch.make(what, kinds, cache=True)
    _write_object(_numba_path(what, kinds), b"in numba's cache")
    return "numba", b""


def _private_object(what: str, kinds: Kinds) -> bytes:
    """The private compiler: the setting's machine code from the generic module (lowered by
    numba now, and checked, when it is not in the cache)."""
    generic = _read_object(generic_path(what))
    if generic is None:
        with _compiling(generic_path(what)):
            generic = _read_object(generic_path(what))
            if generic is None:
                return _first_build(what, kinds)
    return _specialise(generic, what, kinds)


def _first_build(what: str, kinds: Kinds) -> bytes:
    """numba lowers the generic module; this setting's machine code is made from it and run
    beside numba's own compiled function on a sample. Only when both agree bit for bit is the
    generic module kept; otherwise the private compiler is refused for this numba (a note in
    the cache) and the caller builds with numba's own cache."""
    epoch = _numba_epoch()
    try:
        generic, reference = epoch.generic_module(what)
        body = _specialise(generic, what, kinds)
        problem = _check(body, reference, what, kinds)
    except Exception as exc:  # noqa: BLE001 - numba's internals are not what we expect
        problem = _why(exc)
    if problem:
        _write_object(_refused_path(what), problem.encode())
        raise RuntimeError(problem)
    _write_object(generic_path(what), generic)
    prune()  # a new version of the kernel (or of numba, or another CPU): tidy up the old
    return body


def _check(body: bytes, reference: CFunc[Kernel], what: str, kinds: Kinds) -> str:
    """Why the machine code ``body`` differs from numba's ``reference`` (the generic function,
    the kinds as arguments) on a sample of states, or "" when it does not."""
    engine, ours = _load_object(body, what)  # (the engine keeps the code alive)
    assert reference.address is not None  # a cfunc is compiled as it is made
    theirs = ctypes.CFUNCTYPE(ctypes.c_int64, *([ctypes.c_int64] * 3), *_c_args(what))(reference.address)
    rng = np.random.default_rng(7)
    hs, os_, neg_lr = np.float32(0.01), np.float32(0.1), np.float32(-0.5)
    if what == "path":
        for start in rng.uniform(-1.5, 1.5, (16, 9)).astype(np.float32):
            rows = [np.zeros((60, 9), np.float32) for _ in range(2)]
            got = [
                f(*extra, start.ctypes.data, r.ctypes.data, 60, hs, os_, neg_lr)
                for f, extra, r in ((ours, (), rows[0]), (theirs, kinds, rows[1]))
            ]
            if got[0] != got[1] or rows[0].tobytes() != rows[1].tobytes():
                return "the trajectory kernel differs from numba's on a sample"
        del engine
        return ""
    n = 300
    start = rng.uniform(-1.5, 1.5, (n, 9)).astype(np.float32)
    # a DECODE table of arbitrary entries, the first section's pointing into the second's
    table = rng.integers(0, 256, DEC_SIZE).astype(np.int32)
    table[:4096] = 4096 + rng.integers(0, 45, 4096) * 1024 + (rng.integers(0, 8, 4096) << 24)
    both = TRAIN | JUDGE_START | JUDGE_END | DECODE
    outs = []
    for f, extra in ((ours, ()), (theirs, kinds)):
        nets = Networks.start_rows(start.copy())
        first = _call(f, nets, 0, n, 0, 0, hs, os_, neg_lr, JUDGE_LAYERS | DECODE, extra, table)
        trained_and_judged = _call(f, nets, 0, n, 0, 30, hs, os_, neg_lr, both, extra, table)
        more = _call(f, nets, 0, n, 30, 40, hs, os_, neg_lr, TRAIN, extra)[0]
        last = _call(f, nets, 0, n, 40, 40, hs, os_, neg_lr, JUDGE_STATES | DECODE, extra, table)
        written: list[NDArray[Any]] = [*first[1:], *trained_and_judged[1:], *last[1:]]
        states = (nets.P.tobytes(), nets.halt.tobytes(), nets.live.tobytes())
        outs.append((*states, trained_and_judged[0], more, *(a.tobytes() for a in written)))
    del engine
    return "" if outs[0] == outs[1] else "the survey kernel differs from numba's on a sample"


def _specialise(generic: bytes, what: str, kinds: Kinds) -> bytes:
    """One setting's kernel as an object file, made from the generic one with llvmlite alone:
    a C function ``_symbol(what)`` calls numba's entry with the three kinds as constants and
    turns its status into -1 (never: the kernel cannot raise; numba's own C wrapper would
    report it through the Python C API and numba's helpers, which a process without numba
    lacks). Everything else is made internal, numba's entry and the body inlined, and the
    module gets LLVM's full optimisation (vectorisers included) for this machine."""
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
            if f.name == inner or f"{what}_body" in f.name:
                f.add_function_attribute("alwaysinline")
    for g in module.global_variables:
        if not g.is_declaration:
            g.linkage = "internal"
    machine = _machine()
    tuning = llvm.create_pipeline_tuning_options(3)
    tuning.loop_vectorization = tuning.slp_vectorization = True
    builder = llvm.create_pass_builder(machine, tuning)
    # the kinds into numba's entry: first propagated as constants into the functions they
    # reach (each has one caller) and the branches of other kinds dropped, then inlined: the
    # module LLVM then optimises is a tenth of the size, and a setting's build takes ~1 s of
    # compiling instead of ~4.5 s, to the same machine code's speed and bits (measured on three
    # settings; the first build's _check and the tests compare it with numba's and torch's)
    first = llvm.create_new_module_pass_manager()
    first.add_ipsccp_pass()
    first.add_simplify_cfg_pass()
    first.add_global_dead_code_eliminate_pass()
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
    code: bytes = machine.emit_object(module)
    return code


def _machine() -> Any:
    """A target machine for this CPU, as numba's JIT makes it (llvmlite's: Any, it has no types)."""
    llvm = _llvm()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    reloc = "static" if target.name.startswith("x86") else "pic" if target.name.startswith("ppc") else "default"
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3,
        reloc=reloc, codemodel="jitdefault", jit=True,
    )  # fmt: skip


def _watch(parent: int) -> None:
    """End this process when ``parent`` is gone (this process then belongs to another)."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(3)


def main(argv: list[str]) -> int:
    """Build the kernel the arguments name; see the module's docstring."""
    what, loss, out, hid, parent = argv
    threading.Thread(target=_watch, args=(int(parent),), daemon=True).start()
    try:
        kind, body = build(what, (int(loss), int(out), int(hid)))
    except Exception as exc:  # noqa: BLE001 - one line for the parent, which says it
        sys.stderr.write(f"{_why(exc)}\n")
        return 1
    sys.stdout.buffer.write(kind.encode() + b"\n" + body)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
