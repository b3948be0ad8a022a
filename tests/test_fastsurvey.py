"""The fused survey kernel: the same bits as the torch engine and the student's loop, its
judging the torch engine's judging, and never a wait for its compile.

Each supported setting trains 10,000 random starts both ways and compares every end state
(torch.equal on all nine parameters) and every halt epoch. Settings are picked so that
every kernel branch runs: halts at once and late, fixed points, overflow to inf and NaN.
"""

import itertools
import json

import numpy as np
import pytest
import torch

from tests import student
from tests.kernels import SURVEY_SETTINGS
from tests.kernels import config as _config
from xor_tui.core.engine import net
from xor_tui.core.engine.activations import parse_activation
from xor_tui.core.engine.fast import kernel
from xor_tui.core.engine.net import Config
from xor_tui.core.rules.diagnosis import diagnose
from xor_tui.core.studies import survey

pytestmark = pytest.mark.skipif(kernel._UNAVAILABLE is not None, reason="numba is not installed")

_sigmoid = torch.sigmoid
TIMING = ("seconds", "net_epochs_per_second", "trained_net_epochs", "engine", "compile_seconds_waited")


def _torch_scalar_sigmoid(z: torch.Tensor) -> torch.Tensor:
    """torch's sigmoid through its scalar kernel (a strided input is not vectorised): what a
    single run of four rows computes. The batched kernel's exp differs in the last bit on ~4%
    of inputs; the fast path follows single runs."""
    buf = torch.empty(z.shape + (2,), dtype=z.dtype)
    view = buf[..., 0]
    view.copy_(z)
    return _sigmoid(view)


def _same_result(a: survey.SurveyResult, b: survey.SurveyResult) -> None:
    """Every number two surveys report, and every end state, bit for bit (the time aside)."""
    ja, jb = a.to_json(), b.to_json()
    for key in TIMING:
        ja.pop(key), jb.pop(key)
    assert ja == jb
    for (w, bb), (w2, b2) in zip(a.final_params, b.final_params):
        assert torch.equal(w, w2) and torch.equal(bb, b2)
    assert torch.equal(a.halt_epoch, b.halt_epoch) and torch.equal(a.outcome, b.outcome)
    for x, y in ((a.hidden_dead_any, b.hidden_dead_any), (a.hidden_dead_all, b.hidden_dead_all)):
        assert torch.equal(x, y)
    assert torch.equal(a.output_dead, b.output_dead)
    assert (a.start_case is None) == (b.start_case is None)
    if a.start_case is not None:
        assert torch.equal(a.start_case, b.start_case)


@pytest.mark.kernel
@pytest.mark.parametrize("hidden,output,loss,lr,epochs", SURVEY_SETTINGS, ids=lambda v: str(v))
def test_fast_path_equals_the_torch_engine_on_10000_starts(monkeypatch, hidden, output, loss, lr, epochs):
    config = _config(hidden, output, loss, lr)
    assert kernel.supported(config) is None
    kernel.load(config)
    monkeypatch.setattr(torch, "sigmoid", _torch_scalar_sigmoid)
    start = net.init_batch(torch.Generator().manual_seed(5), 10_000, config.sizes)
    exact, exact_halt, _, _ = survey._train_sharded(start, config, epochs, None)
    fast, fast_halt, _ = kernel.train(start, config, epochs)
    for (w, b), (fw, fb) in zip(exact, fast):
        assert torch.equal(w, fw) and torch.equal(b, fb)
    assert torch.equal(exact_halt, torch.from_numpy(fast_halt))
    # halted runs are part of the comparison wherever the setting has them
    if loss == "bce" and output in ("relu", "leaky_relu:0.3") or lr >= 1e4:
        assert int((exact_halt >= 0).sum()) > 0


@pytest.mark.kernel
@pytest.mark.parametrize("hidden,output,loss,lr,epochs", SURVEY_SETTINGS, ids=lambda v: str(v))
def test_the_kernels_judging_is_the_torch_engines(monkeypatch, hidden, output, loss, lr, epochs):
    """A whole survey judged by the kernel (cases, dead units, outcomes, halts at the last
    state) and by the torch engine: the same report and the same tensors. Starts at twice
    PyTorch's scale include many that halt at epoch 0."""
    config = _config(hidden, output, loss, lr)
    kernel.load(config)
    monkeypatch.setattr(torch, "sigmoid", _torch_scalar_sigmoid)
    for scale in (1.0, 2.0):
        fast = survey.run_survey(config, 4000, epochs, seed=3, init_scale=scale, fast=True)
        exact = survey.run_survey(config, 4000, epochs, seed=3, init_scale=scale, fast=False)
        assert fast.engines.kernel_from == 0 and exact.engines.kernel_from is None
        _same_result(fast, exact)


