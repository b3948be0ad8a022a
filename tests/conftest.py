"""Counts that the hardening tests report at the end of the run (examples, keys, ...).

Under pytest-xdist (`-n 2`) each worker sends its counts back to the controller, which
prints the totals."""

import os
from collections import Counter

import pytest

COUNTS: Counter = Counter()


def pytest_configure(config):
    """`pytest` runs the short twins of the slow tests (marked `local`); with CI set (as
    .ci/run runs the same command) the slow ones run instead, at full length."""
    if os.environ.get("CI") and config.option.markexpr == "not slow":
        config.option.markexpr = "not local"


def pytest_collection_modifyitems(config, items):
    """The slow tests (the full-length monkey) first: under `-n 2` one worker starts on them at
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
