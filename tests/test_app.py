"""The app under Pilot: every action through keys and clicks, checked on screen and engine."""

import math
import pathlib
import re

import pytest
import torch
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from tests import digest
from tests.apphelp import (
    PARAMS_221,
    burst,
    diagram,
    edit_param,
    events,
    plain,
    rows,
    screen_text,
    select_param,
    settle,
    status,
    type_text,
)
from xor_tui.app import keymap
from xor_tui.app.main import MainScreen, XorApp
from xor_tui.app.screens.dialogs import ChoiceScreen, ConfirmScreen, HelpScreen, PromptScreen
from xor_tui.app.screens.survey import SurveyScreen
from xor_tui.core.engine import net
from xor_tui.core.io.scenario import builtin, load
from xor_tui.core.session import Session
from xor_tui.core.studies.replay import replay

SIZE = (120, 36)


def same_params(a, b) -> bool:
    return all(torch.equal(w, w2) and torch.equal(x, x2) for (w, x), (w2, x2) in zip(a, b))


async def test_opens_on_a_start_that_says_what_to_press():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "epoch 0" in status(app)
        assert "Keys 1-8" in events(app) and "space steps" in events(app)
        assert "h[0]" in diagram(app) and "out" in diagram(app)


async def test_typing_the_nine_parameters_of_case_7_names_it():
    app = XorApp(seed=12345)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")  # a random start first
        sd = digest.state_dict(7)
        values = [*sum(sd["hidden.weight"], []), *sd["hidden.bias"], *sum(sd["output.weight"], []), *sd["output.bias"]]
        for name, value in zip(PARAMS_221, values):
            await edit_param(pilot, name, f"{value}")
        assert app.session.epoch == 0 and app.session.diagnosis.case == 7
        assert "case 7" in status(app)
        # the engine holds exactly the typed start (the built-in cases hold the float32 starts
        # recovered from the source's printouts, which print as these 4-decimal values)
        assert same_params(app.session.record.params, net.from_state_dict(sd, builtin("case7").config))


@pytest.mark.parametrize("case", [1, 2, 3, 4, 5, 6, 8])
def test_setting_the_nine_parameters_of_each_other_case_names_it(case):
    """The same path as the edit dialog (Session.set_param with the typed text), without Pilot."""
    s = Session.from_seed(12345)
    sd = digest.state_dict(case)
    values = [*sum(sd["hidden.weight"], []), *sd["hidden.bias"], *sum(sd["output.weight"], []), *sd["output.bias"]]
    for name, value in zip(PARAMS_221, values):
        s.set_param(name, f"{value}")
    assert s.frame().case == case and s.epoch == 0
    assert same_params(s.record.params, net.from_state_dict(sd, builtin(f"case{case}").config))


async def test_loading_a_case_names_it_once():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert "Loaded Case 3: hidden and output inputs all positive" in events(app)
        assert "Case 3: Case 3" not in events(app) and "case 3: Case 3" not in events(app)
        await pilot.press("c", "down", "down", "enter")  # case3 -> case4 -> case4-lr0.1
        await pilot.pause()
        assert "Loaded case4-lr0.1: Case 4 with the learning rate" in events(app)


async def test_case7_runs_to_the_halt_and_keeps_the_state():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7", "e")
        await settle(pilot)
        assert not app.main.player.busy
        assert app.session.epoch == 98 and app.session.run.halted
        assert "HALTED" in status(app)
        ev = events(app)
        assert "all elements of input should be between 0 and 1" in ev and "unbounded above" in ev
        # every row predicts above 1 (2.876 ... 2.951, as the source printed): refused, neither ✓ nor ✗
        lines = rows(app).splitlines()
        assert "+2.876" in lines[1] and lines[1].rstrip().endswith("✕")
        assert "+2.885" in lines[2] and lines[2].rstrip().endswith("✕")  # target 1, above ½: still no ✓
        assert "+2.951" in lines[4] and lines[4].rstrip().endswith("✕")
        assert same_params(app.session.record.params, replay(builtin("case7")).final.params)
        # a step refuses politely; step back works; swapping the output activation resumes
        await pilot.press("space")
        assert app.session.epoch == 98 and "halted" in events(app)
        await pilot.press("b")
        assert app.session.epoch == 97 and not app.session.run.halted
        await pilot.press("space", "o", "o", "o")  # relu -> leaky_relu -> elu -> sigmoid
        assert app.session.config.activations[1].name == "sigmoid" and not app.session.run.halted
        await pilot.press("space")
        assert app.session.epoch == 99


