"""Target mode, nudging and lessons in the app (Pilot): every case reached from seed 0 by one
key and undone edit by edit, rules flipping at their exact boundary, nudges by key and wheel
recorded and undone, a lesson's tasks checked live, and a scenario's description on show."""

from __future__ import annotations

import numpy as np
import pytest
from textual import events as tev

from tests.apphelp import edit_param, screen_text, select_param, settle, status, type_text
from xor_tui.app.components.lesson import LessonPanel
from xor_tui.app.components.target import TargetPanel
from xor_tui.app.main import XorApp
from xor_tui.core.engine import net
from xor_tui.core.engine.actions import SetParam
from xor_tui.core.io.scenario import builtin, load
from xor_tui.core.rules import target
from xor_tui.core.rules.diagnosis import CASE_RULES
from xor_tui.core.session import Session

SIZE = (120, 36)


def panel(app) -> str:
    return app.main.query_one(TargetPanel).content.plain


def lesson(app) -> str:
    return app.main.query_one(LessonPanel).content.plain


def rule_line(text: str, rule: str) -> str:
    """The ✓/✗ line of ``rule`` in the target panel."""
    return next(ln for ln in text.splitlines() if ln[2:] == rule)


async def solved(pilot) -> None:
    """Wait (a hang guard, not a delay) until target mode's solver has answered for the state
    shown: it is asked once the state has stayed put a moment (modes.SOLVE_AFTER)."""
    main = pilot.app.main
    for _ in range(400):
        await settle(pilot)
        r = main._result
        if r is not None and r[:3] == (pilot.app.session, pilot.app.session.version, main.target_case):
            await settle(pilot)
            return
        await pilot.pause(0.05)
    raise AssertionError("the solver never answered for the state shown")


async def enter_target(pilot, case: int) -> None:
    await pilot.press("t")
    await type_text(pilot, str(case))
    await pilot.press("enter")
    await settle(pilot)


@pytest.mark.parametrize("case", range(1, 9))
async def test_target_mode_reaches_each_case_from_seed_0_and_b_undoes_the_edits_one_by_one(case):
    expected = target.solve(Session.from_seed(0).config, Session.from_seed(0).record.params, case)
    app = XorApp(seed=0)
    async with app.run_test(size=SIZE) as pilot:
        await enter_target(pilot, case)
        await solved(pilot)
        assert "T applies" in panel(app)  # case 8 too: seed 0 is in it, but only just (0.043)
        assert app.main.query_one("#side-box").border_title == f"target: case {case} · now case 8"
        await pilot.press("T")
        await settle(pilot)
        s = app.session
        assert s.diagnosis.case == case and f"case {case}" in status(app)
        # counted as the checklist counts them (case 1 has 3 rules; BCELoss's range said apart)
        n = len(CASE_RULES[case])
        assert f"Rules of case {case}: {n} of {n} hold, and BCELoss's range holds" in panel(app)
        assert "✗" not in panel(app) and "+0 " not in panel(app) and "(to +0)" not in panel(app)
        # the edits are ordinary recorded edits, the solver's own, at epoch 0
        edits = [a for a in s.run.actions() if isinstance(a, SetParam)]
        assert [(a.target, np.float32(a.value)) for a in edits] == [
            (e.param, np.float32(e.after)) for e in expected.edits
        ]
        for left in range(len(edits) - 1, -1, -1):
            await pilot.press("b")
            await settle(pilot)
            assert len(s.run.actions()) == left and s.epoch == 0
        assert s.diagnosis.case == 8  # seed 0's own case again
        await pilot.press("escape")
        await settle(pilot)
        assert app.main.target_case is None and not app.main.query_one(TargetPanel).display
        assert app.main.query_one("#events-box").display


