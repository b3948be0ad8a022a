"""Run a scenario headless: records, diagnoses, events and the expectation verdicts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .diagnosis import Diagnosis, Event, diagnose, events
from .run import Record, Run
from .scenario import Expectation, Scenario


@dataclass
class Trace:
    """A run's history with the diagnosis and events of every epoch."""

    run: Run
    diagnoses: list[Diagnosis] = field(default_factory=list)
    events: list[list[Event]] = field(default_factory=list)

    @classmethod
    def follow(cls, run: Run) -> Trace:
        t = cls(run)
        t.sync()
        return t

    def sync(self) -> None:
        """Bring diagnoses and events in line with the run's records (after steps, back, act)."""
        recs = self.run.records
        del self.diagnoses[len(recs) :]
        del self.events[len(recs) :]
        # the current record may have been replaced by an action: recompute it
        if self.diagnoses and len(self.diagnoses) == len(recs):
            self.diagnoses.pop()
            self.events.pop()
        while len(self.diagnoses) < len(recs):
            k = len(self.diagnoses)
            d = diagnose(recs[k])
            prev = self.diagnoses[k - 1] if k else None
            self.events.append(events(prev, d, recs[k]))
            self.diagnoses.append(d)

    @property
    def records(self) -> list[Record]:
        return self.run.records

    def all_events(self) -> list[Event]:
        return [e for evs in self.events for e in evs]


@dataclass
class Verdict:
    expectation: Expectation
    failures: list[str]
    skipped: str = ""  # why it was not checked (the replay was asked to stop earlier)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class Replay:
    scenario: Scenario
    trace: Trace
    epochs: int
    verdicts: list[Verdict]

    @property
    def records(self) -> list[Record]:
        """Records of the epochs that ran: 0..epochs-1, or up to the halt."""
        return self.trace.records[: self.epochs]

    @property
    def final(self) -> Record:
        return self.trace.records[-1]

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.ok]


def replay(scenario: Scenario, epochs: int | None = None) -> Replay:
    """Train for ``epochs`` updates (the scenario's own count by default), or to a halt.

    Epoch k (0-based) is the source's loop body: actions of epoch k, forward, record,
    loss, backward, step. After N epochs the run stands at state N.
    """
    n = scenario.epochs if epochs is None else epochs
    run = scenario.new_run()
    while run.epoch < n and not run.halted:
        run.step()
    trace = Trace.follow(run)
    ran = min(n, len(run.records)) if not run.halted else len(run.records)
    verdicts = [
        check(e, trace) if e.epoch <= n else Verdict(e, [], f"epoch {e.epoch} is past the {n} epoch(s) asked for")
        for e in scenario.expect
    ]
    return Replay(scenario, trace, ran, verdicts)


def _loss_close(got: float | None, want: float, tolerance: float) -> bool:
    return got is not None and math.isfinite(got) and abs(got - want) <= tolerance


def check(ex: Expectation, trace: Trace) -> Verdict:
    recs = trace.records
    fails: list[str] = []
    if ex.epoch >= len(recs):
        last = recs[-1]
        if ex.halted is True and last.halted:
            return Verdict(ex, [])
        reason = f"halted at epoch {last.epoch}" if last.halted else f"stopped at epoch {last.epoch}"
        return Verdict(ex, [f"epoch {ex.epoch} was not reached ({reason})"])
    rec, d = recs[ex.epoch], trace.diagnoses[ex.epoch]
    if ex.case is not None:
        got = d.case if d.case is not None else "none"
        if got != ex.case:
            fails.append(f"case: expected {ex.case}, got {got}")
    if ex.dead is not None and sorted(d.dead) != ex.dead:
        fails.append(f"dead units: expected {ex.dead or 'none'}, got {sorted(d.dead) or 'none'}")
    if ex.halted is not None and rec.halted != ex.halted:
        fails.append(f"halted: expected {str(ex.halted).lower()}, got {str(rec.halted).lower()}")
    if ex.loss is not None and not _loss_close(rec.loss, ex.loss, ex.tolerance):
        fails.append(f"loss: expected {ex.loss} +- {ex.tolerance:g}, got {rec.loss}")
    return Verdict(ex, fails)