async def test_step_back_and_forth_match_the_replay():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", *["space"] * 5, "right", "b", "left")
        assert app.session.epoch == 4
        assert app.session.record.loss == replay(builtin("case3"), 4).final.loss
        assert "epoch 4" in status(app)


async def test_b_undoes_an_edit_first_then_steps_back():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "space", "space")
        before = app.session.record.params
        await edit_param(pilot, "output.bias[0]", "0.25")
        await pilot.press("b")  # the edit at this epoch, undone exactly
        assert app.session.epoch == 2 and app.session.run.actions() == []
        assert same_params(app.session.record.params, before)
        assert "Undid set output.bias[0] = 0.25 (epoch 2)." in events(app)
        await edit_param(pilot, "output.bias[0]", "0.25")
        await pilot.press("space", "b")  # back to the epoch of the edit: it is still there
        assert app.session.epoch == 2 and len(app.session.run.actions()) == 1
        await pilot.press("b", "b")  # the edit, then epoch 1 (nothing was changed there)
        assert app.session.epoch == 1 and app.session.run.actions() == []
        assert "Undid" not in events(app)


async def test_play_pause_and_speed():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        player = app.main.player
        await pilot.press("3", "plus", "plus")
        assert player.speed == 120
        await pilot.press("p")
        assert player.playing and "playing 120/s" in status(app)
        for _ in range(200):  # wait for a few epochs (a condition, not a time)
            if app.session.epoch >= 3:
                break
            await pilot.pause(0.02)
        await pilot.press("p")
        assert not player.playing
        reached = app.session.epoch
        assert reached >= 3
        await pilot.pause(0.2)
        assert app.session.epoch == reached  # paused means paused
        await pilot.press("minus")
        assert player.speed == 60


async def test_play_says_the_rate_it_reaches_when_the_machine_cannot_keep_up(monkeypatch):
    import time

    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", *["plus"] * 3)
        assert app.main.player.speed == 240
        step = Session.step

        def slow_step(self):  # a busy machine: at most ~40 epochs a second get done
            time.sleep(0.025)
            return step(self)

        monkeypatch.setattr(Session, "step", slow_step)
        await pilot.press("p")
        start = app.session.epoch
        text = status(app)
        # until the status line says it, or long after it should have (a condition, not a time: the
        # rate is measured over a second of play, and the line is redrawn after the step that shows it)
        for _ in range(400):
            if "reaching" in text or app.session.epoch >= start + 200:
                break
            await pilot.pause(0.05)
            text = status(app)
        await pilot.press("p")
        m = re.search(r"playing 240/s, reaching (\d+)/s", text)
        assert m is not None, text
        assert int(m.group(1)) <= 40


async def test_any_dialog_pauses_play(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        for opener in ["l", "enter", "w", "g", "c", "a", "question_mark", "ctrl+p", "v"]:
            await pilot.press("p")
            assert app.main.player.playing, opener
            await pilot.press(opener)
            assert not isinstance(app.screen, MainScreen) and not app.main.player.playing, opener
            shown = app.session.epoch
            await pilot.pause(0.1)
            assert app.session.epoch == shown, opener
            await pilot.press("escape")


async def test_the_edit_lands_at_the_epoch_shown_while_playing():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "p")
        for _ in range(100):
            if app.session.epoch >= 2:
                break
            await pilot.pause(0.02)
        await pilot.press("enter")
        shown = app.session.epoch
        assert f"(epoch {shown})" in str(app.screen.query_one("Label").content)
        await type_text(pilot, "0.5")
        await pilot.press("enter")
        assert app.session.epoch == shown
        assert [a.epoch for a in app.session.run.actions()] == [shown]


