"""SVG snapshots of the main screen (pytest-textual-snapshot); update with --snapshot-update.

Animation is off (Textual's animation level "none"), so every frame is static and the same
state always gives the same picture."""

import pytest

from xor_tui.app.main import XorApp
from xor_tui.core.scenario import builtin


def still(scenario: str) -> XorApp:
    app = XorApp(scenario=builtin(scenario))
    app.animation_level = "none"
    return app


@pytest.mark.parametrize("case", [1, 6, 7])
def test_main_screen(snap_compare, case):
    assert snap_compare(still(f"case{case}"), terminal_size=(120, 36))


def test_case7_halted(snap_compare):
    async def run_to_halt(pilot):
        await pilot.press("e")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(still("case7"), terminal_size=(120, 36), run_before=run_to_halt)
