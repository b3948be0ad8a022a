"""Counts that the hardening tests report at the end of the run (examples, keys, ...).

Under pytest-xdist (`-n 4`) each worker sends its counts back to the controller, which
prints the totals."""

import os
import shutil
import tempfile
from collections import Counter

# One OpenMP thread for torch in every test process (and the apps they start, which inherit
# it): four xdist workers share two cores, and torch's idle OpenMP threads spin after each
# parallel region, ~10% of the suite's CPU (run with and without: 430 s against 477 s of user
# time). No result depends on it: torch splits no op on the network's tiny tensors, and the
# batched paths (survey, recover) set one thread themselves.
os.environ.setdefault("OMP_NUM_THREADS", "1")

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


# Compiled kernels go to a folder of the test run's own, never the user's ~/.cache/xor-tui: a
# fresh one per run (shared by the xdist workers, which inherit the variable), so every run
# sees an empty cache as a fresh clone's CI does. XOR_TUI_TEST_CACHE names a folder to keep
# instead (kept between local runs: the kernels are compiled once). The default cache home
# (XDG_CACHE_HOME) is a fresh folder too, which must still hold no xor-tui when the run ends:
# nothing (a test, a subprocess it starts) fell back to the user's own cache.


def pytest_configure(config):
    """`pytest` runs the short twins of the slow tests (marked `local`); with CI set (as
    .ci/run runs the same command) the slow ones run instead, at full length. The kernel
    cache is pointed at the run's own folder (see above), before any test imports the kernel."""
    if os.environ.get("CI") and config.option.markexpr == "not slow":
        config.option.markexpr = "not local"
    config.addinivalue_line("markers", "kernel: needs compiled kernels (runs last; their builds start at once)")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller's folders, inherited
    config._xor_folders = [tempfile.mkdtemp(prefix="xor-tui-test-home-cache-")]
    os.environ["XDG_CACHE_HOME"] = config._xor_folders[0]
    if os.environ.get("XOR_TUI_TEST_CACHE"):
        os.environ["XOR_TUI_CACHE"] = os.environ["XOR_TUI_TEST_CACHE"]
    else:
        config._xor_folders.append(tempfile.mkdtemp(prefix="xor-tui-test-cache-"))
        os.environ["XOR_TUI_CACHE"] = config._xor_folders[1]


def pytest_unconfigure(config):
    builder = getattr(config, "_xor_builder", None)
    if builder is not None and builder.poll() is None:
        builder.kill()  # (its builds end with it)
        builder.wait()
    for folder in getattr(config, "_xor_folders", []):
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """The slow tests (the full-length monkey) first: under xdist one worker starts on them at
    once while the other takes everything else, instead of the longest test starting last.
    Tests that need compiled kernels last: their builds (tests.kernels) start in the
    background now, so with an empty cache they find them built rather than wait."""
    items.sort(key=lambda item: (not item.get_closest_marker("slow"), bool(item.get_closest_marker("kernel"))))
    if any(item.get_closest_marker("kernel") for item in items):
        from tests import kernels

        config._xor_builder = kernels.build_in_background()


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput["counts"] = dict(COUNTS)
        return
    folders = getattr(session.config, "_xor_folders", None)
    if folders and os.path.exists(os.path.join(folders[0], "xor-tui")):  # the default cache was used
        session.config._xor_home_written = True
        session.exitstatus = 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    COUNTS.update(getattr(node, "workeroutput", {}).get("counts", {}))


def pytest_terminal_summary(terminalreporter):
    if getattr(terminalreporter.config, "_xor_home_written", False):
        terminalreporter.section("home cache written")
        terminalreporter.write_line(
            "FAILED: the test run wrote into the default cache folder, $XDG_CACHE_HOME/xor-tui "
            "(~/.cache/xor-tui for a user): tests must use XOR_TUI_CACHE"
        )
    if COUNTS:
        terminalreporter.section("hardening counts")
        for key, value in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{key}: {value:,}")