async def test_e_stops_at_the_scenarios_end():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "e")
        await settle(pilot)
        assert app.session.epoch == 200 and "Reached epoch 200" in events(app)
        await pilot.press("e")
        await settle(pilot)
        assert app.session.epoch == 200 and "Already at the end" in events(app)


async def test_n_says_when_the_next_event_lies_past_the_scenarios_end(monkeypatch):
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        app.session.epochs = 850  # case 4's next event after its start is at epoch 864
        await pilot.press("e")
        await settle(pilot)
        assert app.session.epoch == 850
        await pilot.press("n")
        await settle(pilot)
        assert app.session.epoch == 864
        assert "Stopped at epoch 864: " in events(app)
        assert "(past the scenario's end at epoch 850; b steps back)" in events(app)
        monkeypatch.setattr(MainScreen, "EVENT_HORIZON", 50)
        await pilot.press("3", "n")  # case 3 has no event in its first 50 epochs
        await settle(pilot)
        assert app.session.epoch == 50 and "No event in 50 epochs: stopped at epoch 50." in events(app)
        assert "past the scenario's end" not in events(app)


async def test_the_footer_is_lit_again_after_a_short_run():
    """A run shorter than the footer's dimming delay left the footer's keys dimmed for good
    about every other time (the keys worked)."""
    for _ in range(3):
        app = XorApp(scenario=builtin("case7"))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("e")  # at once: the footer is being built
            await settle(pilot)
            await pilot.pause()
            assert app.session.epoch == 98
            assert not [k.key for k in app.screen.query(FooterKey) if k.has_class("-disabled")]


async def test_keys_pressed_while_a_run_goes_are_said_not_taken():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        await burst(pilot, "e", "4", "space")  # faster than the run's report
        await settle(pilot)
        assert app.session.name == "case8" and app.session.epoch == 200  # 4 and space were refused
        assert "Reached epoch 200. Not taken while it ran: 4, space (press again)." in events(app)
        await pilot.press("4")
        assert app.session.name == "case4" and "Not taken" not in events(app)


async def test_run_to_next_event_stops_there():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8", "n")
        await settle(pilot)
        assert app.session.epoch == 71  # hidden.bias[1] and output.weight[0][1] freeze (recovered start)
        assert "freezes" in events(app)


async def test_a_long_run_stops_refuses_keys_and_frames_are_consistent():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        # a sigmoid output keeps the run off the fused kernel, so it is stepped one epoch at a time
        app.session.set_activation("output", "sigmoid")
        app.session.epochs = 50_000
        await pilot.press("e")
        main = app.main
        assert main.check_action("step", ()) is None  # refused at once
        await pilot.pause(2 * main.DIM_AFTER)
        step_key = next(k for k in app.screen.query(FooterKey) if k.action == "step")
        assert main.busy and step_key.has_class("-disabled")  # dimmed in the footer once the run lasts
        for _ in range(20):  # frames taken while the worker steps are whole states
            f = app.session.frame()
            assert len(f.losses) == f.epoch + 1 and all(e.epoch <= f.epoch for e in f.events)
            await pilot.pause(0.01)
        await pilot.press("space", "s", "k", "1", "c")  # refused while running: nothing opens or swaps
        assert isinstance(app.screen, MainScreen) and app.session.name == "case3"
        await pilot.press("x")
        await settle(pilot)
        assert not main.busy and 0 < app.session.epoch < 50_000
        assert "Stopped at epoch" in events(app)


async def test_x_frees_the_keys_when_a_runs_report_never_arrived(monkeypatch):
    from xor_tui.app.player import Player

    real = Player.post_message
    lost = []

    def lose_one_report(self, message):
        if isinstance(message, Player.RunFinished) and not lost:
            lost.append(message)
            return True
        return real(self, message)

    monkeypatch.setattr(Player, "post_message", lose_one_report)
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        app.session.epochs = 300
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert lost and app.main.player.busy  # the job is gone, its report lost: keys stay refused
        await pilot.press("x")
        await pilot.pause()
        assert not app.main.player.busy and "Stopped at epoch 300" in events(app)
        await pilot.press("space")
        await pilot.pause()
        assert app.session.epoch == 301