def _grid_starts() -> list:
    """Every start whose nine parameters are each -0.5, 0 or 0.5 (19,683): pre-activations and
    gradients exactly 0 everywhere, outputs exactly 0 and 1 (the rules' boundaries); then
    4,000 of PyTorch's (the grid's symmetry cancels the output bias's gradient: no case 6)."""
    grid = torch.tensor(list(itertools.product((-0.5, 0.0, 0.5), repeat=9)), dtype=torch.float32)
    layers = net.init_batch(torch.Generator().manual_seed(1), 4000, (2, 2, 1))
    drawn = torch.cat([t.reshape(4000, -1) for layer in layers for t in layer], 1)
    rows = torch.cat([grid, drawn])
    m = len(rows)
    return [(rows[:, 0:4].reshape(m, 2, 2), rows[:, 4:6]), (rows[:, 6:8].reshape(m, 1, 2), rows[:, 8:9])]


@pytest.mark.kernel
@pytest.mark.parametrize("hidden,output,loss,halts", [("relu", "relu", "bce", True), ("relu", "relu", "mse", False)])
def test_judging_at_the_rules_boundaries_is_the_single_runs(hidden, output, loss, halts):
    """Starts on a grid of -0.5, 0, 0.5: the fused and the torch judging agree on all of them,
    and a sample (every start case and halt among them) is what diagnose() says of the single
    run: its case (none for a start that halts), its dead units (a unit whose pre-activations
    are exactly 0 on every row is dead)."""
    config = _config(hidden, output, loss, 0.1)
    kernel.load(config)
    start = _grid_starts()
    fast = survey.run_survey(config, len(start[0][0]), 3, start=start, fast=True)
    exact = survey.run_survey(config, len(start[0][0]), 3, start=start, fast=False)
    _same_result(fast, exact)
    cases = fast.start_case
    picks = set()
    for c in range(9):
        picks |= set(torch.nonzero(cases == c).flatten()[:25].tolist())
    halts0 = torch.nonzero(fast.halt_epoch == 0).flatten()
    picks |= set(halts0[:25].tolist())
    assert {int(c) for c in cases.unique()} == set(range(9))
    assert (len(halts0) > 0) == halts  # BCELoss refuses an output of 1.5; MSELoss does not
    for i in sorted(picks):
        record = fast.scenario_for(i).new_run().current
        d = diagnose(record)
        assert (d.case or 0) == int(cases[i]), i
        hidden_dead = [u for u in d.dead if u.startswith("hidden")]
        assert bool(hidden_dead) == bool(fast.hidden_dead_any[i]), i
        assert (len(hidden_dead) == 2) == bool(fast.hidden_dead_all[i]), i
        assert ("output[0]" in d.dead) == bool(fast.output_dead[i]), i


@pytest.mark.kernel
@pytest.mark.parametrize("fast", [True, False])
def test_starts_that_halt_at_epoch_0_count_in_no_case(fast):
    """A start BCELoss refuses at once (an output above 1) is in no case, whatever its shape."""
    config = Config(lr=0.1)
    r = survey.run_survey(config, 5000, 5, seed=2, init_scale=2.5, fast=fast)
    halted0 = r.halt_epoch == 0
    assert int(halted0.sum()) > 100
    assert int((r.start_case[halted0] != 0).sum()) == 0
    assert int((r.start_case[~halted0] != 0).sum()) > 100


def _ready_after(monkeypatch, calls: int) -> None:
    """The kernel looks not ready for the survey's first ``calls`` questions (its start's
    judging, then one per torch slice), then ready: as when its background build ends during
    the survey (no process is started)."""
    asked = [0]
    real = survey.Plan.ready

    def ready(self) -> bool:
        asked[0] += 1
        return asked[0] > calls and real(self)

    monkeypatch.setattr(survey.Plan, "ready", ready)
    monkeypatch.setattr(kernel, "warm", lambda config, what="survey": None)


HANDOFF_SETTINGS = [SURVEY_SETTINGS[i] for i in (1, 3, 6, 11)]  # halts at once and late, MSE, sigmoid


