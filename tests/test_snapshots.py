"""SVG snapshots of the main screen (pytest-textual-snapshot); update with --snapshot-update."""

import pytest

from xor_tui.app.main import XorApp
from xor_tui.core.scenario import builtin


@pytest.mark.parametrize("case", [1, 6, 7])
def test_main_screen(snap_compare, case):
    assert snap_compare(XorApp(scenario=builtin(f"case{case}")), terminal_size=(120, 36))


def test_case7_halted(snap_compare):
    async def run_to_halt(pilot):
        app = pilot.app
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(XorApp(scenario=builtin("case7")), terminal_size=(120, 36), run_before=run_to_halt)
