"""Long runs through the fused kernel: every state, loss, repeat flag, event and table row
bit for bit what stepping one epoch at a time gives."""

from __future__ import annotations

import pytest
import torch

from tests.kernels import PATH_SETTINGS
from tests.kernels import config as _config
from xor_tui.core.engine.actions import SetLr, SetParam
from xor_tui.core.engine.activations import parse_activation
from xor_tui.core.engine.fast import kernel
from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import Run, Start, fast_replay
from xor_tui.core.studies.replay import Trace

# (hidden, output, loss, lr, seeds): the seeds, fixed, include halts or fixed points
SETTINGS = [(*PATH_SETTINGS[0], range(0, 8)), ("relu", "relu", "bce", 0.001, range(8, 16))] + [
    (*s, range(8 * i, 8 * i + 8)) for i, s in enumerate(PATH_SETTINGS[1:], start=2)
]
pytestmark = pytest.mark.kernel  # the fast path is what these test: its kernels are loaded first


def _ready(config) -> Config:
    """The setting, its long-run kernel loaded (built first if it is not in the cache)."""
    kernel.load(config, "path")
    return config


def _stepped(run: Run, epochs: int) -> Run:
    """The same run moved one real step at a time (the fast path never applies)."""
    while run.epoch < epochs and not run.halted:
        run.step()
    return run


def _same(a: Run, b: Run) -> None:
    n = len(a.records)
    assert len(b.records) == n
    assert torch.equal(a._flat[:n].view(torch.int32), b._flat[:n].view(torch.int32))
    assert a.losses() == b.losses()
    assert a.repeats() == b.repeats()
    assert a.halted == b.halted
    assert a.current.loss == b.current.loss or a.halted


@pytest.mark.parametrize("hidden, output, loss, lr, seeds", SETTINGS)
def test_fast_advance_equals_stepping(hidden, output, loss, lr, seeds):
    config = _ready(_config(hidden, output, loss, lr))
    assert fast_replay(config)
    for seed in seeds:
        fast = Run(config, Start("seed", seed=seed))
        fast.advance(400)
        slow = _stepped(Run(config, Start("seed", seed=seed)), 400)
        _same(fast, slow)


def test_the_sample_includes_halts_and_fixed_points():
    """What test_fast_advance_equals_stepping compares includes runs that halt (the kernel's
    HALTS) and runs that stop changing (REPEATS), not only runs that learn throughout."""
    halts = repeats = 0
    for hidden, output, loss, lr, seeds in SETTINGS:
        for seed in seeds:
            run = Run(_ready(_config(hidden, output, loss, lr)), Start("seed", seed=seed))
            run.advance(400)
            halts += run.halted
            repeats += any(run.repeats())
    assert halts > 0
    assert repeats > 0


def test_scripted_actions_and_events_are_where_stepping_puts_them():
    config = _ready(Config(lr=0.1))
    script = [SetLr(150, 0.5), SetParam(300, "output.bias[0]", -0.25), SetParam(301, "hidden.weight[1][0]", 2.0)]
    fast = Run(config, Start("seed", seed=3), script)
    ft = Trace(fast)
    fast.advance(1000, on_step=ft.sync)
    ft.sync()
    slow = Run(config, Start("seed", seed=3), script)
    st = Trace.follow(slow)
    while slow.epoch < 1000 and not slow.halted:
        slow.step()
        st.sync()
    _same(fast, slow)
    assert [a.epoch for a in fast.actions()] == [150, 300, 301]
    assert ft.all_events() == st.all_events()
    assert [ft.row(k) for k in range(len(fast.records))] == [st.row(k) for k in range(len(slow.records))]


def test_settings_with_exp_step_one_by_one():
    assert not fast_replay(_config("relu", "sigmoid", "bce", 0.1))
    assert not fast_replay(_config("relu", "relu", "bce-logits", 0.1))
    assert not fast_replay(_config("tanh", "relu", "bce", 0.1))
    assert not fast_replay(Config((3,), (parse_activation("relu"),) * 2))


def test_run_until_an_event_stops_where_single_steps_stop():
    from xor_tui.core.session import NOTABLE, Session

    stops, late, halted = set(), 0, 0
    _ready(Config(lr=0.3))
    for seed in range(40):
        fast = Session.from_seed(seed, Config(lr=0.3))
        reason = fast.run_until(20_000, stop_on_event=True)
        slow = Session.from_seed(seed, Config(lr=0.3))
        while slow.epoch < 20_000 and not slow.run.halted and not slow.run.settled():
            slow.step()
            if any(e.kind in NOTABLE for e in slow.trace.events[-1]):
                break
        assert fast.epoch == slow.epoch, seed
        assert torch.equal(fast.record.params[0][0], slow.record.params[0][0])
        assert fast.frame().events == slow.frame().events
        stops.add(reason)
        late += reason == "event" and fast.epoch > Run.FAST_MIN  # found inside a fused stretch
        halted += fast.run.halted
    assert stops == {"event", "fixed"}
    assert late > 0 and halted > 0