@pytest.mark.kernel
@pytest.mark.parametrize("hidden,output,loss,lr,epochs", HANDOFF_SETTINGS, ids=lambda v: str(v))
@pytest.mark.parametrize("calls,first", [(1, 16), (2, 16), (2, 1), (3, 5), (4, 3), (1000, 16)])
def test_the_torch_engine_hands_over_to_the_kernel_with_the_same_bits(
    monkeypatch, hidden, output, loss, lr, epochs, calls, first
):
    """The kernel becomes ready after the torch engine has judged the starts and trained none,
    one or more slices of ``first`` epochs (or never: the torch engine trains to the end and
    the kernel judges the ends): every number of the survey is the kernel's alone and the
    torch engine's alone."""
    config = _config(hidden, output, loss, lr)
    kernel.load(config)
    monkeypatch.setattr(torch, "sigmoid", _torch_scalar_sigmoid)
    alone = survey.run_survey(config, 3000, epochs, seed=calls, init_scale=1.5, fast=True)
    exact = survey.run_survey(config, 3000, epochs, seed=calls, init_scale=1.5, fast=False)
    monkeypatch.setattr(survey, "FIRST_SLICE", first)
    monkeypatch.setattr(survey, "SLICE_SECONDS", 0.0)  # every torch slice FIRST_SLICE epochs
    _ready_after(monkeypatch, calls)
    handed = survey.run_survey(config, 3000, epochs, seed=calls, init_scale=1.5)
    expected = (calls - 1) * first if (calls - 1) * first < epochs else None
    assert handed.engines.kernel_from == expected
    if expected:
        assert f"torch engine to epoch {expected}, then the fused kernel" in handed.timing_text()
    _same_result(handed, alone)
    _same_result(handed, exact)


@pytest.mark.kernel
@pytest.mark.parametrize(
    "calls,said,torch_networks",
    [
        (0, "fused kernel)", 0),  # ready from the start: every shard on the kernel
        (3, "torch engine for the first 1,000 of 3,000 networks (to epoch 32 for 1,000), then the fused kernel", 1000),
        (6, "torch engine for the first 1,000 of 3,000 networks (to the end for 1,000), then the fused kernel", 1000),
        (9, "first 2,000 of 3,000 networks (to the end for 1,000; to epoch 32 for 1,000), then the fused", 2000),
        (1000, "torch engine, exact", 3000),  # never ready
    ],
)
def test_a_survey_of_several_shards_says_which_networks_the_torch_engine_trained(
    monkeypatch, calls, said, torch_networks
):
    """Shards of 1,000: the kernel's readiness in one shard is not said of the others (a
    survey of 500,000 whose kernel was ready from its second shard on said 'fused kernel')."""
    config = _config("relu", "relu", "bce", 0.1)
    kernel.load(config)
    alone = survey.run_survey(config, 3000, 60, seed=4, fast=True)
    monkeypatch.setattr(survey, "SHARD", 1000)
    monkeypatch.setattr(survey, "FIRST_SLICE", 16)
    monkeypatch.setattr(survey, "SLICE_SECONDS", 0.0)
    _ready_after(monkeypatch, calls)
    r = survey.run_survey(config, 3000, 60, seed=4)
    assert said in r.timing_text() and r.engines.torch_networks == torch_networks
    assert r.engines.all_kernel == (calls == 0) and json.loads(json.dumps(r.to_json()))["engine"] in r.timing_text()
    _same_result(r, alone)


@pytest.mark.kernel
@pytest.mark.parametrize(
    "calls,said",
    [
        (0, "fused kernel"),
        (6, "torch engine for 1 of 3 points, then the fused kernel"),  # ready between points 1 and 2
        (9, "torch engine for 1 of 3 points and to epoch 32 of the next, then the fused kernel"),  # in point 2
    ],
)
def test_a_sweep_says_which_points_and_epochs_the_torch_engine_trained(monkeypatch, calls, said):
    """Each point asks whether the kernel is ready 6 times when the torch engine trains it all
    (its start, each of 4 slices of 16 epochs of 60, its end); a point the kernel became ready
    in was counted a kernel point."""
    from xor_tui.core.studies.sweep import run_sweep

    config = _config("relu", "relu", "bce", 0.1)
    kernel.load(config)
    alone = run_sweep(config, [0.1, 0.2, 0.3], [1.0], 500, 60, seed=2, fast=True)
    monkeypatch.setattr(survey, "FIRST_SLICE", 16)
    monkeypatch.setattr(survey, "SLICE_SECONDS", 0.0)
    _ready_after(monkeypatch, calls)
    r = run_sweep(config, [0.1, 0.2, 0.3], [1.0], 500, 60, seed=2)
    assert r.engine == said and torch.equal(r.shares, alone.shares)


