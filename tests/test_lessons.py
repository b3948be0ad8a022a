"""Lessons and checks: the check vocabulary at its boundaries, the lesson format, tasks proved
headless by their solutions, and the built-in lesson-dying-relu."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xor_tui.cli.main import main
from xor_tui.core.engine.actions import SetParam
from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import Run, Start
from xor_tui.core.io.scenario import ScenarioError, builtin, builtin_names, dumps, parse, resolve
from xor_tui.core.rules.checks import Check, edits_made, evaluate
from xor_tui.core.studies.replay import Trace, check_tasks, history, replay

BASE = """
name = "mine"
epochs = 200
[start]
seed = 0
"""


def _trace(run: Run) -> Trace:
    return Trace.follow(run)


@pytest.fixture(scope="module")
def seed0():
    """Seed 0 over 200 epochs: case 8 to epoch 126, the output dies at 127 (case 2 from then)."""
    return replay(parse(BASE)).trace


# ---------------------------------------------------------------- windows at their boundaries


def test_by_holds_at_the_first_epoch_and_not_one_before(seed0):
    h = history(seed0)
    ok = evaluate(Check(by=127, dead_include=("output[0]",)), h)
    assert ok.ok and ok.epoch == 127 and ok.text == "output[0] dead first at epoch 127 (by 127)"
    late = evaluate(Check(by=126, dead_include=("output[0]",)), h)
    assert not late.ok
    assert late.failures == ["not by epoch 126: at epoch 126, output[0]: expected dead, it is alive"]


def test_from_to_holds_up_to_the_last_epoch_of_the_case_and_not_one_further(seed0):
    h = history(seed0)
    assert evaluate(Check(start=0, end=126, case=8), h).text == "case 8 at every epoch from 0 to 126"
    over = evaluate(Check(start=0, end=127, case=8), h)
    assert not over.ok and over.failures == ["at epoch 127: case: expected 8, got 2"]
    assert evaluate(Check(start=127, end=200, case=2), h).ok
    early = evaluate(Check(start=126, end=200, case=2), h)
    assert early.failures == ["at epoch 126: case: expected 2, got 8"]


def test_a_window_past_the_run_says_it_was_not_reached(seed0):
    res = evaluate(Check(start=0, end=201, case=2), history(seed0))
    assert res.failures == ["epoch 201 was not reached (stopped at epoch 200)"]


def test_loss_below_by_is_strict_at_the_boundary():
    trace = replay(builtin("case3")).trace
    h = history(trace)
    x = h.loss(100)
    assert h.loss(101) < x < h.loss(99)  # case 3's loss falls slowly and steadily
    res = evaluate(Check(by=101, loss_below=x), h)
    assert res.ok and res.epoch == 101
    assert not evaluate(Check(by=100, loss_below=x), h).ok  # equal is not below
    assert evaluate(Check(by=99, loss_above=x), h).epoch == 0
    assert not evaluate(Check(start=100, end=100, loss_above=x), h).ok


def test_a_halt_at_epoch_98_and_not_at_97():
    trace = replay(builtin("case7")).trace
    h = history(trace)
    assert evaluate(Check(epoch=98, halted=True), h).ok
    assert evaluate(Check(epoch=97, halted=True), h).failures == ["halted: expected true, got false"]
    # the current epoch (a task's check) is the halt
    assert evaluate(Check(halted=True), h).text == "halted at epoch 98"
    # a case asked for at the halt: n/a, as the status line says, not "none" (no rule set holds)
    assert evaluate(Check(epoch=98, case=7), h).failures == ["case: expected 7, got n/a (halted)"]
    assert evaluate(Check(epoch=97, case=7), h).failures == ["case: expected 7, got none"]


def _state(values: list[float]) -> Trace:
    sd = {
        "hidden.weight": [values[0:2], values[2:4]],
        "hidden.bias": values[4:6],
        "output.weight": [values[6:8]],
        "output.bias": values[8:9],
    }
    return _trace(Run(Config(), Start("explicit", values=sd)))


def test_margin_holds_at_exactly_the_margin_and_not_one_float_below():
    # hidden units off on row (0,0) (bias -0.2), so the output there is the output bias
    base = [0.5, 0.5, 0.5, 0.5, -0.2, -0.2, 0.3, 0.3]
    at = float(np.float32(-0.05))
    below = float(np.nextafter(np.float32(-0.05), np.float32(0)))
    assert evaluate(Check(margin=float(np.float32(0.05))), history(_state([*base, at]))).ok
    res = evaluate(Check(margin=float(np.float32(0.05))), history(_state([*base, below])))
    assert not res.ok and "the nearest is 0.0500 away" in res.failures[0]


def test_max_edits_counts_parameters_not_keystrokes(seed0):
    acts = [SetParam(0, "output.bias[0]", -0.1), SetParam(0, "output.bias[0]", -0.16), SetParam(0, "hidden.bias[1]", 1)]
    assert edits_made(acts) == 2
    h = history(seed0)
    assert evaluate(Check(max_edits=2, epoch=0, case=8), h, edits=2).ok
    assert evaluate(Check(max_edits=2, epoch=0, case=8), h, edits=3).failures == ["edits: expected at most 2, made 3"]


def test_symmetric_and_frozen_on_the_zero_start():
    run = Run(Config(), Start("zeros"))
    trace = _trace(run)
    assert evaluate(Check(symmetric=True, frozen=("hidden.bias[0]",)), history(trace)).ok
    run.act(SetParam(0, "hidden.weight[1][0]", 0.1))
    trace.sync()
    assert evaluate(Check(symmetric=True), history(trace)).failures == [
        "at epoch 0: symmetric: expected true, got false"
    ]


# ---------------------------------------------------------------- the format


LESSON = (
    BASE
    + """