async def test_enter_on_the_prefilled_value_changes_nothing():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "enter")
        await pilot.press("enter")  # the pre-filled value, as it was
        await pilot.pause()
        assert app.session.run.actions() == [] and "unchanged" in events(app)
        before = app.session.record.params
        await pilot.press("space", "b")
        after = app.session.record.params
        assert all(torch.equal(w, w2) and torch.equal(b, b2) for (w, b), (w2, b2) in zip(before, after))


@pytest.mark.parametrize("width", [80, 100, 120])
async def test_the_footer_shows_help_and_quit_whole_at_any_common_width(width):
    assert sorted(k.action for k in keymap.KEYS if k.footer) == sorted(keymap.FOOTER_ORDER)
    app = XorApp()
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot)
        shown = {k.description: k.region for k in app.screen.query(FooterKey)}
        for name in ("Help", "Quit", "Step", "Next event"):
            assert shown[name].right <= width, name
        if width >= 120:  # room for every key and the palette's
            assert all(r.right <= width for r in shown.values()) and "palette" in shown


async def test_the_footer_shows_enter_edits_while_the_parameter_table_has_the_focus():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)  # the footer is built once the screen is up
        assert type(app.focused).__name__ == "ParamsTable"
        shown = [(k.key, k.description) for k in app.screen.query(FooterKey)]
        assert ("enter", "Edit") in shown
        await burst(pilot, "home", "down", "enter")  # the table's cursor moved just before enter
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen) and "hidden.weight[0][1]" in app.screen.title_text


async def test_a_state_that_stops_changing_says_why():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "n")  # case 1: no gradient at all
        await settle(pilot)
        assert "no parameter receives gradient" in events(app)
        await pilot.press("3")
        app.session.set_lr("1e-12")  # gradients flow, but every update rounds to nothing
        await pilot.press("n")
        await settle(pilot)
        assert "rounds to nothing" in events(app)
        assert "no parameter receives gradient" not in events(app)


async def test_a_million_epochs_to_the_end_in_the_app():
    """The source's setting takes the fused kernel: e runs a million epochs of case 3 at once."""
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        app.session.epochs = 1_000_000
        await pilot.press("e")
        await settle(pilot)
        assert app.session.epoch == 1_000_000
        assert "epoch 1000000 " in status(app)
        assert len(app.session.frame().losses) == 1_000_001
        await pilot.press("b")
        await settle(pilot)
        assert "epoch 999999 " in status(app)


async def test_find_seed_never_swaps_the_session_under_a_run(monkeypatch):
    import threading

    from xor_tui.core.studies import survey

    release, real = threading.Event(), survey.find_seed

    def held_search(case, start):  # the search waits until the test lets it finish
        release.wait(10)
        return real(case, start=start)

    monkeypatch.setattr(survey, "find_seed", held_search)
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("k")
        await type_text(pilot, "6")
        await pilot.press("enter")
        assert app.main.player.busy and "Searching" in events(app)
        await pilot.press("e", "n", "space", "1", "k")  # refused while the search runs
        assert isinstance(app.screen, MainScreen) and app.session.name == "seed 0" and app.session.epoch == 0
        release.set()
        await settle(pilot)
        assert app.session.name != "seed 0" and app.session.epoch == 0 and app.session.diagnosis.case == 6
        assert "case 6" in status(app)


async def test_k_offers_this_starts_case_then_the_last_one_asked():
    from textual.widgets import Input

    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "k")
        assert app.screen.query_one(Input).value == "3"  # case 3's start: 3, not always 6
        await pilot.press("escape", "5")
        await pilot.press("k")
        assert app.screen.query_one(Input).value == "5"
        await type_text(pilot, "7")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("2", "k")
        assert app.screen.query_one(Input).value == "7"  # the case asked for last


async def test_restart_and_reseed():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "space", "space", "r")
        assert app.session.epoch == 0 and app.session.name == "case4"
        await pilot.press("h", "l")  # a LeakyReLU hidden layer and lr 0.1: a new start keeps them
        await type_text(pilot, "0.1")
        await pilot.press("enter", "space", "s")
        assert app.session.name.startswith("seed ") and app.session.epoch == 0
        assert app.session.config.activations[0].name == "leaky_relu" and app.session.config.lr == 0.1
        assert "LeakyReLU" in status(app) and "lr 0.1 " in status(app)
        await pilot.press("g")
        await type_text(pilot, "abc")
        await pilot.press("enter")
        assert isinstance(app.screen, PromptScreen)  # refused, dialog stays
        assert "whole number" in str(app.screen.query_one("#error").content)
        await type_text(pilot, "42")
        await pilot.press("enter")
        assert app.session.name == "seed 42" and "start seed 42" in status(app)


