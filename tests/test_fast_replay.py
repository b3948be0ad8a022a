"""Long runs through the fused kernel: every state, loss, repeat flag, event and table row
bit for bit what stepping one epoch at a time gives."""

from __future__ import annotations

import pytest
import torch

from xor_tui.core.engine.actions import SetLr, SetParam
from xor_tui.core.engine.activations import parse_activation
from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import Run, Start, fast_replay
from xor_tui.core.studies.replay import Trace

SETTINGS = [  # (hidden, output, loss, lr, seeds): the seeds, fixed, include halts or fixed points
    ("relu", "relu", "bce", 0.1, range(0, 8)),
    ("relu", "relu", "bce", 0.001, range(8, 16)),
    ("leaky_relu:0.01", "relu", "bce", 0.5, range(16, 24)),
    ("relu", "identity", "mse", 0.05, range(24, 32)),
    ("leaky_relu:0.2", "leaky_relu:0.1", "mse", 0.3, range(32, 40)),
    ("identity", "relu", "bce", 1.0, range(40, 48)),
]


def _config(hidden, output, loss, lr):
    return Config((2,), (parse_activation(hidden), parse_activation(output)), loss, lr)


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
    config = _config(hidden, output, loss, lr)
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
            run = Run(_config(hidden, output, loss, lr), Start("seed", seed=seed))
            run.advance(400)
            halts += run.halted
            repeats += any(run.repeats())
    assert halts > 0
    assert repeats > 0


def test_scripted_actions_and_events_are_where_stepping_puts_them():
    config = Config(lr=0.1)
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
    """A long run's kernel is compiled once per machine: the next process loads it from the
    cache without numba (whose import alone takes ~1 s) and steps the same."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from xor_tui.core.engine.fast import kernel as fs;"
        "from xor_tui.core.engine.net import Config;"
        "before = fs.needs_compiling(Config(), 'path');"
        "rows, why = fs.trajectory(np.array([.5, -.25, .75, .5, 0, .1, .6, -.4, .2], np.float32), Config(), 50);"
        "print(before, 'numba' in sys.modules, len(rows), why, rows[-1].tobytes().hex())"
    )
    env = dict(os.environ, XOR_TUI_CACHE=str(tmp_path))
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
        for _ in range(2)
    ]
    assert runs[0][:2] == ["True", "True"] and runs[1][:2] == ["False", "False"]
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


def test_a_replay_says_on_one_line_when_it_compiles_the_long_run_kernel(monkeypatch, capsys):
    """A first long run in a setting compiles the fused kernel (seconds of nothing on the
    screen): `xor-tui replay` says so on stderr, once, and not when the kernel is at hand."""
    from xor_tui.cli.main import main
    from xor_tui.core.engine.fast import kernel

    main(["replay", "case3", "--epochs", "3000"])  # the kernel compiled (if it was not) or loaded
    capsys.readouterr()
    assert main(["replay", "case3", "--epochs", "3000"]) == 0
    assert capsys.readouterr().err == ""  # at hand: nothing said
    monkeypatch.setattr(kernel, "needs_compiling", lambda config, what="survey": what == "path")
    assert main(["replay", "case3", "--epochs", "3000"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("xor-tui: compiling the fast kernel for long runs for this setting (first run only")


async def test_the_app_says_it_compiles_while_a_run_waits_for_the_kernel(monkeypatch):
    """The compile (seconds) happens with the session free: the screen says so and keeps
    drawing (it once waited on the session's lock, frozen, for the whole compile)."""
    import threading

    from tests.apphelp import settle
    from xor_tui.app.main import MainScreen, XorApp
    from xor_tui.app.screens.dialogs import HelpScreen
    from xor_tui.core.engine.fast import kernel

    release, real = threading.Event(), kernel.load
    monkeypatch.setattr(kernel, "needs_compiling", lambda config, what="survey": what == "path")
    monkeypatch.setattr(kernel, "load", lambda config, what="survey": (release.wait(30), real(config, what))[1])
    app = XorApp()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await pilot.press("3")  # case 3 learns: its epochs are computed, not filled in
        await settle(pilot)
        await pilot.press("e")
        for _ in range(200):
            await pilot.pause(0.02)
            if "ompiling" in screen.message:
                break
        assert screen.message.startswith("Compiling the fast kernel for long runs for this setting")
        assert screen.session.epoch == 0
        await pilot.press("question_mark")  # the screen answers while it compiles
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        release.set()
        await settle(pilot)
        assert screen.session.epoch == 200
        assert "ompiling" not in screen.message
