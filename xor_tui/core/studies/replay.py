"""Run a scenario headless: records, diagnoses, events and the expectation verdicts."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from xor_tui.core.engine import net
from xor_tui.core.engine.actions import Action
from xor_tui.core.engine.net import Config
from xor_tui.core.engine.run import LazySeq, Record, Run, fast_replay
from xor_tui.core.io.scenario import Expectation, RunTo, Scenario, Task
from xor_tui.core.rules.checks import CheckResult, edits_made, evaluate
from xor_tui.core.rules.diagnosis import Diagnosis, Event, diagnose, events

_Row = tuple[str, tuple[str, ...], int | None, int | None]
"""An epoch's table row: case text, dead units, case, nearest case."""


class Trace:
    """A run's diagnosis and events, epoch by epoch.

    Stored: the events of the epochs that have any (most have none) and, per epoch, a
    reference to a shared (case text, dead units, case) triple (8 bytes) for tables.
    ``diagnoses[k]`` is recomputed on demand from ``run.records[k]``
    (a few recent ones are cached); ``events[k]`` is a stored list or empty. Epochs that
    repeat the one before bit for bit (``Run.is_repeat``) have no events by construction
    and are not diagnosed while syncing.
    """

    CACHE = 64

    def __init__(self, run: Run) -> None:
        self.run = run
        self._events: dict[int, list[Event]] = {}
        self._n = 0  # epochs whose events are known
        # per epoch, a shared (case text, dead units, case, nearest case) tuple: what a table row
        # or a JSON record needs, 8 bytes each
        self._rows: list[_Row] = []
        self._row_kinds: dict[_Row, _Row] = {}
        self._diag: OrderedDict[int, tuple[Record, Diagnosis]] = OrderedDict()

    @classmethod
    def follow(cls, run: Run) -> Trace:
        t = cls(run)
        t.sync()
        return t

    def _diagnosis(self, k: int) -> Diagnosis:
        rec = self.run.records[k]
        hit = self._diag.get(k)
        if hit is not None and hit[0] is rec:
            self._diag.move_to_end(k)
            return hit[1]
        d = diagnose(rec)
        self._diag[k] = (rec, d)
        if len(self._diag) > self.CACHE:
            self._diag.popitem(last=False)
        return d

    def sync(self, stop: Callable[[int, list[Event]], bool] | None = None) -> int | None:
        """Bring events in line with the run's records (after steps, back, act). With ``stop``,
        end at the first epoch whose events it accepts (``stop(epoch, events)``) and return
        that epoch: the trace then ends there, and the caller cuts the run back to it (a run
        to the next event need not diagnose the thousands of epochs computed past it)."""
        n = len(self.run.records)
        # the current record may have been replaced by an action: recompute it
        start = max(0, min(self._n, n) - 1)
        for e in [e for e in self._events if e >= start]:
            del self._events[e]
        # cached diagnoses stay: each is checked against the record object it was made from
        del self._rows[start:]
        # epochs that repeat the one before bit for bit have its row and no events; so have
        # those whose diagnosis is bound to equal the one before (``_unchanged``)
        todo = self.run.changes(start, n)
        same = self._unchanged(todo, n)
        rows = self._rows
        for k in todo:
            if k in same and rows:
                continue
            if len(rows) < k:
                rows.extend([rows[-1]] * (k - len(rows)))
            rec = self.run.records[k]
            d = self._diagnosis(k)
            prev = self._diagnosis(k - 1) if k else None
            evs = events(prev, d, rec)
            if evs:
                self._events[k] = evs
            row = (d.case_text, tuple(d.dead), d.case, d.nearest)
            rows.append(self._row_kinds.setdefault(row, row))
            if stop is not None and evs and stop(k, evs):
                self._n = k + 1
                return k
        if len(rows) < n:
            rows.extend([rows[-1]] * (n - len(rows)))
        self._n = n
        return None

    SIGNED_MIN = 64  # fewer epochs to look at are diagnosed one by one

    def _unchanged(self, todo: list[int], n: int) -> set[int]:
        """Of the epochs ``todo``, those whose diagnosis is bound to equal the one before, so they
        have no events and the same table row, and need not be diagnosed. That holds when nothing
        a diagnosis looks at changed: which pre-activations are positive, which parameters have a
        nonzero gradient, whether it halts, the config, no action. Found for many epochs at once
        (after a fast ``Run.advance``) with one batched pass over their stored states and those of
        the epochs before them, in the settings where a batch gives each state's own bits
        (``fast_replay``). The current (last) epoch is always diagnosed."""
        out: set[int] = set()
        if len(todo) < self.SIGNED_MIN:
            return out
        run = self.run
        acted = run.acted(todo[0], n)
        i = 0
        for lo, hi, config in run.segments(max(0, todo[0] - 1), n - 1):
            while i < len(todo) and todo[i] <= lo:
                i += 1
            js = []
            while i < len(todo) and todo[i] < hi:
                if todo[i] not in acted:
                    js.append(todo[i])
                i += 1
            if not js or not fast_replay(config):
                continue
            at = sorted(set(js) | {j - 1 for j in js})
            sig = dict(zip(at, _signatures(run, config, at)))
            out.update(j for j in js if sig[j] == sig[j - 1])
        return out

    def row(self, k: int) -> tuple[str, tuple[str, ...]]:
        """Epoch ``k``'s case text and dead units, stored: no recomputation."""
        return self._rows[k][:2]

    def case(self, k: int) -> int | None:
        """Epoch ``k``'s case (None where none matches), stored: no recomputation."""
        return self._rows[k][2]

    def nearest(self, k: int) -> int | None:
        """Epoch ``k``'s nearest case where none matches (None where one does, or for n/a), stored."""
        return self._rows[k][3]

    @property
    def diagnoses(self) -> LazySeq[Diagnosis]:
        return LazySeq(self._n, self._diagnosis)

    @property
    def events(self) -> LazySeq[list[Event]]:
        return LazySeq(self._n, lambda k: self._events.get(k, []))

    @property
    def records(self) -> LazySeq[Record]:
        return self.run.records

    def event_counts(self, start: int, stop: int) -> dict[int, int]:
        """How many events each epoch in [start, stop) has, for those that have any."""
        return {k: len(v) for k, v in self._events.items() if start <= k < stop}

    def all_events(self) -> list[Event]:
        return [e for k in sorted(self._events) for e in self._events[k]]


