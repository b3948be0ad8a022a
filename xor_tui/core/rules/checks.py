"""Checks: what a scenario's expectations and a lesson's tasks ask of a run, and one function
that decides them (``evaluate``), the same for ``xor-tui replay`` (headless) and for the app
(live, after every change).

A check is a set of predicates on one epoch's state, all of which must hold, and a window
saying when:

==================  ==========================================================================
predicate           holds when
==================  ==========================================================================
``case``            the diagnosis's case is this (1-8), or ``"none"``
``dead``            exactly these units are dead (``["hidden[1]"]``; ``[]``: none)
``dead_include``    these units are dead (others may be too)
``alive``           none of these units is dead
``halted``          training has halted (BCELoss refused an output), or not
``loss``            the loss is this, within ``tolerance`` (default 1e-4)
``loss_below``      the loss is below this number
``loss_above``      the loss is above this number
``flowing``         each of these parameters receives a nonzero gradient
``frozen``          each of these parameters receives no gradient
``activations``     the layers' activations, by name, one per layer (``"any"`` matches all)
``symmetric``       the hidden units are copies of each other (equal weights in and out), or not
``margin``          every pre-activation is at least this far from 0, and every active output at
                    most 1 - this (``target.boundary_distance``): no sign flips on the next step
``max_edits``       (tasks) at most this many parameters were set during the task
==================  ==========================================================================

==================  ==========================================================================
window              meaning
==================  ==========================================================================
``epoch = N``       at epoch N
``from/to = A, B``  at every epoch from A to B (both included)
``by = N``          at some epoch up to N (the first is reported)
(none)              (tasks only) at the current epoch
==================  ==========================================================================

``evaluate`` answers with what it checked in words ("case 7 at every epoch from 10 to 90"),
not only yes or no.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch

from xor_tui.core.engine.actions import Action, SetParam
from xor_tui.core.engine.run import Record
from xor_tui.core.rules.diagnosis import Diagnosis
from xor_tui.core.rules.target import boundary_distance

MAX_DIAGNOSED_WINDOW = 10_000  # epochs a file's checks may span when a predicate needs each forward pass


@dataclass
class Check:
    """What must hold (every predicate given) and when (one window, or the current epoch)."""

    epoch: int | None = None
    case: int | str | None = None  # 1-8, "none", or None (not checked)
    dead: list[str] | None = None
    dead_include: tuple[str, ...] = ()
    alive: tuple[str, ...] = ()
    halted: bool | None = None
    loss: float | None = None
    tolerance: float = 1e-4
    loss_below: float | None = None
    loss_above: float | None = None
    flowing: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()
    activations: tuple[str, ...] | None = None
    symmetric: bool | None = None
    margin: float | None = None
    max_edits: int | None = None
    start: int | None = None  # the window's "from"
    end: int | None = None  # the window's "to"
    by: int | None = None

    @property
    def window(self) -> str:
        """The window in words: ``epoch 0``, ``from 10 to 90``, ``by 40``, ``now``."""
        if self.epoch is not None:
            return f"epoch {self.epoch}"
        if self.start is not None:
            return f"from {self.start} to {self.end}"
        if self.by is not None:
            return f"by {self.by}"
        return "now"

    @property
    def needs_diagnosis(self) -> bool:
        """True when a predicate needs each epoch's gradients or forward pass, not only the
        case, dead units and loss a trace keeps."""
        return bool(self.flowing or self.frozen or self.symmetric is not None or self.margin is not None)

    def last_epoch(self) -> int | None:
        """The latest epoch the window looks at (None: the current one)."""
        if self.epoch is not None:
            return self.epoch
        return self.end if self.start is not None else self.by


class History(Protocol):
    """A run's epochs as a check reads them (``replay.history`` makes one of a trace)."""

    def __len__(self) -> int: ...  # epochs stored: 0 .. the current one

    def record(self, k: int) -> Record:
        """Epoch k's record."""

    def diagnosis(self, k: int) -> Diagnosis:
        """Epoch k's diagnosis."""

    def case(self, k: int) -> int | None:
        """Epoch k's case (None where none matches)."""

    def dead(self, k: int) -> tuple[str, ...]:
        """Epoch k's dead units."""

    def loss(self, k: int) -> float | None:
        """Epoch k's loss (None where it could not be computed)."""

    def halted(self, k: int) -> bool:
        """True when training halted at epoch k (only ever the last one)."""


