"""The app under Pilot: every action through keys and clicks, checked on screen and engine."""

import math

import pytest
import torch

from tests import digest
from tests.apphelp import PARAMS_221, diagram, edit_param, events, rows, select_param, status, type_text
from xor_tui.app.main import XorApp
from xor_tui.app.screens.dialogs import ChoiceScreen, ConfirmScreen, HelpScreen, PromptScreen
from xor_tui.core import engine
from xor_tui.core.replay import replay
from xor_tui.core.scenario import builtin, load

SIZE = (120, 36)


async def test_opens_on_a_start_that_says_what_to_press():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "epoch 0" in status(app)
        assert "Keys 1-8" in events(app) and "space steps" in events(app)
        assert "h[0]" in diagram(app) and "out" in diagram(app)


@pytest.mark.parametrize("case", range(1, 9))
async def test_typing_the_nine_parameters_of_each_case_names_it(case):
    app = XorApp(seed=12345)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")  # a random start first
        await pilot.pause()
        sd = digest.state_dict(case)
        values = [*sum(sd["hidden.weight"], []), *sd["hidden.bias"], *sum(sd["output.weight"], []), *sd["output.bias"]]
        for name, value in zip(PARAMS_221, values):
            await edit_param(pilot, name, f"{value}")
        assert app.session.epoch == 0
        assert app.session.diagnosis.case == case
        assert f"case {case}" in status(app)
        # the engine holds exactly the typed start (the built-in cases hold the float32 starts
        # recovered from the source's printouts, which print as these 4-decimal values)
        ref = engine.from_state_dict(sd, builtin(f"case{case}").config)
        for (w, b), (w2, b2) in zip(app.session.record.params, ref):
            assert torch.equal(w, w2) and torch.equal(b, b2)


async def test_case7_runs_to_the_halt_and_keeps_the_state():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await pilot.press("e")
        for _ in range(200):
            await pilot.pause(0.02)
            if not app.busy:
                break
        assert not app.busy
        assert app.session.epoch == 98 and app.session.run.halted
        assert "HALTED" in status(app)
        ev = events(app)
        assert "all elements of input should be between 0 and 1" in ev
        assert "unbounded above" in ev
        assert "✗" in rows(app) or "+3.1" in rows(app)
        # the kept state is the replay's, bit for bit
        rp = replay(builtin("case7"))
        for (w, b), (w2, b2) in zip(app.session.record.params, rp.final.params):
            assert torch.equal(w, w2) and torch.equal(b, b2)
        # a step refuses politely; step back works; swapping the output activation resumes
        await pilot.press("space")
        assert app.session.epoch == 98 and "halted" in events(app)
        await pilot.press("b")
        assert app.session.epoch == 97 and not app.session.run.halted
        await pilot.press("space")
        await pilot.press("o", "o", "o")  # relu -> leaky_relu -> elu -> sigmoid
        assert app.session.config.activations[1].name == "sigmoid"
        assert not app.session.run.halted
        await pilot.press("space")
        assert app.session.epoch == 99


async def test_step_back_and_forth_match_the_replay():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        for _ in range(5):
            await pilot.press("space")
        await pilot.press("right", "b", "left")
        assert app.session.epoch == 4
        rp = replay(builtin("case3"), 4)
        assert app.session.record.loss == rp.final.loss
        assert "epoch 4" in status(app)


async def test_play_pause_and_speed():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "plus", "plus")
        assert app.speed == 120
        await pilot.press("p")
        assert app.playing
        await pilot.pause(0.5)
        await pilot.press("p")
        assert not app.playing
        reached = app.session.epoch
        assert reached >= 10
        await pilot.pause(0.2)
        assert app.session.epoch == reached  # paused means paused
        await pilot.press("minus")
        assert app.speed == 60


async def test_run_to_next_event_stops_there():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8", "n")
        for _ in range(200):
            await pilot.pause(0.02)
            if not app.busy:
                break
        assert app.session.epoch == 72  # hidden.bias[1] and output.weight[0][1] freeze
        assert "freezes" in events(app)


async def test_stop_a_long_run():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        app.session.epochs = 50_000
        await pilot.press("e")
        await pilot.pause(0.3)
        assert app.busy
        await pilot.press("space")  # refused while running, nothing breaks
        await pilot.press("x")
        for _ in range(100):
            await pilot.pause(0.02)
            if not app.busy:
                break
        assert not app.busy and 0 < app.session.epoch < 50_000
        assert "Stopped" in events(app)


async def test_restart_and_reseed():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "space", "space", "r")
        assert app.session.epoch == 0 and app.session.name == "case4"
        await pilot.press("s")
        assert app.session.name.startswith("seed ")
        await pilot.press("g")
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, "abc")
        await pilot.press("enter")
        assert isinstance(app.screen, PromptScreen)  # refused, dialog stays
        assert "whole number" in str(app.screen.query_one("#error").content)
        await type_text(pilot, "42")
        await pilot.press("enter")
        assert app.session.name == "seed 42"
        assert "start seed 42" in status(app)


async def test_activation_swaps_cycle_and_pick():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "h")
        assert app.session.config.activations[0].name == "leaky_relu"
        assert "LeakyReLU" in status(app)
        await pilot.press("a")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("down", "enter")  # output
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("up", "up", "up", "up", "up", "up", "up", "up", "down", "down", "down", "enter")
        assert app.session.config.activations[1].name == "sigmoid"
        assert app.session.epoch == 0
        # weights untouched by the swap
        ref = builtin("case1").new_run().current
        for (w, b), (w2, b2) in zip(app.session.record.params, ref.params):
            assert torch.equal(w, w2) and torch.equal(b, b2)


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