def _signatures(run: Run, config: Config, epochs: list[int], chunk: int = 1 << 16) -> list[int]:
    """For stored states of one config: one integer per state whose bits are the signs of
    every pre-activation (> 0), whether each gradient is nonzero, and validity."""
    out: list[int] = []
    for a in range(0, len(epochs), chunk):
        rows = run.flat_at(epochs[a : a + chunk])
        p = net.evaluate(run.batch(rows), config)
        bits = [t.reshape(len(rows), -1) > 0 for t in p.pre]
        bits += [g.reshape(len(rows), -1) != 0 for layer in p.grads for g in layer]
        bits.append(~p.valid[:, None])
        flags = torch.cat(bits, dim=1).to(torch.int64)
        weights = 2 ** torch.arange(flags.shape[1], dtype=torch.int64)
        out.extend((flags * weights).sum(1).tolist())
    return out


@dataclass
class Verdict:
    """An expectation's outcome: what failed, what it checked (in words), or why it was not
    checked (``skipped``: the replay was asked to stop earlier)."""

    expectation: Expectation
    failures: list[str]
    skipped: str = ""
    checked: list[str] = field(default_factory=list)
    where: str = ""  # when it held, for a window: "first at epoch 37 (by 40)"

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class TaskVerdict:
    """A lesson task proved headless: its check must fail when the task begins (``before``) and
    hold once its scripted solution is applied (``after``)."""

    index: int
    task: Task
    before: CheckResult
    after: CheckResult
    edits: int  # parameters the solution set

    @property
    def ok(self) -> bool:
        """True when the check failed before the solution and holds after it."""
        return self.after.ok and not self.before.ok

    @property
    def text(self) -> str:
        """One line: what the solution achieved and what failed before it, or what went wrong."""
        if self.before.ok:
            return f"its check already holds when the task begins ({self.before.text}): it asks nothing"
        if not self.after.ok:
            return f"the solution does not solve it: {self.after.text}"
        return f"{self.after.text}; before the solution: {self.before.text}"


@dataclass
class Replay:
    scenario: Scenario
    trace: Trace
    epochs: int
    verdicts: list[Verdict]
    tasks: list[TaskVerdict] = field(default_factory=list)

    @property
    def records(self) -> Sequence[Record]:
        """Records of the epochs that ran: 0..epochs-1, or up to the halt."""
        return self.trace.records[: self.epochs]

    @property
    def final(self) -> Record:
        """The last record: the state the run ended at."""
        return self.trace.records[-1]

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.ok]

    @property
    def failed_tasks(self) -> list[TaskVerdict]:
        """The lesson's tasks that were not proved."""
        return [t for t in self.tasks if not t.ok]