async def test_activation_swaps_cycle_and_pick():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "h")
        assert app.session.config.activations[0].name == "leaky_relu" and "LeakyReLU" in status(app)
        await pilot.press("a")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("down", "enter")  # output
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press(*["up"] * 8, "down", "down", "down", "enter")
        assert app.session.config.activations[1].name == "sigmoid" and app.session.epoch == 0
        assert same_params(app.session.record.params, builtin("case1").new_run().current.params)


async def test_learning_rate_and_loss():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "l")
        await type_text(pilot, "-1")
        await pilot.press("enter")
        assert isinstance(app.screen, PromptScreen)
        assert "above 0" in str(app.screen.query_one("#error").content)
        await type_text(pilot, "0.25")
        await pilot.press("enter")
        assert app.session.config.lr == 0.25 and "lr 0.25" in status(app)
        await pilot.press("m")
        assert app.session.config.loss == "bce-logits" and "BCEWithLogitsLoss" in status(app)


async def test_the_learning_rate_dialog_keeps_and_takes_per_layer_rates():
    app = XorApp(scenario=builtin("ex4-9"))  # a rate per layer
    async with app.run_test(size=SIZE) as pilot:
        rates = app.session.config.layer_lr
        text = "/".join(f"{v:g}" for v in rates)
        await pilot.press("l")
        assert app.screen.query_one(Input).value == text and "/".join(app.session.config.layer_names) in app.screen.hint
        await pilot.press("enter")  # the rates as they were
        await pilot.pause()
        assert app.session.config.layer_lr == rates and app.session.run.actions() == []
        assert f"learning rate: {text} (unchanged)" in events(app)
        await pilot.press("l")
        await type_text(pilot, "0.1/0.2")
        await pilot.press("enter")
        assert isinstance(app.screen, PromptScreen)
        assert "2 learning rates for 3 layers" in str(app.screen.query_one("#error").content)
        await type_text(pilot, f"{rates[0]:g}/0.5/{rates[2]:g}")
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.config.layer_lr == (rates[0], 0.5, rates[2])
        assert [a.describe() for a in app.session.run.actions()] == ["learning rate of hidden2 -> 0.5"]
        assert "lr/layer " + f"{rates[0]:g}/0.5/{rates[2]:g}" in status(app)


async def test_bad_weight_input_is_refused_and_nothing_changes():
    bad = [("abc", "not a number"), ("nan", "not finite"), ("inf", "not finite"), ("-inf", "not finite")]
    bad += [("1e30", "absurdly large"), ("", "not a number")]
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        before = [t.clone() for pair in app.session.record.params for t in pair]
        await select_param(pilot, "hidden.weight[1][0]")
        for text, fragment in bad:
            await pilot.press("enter")
            await type_text(pilot, text)
            await pilot.press("enter")
            assert isinstance(app.screen, PromptScreen)
            assert fragment in str(app.screen.query_one("#error").content)
            await pilot.press("escape")
        after = [t for pair in app.session.record.params for t in pair]
        assert all(torch.equal(a, b) for a, b in zip(before, after))
        assert app.session.run.actions() == []


async def test_text_selected_with_the_mouse_in_the_status_line_is_copied_by_ctrl_c():
    # the status line (like the diagram, the rows and the charts) draws itself line by line: a
    # copy read Textual's own rendering, which such a widget does not have, and the app died
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.mouse_down("#status", offset=(1, 0))
        await pilot.hover("#status", offset=(8, 0))
        await pilot.mouse_up("#status", offset=(8, 0))
        await pilot.press("ctrl+c")
        await pilot.pause()
        # its strips carry no offsets, so Textual selects the whole widget: its text is copied
        assert app.clipboard == status(app)
        assert app.clipboard.startswith(" epoch 0  loss ")
        await pilot.press("space")  # still running, and still answering keys
        await pilot.pause()
        assert "epoch 1" in status(app)


