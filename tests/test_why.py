"""The `y` screen (why, not only what) and the case checklist of the "what is happening" panel,
under Pilot: what a student sees on screen, at 120x36 and at 80x24."""

from __future__ import annotations

import pytest

from tests.apphelp import edit_param, events, plain, screen_text, select_param, settle, status, until
from xor_tui.app.components import pixels as px
from xor_tui.app.components.why import Explained, Ink, WhyView
from xor_tui.app.main import MainScreen, XorApp
from xor_tui.app.screens.why import WhyScreen
from xor_tui.core.io.scenario import builtin

SIZE = (120, 36)
SMALL = (80, 24)


def still(scenario: str) -> XorApp:
    app = XorApp(scenario=builtin(scenario))
    app.animation_level = "none"
    return app


def why(app) -> str:
    """All the why screen holds (not only what is in view), as plain text."""
    assert isinstance(app.screen, WhyScreen), type(app.screen).__name__
    return app.screen.query_one(WhyView).text


async def to_epoch(pilot, epoch: int) -> None:
    pilot.app.main.run_to(epoch)
    await settle(pilot)
    assert pilot.app.session.epoch == epoch


async def test_y_explains_the_selected_parameter_row_by_row_with_its_step():
    app = still("case7")
    async with app.run_test(size=SIZE) as pilot:
        await to_epoch(pilot, 97)
        assert app.main.selected == "output.bias[0]"
        await pilot.press("y")
        assert app.screen.subject == "param"
        text = why(app)
        assert "output.bias[0] at epoch 97" in text and "gradient -2637.48" in text
        # row (1,0)'s -1/(4ŷ) term, the sum, and the step it makes
        assert "row (1,0), t = 1, ŷ = 9.48012e-05: ∂L/∂ŷ = -1/(4ŷ) = -2637.1" in text
        assert "0.259089 + (-1.00992) + (-2637.1) + 0.364089 = -2637.48" in text
        assert "the step moves output.bias[0] by +2.6375" in text
        shown = screen_text(app)  # at 120x36 all of it is in view, beside the live status line
        assert "-2637.48" in shown and "+2.6375" in shown and "epoch 97" in shown
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_at_a_halt_y_says_why_it_stopped_and_b_goes_back_to_the_step_that_did_it():
    app = still("case7")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await settle(pilot)
        assert app.session.epoch == 98 and app.session.run.halted
        await pilot.press("left_square_bracket")  # output.weight[0][1] selected: the halt comes first anyway
        await pilot.press("y")
        assert app.screen.subject == "halt"
        shown = screen_text(app)
        assert "why did it stop? training halted at epoch 98" in shown
        assert "-2637.48" in shown and "+2.6375" in shown
        assert "every ŷ is above 1, which BCELoss refuses" in why(app)
        assert "row (1,0), target 1, ŷ = 9.48012e-05: ∂L/∂ŷ = -1/(4ŷ) = -2637.1   ← the largest" in why(app)
        # stepped back from the halt: the subject asked for before (the selected parameter)
        await pilot.press("b")
        assert app.session.epoch == 97 and app.screen.subject == "param"
        assert "output.weight[0][1] at epoch 97" in why(app) and "gradient -1378.06" in why(app)
        await select_param(pilot, "output.bias[0]")  # ] from here, the screen's own key
        assert "gradient -2637.48" in why(app) and "by +2.6375" in why(app)
        assert "epoch 97" in screen_text(app)
        await pilot.press("space")  # into the halt again: the halt again
        assert app.session.epoch == 98 and app.screen.subject == "halt"
        await pilot.press("w")  # asked for at the halt: the parameter there, which has no gradient
        assert app.screen.subject == "param" and "there is no gradient" in why(app)
        await pilot.press("h", "b")  # h asked for: the halt stays, and says there is none at 97
        assert app.session.epoch == 97 and "No halt here: epoch 97 is not a halt" in why(app)


