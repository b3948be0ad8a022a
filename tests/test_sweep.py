"""xor-tui sweep: a survey per grid point, shares that add up, one-line refusals."""

import json
from dataclasses import replace

import pytest
import torch

from xor_tui.cli.main import main
from xor_tui.core.engine.activations import SpecError
from xor_tui.core.engine.net import Config
from xor_tui.core.studies.survey import OUTCOMES, run_survey
from xor_tui.core.studies.sweep import log_range, run_sweep


def test_log_range_is_log_spaced_and_keeps_its_ends():
    assert log_range("0.001:1:4", "--lr", 1e-6, 1e6) == [0.001, 0.01, 0.1, 1.0]
    assert log_range("0.25:4:3", "--init-scale", 1e-3, 1e3) == [0.25, 1.0, 4.0]
    assert log_range("0.5", "--lr", 1e-6, 1e6) == [0.5]


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("1:0.1:3", "FROM must be below TO"),
        ("0.1:1", "expected FROM:TO:COUNT"),
        ("a:1:3", "must be numbers"),
        ("0.1:1:x", "COUNT must be a whole number"),
        ("0.1:1:0", "COUNT must be from 1 to 40"),
        ("0.1:1:41", "COUNT must be from 1 to 40"),
        ("0:1:3", "finite numbers from"),
        ("nan", "finite numbers from"),
        ("1e9", "finite numbers from"),
        ("0.001:1:1", "COUNT 1 takes one value; give FROM alone"),
    ],
)
def test_bad_ranges_are_refused(text, fragment):
    with pytest.raises(SpecError, match=fragment):
        log_range(text, "--lr", 1e-6, 1e6)


@pytest.fixture(scope="module")
def tiny():
    return run_sweep(Config(), [0.01, 0.3], [0.5, 1.0, 3.0], 600, 40, seed=2)


def test_each_point_is_the_survey_of_that_setting(tiny):
    assert tiny.shares.shape == (3, 2, 4)
    assert torch.allclose(tiny.shares.sum(-1), torch.ones(3, 2, dtype=torch.float64))
    for i, j, scale, lr in tiny.points():
        r = run_survey(replace(Config(), lr=lr), 600, 40, seed=2, init_scale=scale)
        assert [float(tiny.shares[i, j, k]) for k in range(4)] == [r.outcome_shares()[o] for o in OUTCOMES]


def test_init_scale_multiplies_pytorchs_default_start():
    one = run_survey(Config(), 50, 0, seed=9)
    three = run_survey(Config(), 50, 0, seed=9, init_scale=3.0)
    for (w, b), (w3, b3) in zip(one.start_params, three.start_params):
        assert torch.equal(w * 3.0, w3) and torch.equal(b * 3.0, b3)


def test_nearest_point_marks_the_current_setting(tiny):
    assert tiny.nearest(0.25, 1.0) == (1, 1)
    assert tiny.nearest(0.001, 10.0) == (2, 0)


ARGS = ["sweep", "--lr", "0.01:0.3:2", "--init-scale", "0.5:2:2", "--n", "300", "--epochs", "20"]


def test_json_holds_every_point(capsys):
    assert main([*ARGS, "--json"]) == 0
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert d["lr"] == [0.01, 0.3] and d["init_scale"] == [0.5, 2.0] and len(d["points"]) == 4
    for p in d["points"]:
        assert sum(p[o] for o in OUTCOMES) == pytest.approx(1.0)
    assert err == ""  # no progress bar when stderr is not a terminal


def test_table_and_csv(tmp_path, capsys):
    out = tmp_path / "grid.csv"
    assert main([*ARGS, "--csv", str(out)]) == 0
    text = capsys.readouterr().out
    for name in OUTCOMES:
        assert f"{name} (% of starts)" in text
    rows = out.read_text().splitlines()
    assert rows[0] == "lr,init_scale,solved,halted,stuck,learning" and len(rows) == 5


