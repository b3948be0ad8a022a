"""`import` and the app's `f` on hostile printout logs: bounded by one budget, refused at parse in
one line naming the line, linear parsing, the output checked before any work, each run kept as
soon as it is written (a budget, Ctrl-C or a failed write keeps the runs done), and `f`
cancelled by x or escape. Timeouts here are hang guards only, never assertions of speed."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from textual.worker import WorkerState

from tests import hostile
from tests.apphelp import events, settle, type_text
from tests.conftest import COUNTS
from xor_tui.cli.main import main
from xor_tui.core.io import printout
from xor_tui.core.io.scenario import load
from xor_tui.core.studies import recover

ROOT = Path(__file__).resolve().parent.parent
HANG_GUARD = 240.0  # seconds: a process still running then is stuck (each finishes in a few seconds)


def _import(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(["import", *args])
        except SystemExit as exc:  # argparse refuses an option's value this way
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`xor-tui import ...` as its own process, under the hang guard."""
    return subprocess.run(
        [sys.executable, "-m", "xor_tui", "import", *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )


def _one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


# ---------------------------------------------------------------- the budget


def test_the_budget_ends_an_absurd_epoch_import_and_names_the_runs_not_done(tmp_path):
    log = tmp_path / "absurd.log"
    log.write_text(hostile.absurd_epochs_log(999_999))  # run 2 says epoch 999,999: days of rate scan
    r = _cli(str(log), "--out", str(tmp_path), "--budget", "4")
    assert r.returncode == 1, r.stderr
    *lines, summary = r.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("run 1 (line 1)")
    assert summary == (
        "wrote 1 of 3 run(s) (run 1); not written: run 2: the budget of 4 s ran out while inferring its "
        "learning rate; not written: run 3: not started: the budget of 4 s had run out."
    )
    assert sorted(p.name for p in tmp_path.glob("*.toml")) == ["absurd-run1.toml"]
    assert load(tmp_path / "absurd-run1.toml").name == "absurd-run1"


def test_a_run_longer_than_a_scenario_is_named_and_the_others_are_written(tmp_path):
    log = tmp_path / "absurd.log"
    log.write_text(hostile.absurd_epochs_log(999_999_999))  # the 1.5 KB log
    code, out, err = _import(str(log), "--out", str(tmp_path))
    assert code == 1, err
    assert out.splitlines()[-1] == (
        "wrote 2 of 3 run(s) (run 1 and 3); not written: run 2: not recovered: its last printed epoch, "
        "999,999,999, is past the 1,000,000 epochs a scenario can hold."
    )
    assert sorted(p.name for p in tmp_path.glob("*.toml")) == ["absurd-run1.toml", "absurd-run3.toml"]


def test_the_last_epoch_a_scenario_holds_is_accepted_and_the_next_refused():
    run = printout.parse_log(hostile.with_last_epoch(hostile.source_run(3), 999_999))[0]
    assert recover.too_long(run) is None  # 1,000,000 epochs: the most a scenario holds
    run = printout.parse_log(hostile.with_last_epoch(hostile.source_run(3), 1_000_000))[0]
    assert "past the 1,000,000 epochs" in recover.too_long(run)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "86401", "1e400", "soon"])
def test_budget_values_outside_a_day_are_refused(tmp_path, value):
    log = tmp_path / "a.log"
    log.write_text(hostile.source_run(1))
    code, _, err = _import(str(log), "--out", str(tmp_path), "--budget", value)
    assert code == 2 and _one_line(err) and "--budget" in err
    assert list(tmp_path.glob("*.toml")) == []


# ---------------------------------------------------------------- parsing: linear, and float32's range


def test_regex_stress_lines_parse_in_linear_time(tmp_path):
    """A quadratic parser needs hours for these 4 MB (the old error regex: 300 KB -> over 400 s)."""
    log = tmp_path / "spaces.log"
    log.write_text(hostile.quadratic_log(600_000))
    assert log.stat().st_size > 3_000_000
    r = _cli(str(log), "--out", str(tmp_path), "--budget", "120")
    assert r.returncode == 0, r.stderr
    assert "halts at epoch 98" in r.stdout and r.stdout.splitlines()[-1] == "wrote 1 of 1 run(s)."


