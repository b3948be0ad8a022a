"""Counts that the hardening tests report at the end of the run (examples, keys, ...)."""

from collections import Counter

COUNTS: Counter = Counter()


def pytest_terminal_summary(terminalreporter):
    if COUNTS:
        terminalreporter.section("hardening counts")
        for key, value in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{key}: {value:,}")