def test_csv_dash_writes_the_grid_to_standard_output_instead_of_the_tables(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*ARGS, "--csv", "-"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "lr,init_scale,solved,halted,stuck,learning" and len(rows) == 5
    assert list(tmp_path.iterdir()) == []  # no file named "-"
    assert main([*ARGS, "--csv", "-", "--json"]) == 2
    assert "choose one" in capsys.readouterr().err


def test_help_says_what_each_outcome_means(capsys):
    from xor_tui.core.studies.survey import OUTCOME_MEANING

    for command in ("survey", "sweep"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for name, meaning in OUTCOME_MEANING.items():
            assert f"{name}: {meaning}" in text, (command, name)


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--lr", "1:0.1:3"], "--lr: FROM must be below TO"),
        (["--init-scale", "0:1:3"], "--init-scale: values must be finite"),
        (["--n", "0"], "--n must be at least 1"),
        (["--seed", str(2**64)], "--seed must be from 0"),
        (["--hidden", "swish"], "unknown activation"),
        (["--loss", "hinge"], "unknown loss"),
        (["--n", "10000000", "--epochs", "100000"], "network-epochs; use fewer"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(capsys, argv, fragment):
    assert main(["sweep", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err


def test_csv_target_is_checked_before_the_sweep(tmp_path, capsys, monkeypatch):
    import xor_tui.core.studies.sweep as sweep

    monkeypatch.setattr(sweep, "run_sweep", lambda *a, **k: pytest.fail("the sweep ran"))
    there = tmp_path / "x.csv"
    there.write_text("keep")
    assert main([*ARGS, "--csv", str(there)]) == 2
    assert "already exists" in capsys.readouterr().err and there.read_text() == "keep"
    assert main([*ARGS, "--csv", str(tmp_path / "missing" / "x.csv")]) == 2
    assert "no such folder" in capsys.readouterr().err


# ---------------------------------------------------------------- the app's sweep screen


async def test_sweep_screen_draws_a_heatmap_per_outcome_and_opens_a_cells_survey(tiny):
    from textual.app import App

    from xor_tui.app.screens.sweep import CellSurveyScreen, Heatmap, SweepScreen

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(SweepScreen(Config(lr=0.3), result=tiny))

    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        screen = app.screen
        maps = list(screen.query(Heatmap))
        assert [m.outcome for m in maps] == list(OUTCOMES)
        text = maps[0].render_text().plain
        assert "learning rate" in text and "x0.5" in text and "x3" in text and "0.01" in text and "0.3" in text
        assert text.count("◆") == 1  # the current setting: lr 0.3 at init scale 1
        assert screen.cursor == (1, 1)
        # percentages shown are the shares
        solved = round(100 * float(tiny.share("solved")[1, 1]))
        assert f"{solved:>3}◆" in text
        await pilot.press("left", "up")
        assert screen.cursor == (2, 0) and maps[2].cursor == (2, 0)
        await pilot.press("enter")
        cell = app.screen
        assert isinstance(cell, CellSurveyScreen)
        assert cell.config.lr == 0.01 and cell.scale == 3.0
        for _ in range(200):
            if cell.result is not None:
                break
            await pilot.pause(0.05)
        assert cell.result is not None and cell.result.n == tiny.n
        expected = [float(tiny.shares[2, 0, k]) for k in range(4)]
        assert [cell.result.outcome_shares()[o] for o in OUTCOMES] == expected
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.resize_terminal(30, 20)
        await pilot.pause()
        assert screen.query_one("#maps").has_class("narrow")


async def test_sweep_screen_runs_its_own_sweep_and_a_click_selects():
    from textual.app import App

    from xor_tui.app.screens.sweep import Heatmap, SweepScreen

    screen = SweepScreen(Config(), lrs=[0.001, 0.1], scales=[1.0, 2.0], n=200, epochs=10)

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(screen)

    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(200):
            if screen.result is not None and screen.query(Heatmap):
                break
            await pilot.pause(0.05)
        assert screen.result is not None and screen.result.shares.shape == (2, 2, 4)
        await pilot.pause()
        first = screen.query(Heatmap).first()
        await pilot.click(first, offset=(7 + 4 + 1, 2))  # top row (scale 2), second column (lr 0.1)
        assert screen.cursor == (1, 1)


def test_per_layer_rates_give_way_to_the_grids_one_rate_and_the_sweep_says_so():
    """A session with per-layer rates (as the app's l takes them): the grid's learning rate is
    used for every layer, so its columns differ, and a note says the per-layer rates are not
    used (they silently overrode the grid: every column the same)."""
    config = Config(lr=0.25, layer_lr=(2.0, 0.25))
    notes: list[str] = []
    r = run_sweep(config, [0.001, 1.0], [1.0], 400, 30, note=notes.append)
    assert notes[0] == "the grid's learning rate is one rate for every layer: the per-layer rates 2/0.25 are not used"
    assert not torch.equal(r.shares[0, 0], r.shares[0, 1])
    assert r.config_at(0, 1).layer_lr is None and r.config_at(0, 1).lr == 1.0


def test_a_setting_off_the_fast_path_says_which_engine_it_takes():
    notes: list[str] = []
    run_survey(Config(weight_decay=0.01), 50, 5, note=notes.append)
    why = "the fast path has no per-layer learning rates or weight decay"
    assert notes == [f"{why}; using the torch engine (exact, slower)"]


async def test_arrows_move_the_sweep_cursor_even_when_the_page_scrolls():
    """At 120x36 the twelve-row maps are taller than the screen: up and down moved the page
    instead of the cursor."""
    from textual.app import App

    from xor_tui.app.screens.sweep import SweepScreen
    from xor_tui.core.studies.sweep import SweepResult

    lrs, scales = log_range("0.001:1:12", "lr", 1e-6, 1e6), log_range("0.25:4:12", "s", 1e-3, 1e3)
    shares = torch.full((12, 12, 4), 0.25, dtype=torch.float64)
    result = SweepResult(Config(), lrs, scales, 100, 200, 0, shares, 1.0)
    screen = SweepScreen(Config(), result=result)

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(screen)

    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert screen.query_one("#scroll").max_scroll_y > 0
        start = screen.cursor
        await pilot.press("up", "up", "right")
        assert screen.cursor == (start[0] + 2, start[1] + 1)
        await pilot.press("down")
        assert screen.cursor == (start[0] + 1, start[1] + 1)


def test_tables_written_to_a_pipe_keep_every_label_whole(capsys):
    assert main(["sweep", "--n", "10", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "0.00178" in out and "x0.794" in out and "…" not in out


def test_bce_logits_settings_say_the_output_activation_is_unused():
    from xor_tui.core.engine.activations import parse_activation

    c = Config((2,), (parse_activation("relu"), parse_activation("tanh")), "bce-logits", 0.1)
    assert c.summary() == "2-2-1 ReLU/Tanh, bce-logits (which takes z: the output activation is unused), lr 0.1"


def test_the_default_grid_holds_the_usual_rates_and_pytorchs_own_scale():
    """13 points each way: lr 0.001, 0.01, 0.1, 1 and init scale 1 are grid points, so the app's ◆
    sits on the current setting itself (with 12 points it sat on x0.88); the command line's
    defaults are the same grid."""
    from xor_tui.cli.main import build_parser
    from xor_tui.core.studies.sweep import DEFAULT_LRS, DEFAULT_SCALES

    lrs, scales = log_range(DEFAULT_LRS, "lr", 1e-6, 1e6), log_range(DEFAULT_SCALES, "s", 1e-3, 1e3)
    for lr in (0.001, 0.01, 0.1, 1.0):
        assert any(abs(x / lr - 1) < 1e-12 for x in lrs), lr
    assert any(abs(x - 1.0) < 1e-12 for x in scales)
    args = build_parser().parse_args(["sweep"])
    assert (args.lr, args.init_scale) == (DEFAULT_LRS, DEFAULT_SCALES)