def test_a_setting_whose_kernel_is_not_built_starts_at_once_on_the_torch_engine(monkeypatch):
    """No compile is waited for: a short survey runs on the exact engine and says so; one that
    the torch engine would take longer over than the build starts the build in the background
    (a note says so) and still starts at once."""
    config = Config(lr=0.1)
    monkeypatch.setattr(kernel, "is_ready", lambda config, what="survey": False)
    monkeypatch.setattr(kernel, "building", lambda config, what="survey": None)
    started = []
    monkeypatch.setattr(kernel, "warm", lambda config, what="survey": started.append(what))
    notes = []
    r = survey.run_survey(config, 2000, 40, seed=1, note=notes.append)
    assert r.engines.kernel_from is None and notes == [] and started == []
    said = r.timing_text()  # not "not compiled yet": nothing will compile it
    assert "torch engine, exact: the fused kernel for this setting is not compiled, and compiling it (~" in said
    assert "would take longer than this survey" in said
    monkeypatch.setattr(survey, "TORCH_RATE", 1.0)  # as if it were slow: the build pays
    survey.run_survey(config, 2000, 40, seed=1, note=notes.append)
    assert started == ["survey"]


@pytest.mark.kernel
def test_a_survey_command_that_ends_before_its_compile_waits_for_it_and_keeps_it(monkeypatch, capsys, tmp_path):
    """`xor-tui survey` of a setting whose kernel is not built, long enough to start its build:
    the torch engine ends first; after the output the command waits for the build (said on
    stderr), so that the next survey of the setting runs on the kernel instead of compiling
    again (a build killed with its command was started again by every run)."""
    import shutil

    from xor_tui.cli.main import main

    config = _config("relu", "leaky_relu:0.1", "bce-logits", 0.2)
    kernel.load(Config())  # the generic module is made (once a run), then copied to a cache of this test's own
    generic = kernel.generic_path()
    (tmp_path / "numba").mkdir(mode=0o700)
    shutil.copy2(generic, tmp_path / "numba" / generic.name)
    monkeypatch.setenv("XOR_TUI_CACHE", str(tmp_path))
    for known in ("_NATIVE", "_FAILED", "_BUILDS", "_ABSENT"):  # nothing this process loaded or built before
        monkeypatch.setattr(kernel, known, {})
    assert not kernel.is_ready(config)
    monkeypatch.setattr(survey, "TORCH_RATE", 1.0)  # as if the torch engine were slow: the build pays
    args = ["survey", "--n", "500", "--epochs", "20", "--output", "leaky_relu:0.1", "--loss", "bce-logits"]
    assert main([*args, "--lr", "0.2"]) == 0
    out, err = capsys.readouterr()
    assert "torch engine, exact: the fused kernel for this setting was still compiling" in out
    assert "still compiling: waiting for it so that the next survey or sweep of this setting runs on it" in err
    assert "later and kept: the next survey of this setting runs on it" in err
    assert kernel.object_path(config).exists() and not survey.compiling(config)
    assert main([*args, "--lr", "0.2"]) == 0
    out, err = capsys.readouterr()
    assert "(training and judging; fused kernel)" in out and "compil" not in err


@pytest.mark.kernel
@pytest.mark.parametrize(
    "setting,epochs",
    [
        (("relu", "relu", "bce", 0.1), 0),  # nothing trained: the starts and ends judged after, at once
        (("identity", "identity", "mse", 1e4), 30_000),  # every network halts in the first kernel call
    ],
    ids=["epochs 0", "all stopped before the last call"],
)
def test_the_codes_judged_after_the_kernels_calls_are_the_torch_engines(setting, epochs):
    """The kernel judges the starts and ends in its training calls; when a survey trains nothing
    or every network stops before the last call, they are judged after (kernel.advance's end),
    their codes written where the training calls' would have been."""
    config = _config(*setting)
    kernel.load(config)
    fast = survey.run_survey(config, 3000, epochs, seed=5, fast=True)
    assert fast.engines.all_kernel
    _same_result(fast, survey.run_survey(config, 3000, epochs, seed=5, fast=False))


