"""The fused survey kernel: the same bits as the torch engine and the student's loop.

Each supported setting trains 10,000 random starts both ways and compares every end state
(torch.equal on all nine parameters) and every halt epoch. Settings are picked so that
every kernel branch runs: halts at once and late, fixed points, overflow to inf and NaN.
"""

import pytest
import torch

from tests import student
from xor_tui.core.engine import net
from xor_tui.core.engine.activations import parse_activation
from xor_tui.core.engine.fast import kernel
from xor_tui.core.engine.net import Config
from xor_tui.core.studies import survey

pytestmark = pytest.mark.skipif(kernel._UNAVAILABLE is not None, reason="numba is not installed")

_sigmoid = torch.sigmoid


def _torch_scalar_sigmoid(z: torch.Tensor) -> torch.Tensor:
    """torch's sigmoid through its scalar kernel (a strided input is not vectorised): what a
    single run of four rows computes. The batched kernel's exp differs in the last bit on ~4%
    of inputs; the fast path follows single runs."""
    buf = torch.empty(z.shape + (2,), dtype=z.dtype)
    view = buf[..., 0]
    view.copy_(z)
    return _sigmoid(view)


def _config(hidden, output, loss, lr):
    return Config((2,), (parse_activation(hidden), parse_activation(output)), loss, lr)


SETTINGS = [
    # the source's logged setting, and its printed code (a third of the runs halt)
    ("relu", "relu", "bce", 0.001, 200),
    ("relu", "relu", "bce", 0.1, 120),
    ("leaky_relu:0.01", "relu", "bce", 0.1, 100),
    ("leaky_relu:0.2", "leaky_relu:0.3", "bce", 0.05, 80),  # negative outputs: BCELoss refuses
    ("identity", "relu", "bce", 2.0, 60),
    ("relu", "identity", "mse", 0.3, 100),
    ("leaky_relu:0.05", "identity", "mse", 0.7, 80),
    ("identity", "identity", "mse", 1e4, 40),  # diverges: overflow to inf, NaN, non-finite loss halts
    ("relu", "identity", "bce-logits", 0.5, 100),
    ("leaky_relu:0.01", "relu", "bce-logits", 50.0, 60),  # large steps: huge logits
    ("relu", "tanh", "bce-logits", 0.5, 60),  # the output activation unused: any takes the fast path
    ("leaky_relu:0.01", "sigmoid", "bce", 0.5, 100),
    ("relu", "sigmoid", "mse", 3.0, 60),
]


@pytest.mark.parametrize("hidden,output,loss,lr,epochs", SETTINGS, ids=lambda v: str(v))
def test_fast_path_equals_the_torch_engine_on_10000_starts(monkeypatch, hidden, output, loss, lr, epochs):
    config = _config(hidden, output, loss, lr)
    assert kernel.supported(config) is None
    monkeypatch.setattr(torch, "sigmoid", _torch_scalar_sigmoid)
    start = net.init_batch(torch.Generator().manual_seed(5), 10_000, config.sizes)
    exact, exact_halt, _ = survey._train_sharded(start, config, epochs, None)
    fast, fast_halt, _ = kernel.train(start, config, epochs)
    for (w, b), (fw, fb) in zip(exact, fast):
        assert torch.equal(w, fw) and torch.equal(b, fb)
    assert torch.equal(exact_halt, torch.from_numpy(fast_halt))
    # halted runs are part of the comparison wherever the setting has them
    if loss == "bce" and output in ("relu", "leaky_relu:0.3") or lr >= 1e4:
        assert int((exact_halt >= 0).sum()) > 0


def test_fast_path_equals_the_students_loop_on_a_sample():
    config = Config(lr=0.1)
    r = survey.run_survey(config, 4000, 60, seed=3)
    picks = torch.nonzero(r.halt_epoch >= 0).flatten()[:8].tolist() + list(range(8))
    for i in picks:
        sd = {k: v.tolist() for k, v in net.state_dict(r.start_params, config, i).items()}
        states = student.train(sd, 0.1, 61, echo=lambda *a: None)
        last = states[-1] if "error" in states[-1] or len(states) <= 60 else states[60]
        halt = len(states) - 1 if "error" in states[-1] else -1
        assert halt == int(r.halt_epoch[i])
        theirs = last["state"]
        final = net.state_dict(r.final_params, config, i)
        for ours, key in (("hidden", "hide"), ("output", "out")):
            assert torch.equal(final[f"{ours}.weight"], theirs[f"{key}.weight"])
            assert torch.equal(final[f"{ours}.bias"], theirs[f"{key}.bias"])