@dataclass
class CheckResult:
    """What ``evaluate`` found: ``ok``, what it checked in words (``checked``), what failed
    (``failures``), and the epoch it looked at last (for ``by``, the first that held)."""

    ok: bool
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    epoch: int | None = None
    where: str = ""  # when what was checked held: "at epoch 0", "first at epoch 37 (by 40)"

    @property
    def text(self) -> str:
        """One line: what was checked and when, or what failed."""
        if not self.ok:
            return "; ".join(self.failures)
        return "; ".join(self.checked) + (f" {self.where}" if self.where else "")


def edits_made(actions: Iterable[Action]) -> int:
    """How many parameters ``set`` actions changed (a parameter set twice counts once)."""
    return len({a.target for a in actions if isinstance(a, SetParam)})


def _units(names: Iterable[str]) -> str:
    return ", ".join(names) if names else "none"


def _state(check: Check, h: History, k: int) -> tuple[list[str], list[str]]:
    """The predicates at epoch k: (what held, in words; what failed, in words)."""
    said: list[str] = []
    fails: list[str] = []
    if check.case is not None:
        case = h.case(k)
        # as the status line says it: n/a once training halted, no case where no rule set holds
        got_case = ("n/a (halted)" if h.halted(k) else "none") if case is None else case
        (said if got_case == check.case else fails).append(
            f"case {got_case}" if got_case == check.case else f"case: expected {check.case}, got {got_case}"
        )
    if check.dead is not None or check.dead_include or check.alive:
        dead = sorted(h.dead(k))
        if check.dead is not None:
            if dead == sorted(check.dead):
                said.append(f"dead units {_units(dead)}")
            else:
                fails.append(f"dead units: expected {check.dead or 'none'}, got {dead or 'none'}")
        for u in check.dead_include:
            (said if u in dead else fails).append(f"{u} dead" if u in dead else f"{u}: expected dead, it is alive")
        for u in check.alive:
            (said if u not in dead else fails).append(
                f"{u} alive" if u not in dead else f"{u}: expected alive, it is dead"
            )
    if check.halted is not None:
        halted = h.halted(k)
        if halted == check.halted:
            said.append("halted" if halted else "not halted")
        else:
            fails.append(f"halted: expected {str(check.halted).lower()}, got {str(halted).lower()}")
    if check.margin is not None:
        rec = h.record(k)
        dist = None if rec.halted else boundary_distance(rec.params, rec.config)
        if dist is not None and dist >= check.margin:
            said.append(f"every sign at least {check.margin:g} from its boundary (nearest {dist:.4f})")
        else:
            nearest = "halted" if dist is None else f"the nearest is {dist:.4f} away"
            fails.append(f"margin: expected every sign at least {check.margin:g} from its boundary, {nearest}")
    if check.activations is not None or check.symmetric is not None:
        rec = h.record(k)
        if check.activations is not None:
            names = [a.name for a in rec.config.activations]
            want = list(check.activations)
            if len(names) == len(want) and all(w in ("any", g) for w, g in zip(want, names)):
                said.append(f"activations {'/'.join(names)}")
            else:
                fails.append(f"activations: expected {'/'.join(want)}, got {'/'.join(names)}")
        if check.symmetric is not None:
            sym = symmetric(rec)
            if sym == check.symmetric:
                said.append("hidden units are copies of each other" if sym else "hidden units differ")
            else:
                fails.append(f"symmetric: expected {str(check.symmetric).lower()}, got {str(sym).lower()}")
    if check.loss is not None or check.loss_below is not None or check.loss_above is not None:
        loss = h.loss(k)
        finite = loss if loss is not None and math.isfinite(loss) else None  # the loss when it is a number
        if check.loss is not None:
            if finite is not None and abs(finite - check.loss) <= check.tolerance:
                said.append(f"loss {finite!r} within {check.tolerance:g} of {check.loss!r}")
            else:
                fails.append(f"loss: expected {check.loss} +- {check.tolerance:g}, got {loss}")
        if check.loss_below is not None:
            if finite is not None and finite < check.loss_below:
                said.append(f"loss {finite:.6g} below {check.loss_below:g}")
            else:
                fails.append(f"loss: expected below {check.loss_below:g}, got {loss}")
        if check.loss_above is not None:
            if finite is not None and finite > check.loss_above:
                said.append(f"loss {finite:.6g} above {check.loss_above:g}")
            else:
                fails.append(f"loss: expected above {check.loss_above:g}, got {loss}")
    if check.flowing or check.frozen:
        d = h.diagnosis(k)
        for name in check.flowing:
            ok = name in d.flowing
            (said if ok else fails).append(
                f"{name} receives gradient" if ok else f"{name}: expected a gradient, it receives none"
            )
        for name in check.frozen:
            ok = name in d.frozen
            (said if ok else fails).append(
                f"{name} receives no gradient" if ok else f"{name}: expected no gradient, it receives one"
            )
    return said, fails


