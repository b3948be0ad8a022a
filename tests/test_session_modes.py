"""The Session's side of target mode, nudging and lessons (no app): undo of the user's changes
one by one, nudges as edits, the solver's edits applied as edits, a lesson's tasks begun,
checked and counted as replay does, and a lesson saved with its narrative (its tasks left out, said)."""

from __future__ import annotations

import numpy as np
import torch

from xor_tui.core.io.scenario import builtin, checked_text, parse
from xor_tui.core.session import Session
from xor_tui.core.studies.replay import replay


def same(a, b) -> bool:
    return all(torch.equal(w, w2) and torch.equal(x, x2) for (w, x), (w2, x2) in zip(a, b))


def test_undo_edit_restores_each_earlier_state_exactly_and_only_at_its_epoch():
    s = Session.from_seed(0)
    start = s.record.params
    s.set_param("output.bias[0]", "0.3")
    after_one = s.record.params
    s.cycle_activation("hidden")
    assert s.undo_edit() == "hidden activation -> leaky_relu"
    assert same(s.record.params, after_one) and s.config.activations[0].name == "relu"
    assert s.undo_edit() == "set output.bias[0] = 0.3"
    assert same(s.record.params, start) and s.run.actions() == []
    assert s.undo_edit() is None
    s.set_param("output.bias[0]", "0.3")
    s.step()
    assert s.undo_edit() is None  # the edit is at epoch 0: stepping back reaches it first
    assert s.back() == []
    assert s.undo_edit() == "set output.bias[0] = 0.3"


def test_a_nudge_is_the_float32_value_plus_the_step_and_the_solvers_edits_are_ordinary_edits():
    s = Session.from_seed(0)
    v0 = s.frame().param("output.bias[0]").value
    assert s.nudge("output.bias[0]", -0.01) == float(np.float32(v0 - 0.01))
    result = s.target(3)
    assert result.status == "found" and [e.param for e in result.edits] == ["hidden.bias[0]", "hidden.bias[1]"]
    s.apply_edits(result.edits)
    assert s.frame().case == 3 and len(s.run.actions()) == 3


def test_a_search_works_on_a_snapshot_while_the_run_moves_on():
    s = Session.from_seed(0)
    snap = s.snapshot()
    s.set_param("output.bias[0]", "-1")  # case 1's output already
    assert s.version != snap.version
    assert s.target(2, at=snap).edits[0].before == snap.params[1][1][0, 0].item()
    assert [r.holds for r in s.rule_report(2, at=snap)] != [r.holds for r in s.rule_report(2)]


def test_a_lessons_tasks_begin_as_replay_begins_them_and_its_setup_is_not_counted():
    lesson = builtin("lesson-dying-relu")
    s = Session.from_scenario(lesson)
    crash = next(i for i, t in enumerate(lesson.tasks) if t.title == "Find the crash")
    s.begin_task(crash)
    assert s.task_edits() == 0 and s.frame().case == 7 and len(s.run.actions()) == 9
    assert s.check_task() == (s.check_task()[0], False) and not s.check_task()[0].ok
    s.run_until(200)
    res, fresh = s.check_task()
    assert res.ok and fresh and s.task_status[crash] == "done"
    assert s.restart() == []  # the setup dropped, but it was not the student's: nothing said


def test_a_task_that_holds_as_it_begins_is_not_done_until_something_changes():
    text = """
name = "t"
[start]
seed = 0
[[task]]
title = "Step"
text = "Take one step."
check = { case = 8 }
solution = [{ run = 1 }]
"""
    s = Session.from_scenario(parse(text))
    res, fresh = s.check_task()
    assert res.ok and not fresh and s.task_status == ["todo"]
    s.step()
    res, fresh = s.check_task()
    assert res.ok and fresh and s.task_status == ["done"]
    assert s.check_task() == (res, False)  # said once


def test_max_edits_counts_parameters_the_student_set_and_a_nudged_one_once():
    s = Session.from_scenario(builtin("lesson-dying-relu"))
    s.next_task()
    s.next_task()  # "Case 2 in one edit"
    assert s.task.title == "Case 2 in one edit"
    for _ in range(10):
        s.nudge("output.bias[0]", -0.01)
    res, fresh = s.check_task()
    assert s.task_edits() == 1 and res.ok and fresh
    s.nudge("hidden.bias[0]", -0.01)
    res, _ = s.check_task()
    assert not res.ok and res.failures[0] == "edits: expected at most 1, made 2"


def test_saving_during_a_lesson_keeps_its_narrative_and_replays_the_session_cleanly():
    lesson = builtin("lesson-dying-relu")
    s = Session.from_scenario(lesson)
    s.set_param("hidden.bias[1]", "-0.25")
    s.step()
    sc = s.to_scenario()
    # the narrative stays; the tasks do not: they check the lesson's own start, and replayed
    # from the student's they failed (12 FAILs where `w` had said "reproduces this session")
    assert sc.steps == lesson.steps and sc.tasks == []
    assert s.lesson_saved_without == (
        "15 tasks are not in it (they check the lesson's own start): c opens lesson-dying-relu again"
    )
    assert sc.description.startswith("Edited from lesson-dying-relu: set hidden.bias[1] = -0.25 at epoch 0.")
    again = parse(checked_text(sc))
    assert again.steps == lesson.steps and again.tasks == []
    assert again.epochs == 127  # its last narrative step's epoch (the session stood at epoch 1)
    rp = replay(again, epochs=1)
    assert rp.final.epoch == 1 and same(rp.final.params, s.record.params) and not rp.failed
    assert Session.from_scenario(builtin("case3")).lesson_saved_without == ""


def test_a_new_seed_leaves_the_lesson_and_b_right_after_brings_it_back():
    s = Session.from_scenario(builtin("lesson-dying-relu"))
    s.next_task()
    s.reseed(5)
    assert s.lesson is None and s.task is None
    assert s.undo_restart()
    assert s.lesson is not None and s.task_index == 1


def test_the_start_is_said_edited_only_while_an_epoch_0_edit_changes_its_weights():
    s = Session.from_seed(0)
    s.step()
    s.set_param("output.bias[0]", "0.3")  # at epoch 1: the start itself is still seed 0's
    assert s.start_text == "seed 0" and s.frame().config.start == "seed 0"
    s.restart()
    s.set_param("output.bias[0]", "0.3")  # at epoch 0: the weights shown there are not seed 0's
    assert s.start_text == "seed 0, edited" and s.frame().config.start == "seed 0, edited"
    s.undo_edit()
    assert s.start_text == "seed 0"
    lesson = builtin("lesson-dying-relu")
    s = Session.from_scenario(lesson)
    first = s.start_text
    s.begin_task(next(i for i, t in enumerate(lesson.tasks) if t.title == "Find the crash"))
    assert s.frame().case == 7 and s.start_text == f"{first}, edited"  # the task's setup set case 7's weights