def test_survey_report_is_the_same_on_both_paths():
    config = Config(lr=0.1)
    fast = survey.run_survey(config, 3000, 80, seed=1, fast=True).to_json()
    exact = survey.run_survey(config, 3000, 80, seed=1, fast=False).to_json()
    for key in ("seconds", "net_epochs_per_second", "trained_net_epochs"):
        fast.pop(key), exact.pop(key)
    assert fast == exact


def test_shards_change_nothing(monkeypatch):
    whole = survey.run_survey(Config(lr=0.1), 2500, 40, seed=4)
    monkeypatch.setattr(survey, "SHARD", 700)
    sharded = survey.run_survey(Config(lr=0.1), 2500, 40, seed=4)
    a, b = whole.to_json(), sharded.to_json()
    for key in ("seconds", "net_epochs_per_second", "trained_net_epochs"):
        a.pop(key), b.pop(key)
    assert a == b
    for (w, bb), (w2, b2) in zip(whole.final_params, sharded.final_params):
        assert torch.equal(w, w2) and torch.equal(bb, b2)


def test_settings_off_the_fast_path_are_named():
    assert "ELU" in kernel.supported(_config("elu", "relu", "bce", 0.1))
    assert "Tanh" in kernel.supported(_config("relu", "tanh", "mse", 0.1))
    assert "2-3-1" in kernel.supported(Config((3,), (parse_activation("relu"),) * 2))


def test_without_numba_the_survey_says_so_once_and_still_runs(monkeypatch):
    notes = []
    monkeypatch.setattr(kernel, "_UNAVAILABLE", "numba is not available (ImportError: no module)")
    r = survey.run_survey(Config(), 500, 20, note=notes.append)
    assert len(notes) == 1 and "numba is not available" in notes[0] and "torch engine" in notes[0]
    assert r.n == 500


def test_a_first_run_says_it_compiles(monkeypatch):
    notes = []
    monkeypatch.setattr(kernel, "needs_compiling", lambda config: True)
    survey.run_survey(Config(), 300, 5, note=notes.append)
    assert len(notes) == 1 and notes[0].startswith("compiling") and str(kernel.cache_dir()) in notes[0]


def test_kernels_are_cached_in_the_users_cache_folder():
    import site

    folder = str(kernel.cache_dir())
    assert "site-packages" not in folder and not any(folder.startswith(p) for p in site.getsitepackages())
    survey.run_survey(Config(), 300, 5)
    assert not kernel.needs_compiling(Config())
    assert kernel.object_path(Config()).is_file()


def test_a_later_survey_needs_no_numba(tmp_path):
    """numba's import and cache cost ~1.1 s of every `xor-tui survey`, and compiling a setting
    ~10 s: once numba has lowered the kernel on this machine, a new process makes any
    setting's kernel (~1 s) and later loads it, without numba, and gets the same bits."""
    import os
    import shutil
    import subprocess
    import sys

    survey.run_survey(Config(), 300, 5)  # numba has lowered the kernel (or it was cached)
    (tmp_path / "numba").mkdir()
    shutil.copy(kernel.generic_path(), tmp_path / "numba")
    code = (
        "import sys, torch; from xor_tui.core.studies import survey; from xor_tui.core.engine.fast import kernel;"
        "from xor_tui.core.engine.net import Config;"
        "from xor_tui.core.engine.activations import parse_activation as act;"
        "config = Config((2,), (act('leaky_relu:0.05'), act('identity')), 'mse', 0.3);"
        "before = kernel.needs_compiling(config);"
        "r = survey.run_survey(config, 3000, 60);"
        "ends = torch.cat([p.flatten() for layer in r.final_params for p in layer]);"
        "after = kernel.needs_compiling(config);"
        "print(before, after, 'numba' in sys.modules, int(r.outcome.sum()), float(ends.sum()))"
    )
    env = dict(os.environ, XOR_TUI_CACHE=str(tmp_path))
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
        for _ in range(2)
    ]
    here = survey.run_survey(_config("leaky_relu:0.05", "identity", "mse", 0.3), 3000, 60)
    total = float(torch.cat([p.flatten() for layer in here.final_params for p in layer]).sum())
    same = [str(int(here.outcome.sum())), repr(total)]
    assert runs[0].stdout.split() == ["True", "False", "False", *same]  # made from the cached module
    assert runs[1].stdout.split() == ["False", "False", "False", *same]  # loaded


