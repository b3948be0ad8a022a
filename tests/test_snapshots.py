"""SVG snapshots of the app (pytest-textual-snapshot); update with --snapshot-update.

Animation is off (Textual's animation level "none"), so every frame is static and the same
state always gives the same picture. Kept to a few states: every case at epoch 0 at 120x36,
and case 7, its halt, the 2-2-2-1 exercise ex4-3 and the survey screen at both 120x36 and
80x24 (screenshots/make.py draws all of them at both sizes for the README)."""

import pytest

from tests.apphelp import settle
from xor_tui.app.main import XorApp
from xor_tui.core.io.scenario import builtin

SIZES = {"120x36": (120, 36), "80x24": (80, 24)}


def still(scenario: str) -> XorApp:
    app = XorApp(scenario=builtin(scenario))
    app.animation_level = "none"
    return app


@pytest.mark.parametrize("case", range(1, 9))
def test_every_case_at_epoch_0(snap_compare, case):
    assert snap_compare(still(f"case{case}"), terminal_size=SIZES["120x36"])


def test_case7_at_80x24(snap_compare):
    assert snap_compare(still("case7"), terminal_size=SIZES["80x24"])


@pytest.mark.parametrize("size", SIZES)
def test_case7_halted(snap_compare, size):
    async def run_to_halt(pilot):
        await pilot.press("e")
        await settle(pilot)  # the run, its report taken in, the redraw

    assert snap_compare(still("case7"), terminal_size=SIZES[size], run_before=run_to_halt)


@pytest.mark.parametrize("size", SIZES)
def test_two_hidden_layers(snap_compare, size):
    assert snap_compare(still("ex4-3"), terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_survey_screen(snap_compare, size):
    """The survey form (its results print the seconds taken, which vary)."""
    assert snap_compare(still("case1"), terminal_size=SIZES[size], press=["v"])