async def test_clicking_a_connection_selects_its_weight_then_enter_edits_it():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        dia = app.main.query_one("#diagram")
        await pilot.click("#diagram", offset=dia.spot("output.weight[0][1]"))
        assert app.main.selected == "output.weight[0][1]"
        await pilot.press("enter")
        await type_text(pilot, "0.5")
        await pilot.press("enter")
        assert app.session.frame().param("output.weight[0][1]").value == 0.5
        await pilot.click("#diagram", offset=dia.spot("hidden.bias[0]"))  # a node selects its bias
        assert app.main.selected == "hidden.bias[0]"


async def test_every_case_one_key_away_and_the_scenario_picker():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        for k in range(1, 9):
            await pilot.press(str(k))
            assert app.session.name == f"case{k}" and f"case {k}" in status(app)
        await pilot.press("c")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("home", *["down"] * 10, "enter")
        assert app.session.name == "ex4-3" and "h2[0] DEAD" in diagram(app)


async def test_load_a_file_with_errors_then_a_good_one(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "b"\n[training]\nlr = -1\n')
    good = tmp_path / "good.toml"
    good.write_text('name = "good"\n[start]\nseed = 5\n')
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        await type_text(pilot, str(bad))
        await pilot.press("enter")
        assert isinstance(app.screen, PromptScreen)
        assert "training.lr" in str(app.screen.query_one("#error").content)
        await type_text(pilot, str(good))
        await pilot.press("enter")
        assert app.session.name == "good" and "seed 5" in status(app)


async def test_a_file_under_home_opens_by_its_tilde_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mine.toml").write_text('name = "mine"\n[start]\nseed = 7\n')
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        await type_text(pilot, "~/mine.toml")
        await pilot.press("enter")
        assert app.session.name == "mine" and "seed 7" in status(app)


async def test_saved_session_replays_exactly(tmp_path):
    path = tmp_path / "session.toml"
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "space", "space")
        await edit_param(pilot, "output.bias[0]", "0.3")
        await pilot.press("h", "space", "l")
        await type_text(pilot, "0.05")
        await pilot.press("enter", "space", "space", "w")
        await type_text(pilot, str(path))
        await pilot.press("enter")
        assert path.exists()
        shown = app.session.record
        await pilot.press("w")  # saving again asks before overwriting
        await type_text(pilot, str(path))
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        before = path.read_bytes()
        await pilot.press("enter")  # No has the focus: Enter keeps the file
        assert "Not saved" in events(app)
        assert path.read_bytes() == before
        await pilot.press("w")  # a device is refused in the name dialog, never offered for overwriting
        await type_text(pilot, "/dev/null")
        await pilot.press("enter")
        assert isinstance(app.screen, PromptScreen)
        assert "character device" in str(app.screen.query_one("#error").content)
        await pilot.press("escape")
    rp = replay(load(path))
    assert rp.final.epoch == shown.epoch and rp.final.loss == shown.loss
    assert same_params(rp.final.params, shown.params)


async def test_help_lists_every_key_of_the_keymap_and_the_palette_runs_actions():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        listed = plain(app.screen.query_one("#keys").content, width=160)
        for keys, _ in keymap.help_rows():
            assert keys in listed
        for needed in ("→", "←", "escape", "click", "[", "]", "ctrl+p", "1 … 8", "z", "i"):
            assert needed in listed
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await type_text(pilot, "Load case 6")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.name == "case6"
        await pilot.press("ctrl+p")
        await type_text(pilot, "Step one epoch")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.epoch == 1


def test_readme_key_table_is_the_keymap():
    import pathlib

    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    m = re.search(r"^\| key \| action \|\n(?:\|.*\n)+", readme, flags=re.M)
    assert m is not None
    assert m.group(0).rstrip("\n") == keymap.readme_table()