def test_compiled_kernels_are_reused_by_the_next_process(tmp_path):
    """A long run's kernel is compiled once per machine (by a build process: the process that
    asked never imports numba, whose import alone takes ~1 s); the next process loads it from
    the cache and steps the same."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from xor_tui.core.engine.fast import kernel as fs;"
        "from xor_tui.core.engine.net import Config;"
        "before = fs.is_ready(Config(), 'path'); fs.load(Config(), 'path');"
        "rows, why = fs.trajectory(np.array([.5, -.25, .75, .5, 0, .1, .6, -.4, .2], np.float32), Config(), 50);"
        "print(before, 'numba' in sys.modules, len(rows), why, rows[-1].tobytes().hex())"
    )
    env = dict(os.environ, XOR_TUI_CACHE=str(tmp_path))
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=300
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs[0][:2] == ["False", "False"] and runs[1][:2] == ["True", "False"]
    assert runs[0][2:] == runs[1][2:] and runs[0][2] == "50"


def test_long_json_and_csv_exports_equal_the_record_by_record_ones(monkeypatch):
    """Exports measure long stretches in batched slices; the text is what measuring each
    record on its own gives (a scripted action, a learning stretch and a fixed point included)."""
    import io
    import json

    from xor_tui.core.io.scenario import resolve
    from xor_tui.core.studies import report
    from xor_tui.core.studies.replay import replay

    sc = resolve("case3")
    _ready(sc.config)
    sc.script = [SetLr(300, 0.05), SetParam(900, "output.weight[0][1]", -3.0)]
    monkeypatch.setattr(report, "_SLICE", 256)
    rp = replay(sc, 1500)
    buf = io.StringIO()
    report.write_replay_json(rp, buf)
    fast_json = json.loads(buf.getvalue())
    fast_csv = "".join(report.csv_chunks(rp))
    monkeypatch.setattr(report, "_batched", lambda run, lo, hi: iter(()))  # every record on its own
    slow_json = report.replay_json(rp)
    assert len(fast_json["epochs"]) == len(slow_json["epochs"]) == 1500
    _first_difference(fast_json["epochs"], slow_json["epochs"])
    assert fast_json == slow_json
    fast_rows, slow_rows = fast_csv.splitlines(), "".join(report.csv_chunks(rp)).splitlines()
    assert len(fast_rows) == len(slow_rows) == 1 + 1500
    _first_difference(fast_rows, slow_rows)


def _first_difference(got: list, want: list) -> None:
    """Fail naming the first differing item (pytest's own diff of long texts takes minutes)."""
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            pytest.fail(f"item {i} differs:\n{str(a)[:400]}\n{str(b)[:400]}")


class _NeverBuilt:
    """A build that never ends (no process is started)."""

    done = ok = False
    elapsed = 0.0


def _not_ready(monkeypatch) -> list:
    """No long-run kernel is ready or being built; a build asked for is recorded, never made."""
    asked = []
    monkeypatch.setattr(kernel, "is_ready", lambda config, what="survey": False)
    monkeypatch.setattr(kernel, "building", lambda config, what="survey": _NeverBuilt() if asked else None)
    monkeypatch.setattr(kernel, "warm", lambda config, what="survey": (asked.append(what), _NeverBuilt())[1])
    return asked


def test_a_long_replay_steps_at_once_while_its_kernel_compiles_in_the_background(monkeypatch, capsys):
    """A long replay in a setting whose kernel is not built never waits for it: it steps on the
    torch engine (the same bits as the kernel's) and says once, on stderr, that the kernel
    compiles in the background; a short one (the torch engine is done sooner) says nothing."""
    from xor_tui.cli.main import main
    from xor_tui.core.io.scenario import resolve
    from xor_tui.core.studies.replay import replay

    expected = replay(resolve("case3"), 3000).final.params  # the kernel's, or the engine's: one
    asked = _not_ready(monkeypatch)
    assert main(["replay", "case3", "--epochs", "3000"]) == 0
    assert capsys.readouterr().err == "" and asked == []
    monkeypatch.setattr(Run, "WARM_EPOCHS", 1000)
    assert main(["replay", "case3", "--epochs", "3000"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert asked == ["path"] and len(lines) == 1
    assert lines[0].startswith("xor-tui: compiling the fast kernel for long runs for this setting in the background")
    got = replay(resolve("case3"), 3000).final.params
    for (w, b), (w2, b2) in zip(expected, got):
        assert torch.equal(w, w2) and torch.equal(b, b2)


def test_a_run_that_cannot_change_fills_its_epochs_without_compiling(monkeypatch):
    """Case 1: no parameter receives gradient, so none can change: a run of a million epochs
    (from the app's `e` or a replay) fills them in without building any kernel."""
    from xor_tui.core.io.scenario import resolve
    from xor_tui.core.session import Session

    asked = _not_ready(monkeypatch)
    run = resolve("case1").new_run()
    run.advance(1_000_000)
    assert run.epoch == 1_000_000 and run.settled()
    session = Session.from_scenario(resolve("case1"))
    assert session.run_until(1_000_000) == "end" and session.epoch == 1_000_000
    assert asked == []


async def test_the_apps_long_run_never_waits_for_a_compile(monkeypatch):
    """`e` on a long run in a setting whose kernel is not built (here a build that never ends):
    the run goes at once on the torch engine to its end while the kernel compiles in the
    background (a note says so), and the keys answer."""
    from tests.apphelp import settle
    from xor_tui.app.main import MainScreen, XorApp
    from xor_tui.app.screens.dialogs import HelpScreen

    asked = _not_ready(monkeypatch)
    monkeypatch.setattr(Run, "WARM_EPOCHS", 100)
    app = XorApp()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await pilot.press("3")  # case 3 learns: its epochs are computed, not filled in
        await settle(pilot)
        said, real = [], kernel.compile_note
        monkeypatch.setattr(kernel, "compile_note", lambda what="survey": (said.append(what), real(what))[1])
        await pilot.press("e")
        await pilot.press("question_mark")  # the screen answers
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert screen.session.epoch == 200
        assert asked == ["path"] and said == ["path"]  # the note the screen shows (Player.Note)