async def test_a_rule_flips_when_a_nudge_crosses_its_boundary_and_exactly_there():
    """Case 2 needs the output inactive on all rows; from seed 0 only row (0,0) is active.
    Nudged down 0.01 at a time, the rule's mark follows the engine's z_out at every nudge;
    typed exactly to the boundary (z_out = 0 on row (0,0): inactive, ReLU'(0) = 0) it holds,
    and at the next float32 above it does not."""
    rule = "output inactive on all rows"
    app = XorApp(seed=0)
    async with app.run_test(size=SIZE) as pilot:
        await enter_target(pilot, 2)
        await select_param(pilot, "output.bias[0]")
        assert rule_line(panel(app), rule).startswith("✗")
        assert "↓ output.bias[0] below -0.1063" in panel(app)  # the lever: which way, from where
        flipped = None
        for n in range(1, 10):
            await pilot.press("shift+down")
            await settle(pilot)
            inactive = all(r.output_pre <= 0 for r in app.session.frame().rows)
            assert rule_line(panel(app), rule).startswith("✓" if inactive else "✗")
            if inactive:
                flipped = n
                break
        assert flipped == 5  # -0.0628 - 5 x 0.01 = -0.1128 is the first below -0.1063
        f = app.session.frame()
        assert f.param("output.bias[0]").value < -0.1063 < f.param("output.bias[0]").value + 0.01
        # the exact boundary: with h[0] inactive on row (0,0), z_out = float32(v1 * h1) + b
        v1, h1 = np.float32(f.param("output.weight[0][1]").value), np.float32(f.param("hidden.bias[1]").value)
        b = -np.float32(v1 * h1)
        await edit_param(pilot, "output.bias[0]", str(b))
        await settle(pilot)
        assert app.session.frame().rows[0].output_pre == 0.0
        assert rule_line(panel(app), rule).startswith("✓")
        await edit_param(pilot, "output.bias[0]", str(np.nextafter(b, np.float32(1))))
        await settle(pilot)
        assert app.session.frame().rows[0].output_pre > 0
        assert rule_line(panel(app), rule).startswith("✗")


async def test_nudges_are_recorded_edits_that_b_undoes():
    app = XorApp(seed=0)
    async with app.run_test(size=SIZE) as pilot:
        await select_param(pilot, "output.bias[0]")
        start = app.session.frame().param("output.bias[0]").value
        await pilot.press("shift+up", "shift+up", "alt+down")
        await settle(pilot)
        want = np.float32(np.float32(np.float32(start) + 0.01) + 0.01)
        want = float(np.float32(float(want) - 0.1))
        assert app.session.frame().param("output.bias[0]").value == want
        assert [a.target for a in app.session.run.actions()] == ["output.bias[0]"] * 3
        assert "output.bias[0] -0.1 →" in app.main.message and "alt+↓" in app.main.message
        await pilot.press("ctrl+up")  # the same large step, for terminals that send it
        await settle(pilot)
        assert len(app.session.run.actions()) == 4
        await pilot.press("b", "b", "b", "b")
        await settle(pilot)
        assert app.session.run.actions() == [] and app.session.frame().param("output.bias[0]").value == start
        await pilot.press("b")
        await settle(pilot)
        assert "Already at epoch 0" in app.main.message


async def test_the_wheel_nudges_the_selected_connection_only():
    app = XorApp(seed=0)
    async with app.run_test(size=SIZE) as pilot:
        dia = app.main.query_one("#diagram")
        spot = dia.spot("output.weight[0][1]")
        start = app.session.frame().param("output.weight[0][1]").value
        await pilot._post_mouse_events([tev.MouseScrollUp], "#diagram", offset=spot)  # not selected yet
        await settle(pilot)
        assert app.session.run.actions() == []
        await pilot.click("#diagram", offset=spot)
        assert app.main.selected == "output.weight[0][1]"
        await pilot._post_mouse_events([tev.MouseScrollUp], "#diagram", offset=spot)
        await pilot._post_mouse_events([tev.MouseScrollUp], "#diagram", offset=spot)
        await pilot._post_mouse_events([tev.MouseScrollDown], "#diagram", offset=spot)
        await settle(pilot)
        value = app.session.frame().param("output.weight[0][1]").value
        assert value == pytest.approx(start + 0.01, abs=1e-6) and value != start
        assert len(app.session.run.actions()) == 3