def symmetric(rec: Record) -> bool:
    """True when the first hidden layer's units are exact copies: equal incoming weights,
    biases, and outgoing weights (exercise 4-8: a zero start keeps them so)."""
    (w1, b1), (w2, _) = rec.params[0], rec.params[1]
    units = w1.shape[1]
    return all(
        torch.equal(w1[0, j], w1[0, 0]) and torch.equal(b1[0, j], b1[0, 0]) and torch.equal(w2[0, :, j], w2[0, :, 0])
        for j in range(1, units)
    )


def _not_reached(h: History, epoch: int, check: Check) -> CheckResult | None:
    n = len(h)
    if epoch < n:
        return None
    last = h.record(n - 1)
    if check.halted is True and last.halted:  # an expected halt came earlier
        return CheckResult(True, ["halted"], epoch=last.epoch, where=f"at epoch {last.epoch}, before epoch {epoch}")
    reason = f"halted at epoch {last.epoch}" if last.halted else f"stopped at epoch {last.epoch}"
    return CheckResult(False, failures=[f"epoch {epoch} was not reached ({reason})"], epoch=n - 1)


def evaluate(check: Check, history: History, edits: int = 0) -> CheckResult:
    """Decide ``check`` on a run's ``history`` (its epochs so far); ``edits`` is how many
    parameters were set during the task (for ``max_edits``). See the module's docstring."""
    n = len(history)
    pre: list[str] = []
    fails: list[str] = []
    if check.max_edits is not None:
        if edits <= check.max_edits:
            pre.append(f"{edits} edit{'s' if edits != 1 else ''} (at most {check.max_edits})")
        else:
            fails.append(f"edits: expected at most {check.max_edits}, made {edits}")
    if check.epoch is not None or (check.start is None and check.by is None):
        k = n - 1 if check.epoch is None else check.epoch
        early = _not_reached(history, k, check)
        if early is not None:
            early.failures = fails + early.failures
            early.ok = early.ok and not fails
            return early
        said, bad = _state(check, history, k)
        if bad and check.epoch is None:  # the current epoch: say which it is
            bad = [f"at epoch {k}: " + "; ".join(bad)]
        return CheckResult(not (fails or bad), pre + said, fails + bad, k, f"at epoch {k}")
    if check.start is not None:
        assert check.end is not None, "a from/to window without its end"  # the reader sets both or neither
        early = _not_reached(history, check.end, check)
        if early is not None and not early.ok:
            early.failures = fails + early.failures
            return early
        end = min(check.end, n - 1)
        said = []
        for k in range(check.start, end + 1):
            s, bad = _state(check, history, k)
            if bad:
                return CheckResult(False, failures=fails + [f"at epoch {k}: " + "; ".join(bad)], epoch=k)
            said = s
        return CheckResult(not fails, pre + said, fails, end, f"at every epoch from {check.start} to {end}")
    # by: the first epoch up to check.by where everything holds
    assert check.by is not None  # neither an epoch nor a from/to window, so a by window
    last = min(check.by, n - 1)
    for k in range(0, last + 1):
        s, bad = _state(check, history, k)
        if not bad:
            return CheckResult(not fails, pre + s, fails, k, f"first at epoch {k} (by {check.by})")
    s, bad = _state(check, history, last)
    reached = f"epoch {check.by}" if last == check.by else f"epoch {check.by} (the run ends at epoch {last})"
    return CheckResult(False, failures=fails + [f"not by {reached}: at epoch {last}, " + "; ".join(bad)], epoch=last)


class SequenceHistory:
    """A ``History`` over plain sequences of records and their diagnoses (tests, small runs)."""

    def __init__(self, records: Sequence[Record], diagnoses: Sequence[Diagnosis]) -> None:
        self._records, self._diagnoses = records, diagnoses

    def __len__(self) -> int:
        return len(self._records)

    def record(self, k: int) -> Record:
        """Epoch k's record."""
        return self._records[k]

    def diagnosis(self, k: int) -> Diagnosis:
        """Epoch k's diagnosis."""
        return self._diagnoses[k]

    def case(self, k: int) -> int | None:
        """Epoch k's case."""
        return self._diagnoses[k].case

    def dead(self, k: int) -> tuple[str, ...]:
        """Epoch k's dead units."""
        return tuple(self._diagnoses[k].dead)

    def loss(self, k: int) -> float | None:
        """Epoch k's loss."""
        return self._records[k].loss

    def halted(self, k: int) -> bool:
        """Whether epoch k halted."""
        return self._records[k].halted