@pytest.mark.kernel
def test_survey_report_is_the_same_on_both_paths():
    config = Config(lr=0.1)
    _same_result(
        survey.run_survey(config, 3000, 80, seed=1, fast=True),
        survey.run_survey(config, 3000, 80, seed=1, fast=False),
    )


@pytest.mark.kernel
def test_the_student_loop_agrees_on_a_sample():
    config = Config(lr=0.1)
    r = survey.run_survey(config, 4000, 60, seed=3, fast=True)
    assert r.engines.kernel_from == 0
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


@pytest.mark.kernel
def test_shards_change_nothing(monkeypatch):
    whole = survey.run_survey(Config(lr=0.1), 2500, 40, seed=4, fast=True)
    monkeypatch.setattr(survey, "SHARD", 700)
    _same_result(whole, survey.run_survey(Config(lr=0.1), 2500, 40, seed=4, fast=True))


def test_settings_off_the_fast_path_are_named():
    assert "ELU" in kernel.supported(_config("elu", "relu", "bce", 0.1))
    assert "Tanh" in kernel.supported(_config("relu", "tanh", "mse", 0.1))
    assert "2-3-1" in kernel.supported(Config((3,), (parse_activation("relu"),) * 2))


def test_without_numba_the_survey_says_so_once_and_still_runs(monkeypatch):
    notes = []
    monkeypatch.setattr(kernel, "_UNAVAILABLE", "numba is not available (ImportError: no module)")
    r = survey.run_survey(Config(), 500, 20, note=notes.append)
    assert len(notes) == 1 and "numba is not available" in notes[0] and "torch engine" in notes[0]
    assert r.n == 500 and "numba is not available" in r.timing_text()


@pytest.mark.kernel
def test_a_survey_that_waits_for_its_kernel_counts_the_compile_in_its_time(monkeypatch):
    """fast=True waits for the kernel's build: the survey's seconds include it, and say so."""
    import time

    real_ready, real_load, built = kernel.is_ready, kernel.load, []
    monkeypatch.setattr(kernel, "is_ready", lambda config, what="survey": bool(built) and real_ready(config, what))

    def load(config, what="survey"):
        time.sleep(0.3)
        built.append(1)
        real_load(config, what)

    monkeypatch.setattr(kernel, "load", load)
    r = survey.run_survey(Config(), 300, 5, fast=True)
    assert r.engines.kernel_from == 0 and r.engines.waited >= 0.3 and r.seconds >= r.engines.waited
    assert "s of them compiling the fused kernel" in r.timing_text()


@pytest.mark.kernel
def test_kernels_are_cached_in_the_users_cache_folder():
    import site

    folder = str(kernel.cache_dir())
    assert "site-packages" not in folder and not any(folder.startswith(p) for p in site.getsitepackages())
    kernel.load(Config())
    assert kernel.is_ready(Config())
    assert kernel.object_path(Config()).is_file()


@pytest.mark.kernel
def test_a_later_survey_needs_no_numba(tmp_path):
    """numba's import and cache cost ~1 s of every `xor-tui survey`: once numba has lowered the
    kernel on this machine, a build makes any setting's kernel without numba, and a later
    process loads it, without numba either, and gets the same bits."""
    import os
    import shutil
    import subprocess
    import sys

    kernel.load(Config())  # numba has lowered the kernel (or it was cached)
    (tmp_path / "numba").mkdir()
    shutil.copy(kernel.generic_path(), tmp_path / "numba")
    code = (
        "import sys, torch; from xor_tui.core.studies import survey; from xor_tui.core.engine.fast import kernel;"
        "from xor_tui.core.engine.net import Config;"
        "from xor_tui.core.engine.activations import parse_activation as act;"
        "config = Config((2,), (act('leaky_relu:0.05'), act('identity')), 'mse', 0.3);"
        "before = kernel.is_ready(config);"
        "r = survey.run_survey(config, 3000, 60, fast=True);"
        "ends = torch.cat([p.flatten() for layer in r.final_params for p in layer]);"
        "print(before, kernel.is_ready(config), 'numba' in sys.modules, int(r.outcome.sum()), float(ends.sum()))"
    )
    env = dict(os.environ, XOR_TUI_CACHE=str(tmp_path))
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True)
        for _ in range(2)
    ]
    here = survey.run_survey(_config("leaky_relu:0.05", "identity", "mse", 0.3), 3000, 60, fast=False)
    total = float(torch.cat([p.flatten() for layer in here.final_params for p in layer]).sum())
    same = [str(int(here.outcome.sum())), repr(total)]
    assert runs[0].stdout.split() == ["False", "True", "False", *same]  # built from the cached module
    assert runs[1].stdout.split() == ["True", "True", "False", *same]  # loaded