@pytest.mark.parametrize("label", list(hostile.overflow_logs()))
def test_values_a_float32_cannot_hold_are_refused_at_parse_naming_the_line(tmp_path, label):
    text, line, words = hostile.overflow_logs()[label]
    COUNTS["hostile printouts: float32 overflow"] += 1
    log = tmp_path / "big.log"
    log.write_text("intro\n" + text)  # one line of prose first: the refusal names the file's line
    code, out, err = _import(str(log), "--out", str(tmp_path))
    assert code == 2 and _one_line(err), err
    assert f"big.log: line {line + 1}: epoch 0: " in err
    assert words in err
    assert len(err) < 300  # a 5,000-digit value is shortened
    assert out == "" and list(tmp_path.glob("*.toml")) == []


def test_the_largest_float32_is_read_and_the_next_decimal_refused():
    base = hostile.source_run(3)
    ok = base.replace("0.4720", "3.4028e+38", 1)  # torch's print of float32's largest value
    assert printout.parse_log(ok)[0].blocks[0].tensors["hide.weight"].texts[0] == "3.4028e+38"
    with pytest.raises(printout.PrintoutError, match="line 18: .*3.4029e\\+38 is beyond float32's range"):
        printout.parse_log(base.replace("0.4720", "3.4029e+38", 1))


@pytest.mark.parametrize("label", list(hostile.cap_logs()))
def test_the_caps_are_one_line_refusals(tmp_path, label):
    text, words = hostile.cap_logs()[label]
    COUNTS["hostile printouts: caps"] += 1
    log = tmp_path / "cap.log"
    log.write_text(text)
    code, _, err = _import(str(log), "--out", str(tmp_path))
    assert code == 2 and _one_line(err) and words in err
    assert list(tmp_path.glob("*.toml")) == []


def test_the_caps_are_reached_exactly_at_their_values():
    one = hostile.source_run(1).split("...")[0]
    assert len(printout.parse_log(one * printout.MAX_RUNS)) == printout.MAX_RUNS
    with pytest.raises(printout.PrintoutError, match=f"more than {printout.MAX_RUNS} runs"):
        printout.parse_log(one * (printout.MAX_RUNS + 1))


@pytest.mark.parametrize("label", list(hostile.nesting_logs()))
def test_shapes_no_tensor_has_are_one_line_refusals(tmp_path, label):
    COUNTS["hostile printouts: shapes"] += 1
    log = tmp_path / "shape.log"
    text, words = hostile.nesting_logs()[label]
    log.write_text(text)
    code, _, err = _import(str(log), "--out", str(tmp_path))
    assert code == 2 and _one_line(err) and words in err


# ---------------------------------------------------------------- the output, before any work


@pytest.fixture
def no_work(monkeypatch):
    """Any recovery is a failure: the output must be refused before it."""

    def refuse(*_args, **_kw):
        raise AssertionError("recovery started before the output was checked")

    monkeypatch.setattr(recover, "import_run", refuse)


def _target_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "file").write_text("x")
    os.symlink(tmp_path / "elsewhere.toml", out / "slow-run1.toml")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "slow-run1.toml").mkdir()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "slow-run1.toml").write_text("mine\n")
    return {
        "--out is a file": (["--out", str(tmp_path / "file")], "not a folder"),
        "--out is missing": (["--out", str(tmp_path / "missing")], "no such folder"),
        "--out cannot be written": (["--out", "/proc/self"], "cannot write in this folder"),
        "the target is a symlink": (["--out", str(out)], "is a symbolic link"),
        "the target is a folder": (["--out", str(linked), "--force"], "only a regular file is ever replaced"),
        "the target exists": (["--out", str(kept)], "already exists; pass --force"),
    }


