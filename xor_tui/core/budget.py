"""A time budget with a cancel button, for long work that must end when asked or when time is up.

Every loop whose length depends on the input (lines of a log, epochs of a run, rounds of a
search) calls ``check()``; it raises ``OutOfTime`` after the deadline and ``Cancelled`` as
soon as the cancel callback says so. One check costs a clock read and a call: well under a
microsecond, so checking every epoch is free next to the epoch itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

MAX_SECONDS = 86_400.0  # a day: a budget is for one sitting


class Stopped(Exception):
    """The work was stopped before it ended; ``stage`` says what it was doing (set by the catcher)."""

    stage: str = ""


class OutOfTime(Stopped):
    """The budget's deadline passed."""


class Cancelled(Stopped):
    """The cancel callback asked to stop."""


class Budget:
    """A deadline (``seconds`` from now) and an optional ``cancel()`` asked at every check."""

    def __init__(self, seconds: float, cancel: Callable[[], bool] | None = None) -> None:
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
            raise ValueError(f"a budget is from 0 to {MAX_SECONDS:g} seconds, got {seconds!r}")
        self.seconds = float(seconds)
        self.started = time.monotonic()
        self.deadline = self.started + self.seconds
        self.cancel = cancel

    def check(self) -> None:
        """Raise Cancelled when asked to stop, OutOfTime past the deadline; else return."""
        if self.cancel is not None and self.cancel():
            raise Cancelled("cancelled")
        if time.monotonic() > self.deadline:
            raise OutOfTime(f"the budget of {self.seconds:g} s ran out")

    def left(self) -> float:
        """Seconds until the deadline (negative once past it)."""
        return self.deadline - time.monotonic()

    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return time.monotonic() - self.started

    def part(self, share: float) -> Budget:
        """A budget ending after ``share`` of the time left here (at least a millisecond), with
        the same cancel: a stage that must leave time for the stages after it."""
        sub = Budget.__new__(Budget)
        sub.started = time.monotonic()
        sub.deadline = min(self.deadline, sub.started + max(self.left() * share, 1e-3))
        sub.seconds = self.seconds
        sub.cancel = self.cancel
        return sub


def unbounded() -> Budget:
    """The budget of a caller that gave none: a day, no cancel."""
    return Budget(MAX_SECONDS)