def _fresh(monkeypatch, folder) -> None:
    """This process as if new, with an empty kernel cache in ``folder``."""
    monkeypatch.setenv("XOR_TUI_CACHE", str(folder))
    for name in ("_NATIVE", "_FAILED", "_BUILDS", "_ABSENT"):
        monkeypatch.setattr(kernel, name, {})


def _cached(config, what: str = "survey") -> bool:
    kernel._ABSENT.clear()
    return kernel.is_ready(config, what)


def test_load_says_why_a_kernel_cannot_be_had(monkeypatch, tmp_path):
    """``load`` raises Unavailable with the reason, never starts a build, for a setting off the
    fast path and where numba is missing (it raised AttributeError, on the build ``warm`` did
    not start: found by mypy)."""
    _fresh(monkeypatch, tmp_path)
    with pytest.raises(kernel.Unavailable, match="the fast path has no Tanh hidden layer"):
        kernel.load(_config("tanh", "relu", "bce", 0.1))
    monkeypatch.setattr(kernel, "_UNAVAILABLE", "numba is not available (ImportError: no module)")
    with pytest.raises(kernel.Unavailable, match="numba is not available"):
        kernel.load(Config())
    assert kernel._BUILDS == {} and not (tmp_path / "numba").exists()


@pytest.mark.kernel
def test_a_damaged_cached_kernel_is_never_loaded(monkeypatch, tmp_path):
    """LLVM would abort the process on a damaged object file: a cut or altered one, or
    something that is not a file, is taken for missing (compiled again), never handed to it."""
    import os

    kernel.load(Config())
    data, generic = kernel.object_path(Config()).read_bytes(), kernel.generic_path().read_bytes()
    _fresh(monkeypatch, tmp_path)
    path = kernel.object_path(Config())
    path.parent.mkdir(parents=True)
    for damaged in (data[: len(data) // 2], data[:-1] + bytes([data[-1] ^ 1]), b"", b"\x7fELF" + data[4:]):
        path.write_bytes(damaged)
        assert not _cached(Config())
    path.write_bytes(data)
    assert _cached(Config())
    # not a file: a FIFO (reading it would wait for a writer forever), a folder, a device
    path.unlink()
    os.mkfifo(path)
    assert not _cached(Config())
    path.unlink()
    path.mkdir()
    assert not _cached(Config())
    path.rmdir()
    path.symlink_to("/dev/zero")
    assert not _cached(Config())
    path.unlink()
    # a whole, sealed file under another name: another setting's kernel, or the generic module
    other = _config("leaky_relu:0.1", "sigmoid", "mse", 0.3)
    kernel.object_path(other).write_bytes(data)
    assert not _cached(other)
    path.write_bytes(generic)  # sealed for its own name: the LLVM module, not machine code
    assert not _cached(Config())
    # its code runs in this process: a file others may write is not used
    path.write_bytes(data)
    path.chmod(0o666)
    assert not _cached(Config())
    path.chmod(0o600)
    assert _cached(Config())


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
    stale = [f"survey-000-{other}.o", f"survey-any-{other}.bc", f"path-210-{other}.lock", f"path-own-{other}.why"]
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
    kernel._write_object(current, b"code")
    os.utime(current, (old, old))
    assert kernel._read_object(current) == b"code"
    assert current.stat().st_mtime > recent


def test_a_compile_lock_held_for_ever_is_waited_for_only_so_long(monkeypatch, tmp_path):
    """Another process stopped (Ctrl-Z) while compiling holds the lock: a build waits
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


@pytest.mark.kernel
def test_stop_ends_a_survey_between_slices(monkeypatch):
    kernel.load(Config())
    monkeypatch.setattr(kernel, "SLICE_WORK", 1000)
    asked = []

    def stop():
        asked.append(1)
        return len(asked) >= 3

    with pytest.raises(KeyboardInterrupt):
        survey.run_survey(Config(), 2000, 500, stop=stop)
    assert len(asked) == 3


@pytest.mark.kernel
@pytest.mark.parametrize("n", [1, 15, 17, 511, 513, 1100])
def test_group_packing_and_slices_change_nothing(monkeypatch, n):
    """Any count of starts (partial groups of lanes, partial blocks), one thread or two, one
    kernel call or many (each restarting from the states the last one wrote out): the same
    bits as the torch engine, halts included."""
    config = Config(lr=0.1)
    kernel.load(config)
    start = net.init_batch(torch.Generator().manual_seed(n), n, config.sizes)
    exact, exact_halt, _, _ = survey._train_sharded(start, config, 90, None)
    runs = [kernel.train(start, config, 90, threads=1), kernel.train(start, config, 90, threads=2)]
    monkeypatch.setattr(kernel, "SLICE_WORK", 37)  # a call every few epochs
    runs.append(kernel.train(start, config, 90))
    for fast, fast_halt, _ in runs:
        for (w, b), (fw, fb) in zip(exact, fast):
            assert torch.equal(w.view(torch.int32), fw.view(torch.int32))
            assert torch.equal(b.view(torch.int32), fb.view(torch.int32))
        assert torch.equal(exact_halt, torch.from_numpy(fast_halt))


# ---------------------------------------------------------------- builds, and a numba that changed


def test_a_build_ends_when_its_parent_is_gone(tmp_path):
    """A process that starts a build and leaves without a word (os._exit, as the app does)
    leaves no build behind: the child ends itself."""
    import os
    import subprocess
    import sys
    import time

    code = (
        "import os; from xor_tui.core.engine.fast import kernel; from xor_tui.core.engine.net import Config;"
        "b = kernel.warm(Config(lr=0.3)); print(b._proc.pid, flush=True); os._exit(0)"
    )
    env = dict(os.environ, XOR_TUI_CACHE=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 20  # a hang guard: it ends within ~0.2 s of its parent
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_cancelling_a_build_kills_it(monkeypatch, tmp_path):
    _fresh(monkeypatch, tmp_path)
    build = kernel.warm(Config(lr=0.2))
    assert build is not None and not build.done
    kernel.cancel_builds()
    assert build.done and not build.ok and build._proc.returncode < 0
    assert not _alive(build._proc.pid)


def _path_kernel_equals_stepping(config) -> None:
    from xor_tui.core.engine.run import Run, Start

    for seed in range(6):
        run = Run(config, Start("seed", seed=seed))
        row = run._flat[0].numpy()
        rows, why = kernel.trajectory(row, config, 300)
        while run.epoch < len(rows) and not run.halted:
            run.step()
        assert torch.equal(run._flat[1 : len(rows) + 1].view(torch.int32), torch.from_numpy(rows).view(torch.int32))


def test_a_numba_whose_internals_changed_builds_with_numbas_own_cache(monkeypatch, tmp_path):
    """The private compiler reads numba's internals (a library's LLVM module, its wrapper's
    conventions). When they are not what it expects (here: the module is gone, as if numba had
    renamed it), the build says why in the cache and uses numba's own cache=True: the same bits,
    and every later build with this numba goes that way at once."""
    from xor_tui.core.engine.fast import build, epoch

    _fresh(monkeypatch, tmp_path)

    def renamed(what):
        raise AttributeError("'CPUCodeLibrary' object has no attribute '_final_module'")

    monkeypatch.setattr(epoch, "generic_module", renamed)
    config = Config(lr=0.1)
    assert build.build("path", kernel._kinds(config)) == ("numba", b"")
    assert b"_final_module" in kernel._read_object(kernel._refused_path("path"))
    assert kernel.is_ready(config, "path")
    _path_kernel_equals_stepping(config)
    other = _config("leaky_relu:0.01", "relu", "bce", 0.5)
    assert build.build("path", kernel._kinds(other)) == ("numba", b"")  # refused at once: not lowered again
    _path_kernel_equals_stepping(other)


def test_machine_code_that_differs_from_numbas_is_refused(monkeypatch, tmp_path):
    """The first build with a numba runs its own machine code beside numba's compiled function
    on a sample; code that differs (here: made for another setting, as a changed calling
    convention would scramble it) is never kept or used: numba's own cache takes over."""
    from xor_tui.core.engine.fast import build

    _fresh(monkeypatch, tmp_path)
    real = build._specialise
    monkeypatch.setattr(build, "_specialise", lambda generic, what, kinds: real(generic, what, (1, 1, 1)))
    config = Config(lr=0.1)
    assert build.build("path", kernel._kinds(config)) == ("numba", b"")
    assert b"differs" in kernel._read_object(kernel._refused_path("path"))
    assert not kernel.generic_path("path").exists() and not kernel.object_path(config, "path").exists()
    _path_kernel_equals_stepping(config)


def test_a_build_that_crashes_leaves_the_survey_on_the_torch_engine(monkeypatch, tmp_path):
    """A build process that dies (a signal, an abort in LLVM) is a note, not a crash: the
    survey runs on the torch engine and says why."""
    _fresh(monkeypatch, tmp_path)
    config = Config(lr=0.1)
    build = kernel.warm(config)
    build._proc.kill()
    build.wait(30)
    assert build.done and not build.ok and "could not be built" in build.error
    notes = []
    r = survey.run_survey(config, 500, 10, note=notes.append)
    assert r.engines.kernel_from is None and "could not be built" in r.timing_text()
    assert notes and "torch engine" in notes[0]


async def test_the_survey_screen_never_waits_for_a_compile(monkeypatch):
    """A first survey of a setting starts at once on the torch engine while the kernel compiles
    in the background (here a build that never ends); the result says which engine ran."""
    from tests.apphelp import plain, settle, type_text
    from xor_tui.app.main import XorApp
    from xor_tui.app.screens.survey import SurveyScreen

    monkeypatch.setattr(kernel, "is_ready", lambda config, what="survey": False)
    monkeypatch.setattr(kernel, "building", lambda config, what="survey": None)

    class Never:  # a build that never ends
        done = ok = False
        elapsed = 0.0

    monkeypatch.setattr(kernel, "warm", lambda config, what="survey": Never())
    app = XorApp()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("v")
        assert isinstance(app.screen, SurveyScreen)
        await type_text(pilot, "2000")
        await pilot.press("enter")
        result = app.screen.query_one("#result")
        for _ in range(1500):  # a hang guard: the survey of 2,000 on the torch engine takes ~0.3 s
            if "2,000 networks" in plain(result.content):
                break
            await pilot.pause(0.02)
        await settle(pilot)
        shown = plain(result.content)
        assert "2,000 networks" in shown
        assert "torch engine, exact: the fused kernel for this setting was still compiling" in shown
        assert app.screen.query_one("#bar").progress == 200


def test_quitting_the_app_during_a_compile_ends_it_and_the_build(tmp_path):
    """The app, run for real (headless), starts a survey whose kernel compiles in the
    background and quits at once: the process ends (a hang guard, not a timing) and so does
    the build."""
    import os
    import subprocess
    import sys
    import time

    script = tmp_path / "quit.py"
    script.write_text(
        "import asyncio\n"
        "from xor_tui.app.main import XorApp\n"
        "from xor_tui.core.engine.fast import kernel\n"
        "async def pilot(p):\n"
        "    await p.press('v')\n"
        "    for ch in '3000': await p.press(ch)\n"
        "    await p.press('enter')\n"
        "    for _ in range(600):\n"
        "        await asyncio.sleep(0.05)\n"
        "        builds = [b for b in kernel._BUILDS.values() if not b.done]\n"
        "        if builds: break\n"
        "    print(builds[0]._proc.pid, flush=True)\n"
        "    await p.press('escape', 'q')\n"
        "XorApp().run(headless=True, auto_pilot=pilot, size=(120, 36))\n"
    )
    env = dict(os.environ, XOR_TUI_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pid = int(proc.stdout.split()[-1])
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_the_case_table_is_classify_of_each_pattern():
    """The survey's cases come from diagnosis.case_table, the rules of CASE_RULES evaluated
    once per pattern: each entry is what classify gives for those features."""
    from xor_tui.core.rules.diagnosis import Features, case_table, classify

    table = case_table()
    rng = np.random.default_rng(0)
    for index in rng.integers(0, len(table), 400).tolist() + [0, len(table) - 1]:
        p, rest = divmod(index, 5 * 512)
        o, g = divmod(rest, 512)
        bits = [(g >> k) & 1 for k in range(9)]
        hw, hb, ow, ob = sum(bits[0:4]), sum(bits[4:6]), sum(bits[6:8]), bits[8]
        n = hw + hb + ow + ob
        t = torch.tensor
        f = Features(t([p]), t([o]), t([n]), t([hw > 0]), t([hb > 0]), t([ob == 1 and n == 1]))
        assert int(classify(f)[0]) == int(table[index])