def test_a_damaged_cached_kernel_is_never_loaded(monkeypatch, tmp_path):
    """LLVM would abort the process on a damaged object file: a cut or altered one, or
    something that is not a file, is taken for missing (compiled again), never handed to it."""
    import os

    monkeypatch.setattr(kernel, "_NATIVE", {})
    good = kernel.object_path(Config())
    kernel.timed_compile(Config())
    data, generic = good.read_bytes(), kernel.generic_path().read_bytes()
    monkeypatch.setenv("XOR_TUI_CACHE", str(tmp_path))
    path = kernel.object_path(Config())
    monkeypatch.setattr(kernel, "_NATIVE", {})
    path.parent.mkdir(parents=True)
    for damaged in (data[: len(data) // 2], data[:-1] + bytes([data[-1] ^ 1]), b"", b"\x7fELF" + data[4:]):
        path.write_bytes(damaged)
        assert kernel.needs_compiling(Config())
    path.write_bytes(data)
    assert not kernel.needs_compiling(Config())
    # not a file: a FIFO (reading it would wait for a writer forever), a folder, a device
    path.unlink()
    os.mkfifo(path)
    assert kernel.needs_compiling(Config())
    path.unlink()
    path.mkdir()
    assert kernel.needs_compiling(Config())
    path.rmdir()
    path.symlink_to("/dev/zero")
    assert kernel.needs_compiling(Config())
    path.unlink()
    # a whole, sealed file under another name: another setting's kernel, or the generic module
    other = _config("leaky_relu:0.1", "sigmoid", "mse", 0.3)
    kernel.object_path(other).write_bytes(data)
    assert kernel.needs_compiling(other)
    path.write_bytes(generic)  # sealed for its own name: the LLVM module, not machine code
    assert kernel.needs_compiling(Config())
    # its code runs in this process: a file others may write is not used
    path.write_bytes(data)
    path.chmod(0o666)
    assert kernel.needs_compiling(Config())
    path.chmod(0o600)
    assert not kernel.needs_compiling(Config())


def test_cache_files_are_private_and_a_failed_write_leaves_nothing(monkeypatch, tmp_path):
    import stat

    monkeypatch.setenv("XOR_TUI_CACHE", str(tmp_path / "c"))
    path = kernel.object_path(Config())
    assert kernel._write_object(path, b"machine code")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert kernel._read_object(path) == b"machine code"
    blocked = kernel.object_path(_config("relu", "sigmoid", "bce", 0.1))
    blocked.mkdir()  # a folder where the file goes
    assert not kernel._write_object(blocked, b"machine code")
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, blocked.name])


def test_kernels_of_other_versions_unused_for_a_month_are_pruned(monkeypatch, tmp_path):
    """Each version of the kernel leaves its files in the cache; those of other versions that
    no process has loaded for UNUSED_DAYS go (when numba compiles a new version), the
    current version's and recently used ones stay, and nothing else in the folder is touched."""
    import os
    import time

    monkeypatch.setenv("XOR_TUI_CACHE", str(tmp_path))
    folder = kernel.cache_dir()
    folder.mkdir(parents=True)
    old = time.time() - (kernel.UNUSED_DAYS + 1) * 86400
    recent = time.time() - (kernel.UNUSED_DAYS - 1) * 86400
    current = kernel.object_path(Config())
    other = "0123456789abcdef0123"  # another version's digest
    stale = [f"survey-000-{other}.o", f"survey-any-{other}.bc", f"path-210-{other}.lock"]
    kept = ["survey-000-fedcba9876543210fedc.o", f"notes-000-{other}.o", current.name]
    for name in stale + kept:
        (folder / name).write_bytes(b"x")
    (folder / f"survey-001-{other}.o").symlink_to(folder / f"notes-000-{other}.o")
    for name in stale + kept[1:]:
        os.utime(folder / name, (old, old))
    os.utime(folder / kept[0], (recent, recent))
    assert sorted(kernel.prune()) == sorted(stale)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*kept, f"survey-001-{other}.o"])
    # loading a kernel marks it as used
    monkeypatch.setattr(kernel, "_NATIVE", {})
    kernel._write_object(current, b"code")
    os.utime(current, (old, old))
    assert kernel._read_object(current) == b"code"
    assert current.stat().st_mtime > recent