async def test_z_maximises_the_focused_panel_and_i_saves_fresh_svgs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z")
        assert app.main.maximized is not None and app.main.maximized.id == "params-box"
        await pilot.press("z")
        assert app.main.maximized is None
        await pilot.press("i", "i")
        saved = sorted(p.name for p in tmp_path.glob("*.svg"))
        assert saved == ["seed-0-epoch0-1.svg", "seed-0-epoch0-2.svg"]
        assert "<svg" in (tmp_path / saved[0]).read_text()


async def test_small_and_large_terminals_do_not_crash():
    app = XorApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        for size in [(80, 24), (60, 20), (40, 12), (20, 8), (250, 80), (1, 1), (2, 40)]:
            await pilot.resize_terminal(*size)
            await pilot.press("space", "h", "b", "b", "question_mark", "escape")  # b: h undone, then the step
            await pilot.resize_terminal(max(1, size[0] // 2), max(1, size[1] // 2))
            await pilot.pause()
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        assert app.session.epoch == 0 and app.return_code is None


async def test_app_opens_on_a_scenario_or_a_seed():
    app = XorApp(scenario=builtin("case5"))
    async with app.run_test(size=SIZE):
        assert "case 5" in status(app) and "0.0203" in events(app)
    app = XorApp(seed=7)
    async with app.run_test(size=SIZE):
        assert "start seed 7" in status(app)


async def test_nan_and_edge_values_halt_as_events_and_step_back_recovers():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "m", "m", *["o"] * 5, *["h"] * 5, "l")  # mse, identity, identity
        await type_text(pilot, "50")
        await pilot.press("enter")
        for _ in range(80):
            await pilot.press("space")
            if app.session.run.halted:
                break
        assert app.session.run.halted and "not finite" in events(app)
        await pilot.press("b")
        assert math.isfinite(app.session.record.loss)


async def test_survey_screen_uses_the_current_settings_and_refuses_bad_counts():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        await type_text(pilot, "0.1")
        await pilot.press("enter", "h", "v")
        assert isinstance(app.screen, SurveyScreen)
        assert app.screen.config == app.session.config
        label = str(app.screen.query_one("#title").content)
        assert "LeakyReLU(0.01)/ReLU" in label and "lr 0.1," in label
        for bad in ("0", "²", "1e3", "٣"):
            await type_text(pilot, bad)
            await pilot.press("enter")
            assert "whole number" in app.screen.query_one("#result").content.plain
        await type_text(pilot, "3000")
        await pilot.press("enter")
        await settle(pilot)
        for _ in range(600):  # on a fresh machine the kernel compiles first (~10-20 s)
            text = plain(app.screen.query_one("#result").content)
            if "networks" in text:
                break
            await pilot.pause(0.1)
        assert "3,000 networks" in text and "solved" in text and "dead output" in text
        assert "stuck: no parameter has any gradient" in text  # what each outcome means
        await type_text(pilot, "0")
        await pilot.press("enter")  # refused: the bar no longer says the last survey's 100%
        assert app.screen.query_one("ProgressBar").progress == 0
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_the_survey_screens_title_wraps_whole_at_80_columns():
    app = XorApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("h", "o", "m", "v")  # long activation and loss names
        await pilot.pause()
        assert app.screen.query_one("#title").size.height == 3  # wrapped, not cut
        shown = " ".join(line.strip() for line in screen_text(app).splitlines()[1:4])
        assert (
            "LeakyReLU(0.01)/LeakyReLU(0.01), bce-logits (which takes z: the output activation is unused), lr 0.001"
            in shown
        )
        assert shown.endswith("Networks (enter runs):")


async def test_the_survey_screen_shows_its_last_line_and_i_saves_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # i saves here
    app = XorApp()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("v", "enter")
        await settle(pilot)
        for _ in range(600):  # on a fresh machine the kernel compiles first
            if "networks" in plain(app.screen.query_one("#result").content):
                break
            await pilot.pause(0.1)
        out = app.screen.query_one("#out")
        assert app.screen.focused is app.screen.query_one("#n")  # the count field has the focus
        await pilot.press("pagedown", "pagedown", "pagedown")  # the results scroll all the same
        await pilot.pause()
        assert out.scroll_y == out.max_scroll_y > 0
        # the legend's last words are on screen once scrolled to the end (the scrollbar's column
        # is reserved: the text is not wrapped one line longer than the scroll area measured)
        assert "learning: some parameter still changes" in screen_text(app)
        assert "(not necessarily towards a solution)" in screen_text(app)
        await pilot.press("i")  # saves the screen; the count field does not get an "i"
        assert app.screen.query_one("#n").value == "20000"
        saved = list(tmp_path.glob("*.svg"))
        assert len(saved) == 1 and "Survey with the current settings" in saved[0].read_text().replace("&#160;", " ")


async def test_app_keys_do_not_act_behind_the_survey_screen():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v", "tab")  # focus off the count box: keys reach the screen's bindings
        await pilot.press("7", "space", "s", "c", "question_mark", "b", "e")
        assert isinstance(app.screen, SurveyScreen)
        assert app.session.name == "seed 0" and app.session.epoch == 0
        await burst(pilot, "escape", "escape", "escape")  # a burst of escapes closes the survey only
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.return_code is None




async def test_a_crash_sets_a_nonzero_return_code(monkeypatch):
    app = XorApp()

    def broken(self, epochs=1):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        async with app.run_test(size=SIZE) as pilot:
            monkeypatch.setattr(type(app.main.player), "step", broken)
            await pilot.press("space")
            await pilot.pause()
    assert app.return_code == 1


async def test_open_a_pt_file(tmp_path):
    torch.manual_seed(4)
    hide, out = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    sd = {f"hide.{k}": v for k, v in hide.state_dict().items()}
    sd.update({f"out.{k}": v for k, v in out.state_dict().items()})
    torch.save(sd, tmp_path / "w.pt")
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        await type_text(pilot, str(tmp_path / "w.pt"))
        await pilot.press("enter")
        assert app.session.name == "w"
        assert torch.equal(app.session.record.params[0][0][0], hide.weight.detach())


async def test_shift_v_opens_the_sweep_on_the_current_settings_and_keys_stay_in_it():
    from xor_tui.app.screens.sweep import SweepScreen

    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        await type_text(pilot, "0.1")
        await pilot.press("enter", "h")  # hidden: relu -> leaky_relu
        await pilot.press("V")
        assert isinstance(app.screen, SweepScreen)
        assert app.screen.config.lr == 0.1 and app.screen.config.activations[0].name == "leaky_relu"
        await pilot.press("7", "space")  # app keys do not act behind it
        assert app.session.name == "seed 0" and app.session.epoch == 0
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        assert isinstance(app.screen, MainScreen)


async def test_f_opens_a_printout_log_and_recovers_its_first_run():
    log = pathlib.Path(__file__).parent / "seed" / "printouts.txt"
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        await type_text(pilot, str(log))
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert app.session.name == "printouts-run1" and app.session.frame().case == 1
        assert "Loaded run 1 of" in events(app)


async def test_next_event_on_a_state_that_can_never_change_stops_and_says_so():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "n")  # case 1: no parameter receives gradient, ever
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert not app.main.player.busy and app.session.epoch <= 1
        assert "no event can ever come" in events(app)
        await pilot.press("e")  # run to the end: the fixed point is filled in, not stepped
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert app.session.epoch == 200 and "Reached epoch 200" in events(app)


async def test_r_says_which_edits_it_drops_and_b_brings_them_back():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "space", "space")
        app.session.set_param("output.bias[0]", "0.25")
        await pilot.press("space")
        edited = app.session.record.params
        await pilot.press("r")
        assert app.session.epoch == 0
        said = events(app)
        assert "Your changes were dropped (set output.bias[0] = 0.25 at epoch 2)" in said
        assert "b brings them back, with epoch 3" in said
        await pilot.press("b")  # right after r: the run as it was, edit and epoch included
        assert app.session.epoch == 3 and same_params(app.session.record.params, edited)
        assert "as it was before the restart" in events(app)
        await pilot.press("b")  # now an ordinary step back
        assert app.session.epoch == 2
        await pilot.press("r", "space", "b", "b")  # a step after r: b steps back, the undo is gone
        assert app.session.epoch == 0 and "Already at epoch 0" in events(app)
        await pilot.press("s")
        assert "b goes back to case3" in events(app)
        await pilot.press("b")
        assert app.session.name == "case3" and app.session.epoch == 0