async def test_a_clicked_neuron_is_explained_itself_and_its_bias_is_selected():
    app = still("case7")
    async with app.run_test(size=SIZE) as pilot:
        await to_epoch(pilot, 97)
        dia = app.main.query_one("#diagram")
        await pilot.click("#diagram", offset=dia.unit_spot("hidden[1]"))
        assert app.main.selected == "hidden.bias[1]"  # as before: a neuron selects its bias
        await pilot.press("y")
        assert app.screen.subject == "unit"
        text = why(app)
        assert "h[1] (hidden[1]) at epoch 97" in text
        assert "row (0,1): (0.0766969)(x1 = 0) + (-0.57313)(x2 = 1) + (0.445914) = -0.127216  inactive" in text
        assert "2 of 4: active (pre-activation > 0) on 2 of the 4 rows" in text
        assert "hidden.bias[1] from 0.445914 to 0.5064 (+0.060486): on row (1,1)" in text
        await pilot.press("right_square_bracket")  # ] in the unit view: the next unit
        assert "out (output[0]) at epoch 97" in why(app)
        await pilot.press("w")  # the selected parameter: the clicked neuron's bias
        assert "hidden.bias[1] at epoch 97" in why(app)
        await pilot.press("y")
        # the bias's own edge selects the bias, and y then explains the bias
        await pilot.click("#diagram", offset=dia.spot("hidden.bias[0]"))
        assert app.main.selected == "hidden.bias[0]"
        await pilot.press("y")
        assert app.screen.subject == "param" and "hidden.bias[0] at epoch 97" in why(app)


async def test_the_loss_chart_explains_the_loss_with_bceloss_clamp():
    app = still("case1")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#loss")
        await pilot.press("y")
        assert app.screen.subject == "loss"
        text = why(app)
        assert "row (0,1), target 1: ŷ = 0: -max(log ŷ, -100) = -max(-inf, -100) = 100 (the log is clamped" in text
        assert "(0 + 100 + 100 + 0) / 4 = 50" in text
        await pilot.press("c")  # the case: case 1's rules with their counts
        assert "case 1: its 3 rules hold (P 8 of 8, O 0 of 4, G 0 of 9)" in why(app)
        assert "✓ no parameter receives gradient: G = 0 of 9 (needs 0)" in why(app)


async def test_the_explanation_follows_every_step_and_play_while_open():
    app = still("case3")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("y")
        grad = lambda: app.session.frame().param("output.bias[0]").grad  # noqa: E731
        first = grad()
        assert f"gradient {first:.6g}" in why(app)
        await pilot.press("space", "space")
        assert app.session.epoch == 2 and "output.bias[0] at epoch 2" in why(app)
        assert grad() != first and f"gradient {grad():.6g}" in why(app)
        assert "epoch 2" in screen_text(app)
        await pilot.press("b")
        assert "output.bias[0] at epoch 1" in why(app)
        await pilot.press("p")  # play, under the why screen
        for _ in range(500):  # bounded: until a few epochs have been played
            await pilot.pause()
            if app.session.epoch >= 6:
                break
        await pilot.press("p")
        await pilot.pause()
        epoch = app.session.epoch
        assert epoch >= 6 and f"output.bias[0] at epoch {epoch} " in why(app)
        assert f"gradient {grad():.6g}" in why(app) and f"epoch {epoch} " in screen_text(app)


async def test_zero_factors_are_marked_in_the_themes_error_colour_with_their_cause():
    app = still("case7")
    async with app.run_test(size=SIZE) as pilot:
        await to_epoch(pilot, 97)
        await select_param(pilot, "hidden.weight[0][0]")
        await pilot.press("y")
        screen = app.screen
        view = screen.query_one(WhyView)
        pal = px.theme_colours(view)
        lines = Explained(view.what, Ink.of(view)).lines(200)

        def style_of(fragment: str):
            for line in lines:
                at = line.plain.find(fragment)
                if at >= 0:
                    spans = [s for s in line.spans if s.start <= at and at + len(fragment) <= s.end]
                    return spans[-1].style if spans else None
            raise AssertionError(f"{fragment!r} not shown")

        zero = style_of("ReLU'(z_h[0] = -0.4677) = 0")  # h[0] is inactive on row (0,0)
        assert zero.bold and tuple(zero.color.triplet) == rgb(pal["error"])
        assert tuple(style_of("x1 (0)").color.triplet) == rgb(pal["error"])  # the input is 0 there
        assert style_of("ReLU'(z_h[0] = 0.5149) = 1") is None  # a factor that is not 0: unmarked, the text colour
        cause = style_of("ReLU'(-0.4677) = 0: h[0] is inactive on row (0,0)")
        assert tuple(cause.color.triplet) == rgb(pal["warning"])
        assert "0 because ReLU'(-0.01504) = 0: h[0] is inactive on row (1,0)" in why(app)
        # another theme: the marks follow it
        app.theme = "nord"
        await pilot.pause()
        pal2 = px.theme_colours(view)
        lines = Explained(view.what, Ink.of(view)).lines(200)
        assert pal2["error"] != pal["error"]
        assert tuple(style_of("ReLU'(z_h[0] = -0.4677) = 0").color.triplet) == rgb(pal2["error"])