def test_a_compile_lock_held_for_ever_is_waited_for_only_so_long(monkeypatch, tmp_path):
    """Another process stopped (Ctrl-Z) while compiling holds the lock: a survey waits
    LOCK_WAIT for it, then compiles itself instead of hanging."""
    import fcntl
    import os

    monkeypatch.setenv("XOR_TUI_CACHE", str(tmp_path))
    monkeypatch.setattr(kernel, "LOCK_WAIT", 0.2)
    path = kernel.object_path(Config())
    path.parent.mkdir(parents=True)
    holder = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        entered = []
        with kernel._compiling(path):
            entered.append(True)
        assert entered == [True]
    finally:
        os.close(holder)


def test_a_long_run_steps_on_when_its_kernel_cannot_be_made(monkeypatch):
    """A trajectory kernel that cannot be loaded (say a cache file LLVM rejects) is a note
    for the survey and nothing for a run: it steps on the exact way, the same bits."""
    from xor_tui.core.io.scenario import builtin
    from xor_tui.core.studies.replay import replay

    scenario = builtin("case3")
    expected = replay(scenario, 3000).final.params
    real = kernel._load_object

    def broken(body, what):
        if what == "path":
            raise RuntimeError("the cached kernel has no xor_tui_path_kernel")
        return real(body, what)

    monkeypatch.setattr(kernel, "_NATIVE", {})
    monkeypatch.setattr(kernel, "_FAILED", {})
    monkeypatch.setattr(kernel, "_load_object", broken)
    got = replay(scenario, 3000).final.params
    assert kernel.failed(scenario.config, "path")
    for (w, b), (w2, b2) in zip(expected, got):
        assert torch.equal(w, w2) and torch.equal(b, b2)


def test_stop_ends_a_survey_between_slices(monkeypatch):
    monkeypatch.setattr(kernel, "SLICE_WORK", 1000)
    asked = []

    def stop():
        asked.append(1)
        return len(asked) >= 3

    with pytest.raises(KeyboardInterrupt):
        survey.run_survey(Config(), 2000, 500, stop=stop)
    assert len(asked) == 3


@pytest.mark.parametrize("n", [1, 15, 17, 511, 513, 1100])
def test_group_packing_and_slices_change_nothing(monkeypatch, n):
    """Any count of starts (partial groups of lanes, partial blocks), one thread or two, one
    kernel call or many (each restarting from the states the last one wrote out): the same
    bits as the torch engine, halts included."""
    config = Config(lr=0.1)
    start = net.init_batch(torch.Generator().manual_seed(n), n, config.sizes)
    exact, exact_halt, _ = survey._train_sharded(start, config, 90, None)
    runs = [kernel.train(start, config, 90, threads=1), kernel.train(start, config, 90, threads=2)]
    monkeypatch.setattr(kernel, "SLICE_WORK", 37)  # a call every few epochs
    runs.append(kernel.train(start, config, 90))
    for fast, fast_halt, _ in runs:
        for (w, b), (fw, fb) in zip(exact, fast):
            assert torch.equal(w.view(torch.int32), fw.view(torch.int32))
            assert torch.equal(b.view(torch.int32), fb.view(torch.int32))
        assert torch.equal(exact_halt, torch.from_numpy(fast_halt))


async def test_the_survey_screen_says_it_compiles_then_shows_progress(monkeypatch):
    """The first survey of a setting compiles its kernel (seconds with the bar at 0%): the
    screen says so on one line, then shows the run; the result no longer mentions it."""
    import threading

    from tests.apphelp import plain, settle, type_text
    from xor_tui.app.main import XorApp
    from xor_tui.app.screens.survey import SurveyScreen

    release, real = threading.Event(), kernel.timed_compile
    monkeypatch.setattr(kernel, "needs_compiling", lambda config: True)
    monkeypatch.setattr(kernel, "timed_compile", lambda config: (release.wait(30), real(config))[1])
    app = XorApp()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("v")
        assert isinstance(app.screen, SurveyScreen)
        await type_text(pilot, "2000")
        await pilot.press("enter")
        result = app.screen.query_one("#result")
        for _ in range(200):
            await pilot.pause(0.02)
            if "compiling" in plain(result.content):
                break
        shown = plain(result.content)
        compiling = [line for line in shown.splitlines() if "compiling" in line]
        assert len(compiling) == 1 and "first run only" in compiling[0]
        assert str(kernel.cache_dir()) in shown
        assert app.screen.query_one("#bar").progress == 0
        release.set()
        await settle(pilot)
        shown = plain(result.content)
        assert "2,000 networks" in shown and "compiling" not in shown
        assert app.screen.query_one("#bar").progress == 200