[[step]]
text = "Hello."
[[step]]
epoch = 3
text = "Epoch three."

[[expect]]
by = 130
dead_include = ["output[0]"]

[[task]]
title = "Case 2"
text = "One edit."
check = { case = 2, max_edits = 1 }
solution = [{ set = "output.bias[0]", value = -0.16 }]
"""
)


def test_a_lesson_reads_saves_and_reads_back_the_same():
    sc = parse(LESSON)
    assert [s.text for s in sc.steps_at(None)] == ["Hello."] and [s.text for s in sc.steps_at(3)] == ["Epoch three."]
    assert sc.tasks[0].check.case == 2 and sc.tasks[0].check.max_edits == 1
    again = parse(dumps(sc))
    assert again.steps == sc.steps and again.tasks == sc.tasks and again.expect == sc.expect
    lesson = builtin("lesson-dying-relu")
    back = parse(dumps(lesson))
    assert back.tasks == lesson.tasks and back.steps == lesson.steps and back.expect == lesson.expect


TASK = "[[task]]\ntitle = 't'\ntext = 'x'\ncheck = { case = 2 }\nsolution = [{ set = 'x' }]\n"


@pytest.mark.parametrize(
    "extra, where, said",
    [
        ("[[expect]]\nby = 3\nfrom = 1\nto = 4\ncase = 2\n", "expect[0]", "give one window"),
        ("[[expect]]\nto = 4\ncase = 2\n", "expect[0].to", "needs both from and to"),
        ("[[expect]]\nfrom = 4\ncase = 2\n", "expect[0].from", "needs both from and to"),
        ("[[expect]]\nfrom = 4\nto = 3\ncase = 2\n", "expect[0].to", "from 4 to 200"),
        ("[[expect]]\ncase = 2\n", "expect[0].epoch", "each expectation says when"),
        ("[[expect]]\nby = 201\ncase = 2\n", "expect[0].by", "from 0 to 200"),
        ("[[expect]]\nepoch = 0\nmax_edits = 1\n", "expect[0].max_edits", "unknown key"),
        ("[[expect]]\nepoch = 0\nflowing = [\"output.bias[1]\"]\n", "expect[0].flowing[0]", "out of range"),
        ("[[expect]]\nepoch = 0\nactivations = [\"relu\"]\n", "expect[0].activations", "expected 2 names"),
        ("[[expect]]\nepoch = 0\nactivations = [\"relu\", \"swish\"]\n", "expect[0].activations[1]", "unknown"),
        ("[[expect]]\nepoch = 0\nprinted = 'x'\nfrom = 0\n", "expect[0]", "give one window"),
        ("[[expect]]\nby = 2\nprinted = '##########################epoches: 0 #'\n", "expect[0].printed", "one epoch"),
        ("[[step]]\nepoch = 3\n", "step[0].text", "missing"),
        ("[[step]]\nepoch = 300\ntext = 'x'\n", "step[0].epoch", "from 0 to 200"),
        ("[[task]]\ntitle = 't'\ntext = 'x'\ncheck = { case = 2 }\n", "task[0].solution", "missing"),
        ("[[task]]\ntitle = 't'\ntext = 'x'\ncheck = { case = 2 }\nsolution = []\n", "task[0].solution", "empty"),
        (TASK.replace("case = 2", "by = 3").replace("{ set = 'x' }", "{ run = 3 }"), "task[0].check", "nothing"),
        (
            "[[task]]\ntitle = 't'\ntext = 'x'\ncheck = { case = 2 }\nsolution = [{ run = 3, lr = 0.1 }]\n",
            "task[0].solution[0]",
            "only run",
        ),
        (
            "[[task]]\ntitle = 't'\ntext = 'x'\ncheck = { case = 2 }\nsolution = [{ epoch = 3, lr = 0.1 }]\n",
            "task[0].solution[0].epoch",
            "unknown key",
        ),
        (
            TASK.replace("{ set = 'x' }", "{ set = 'output.bias[7]', value = 1 }"),
            "task[0].solution[0].set",
            "out of range",
        ),
        (
            "[[task]]\ntitle = 't'\ntext = 'x'\ncheck = { from = 0, to = 20000, frozen = ['output.bias[0]'] }\n"
            "solution = [{ run = 3 }]\n",
            "task[0].check",
            "at most 10,000 epochs",
        ),
        (
            "[[expect]]\nfrom = 0\nto = 200\nmargin = 0.01\n" * 49 + "[[expect]]\nfrom = 0\nto = 200\nmargin = 0.01\n",
            "expect[49]",
            "at most 10,000 epochs in all",
        ),
        (
            TASK.replace("case = 2", "case = 2, from = 0, to = 1000000").replace("{ set = 'x' }", "{ run = 1 }") * 2,
            "task[1].check",
            "span more than 2,000,000",
        ),
        (TASK.replace("{ set = 'x' }", "{ run = 600000 }, { run = 400001 }"), "task[0].solution[1].run", "add up"),
    ],
)
def test_lesson_mistakes_name_the_field(extra, where, said):
    with pytest.raises(ScenarioError) as exc:
        parse(BASE + extra, "f.toml")
    assert exc.value.where == where and said in str(exc.value), str(exc.value)


# ---------------------------------------------------------------- tasks, proved headless


def test_a_task_passes_with_its_solution_and_fails_without_it():
    sc = parse(LESSON)
    (tv,) = check_tasks(sc)
    assert tv.ok and tv.edits == 1
    assert not tv.before.ok and tv.before.failures == ["at epoch 0: case: expected 2, got 8"]
    assert tv.after.text == "1 edit (at most 1); case 2 at epoch 0"
    unsolved = parse(LESSON.replace('[{ set = "output.bias[0]", value = -0.16 }]', "[{ run = 0 }]"))
    (bad,) = check_tasks(unsolved)
    assert not bad.ok and bad.text.startswith("the solution does not solve it")
    too_many = parse(LESSON.replace("max_edits = 1", "max_edits = 0"))
    assert check_tasks(too_many)[0].after.failures == ["edits: expected at most 0, made 1"]


def test_a_task_whose_check_already_holds_asks_nothing():
    sc = parse(LESSON.replace("case = 2", "case = 8"))
    (tv,) = check_tasks(sc)
    assert not tv.ok and "asks nothing" in tv.text


def test_the_lessons_tasks_each_fail_before_and_pass_after_their_solution():
    rp = replay(builtin("lesson-dying-relu"))
    assert not rp.failed and len(rp.verdicts) == 3
    assert len(rp.tasks) == 15
    for tv in rp.tasks:
        assert not tv.before.ok and tv.after.ok, (tv.index, tv.task.title, tv.text)
    crash = next(t for t in rp.tasks if t.task.title == "Find the crash")
    assert crash.after.text == "halted at epoch 98"


def test_replay_of_the_lesson_passes_headless_and_says_what_it_checked(capsys):
    assert main(["replay", "lesson-dying-relu"]) == 0
    out = capsys.readouterr().out
    assert "ok   by 130: output[0] dead first at epoch 127 (by 130)" in out
    assert "ok   task 1 Kill a unit: 1 edit (at most 1); hidden[1] dead at epoch 0; before the solution:" in out
    assert "ok   task 3 Case 2 in one edit: 1 edit (at most 1); case 2 at epoch 0; before the solution:" in out
    assert "FAIL" not in out and "as expected" not in out
    assert main(["replay", "lesson-dying-relu", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [t["ok"] for t in doc["tasks"]] == [True] * 15
    assert doc["expectations"][1]["where"] == "first at epoch 127 (by 130)"


def test_replay_exits_1_when_a_lessons_task_is_not_solved(tmp_path, capsys):
    p = tmp_path / "l.toml"
    p.write_text(LESSON.replace("value = -0.16", "value = 0.5"))
    assert main(["replay", str(p)]) == 1
    assert "FAIL task 1 Case 2: the solution does not solve it" in capsys.readouterr().out


def test_the_lesson_is_listed_and_opens_in_the_app(capsys, monkeypatch):
    assert "lesson-dying-relu" in builtin_names()
    assert main(["cases"]) == 0
    assert any(line.startswith("lesson-dying-relu") for line in capsys.readouterr().out.splitlines())
    import xor_tui.app.main as app_main

    opened = {}

    class _App:
        driver_class = object
        return_code = 0

        def __init__(self, **kwargs):
            opened.update(kwargs)

        def run(self):
            pass

    monkeypatch.setattr(app_main, "XorApp", _App)
    assert main(["--scenario", "lesson-dying-relu"]) == 0
    assert opened["scenario"].name == "lesson-dying-relu" and len(opened["scenario"].tasks) == 15
    assert resolve("lesson-dying-relu").steps_at(None)[0].title == "The experiment"


async def test_the_app_opens_on_the_lesson():
    from tests.apphelp import status
    from xor_tui.app.main import XorApp

    app = XorApp(scenario=builtin("lesson-dying-relu"))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert "case 8" in status(app) and app.session.name == "lesson-dying-relu"