@pytest.mark.parametrize(
    "bad,fragment",
    [
        ("abc", "not a number"),
        ("nan", "not finite"),
        ("inf", "not finite"),
        ("-inf", "not finite"),
        ("1e30", "absurdly large"),
        ("", "not a number"),
    ],
)
async def test_bad_weight_input_is_refused_and_nothing_changes(bad, fragment):
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        before = [t.clone() for pair in app.session.record.params for t in pair]
        await select_param(pilot, "hidden.weight[1][0]")
        app.query_one("#params").focus()
        await pilot.press("enter")
        await type_text(pilot, bad)
        await pilot.press("enter")
        assert isinstance(app.screen, PromptScreen)
        assert fragment in str(app.screen.query_one("#error").content)
        await pilot.press("escape")
        after = [t for pair in app.session.record.params for t in pair]
        assert all(torch.equal(a, b) for a, b in zip(before, after))
        assert app.session.run.actions() == []


async def test_clicking_a_connection_selects_its_weight_then_enter_edits_it():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        dia = app.query_one("#diagram")
        dia.build()
        target = next(pos for pos, name in dia._hit.items() if name == "output.weight[0][1]")
        await pilot.click("#diagram", offset=target)
        assert app.selected == "output.weight[0][1]"
        await pilot.press("enter")
        await type_text(pilot, "0.5")
        await pilot.press("enter")
        assert app.session.record.value(
            __import__("xor_tui.core.engine", fromlist=["x"]).parse_param("output.weight[0][1]", app.session.config)
        ) == pytest.approx(0.5)
        # clicking a node selects its bias
        target = next(pos for pos, name in dia._hit.items() if name == "hidden.bias[0]")
        await pilot.click("#diagram", offset=target)
        assert app.selected == "hidden.bias[0]"


async def test_every_case_one_key_away_and_the_scenario_picker():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        for k in range(1, 9):
            await pilot.press(str(k))
            assert app.session.name == f"case{k}" and f"case {k}" in status(app)
        await pilot.press("c")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("home")
        for _ in range(10):
            await pilot.press("down")
        await pilot.press("enter")
        assert app.session.name == "ex4-3"
        assert "h2[0] DEAD" in diagram(app)


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
        # saving again asks before overwriting
        await pilot.press("w")
        await type_text(pilot, str(path))
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert "Not saved" in events(app)
    rp = replay(load(path))
    assert rp.final.epoch == shown.epoch
    assert rp.final.loss == shown.loss
    for (w, b), (w2, b2) in zip(rp.final.params, shown.params):
        assert torch.equal(w, w2) and torch.equal(b, b2)


async def test_help_and_command_palette():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await type_text(pilot, "Load case 6")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.name == "case6"
        await pilot.press("ctrl+p")
        await pilot.pause()
        await type_text(pilot, "Step one epoch")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.epoch == 1


@pytest.mark.parametrize("size", [(80, 24), (60, 20), (40, 12), (20, 8), (250, 80)])
async def test_small_and_large_terminals_do_not_crash(size):
    app = XorApp()
    async with app.run_test(size=size) as pilot:
        await pilot.press("7", "space", "h", "b", "question_mark", "escape")
        await pilot.resize_terminal(max(20, size[0] // 2), max(8, size[1] // 2))
        await pilot.press("space")
        await pilot.resize_terminal(*size)
        await pilot.pause()
        assert app.session.epoch == 1


async def test_app_opens_on_a_scenario_or_a_seed():
    app = XorApp(scenario=builtin("case5"))
    async with app.run_test(size=SIZE):
        assert "case 5" in status(app)
        assert "0.0203" in events(app)
    app = XorApp(seed=7)
    async with app.run_test(size=SIZE):
        assert "start seed 7" in status(app)


async def test_nan_and_edge_values_halt_as_events_and_step_back_recovers():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "m", "m")  # mse
        await pilot.press("o", "o", "o", "o", "o")  # relu -> ... -> identity
        await pilot.press("h", "h", "h", "h", "h")
        await pilot.press("l")
        await type_text(pilot, "50")
        await pilot.press("enter")
        for _ in range(80):
            await pilot.press("space")
            if app.session.run.halted:
                break
        assert app.session.run.halted
        assert "not finite" in events(app)
        await pilot.press("b")
        assert math.isfinite(app.session.record.loss)


async def test_survey_screen_runs_and_shows_tables():
    from xor_tui.app.screens.survey import SurveyScreen

    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v")
        assert isinstance(app.screen, SurveyScreen)
        await type_text(pilot, "0")
        await pilot.press("enter")
        assert "whole number" in app.screen.query_one("#result").content.plain
        await type_text(pilot, "3000")
        await pilot.press("enter")
        for _ in range(200):
            await pilot.pause(0.05)
            content = app.screen.query_one("#result").content
            if not isinstance(content, str):
                break
        from tests.apphelp import plain

        text = plain(content)
        assert "3,000 networks" in text and "case 2" in text and "solved" in text and "dead output" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, SurveyScreen)


async def test_find_a_seed_for_a_case():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("k")
        await type_text(pilot, "9")
        await pilot.press("enter")
        assert isinstance(app.screen, PromptScreen)  # only 1-8
        await type_text(pilot, "6")
        await pilot.press("enter")
        for _ in range(200):
            await pilot.pause(0.05)
            if app.session.name.startswith("seed") and app.session.name != "seed 0":
                break
        assert app.session.diagnosis.case == 6
        assert "case 6" in status(app)


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
