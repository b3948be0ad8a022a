"""Counts that the hardening tests report at the end of the run (examples, keys, ...).

Under pytest-xdist (`-n 4`) each worker sends its counts back to the controller, which
prints the totals."""

import os
from collections import Counter

import pytest
import textual.app
import textual.constants
import textual.pilot
from textual import _wait

import xor_tui  # noqa: F401  (before any test module imports torch: it sets MKL_CBWR)

COUNTS: Counter = Counter()

# Pilot waits, after every key and pause, until the app looks idle: a 20 ms window with under
# 1 ms of CPU, for up to 1 s. Two such waits per key were half the time of the Pilot tests, and
# while the app plays it is never idle, so every key pressed during play waited 2 s. The suite
# uses 10 ms windows (still longer than the app's 1/120 s resize and redraw timers, so a
# window cannot close before one fires) and at most 0.1 s. Tests that need a background run
# or search to finish wait for it explicitly (tests.apphelp.settle).
_wait.SLEEP_GRANULARITY = 0.01
_wait.SLEEP_IDLE = 0.0005
IDLE_WAIT_MAX = 0.1


async def _bounded_wait_for_idle(min_sleep: float = 0, max_sleep: float = 1) -> None:
    await _wait.wait_for_idle(min_sleep, min(max_sleep, IDLE_WAIT_MAX))


textual.app.wait_for_idle = _bounded_wait_for_idle  # Pilot.press waits through App._press_keys
textual.pilot.wait_for_idle = _bounded_wait_for_idle

# Apps under Pilot start with Textual's animation level "none": after every step the diagram's
# dashes run for 1.5 s at 12 frames a second, ~100 ms of CPU per step that no test but the
# animation's own looks at. Those tests and the monkey turn it back on (app.animation_level =
# "full"); apps started as processes (tmux, serve, signals) keep the default.
textual.constants.TEXTUAL_ANIMATIONS = "none"


def pytest_configure(config):
    """`pytest` runs the short twins of the slow tests (marked `local`); with CI set (as
    .ci/run runs the same command) the slow ones run instead, at full length."""
    if os.environ.get("CI") and config.option.markexpr == "not slow":
        config.option.markexpr = "not local"


def pytest_collection_modifyitems(config, items):
    """The slow tests (the full-length monkey) first: under xdist one worker starts on them at
    once while the other takes everything else, instead of the longest test starting last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput["counts"] = dict(COUNTS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    COUNTS.update(getattr(node, "workeroutput", {}).get("counts", {}))


def pytest_terminal_summary(terminalreporter):
    if COUNTS:
        terminalreporter.section("hardening counts")
        for key, value in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{key}: {value:,}")