async def test_the_events_panel_always_shows_the_case_checklist_and_the_rule_that_flipped():
    app = still("case7")
    async with app.run_test(size=SIZE) as pilot:
        ev = events(app)
        assert "case 7: its 2 rules hold (P 4 of 8, O 2 of 4, G 5 of 9)" in ev
        assert "✓ output active on 1 to 3 rows: O 2 of 4" in ev
        assert "✓ a hidden weight receives gradient: 2 of 4" in ev
        await to_epoch(pilot, 96)
        assert "case 7: its 2 rules hold" in events(app) and "at epoch 97" not in events(app)
        await pilot.press("space")  # 97: case 7 -> none, O 3 -> 4
        ev = events(app)
        assert "no case (nearest 4): 1 of case 4's 3 rules fails (P 4 of 8, O 4 of 4, G 8 of 9)" in ev
        assert "✗ every parameter receives gradient: G 8 of 9" in ev
        assert (
            "at epoch 97: case 7 → no case (nearest 4): case 7's 'output active on 1 to 3 rows' no longer holds "
            "(O 3 -> 4)" in ev
        )
        await pilot.press("space")  # the halt: n/a, with its reason
        assert "case n/a: training has halted, so there is no gradient to classify" in events(app)
        await pilot.press("b", "h")  # another hidden activation: n/a, with its reason
        assert "case n/a: the eight cases are defined for a 2-2-1 network with ReLU in both layers" in events(app)


async def test_at_80x24_every_part_of_every_explanation_is_reachable():
    app = still("case7")
    async with app.run_test(size=SMALL) as pilot:
        await to_epoch(pilot, 97)
        await select_param(pilot, "hidden.weight[0][0]")
        await pilot.press("y")
        for key, first, last in (
            ("w", "hidden.weight[0][0] at epoch 97", "the step moves hidden.weight[0][0] by -5.2929e-05"),
            ("u", "h[0] (hidden[0]) at epoch 97", "then active on 3 of 4 rows"),
            ("l", "the loss at epoch 97", "/ 4 = 2.76788"),
            ("c", "the case at epoch 97", "no longer holds (O 3 -> 4)"),
        ):
            await pilot.press(key)
            await until(pilot, lambda: first in screen_text(app), f"{key} shows {first!r}")  # noqa: B023
            await pilot.press("end")
            await until(pilot, lambda: last in _joined(screen_text(app)), f"{key} end shows {last!r}")  # noqa: B023
            if key == "w":  # 40 lines: scrolling was needed
                assert first not in screen_text(app)
            await pilot.press("home")
            await until(pilot, lambda: first in screen_text(app), f"{key} home shows {first!r}")  # noqa: B023
        await pilot.press("space", "end")  # the halt, to its last line
        assert app.screen.subject == "halt" and "the largest step was output.bias[0]'s" in _joined(screen_text(app))
        await pilot.press("escape")
        # the checklist: the events panel maximised (tab to it, z)
        while app.focused is None or app.focused.id != "events":
            await pilot.press("tab")
        await pilot.press("z")
        assert "case n/a: training has halted" in screen_text(app)
        await pilot.press("b")  # still maximised
        shown = screen_text(app)
        assert "✗ every parameter receives gradient: G 8 of 9" in shown
        assert "at epoch 97: case 7 → no case (nearest 4): case 7's 'output active" in shown
        await pilot.press("z")
        assert app.main.maximized is None