def test_the_output_is_checked_before_any_work(tmp_path, no_work):
    log = tmp_path / "slow.log"
    log.write_text(hostile.slow_log())
    for label, (args, words) in _target_cases(tmp_path).items():
        COUNTS["hostile printouts: output targets"] += 1
        code, out, err = _import(str(log), *args)
        assert code == 2 and _one_line(err) and words in err, (label, err)
    assert (tmp_path / "kept" / "slow-run1.toml").read_text() == "mine\n"
    assert os.path.islink(tmp_path / "out" / "slow-run1.toml") and not (tmp_path / "elsewhere.toml").exists()


def test_a_failed_later_write_keeps_the_earlier_files_and_says_which(tmp_path, monkeypatch):
    log = tmp_path / "three.log"
    log.write_text(hostile.source_run(1) + hostile.source_run(2) + hostile.source_run(5))
    save = recover.Imported.save

    def failing(self, path, overwrite=False):
        if self.run.number == 2:
            Path(path).mkdir()  # a folder appears where run 2 goes, after the check
        return save(self, path, overwrite)

    monkeypatch.setattr(recover.Imported, "save", failing)
    code, out, err = _import(str(log), "--out", str(tmp_path))
    assert code == 1
    summary = out.splitlines()[-1]
    assert summary.startswith("wrote 1 of 3 run(s) (run 1); not written: run 2: not written: ")
    assert "three-run2.toml: is a directory" in summary
    assert summary.endswith("not written: run 3: not started: an earlier write failed.")
    assert load(tmp_path / "three-run1.toml").name == "three-run1"
    assert not (tmp_path / "three-run3.toml").exists()


# ---------------------------------------------------------------- Ctrl-C


def test_ctrl_c_keeps_the_runs_already_written(tmp_path):
    log = tmp_path / "three.log"
    log.write_text(hostile.source_run(1) + hostile.source_run(2) + hostile.slow_log())
    proc = subprocess.Popen(
        [sys.executable, "-m", "xor_tui", "import", str(log), "--out", str(tmp_path), "--budget", "600"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # each run's line is printed once its file is written: wait for run 2's
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        assert second.startswith("run 2 ") and (tmp_path / "three-run2.toml").exists(), first + second
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=HANG_GUARD)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert rest.splitlines()[-1] == (
        "wrote 2 of 3 run(s) (run 1 and 2); not written: run 3: interrupted (Ctrl-C)."
    )
    assert err == "xor-tui: interrupted (Ctrl-C): 2 of 3 scenario(s) written, kept\n"
    assert [load(tmp_path / f"three-run{k}.toml").name for k in (1, 2)] == ["three-run1", "three-run2"]
    assert sorted(os.listdir(tmp_path)) == ["three-run1.toml", "three-run2.toml", "three.log"]  # no temp file


# ---------------------------------------------------------------- the app's f


async def _until(pilot, condition, what: str) -> None:
    """Let the app run until ``condition()`` holds (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await pilot.pause(0.01)


@pytest.mark.parametrize("key", ["x", "escape"])
async def test_x_or_escape_cancels_f_on_a_slow_log_and_the_app_is_as_before(tmp_path, key):
    from xor_tui.app.main import XorApp

    log = tmp_path / "slow.log"
    log.write_text(hostile.slow_log())
    app = XorApp()
    async with app.run_test(size=(120, 36)) as pilot:
        before = app.session
        await pilot.press("f")
        await type_text(pilot, str(log))
        await pilot.press("enter")
        await _until(
            pilot,
            lambda: any(w.group == "log" and w.state == WorkerState.RUNNING for w in app.workers),
            "the log's worker to run",
        )
        assert app.main.player.busy and "x or escape stops" in app.main.message
        await pilot.press(key)
        await asyncio.wait_for(app.workers.wait_for_complete(), HANG_GUARD)
        await settle(pilot)
        assert not app.main.player.busy
        assert app.session is before and app.session.epoch == 0
        assert f"Stopped reading {log}: nothing loaded." in events(app)
        gc.collect()
        kept = [o for o in gc.get_objects() if isinstance(o, printout.PrintedRun) and o.epochs[-1] == 999_999]
        assert kept == []  # nothing of the cancelled load is kept
        await pilot.press("space")  # the keys act again
        assert app.session.epoch == 1