def replay(scenario: Scenario, epochs: int | None = None, note: Callable[[str], None] | None = None) -> Replay:
    """Train for ``epochs`` updates (the scenario's own count by default), or to a halt, and
    check the scenario's expectations and (a lesson) its tasks.
    ``note`` hears one line before the fused kernel is compiled (see ``Run.advance``).

    Epoch k (0-based) is the source's loop body: actions of epoch k, forward, record,
    loss, backward, step. After N epochs the run stands at state N.
    """
    n = scenario.epochs if epochs is None else epochs
    run = scenario.new_run()
    trace = Trace.follow(run)
    run.advance(n, on_step=trace.sync, note=note)  # diagnosed as it goes, while each record is at hand
    trace.sync()
    ran = min(n, len(run.records)) if not run.halted else len(run.records)
    verdicts = []
    for e in scenario.expect:
        last = e.last_epoch()
        if last is not None and last > n:
            verdicts.append(Verdict(e, [], f"epoch {last} is past the {n} epoch(s) asked for"))
        else:
            verdicts.append(check(e, trace))
    return Replay(scenario, trace, ran, verdicts, check_tasks(scenario, note) if scenario.tasks else [])


class TraceHistory:
    """A trace as a check reads it (``checks.History``): the case, dead units and loss of
    every epoch from what the trace and run store, records and diagnoses on demand."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def __len__(self) -> int:
        return len(self.trace.run.records)

    def record(self, k: int) -> Record:
        """Epoch k's record."""
        rec: Record = self.trace.records[k]
        return rec

    def diagnosis(self, k: int) -> Diagnosis:
        """Epoch k's diagnosis (recomputed on demand)."""
        d: Diagnosis = self.trace.diagnoses[k]
        return d

    def case(self, k: int) -> int | None:
        """Epoch k's case, as the trace stores it."""
        return self.trace.case(k)

    def dead(self, k: int) -> tuple[str, ...]:
        """Epoch k's dead units, as the trace stores them."""
        return self.trace.row(k)[1]

    def loss(self, k: int) -> float | None:
        """Epoch k's loss, as the run stores it."""
        return self.trace.run.losses(k, k + 1)[0]

    def halted(self, k: int) -> bool:
        """True at the last epoch of a halted run."""
        return k == len(self) - 1 and self.trace.run.halted


def history(trace: Trace) -> TraceHistory:
    """What ``checks.evaluate`` reads from a trace (a replay's, or a session's: ``session.trace``)."""
    return TraceHistory(trace)


def check(ex: Expectation, trace: Trace) -> Verdict:
    """Decide one expectation on a replayed trace (``checks.evaluate``, plus a printed block)."""
    res = evaluate(ex, history(trace))
    fails, said = list(res.failures), list(res.checked)
    if ex.printed is not None and ex.epoch is not None and ex.epoch < len(trace.records):
        from xor_tui.core.io.printout import epoch_lines

        want, got = ex.printed.splitlines(), epoch_lines(trace.records[ex.epoch])
        for i in range(max(len(want), len(got))):
            w, g = (want[i] if i < len(want) else ""), (got[i] if i < len(got) else "")
            if w != g:
                fails.append(f"printed line {i + 1}: expected {w!r}, got {g!r}")
                break
        else:
            said.append(f"the printed block of epoch {ex.epoch}, {len(want)} lines verbatim")
    return Verdict(ex, fails, checked=said, where=res.where)


MAX_TASK_EPOCHS = 1_000_000  # a solution's runs together (each is bounded by the run's own limit)


def apply_entry(run: Run, entry: Action | RunTo, note: Callable[[str], None] | None = None) -> None:
    """Apply one setup or solution entry of a lesson task to ``run``: an action at the current
    epoch (as a user's edit is), or a run to an epoch (stopping at a halt)."""
    if isinstance(entry, RunTo):
        run.advance(entry.epoch, note=note)
    else:
        run.act(entry)


def begin_task(scenario: Scenario, task: Task, run: Run | None) -> Run:
    """The run a task begins on: ``run`` as it stands (a fresh run of the lesson when None or
    when the task restarts), with the task's setup applied."""
    if run is None or task.restart:
        run = scenario.new_run()
    for entry in task.setup:
        apply_entry(run, entry)
    return run


def check_tasks(scenario: Scenario, note: Callable[[str], None] | None = None) -> list[TaskVerdict]:
    """Prove a lesson's tasks headless, in order on one run (as a student meets them): each
    task's check must fail when it begins and hold after its scripted solution."""
    out = []
    run: Run | None = None
    for i, task in enumerate(scenario.tasks):
        run = begin_task(scenario, task, run)
        trace = Trace.follow(run)
        before = evaluate(task.check, history(trace), 0)
        for entry in task.solution:
            apply_entry(run, entry, note)
        trace.sync()
        edits = edits_made(e for e in task.solution if isinstance(e, Action))
        after = evaluate(task.check, history(trace), edits)
        out.append(TaskVerdict(i, task, before, after, edits))
    return out