def _joined(text: str) -> str:
    """Screen text as one line, runs of spaces as one: a line that wraps (at a space, the rest
    indented) reads as it was before wrapping."""
    return " ".join(text.split())


def rgb(c) -> tuple[int, int, int]:
    return (c.r, c.g, c.b)


async def test_subject_keys_tabs_and_closing():
    app = still("case3")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("y")
        for key, subject in (("u", "unit"), ("l", "loss"), ("h", "halt"), ("c", "case"), ("w", "param")):
            await pilot.press(key)
            assert app.screen.subject == subject
        await pilot.press("tab")
        assert app.screen.subject == "unit"
        await pilot.click("#why-loss")  # a click on a tab
        await pilot.pause()
        assert app.screen.subject == "loss" and "the loss at epoch 0" in why(app)
        await pilot.press("y")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("y", "q")
        assert isinstance(app.screen, MainScreen) and app.return_code is None
        await pilot.press("y", "escape")
        assert isinstance(app.screen, MainScreen) and len(app.screen_stack) == 1


async def test_the_events_panel_focused_asks_about_the_case():
    app = still("case7")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#events")
        await pilot.press("y")
        assert app.screen.subject == "case" and "case 7: its 2 rules hold" in why(app)


@pytest.mark.parametrize("value", ["1e6", "-1e6", "0"])
async def test_every_subject_at_extreme_states_never_crashes(value):
    app = still("case3")
    async with app.run_test(size=SIZE) as pilot:
        await edit_param(pilot, "hidden.bias[0]", value)
        await edit_param(pilot, "output.bias[0]", value)
        await pilot.press("y")
        for key in ("w", "u", "l", "h", "c", "space", "w", "u", "l", "h", "c", "b", "e", "w", "u", "l", "c"):
            await pilot.press(key)
            await settle(pilot)
        assert app.return_code is None and isinstance(app.screen, WhyScreen)
        assert f"the case at epoch {app.session.epoch} " in why(app)
        await pilot.press("escape")
        if app.session.run.halted:
            await pilot.press("b")
        for loss in ("BCEWithLogitsLoss", "MSELoss"):
            await pilot.press("m", "y", "w", "u", "c", "l")
            assert loss in status(app) and f"{loss}: the mean of the four row terms" in why(app)
            await pilot.press("escape")
        assert app.return_code is None


async def test_y_is_in_the_help_and_the_footer():
    app = still("case3")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)  # the footer is built once the screen is up
        shown = [(k.key, k.description) for k in app.main.query("FooterKey") if k.display]
        assert ("y", "Why") in shown
        await pilot.press("question_mark")
        await pilot.pause()
        assert "why, not only what" in plain(app.screen.query_one("#keys").content, width=200).lower()


async def test_resizing_and_key_bursts_with_the_why_screen_open_never_crash():
    app = still("case7")
    async with app.run_test(size=SIZE) as pilot:
        await to_epoch(pilot, 97)
        await pilot.press("y")
        for size in [(1, 1), (2, 40), (20, 8), SMALL, (250, 80), SIZE]:
            await pilot.resize_terminal(*size)
            await pilot.press("u", "space", "l", "b", "c", "right_square_bracket", "w", "h", "tab", "end", "home")
            await settle(pilot)
        assert app.return_code is None and isinstance(app.screen, WhyScreen)
        assert app.session.epoch == 97 and "the case at epoch 97" in why(app)
        await pilot.press("e", "x", "n", "escape")  # runs started and stopped from the why screen
        await settle(pilot)
        assert app.return_code is None and isinstance(app.screen, MainScreen) and not app.main.player.busy


async def test_y_opens_while_a_run_goes_and_follows_it_to_its_end(monkeypatch):
    monkeypatch.setattr(MainScreen, "DIM_AFTER", 0.001)  # Textual's timers divide by their interval
    app = still("case3")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e", "y")  # y is taken while the run to the end goes
        assert isinstance(app.screen, WhyScreen)
        await settle(pilot)
        assert app.session.epoch == 200 and "output.bias[0] at epoch 200 " in why(app)
        assert "epoch 200" in screen_text(app)