async def test_target_mode_says_why_another_setting_cannot_be_targeted():
    app = XorApp(seed=0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")  # the hidden layer is no longer ReLU
        await enter_target(pilot, 3)
        assert "cannot be targeted here: the eight cases are defined for a 2-2-1 network with ReLU" in panel(app)
        await pilot.press("T")
        await settle(pilot)
        assert "cannot be targeted here" in app.main.message and len(app.session.run.actions()) == 1
        await pilot.press("t")  # t again leaves
        assert app.main.target_case is None


async def test_a_burst_of_nudges_in_target_mode_ends_on_the_last_states_answer():
    app = XorApp(seed=0)
    async with app.run_test(size=SIZE) as pilot:
        await enter_target(pilot, 3)
        await select_param(pilot, "hidden.bias[1]")
        for _ in range(12):
            await pilot.press("alt+up")  # no settling between: the jobs coalesce
        await settle(pilot)
        s = app.session
        assert s.frame().param("hidden.bias[1]").value == pytest.approx(0.1896 + 1.2, abs=1e-4)
        await pilot.press("T")  # before any answer: the solver is asked now, and its edits applied
        await settle(pilot)
        assert s.diagnosis.case == 3 and len(s.run.actions()) == 13  # one edit from the burst's end
        assert "Applied 1 edit for case 3: hidden.bias[0] = 0.06" in app.main.message


# ---------------------------------------------------------------- lessons


async def test_a_lessons_task_fails_and_passes_live_shows_its_hint_and_moves_on(tmp_path):
    app = XorApp(scenario=builtin("lesson-dying-relu"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Loaded lesson-dying-relu: Lesson: the dying-ReLU homework" in lesson(app)
        assert "Task 1 of 15: Kill a unit" in lesson(app) and "─ The experiment ─" in lesson(app)
        assert "✗ not yet: at epoch 0: hidden[1]: expected dead, it is alive" in lesson(app)
        await pilot.press("H")
        assert "Hint: Its bias is added on every row." in lesson(app)
        await edit_param(pilot, "hidden.bias[0]", "-0.5")  # the wrong unit: still not done
        await settle(pilot)
        assert "✗ not yet" in lesson(app) and app.session.task_status[0] == "todo"
        await pilot.press("b")
        # h[1]'s weights are negative, so its bias alone decides row (0,0): at the boundary
        await edit_param(pilot, "hidden.bias[1]", "1e-30")  # just above 0: active on (0,0), alive
        await settle(pilot)
        assert "✗ not yet: at epoch 0: hidden[1]: expected dead" in lesson(app)
        await pilot.press("b")
        await edit_param(pilot, "hidden.bias[1]", "0")  # exactly 0: inactive (ReLU'(0) = 0), dead
        await settle(pilot)
        assert "✓ Task 1 done. N: on to task 2 of 15, Case 1." in lesson(app)  # said once, as it passes
        assert "✓ done: 1 edit (at most 1); hidden[1] dead at epoch 0." in lesson(app)
        await pilot.press("b")  # undone: the task was done, its check fails now, and the panel says so
        await settle(pilot)
        assert "✗ no longer holds (it was done): at epoch 0: hidden[1]: expected dead" in lesson(app)
        assert "✓ done" not in lesson(app)
        await edit_param(pilot, "hidden.bias[1]", "0")
        await settle(pilot)
        await pilot.press("N")
        await settle(pilot)
        s = app.session
        assert s.task_index == 1 and s.run.actions() == []  # the task restarts from the lesson's start
        assert "Task 2 of 15: Case 1" in lesson(app) and "Hint:" not in lesson(app)
        await pilot.press("b")  # right after: the task before, as it was
        assert s.task_index == 0 and len(s.run.actions()) == 1
        await pilot.press("N", "N")  # task 2 again, then skipped: task 3
        await settle(pilot)
        assert s.task_index == 2 and s.task_status[:2] == ["done", "skipped"]
        # task 3: case 2 with at most one edit; two edits reach case 2 but fail the task
        await edit_param(pilot, "hidden.bias[0]", "-0.3")
        await edit_param(pilot, "output.bias[0]", "-0.16")
        await settle(pilot)
        assert s.diagnosis.case == 2
        assert "✗ not yet: edits: expected at most 1, made 2" in lesson(app)
        await pilot.press("b", "b")
        await edit_param(pilot, "output.bias[0]", "-0.16")
        await settle(pilot)
        assert s.task_status[2] == "done" and "✓ Task 3 done." in lesson(app)
        await pilot.press("P")  # back to task 2, begun again
        await settle(pilot)
        assert s.task_index == 1 and s.run.actions() == [] and s.task_status[1] == "skipped"
        # saving during a lesson keeps its narrative, leaves its tasks out and says so
        path = tmp_path / "mine.toml"
        await pilot.press("w")
        await type_text(pilot, str(path))
        await pilot.press("enter")
        await settle(pilot)
        assert "The lesson's 15 tasks are not in it" in app.main.message
    saved = load(path)
    assert len(saved.tasks) == 0 and len(saved.steps) == 3


async def test_a_lessons_setup_is_not_the_students_and_a_run_can_pass_a_task():
    app = XorApp(scenario=builtin("lesson-dying-relu"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        s = app.session
        while s.task is not None and s.task.title != "Find the crash":
            await pilot.press("N")
        await settle(pilot)
        assert len(s.run.actions()) == 9 and s.task_edits() == 0  # set for the student
        # the check does not give the answer away (it said "epoch 98 was not reached")
        assert s.diagnosis.case == 7 and "✗ not yet: at epoch 0: halted: expected true, got false" in lesson(app)
        assert "98" not in lesson(app).split("Find the crash", 1)[1].split("─")[0]
        await pilot.press("space", "b", "b")  # the setup is not the student's: b does not undo it
        await settle(pilot)
        assert s.epoch == 0 and len(s.run.actions()) == 9 and "Already at epoch 0" in app.main.message
        await pilot.press("e")
        await settle(pilot)
        assert s.epoch == 98 and s.task_status[s.task_index] == "done"
        assert "✓ done: halted at epoch 98" in lesson(app)
        await pilot.press("r")  # in a lesson r begins the task again, setup included
        await settle(pilot)
        assert s.epoch == 0 and len(s.run.actions()) == 9 and s.diagnosis.case == 7


async def test_a_scenarios_description_is_shown_on_opening(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('name = "mine"\ndescription = "Watch h[1] die by epoch 40."\n[start]\nseed = 3\n')
    app = XorApp(scenario=load(mine))
    async with app.run_test(size=SIZE):
        from tests.apphelp import events

        assert "Loaded mine: Watch h[1] die by epoch 40." in events(app)


def test_snapshot_shows_the_description_and_the_lesson(tmp_path):
    from tests.test_snapshot_cli import screen_lines
    from xor_tui.cli.main import main

    out = tmp_path / "lesson.svg"
    assert main(["snapshot", "lesson-dying-relu", "--size", "120x36", "-o", str(out)]) == 0
    text = "\n".join(screen_lines(out))
    assert "Loaded lesson-dying-relu: Lesson: the dying-ReLU homework." in text
    assert "Task 1 of 15: Kill a unit" in text


def test_a_served_page_says_the_lesson_and_takes_the_nudge_keys_from_the_browser():
    """In a browser (xterm.js under `xor-tui serve`): the description and the first task on
    opening, and shift+↓, alt+↑ and ctrl+↑ reach the app as nudges."""
    from tests.servehelp import chromium, kill_group, need_browser, new_app_page, start_server, wait_screen

    need_browser()
    proc, url = start_server("--scenario", "lesson-dying-relu")
    try:
        with chromium() as browser:
            page, _ = new_app_page(browser, url, proc.pid)
            wait_screen(page, r"Loaded lesson-dying-relu: Lesson: the dying-ReLU homework")
            wait_screen(page, r"Task 1 of 15: Kill a unit", timeout=15)
            page.click("#terminal")
            page.keyboard.press("Shift+ArrowDown")  # output.bias[0] is selected on opening
            wait_screen(page, r"output\.bias\[0\] -0\.01 → -0\.0727515 \(shift\+↓", timeout=15)
            page.keyboard.press("Alt+ArrowUp")
            wait_screen(page, r"output\.bias\[0\] \+0\.1 → 0\.0272485 \(alt\+↑", timeout=15)
            page.keyboard.press("Control+ArrowUp")
            wait_screen(page, r"output\.bias\[0\] \+0\.1 → 0\.127248 \(alt\+↑", timeout=15)
            page.close()
    finally:
        kill_group(proc)


@pytest.mark.parametrize("mode", ["target", "lesson"])
async def test_at_80x24_the_side_panel_leaves_the_parameters_values_in_view(mode):
    """Under 30 rows a side panel (target mode, a lesson) narrows the parameters panel: the name
    and value columns still fit whole, and the diagram takes the rows table's room."""
    app = XorApp(scenario=builtin("lesson-dying-relu")) if mode == "lesson" else XorApp()
    async with app.run_test(size=(80, 24)) as pilot:
        if mode == "target":
            await pilot.press("t", "3", "enter")
        await settle(pilot)
        assert app.main.has_class("side") and app.main.has_class("compact")
        text = screen_text(app)
        line = next(ln for ln in text.splitlines() if "output.bias[0]" in ln)
        value = app.session.record.value(net.parse_param("output.bias[0]", app.session.config))
        assert f"{value:+.4f}" in line, line
        diagram, top = app.main.query_one("#diagram-box"), app.main.query_one("#top")
        assert diagram.outer_size.height == top.outer_size.height  # no blank rows under the network
