"""What a state means: activity, dead units, gradient flow, events, the source's case.

Everything here is computed from the numbers of a record, never from a scenario's name.

The case rule (for a 2-2-1 network with ReLU in both layers). Let P be the number of
positive hidden pre-activations over the 8 (unit, row) pairs, O the number of rows on
which the output is active, and G the set of parameters with a nonzero gradient:

====  =======================  =========  ====================================
case  hidden (P of 8 > 0)      output O   gradient set G
====  =======================  =========  ====================================
1     all 8                    0          empty
2     2 to 7                   0          empty
3     all 8                    4          all 9 parameters
4     1 to 7                   4          all 9 parameters
5     at most 1                0          empty
6     none                     4          output.bias only
7     any                      1 to 3     includes a hidden weight
8     any                      1 to 3     no hidden weight, some hidden bias
====  =======================  =========  ====================================

Case 5 allows one positive entry because the source's own case 5 has one (0.0203)
while calling all hidden inputs negative.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import torch
from numpy.typing import NDArray

from xor_tui.core.engine import net
from xor_tui.core.engine.net import Config, Layer
from xor_tui.core.engine.run import Record

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

CASE_SOURCE = {
    1: "hidden inputs all positive, output inputs all negative: the output is all zero "
    "(loss 50) and no parameter ever updates",
    2: "some hidden inputs negative, output inputs all negative: the output is all zero and no parameter updates",
    3: "hidden and output inputs all positive: every parameter updates and the loss falls slowly",
    4: "some hidden inputs negative, output inputs all positive: every parameter updates",
    5: "hidden inputs all negative, output inputs all negative: the output is all zero and no parameter updates",
    6: "hidden inputs all negative, so the hidden outputs are all zero; output inputs all "
    "positive: only the output bias updates",
    7: "some hidden and some output inputs negative: parameters update, and later BCELoss crashes on an output above 1",
    8: "some hidden and some output inputs negative: of the hidden layer only the biases "
    "update, the output layer partly; the loss stays near 50",
}


@dataclass
class Diagnosis:
    epoch: int
    active: list[list[list[bool]]]  # [layer][unit][row]: pre-activation > 0
    dead: list[str]  # unit names, e.g. "hidden[1]"
    flowing: set[str]  # parameter names with a nonzero gradient
    frozen: set[str]
    case: int | None = None
    nearest: int | None = None
    difference: str = ""
    notes: list[str] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    counts: dict[str, int] | None = None  # what the case rule looked at (COUNTS keys); None for n/a

    @property
    def classified(self) -> bool:
        """The case rule applied (a 2-2-1 ReLU/ReLU net, not halted): a case or a nearest one."""
        return self.counts is not None

    @property
    def case_text(self) -> str:
        if self.case is not None:
            return f"case {self.case}"
        if self.nearest is not None:
            return f"none (nearest {self.nearest})"
        return "n/a"


@overload
def is_active(pre: float) -> bool: ...
@overload
def is_active(pre: torch.Tensor) -> torch.Tensor: ...
@overload
def is_active(pre: NDArray[np.floating[Any]]) -> NDArray[np.bool_]: ...
def is_active(pre: float | torch.Tensor | NDArray[np.floating[Any]]) -> bool | torch.Tensor | NDArray[np.bool_]:
    """Where a unit is active: its pre-activation is > 0 (exactly 0 is inactive: ReLU passes
    nothing there and its gradient is 0; NaN is inactive). Takes a float, a tensor or an array."""
    return pre > 0


def dead_units(pre: torch.Tensor) -> torch.Tensor:
    """(B, 4, units) pre-activations -> (B, units): inactive on all four rows. A unit of a
    flat-below-zero activation (ReLU) is then dead: nothing passes, no gradient flows."""
    return ~is_active(pre).any(dim=1)


def unit_name(config: Config, layer: int, unit: int) -> str:
    return f"{config.layer_names[layer]}[{unit}]"


def diagnose(record: Record) -> Diagnosis:
    config = record.config
    active = [[[bool(is_active(z[r, j])) for r in range(4)] for j in range(z.shape[1])] for z in record.pre]
    dead = []
    for li, act in enumerate(config.activations):
        if not act.flat_below_zero:
            continue
        for j, rows in enumerate(active[li]):
            if not any(rows):
                dead.append(unit_name(config, li, j))
    flowing: set[str] = set()
    frozen: set[str] = set()
    if record.grads is not None:
        for ref in net.all_params(config):
            (flowing if net.get_value(record.grads, ref) != 0 else frozen).add(ref.name(config))
    d = Diagnosis(record.epoch, active, dead, flowing, frozen)
    out = config.activations[-1]
    if not config.output_act_used and out.name != "identity":
        d.notes.append(
            f"BCEWithLogitsLoss takes the output's pre-activation z: the output activation ({out.label}) "
            "is not used, and the prediction is sigmoid(z)."
        )
    _classify(d, record)
    d.explanation = _explain(d, record)
    return d


def is_source_net(config: Config) -> bool:
    return config.hidden == (2,) and all(a.name == "relu" for a in config.activations)


@dataclass
class Features:
    """What the case rule looks at, for a batch of 2-2-1 networks (tensors of shape (B,)).
    Each is a count; ``COUNTS`` says what it counts and of how many."""

    p: torch.Tensor  # positive hidden pre-activations, of 8
    o: torch.Tensor  # rows on which the output is active, of 4
    n: torch.Tensor  # parameters with a nonzero gradient, of 9
    hw: torch.Tensor  # hidden weights with a nonzero gradient, of 4
    hb: torch.Tensor  # hidden biases with a nonzero gradient, of 2
    ob: torch.Tensor  # output biases with a nonzero gradient, of 1


def features(pre: Sequence[torch.Tensor], grads: Sequence[Layer]) -> Features:
    """From batched pre-activations (B, 4, units) and gradients [(gw, gb), ...]."""
    (gw1, gb1), (gw2, gb2) = grads
    p = is_active(pre[0]).flatten(1).sum(1)
    o = is_active(pre[1]).flatten(1).sum(1)
    counts = [(g != 0).flatten(1).sum(1) for g in (gw1, gb1, gw2, gb2)]
    return features_of_counts(p, o, *counts)


def features_of_counts(
    p: torch.Tensor, o: torch.Tensor, hw: torch.Tensor, hb: torch.Tensor, ow: torch.Tensor, ob: torch.Tensor
) -> Features:
    """Features from counts per network: positive hidden pre-activations ``p`` (of 8), rows with
    the output active ``o`` (of 4), and nonzero gradients among the hidden weights ``hw`` (of
    4), hidden biases ``hb`` (of 2), output weights ``ow`` (of 2) and the output bias ``ob``."""
    n = hw + hb + ow + ob
    return Features(p, o, n, hw, hb, ob)


@dataclass(frozen=True)
class Count:
    """One number the case rule looks at."""

    key: str  # its Features field
    symbol: str  # as the README's table writes it (P, O, G), or a short label
    what: str  # what it counts, in words
    of: int  # of how many


COUNTS: dict[str, Count] = {
    c.key: c
    for c in (
        Count("p", "P", "positive hidden pre-activations", 8),
        Count("o", "O", "rows on which the output is active", 4),
        Count("n", "G", "parameters with gradient", 9),
        Count("hw", "hidden weights with gradient", "hidden weights with gradient", 4),
        Count("hb", "hidden biases with gradient", "hidden biases with gradient", 2),
        Count("ob", "output.bias with gradient", "output biases with gradient", 1),
    )
}


@dataclass(frozen=True)
class Condition:
    """A count in a range: ``lo <= count <= hi``."""

    count: str  # a COUNTS key
    lo: int
    hi: int

    def test(self, f: Features) -> torch.Tensor:
        v: torch.Tensor = getattr(f, self.count)
        return (v >= self.lo) & (v <= self.hi)

    def holds(self, value: int) -> bool:
        return self.lo <= value <= self.hi

    @property
    def needs(self) -> str:
        """The range in words: ``8``, ``1 to 7``, ``at most 1``, ``at least 1``."""
        of = COUNTS[self.count].of
        if self.lo == self.hi:
            return str(self.lo)
        if self.lo == 0:
            return f"at most {self.hi}"
        if self.hi == of:
            return f"at least {self.lo}"
        return f"{self.lo} to {self.hi}"


@dataclass(frozen=True)
class Rule:
    """One condition of a case, in plain words, and the counts it needs."""

    text: str
    conditions: tuple[Condition, ...]

    def test(self, f: Features) -> torch.Tensor:
        hit = self.conditions[0].test(f)
        for c in self.conditions[1:]:
            hit = hit & c.test(f)
        return hit

    def holds(self, counts: dict[str, int]) -> bool:
        return all(c.holds(counts[c.count]) for c in self.conditions)


def _rule(text: str, *conditions: tuple[str, int, int]) -> Rule:
    return Rule(text, tuple(Condition(*c) for c in conditions))


# Each case: its rules, as data. One table serves the single-run diagnosis, the survey of
# 100,000 networks and the explanation's checklist (which shows each rule's live counts).
CASE_RULES: dict[int, tuple[Rule, ...]] = {
    1: (
        _rule("all 8 hidden pre-activations positive", ("p", 8, 8)),
        _rule("output inactive on all rows", ("o", 0, 0)),
        _rule("no parameter receives gradient", ("n", 0, 0)),
    ),
    2: (
        _rule("2 to 7 of the 8 hidden pre-activations positive", ("p", 2, 7)),
        _rule("output inactive on all rows", ("o", 0, 0)),
        _rule("no parameter receives gradient", ("n", 0, 0)),
    ),
    3: (
        _rule("all 8 hidden pre-activations positive", ("p", 8, 8)),
        _rule("output active on all rows", ("o", 4, 4)),
        _rule("every parameter receives gradient", ("n", 9, 9)),
    ),
    4: (
        _rule("some (1 to 7) hidden pre-activations negative", ("p", 1, 7)),
        _rule("output active on all rows", ("o", 4, 4)),
        _rule("every parameter receives gradient", ("n", 9, 9)),
    ),
    5: (
        _rule("at most 1 of the 8 hidden pre-activations positive", ("p", 0, 1)),
        _rule("output inactive on all rows", ("o", 0, 0)),
        _rule("no parameter receives gradient", ("n", 0, 0)),
    ),
    6: (
        _rule("every hidden pre-activation negative", ("p", 0, 0)),
        _rule("output active on all rows", ("o", 4, 4)),
        _rule("only output.bias receives gradient", ("n", 1, 1), ("ob", 1, 1)),
    ),
    7: (
        _rule("output active on 1 to 3 rows", ("o", 1, 3)),
        _rule("a hidden weight receives gradient", ("hw", 1, 4)),
    ),
    8: (
        _rule("output active on 1 to 3 rows", ("o", 1, 3)),
        _rule("no hidden weight receives gradient", ("hw", 0, 0)),
        _rule("a hidden bias receives gradient", ("hb", 1, 2)),
    ),
}


def rule_checks(f: Features, case: int) -> list[tuple[str, torch.Tensor]]:
    """Each rule of ``case`` in words, with whether it holds for each network of ``f``: the
    rules as data, for a checklist or a search (the target solver reads them here)."""
    return [(rule.text, rule.test(f)) for rule in CASE_RULES[case]]


def classify(f: Features) -> torch.Tensor:
    """Case number per network, 0 where none matches. The rules are disjoint."""
    case = torch.zeros_like(f.p)
    for k, rules in CASE_RULES.items():
        hit = torch.ones_like(f.p, dtype=torch.bool)
        for rule in rules:
            hit &= rule.test(f)
        case = torch.where(hit & (case == 0), torch.full_like(case, k), case)
    return case


GRADIENT_PATTERNS = 512  # which of the 9 parameters receive gradient: bits w00 w01 w10 w11 b0 b1 v0 v1 c


@functools.cache
def case_table() -> torch.Tensor:
    """``classify`` of every (p, o, gradient pattern) a 2-2-1 network can show, at index
    (p * 5 + o) * 512 + pattern (pattern: bit i set when parameter i of hidden weight w00 w01
    w10 w11, hidden bias b0 b1, output weight v0 v1, output bias c receives gradient). The
    survey looks cases up here: the rules stay those of CASE_RULES, evaluated once per
    pattern (23,040) instead of once per network."""
    p, o, g = torch.meshgrid(torch.arange(9), torch.arange(5), torch.arange(GRADIENT_PATTERNS), indexing="ij")
    p, o, g = p.flatten(), o.flatten(), g.flatten()
    ones = [sum(((g >> k) & 1 for k in bits), torch.zeros_like(g)) for bits in ((0, 1, 2, 3), (4, 5), (6, 7), (8,))]
    return classify(features_of_counts(p, o, *ones))


def cases_of_patterns(
    p: NDArray[np.int64], o: NDArray[np.int64], pattern: NDArray[np.int64]
) -> NDArray[np.int64]:
    """The case of each network (numpy arrays of its counts and gradient pattern: see
    ``case_table``), looked up in the table."""
    index: NDArray[np.int64] = (p * 5 + o) * GRADIENT_PATTERNS + pattern  # (numpy's stubs widen it to any int)
    return case_array()[index]


@functools.cache
def case_array() -> NDArray[np.int64]:
    """``case_table`` as a numpy array (the survey looks cases up in it)."""
    return case_table().numpy()


def counts_of(f: Features, index: int = 0) -> dict[str, int]:
    """One network's counts, keyed as COUNTS."""
    return {key: int(getattr(f, key)[index]) for key in COUNTS}


def match(counts: dict[str, int]) -> tuple[int | None, int | None, list[str]]:
    """(case, nearest, failed rules of the nearest): the case whose rules all hold, else the
    one with the smallest share of failed rules (the lowest number on a tie)."""
    scored = []
    for case, rules in CASE_RULES.items():
        failed = [r.text for r in rules if not r.holds(counts)]
        if not failed:
            return case, None, []
        scored.append((len(failed) / len(rules), case, failed))
    _, nearest, failed = min(scored)
    return None, nearest, failed


NOT_SOURCE_NET = "the eight cases are defined for a 2-2-1 network with ReLU in both layers"
HALTED = "training has halted, so there is no gradient to classify"


def _classify(d: Diagnosis, record: Record) -> None:
    if not is_source_net(record.config):
        d.difference = NOT_SOURCE_NET
        return
    if record.grads is None:
        d.difference = HALTED
        return
    f = features([t[None] for t in record.pre], record.grads)
    d.counts = counts_of(f)
    d.case, d.nearest, failed = match(d.counts)
    if d.case is None:
        d.difference = f"differs from case {d.nearest}, which needs: {'; '.join(failed)}"
    _source_notes(d, record, int(f.p[0]))


def _source_notes(d: Diagnosis, record: Record, p: int) -> None:
    if d.case == 5 and p == 1:
        for j, rows in enumerate(d.active[0]):
            for r, on in enumerate(rows):
                if on:
                    v = float(record.pre[0][r, j])
                    d.notes.append(
                        f"The source calls every hidden input negative, but hidden[{j}] "
                        f"on row {net.ROWS[r]} is {v:+.4f}."
                    )
    if d.case == 8:
        frozen_biases = sorted(n for n in d.frozen if n.startswith("hidden.bias"))
        if frozen_biases:
            verb = "receives" if len(frozen_biases) == 1 else "receive"
            d.notes.append(
                "The source says the hidden biases update; at epoch "
                f"{d.epoch} {', '.join(frozen_biases)} {verb} no gradient."
            )
    if d.case == 7 and d.frozen:
        d.notes.append(
            f"The source says all parameters update; at epoch {d.epoch} only "
            f"{len(d.flowing)} of 9 do: {', '.join(sorted(d.flowing))}."
        )


def _rows_text(rows: list[int]) -> str:
    return ", ".join(net.ROWS[r] for r in rows)


def _explain(d: Diagnosis, record: Record) -> list[str]:
    config = record.config
    lines = []
    if record.halt is not None:
        h = record.halt
        where = f" on row(s) {_rows_text(list(h.rows))}" if h.rows else ""  # a loss over all four: no row
        lines.append(f"Epoch {h.epoch}: training halted ({h.message!r}){where}: {h.reason}.")
    out_act = config.activations[-1]
    out_rows = d.active[-1][0]
    if out_act.flat_below_zero and not any(out_rows) and config.output_act_used:
        lines.append(
            "The output is inactive on all four rows, so its ReLU passes no gradient: no parameter can change."
        )
    elif out_act.flat_below_zero and not all(out_rows) and config.output_act_used:
        on = [r for r in range(4) if out_rows[r]]
        lines.append(f"The output is active only on row(s) {_rows_text(on)}; only those rows send gradient back.")
    for name in d.dead:
        layer = name.split("[")[0]
        if layer == "output":
            continue
        lines.append(
            f"{name} is dead: its pre-activation is negative on all four rows, so it "
            "outputs 0 and its incoming weights and bias are frozen."
        )
    if record.grads is not None and d.flowing and d.frozen:
        verb = "receives" if len(d.flowing) == 1 else "receive"
        lines.append(f"{len(d.flowing)} of {len(d.flowing) + len(d.frozen)} parameters {verb} gradient.")
    if d.case is not None:
        lines.append(f"This is the source's case {d.case}: {CASE_SOURCE[d.case]}.")
    elif d.nearest is not None:
        lines.append(f"No case matches; nearest is case {d.nearest} ({d.difference}).")
    lines.extend(d.notes)
    return lines


# ---------------------------------------------------------------- events


def case_label(d: Diagnosis) -> str:
    """``case 7``, ``no case (nearest 4)`` or ``case n/a``."""
    if d.case is not None:
        return f"case {d.case}"
    if d.nearest is not None:
        return f"no case (nearest {d.nearest})"
    return "case n/a"


@dataclass(frozen=True)
class Flip:
    """A rule that held at one epoch and not at the next (or the other way round)."""

    case: int
    rule: Rule
    held: bool  # before
    holds: bool  # after
    before: dict[str, int]  # the counts of its conditions, before and after
    after: dict[str, int]


def flipped(prev: Diagnosis, cur: Diagnosis) -> list[Flip]:
    """Why the case changed between two classified diagnoses: the rules of the case left (or the
    nearest one) that no longer hold, and those of the case entered that did not hold before."""
    if prev.counts is None or cur.counts is None:
        return []
    out: list[Flip] = []
    for case in dict.fromkeys(c for c in (prev.case or prev.nearest, cur.case or cur.nearest) if c is not None):
        for rule in CASE_RULES[case]:
            was, now = rule.holds(prev.counts), rule.holds(cur.counts)
            if was != now:
                keys = [c.count for c in rule.conditions]
                out.append(
                    Flip(case, rule, was, now, {k: prev.counts[k] for k in keys}, {k: cur.counts[k] for k in keys})
                )
    return out


def flipped_text(f: Flip, with_case: bool = True) -> str:
    """``case 7's 'output active on 1 to 3 rows' no longer holds (O 3 -> 4)``; without the case
    ``output active on 1 to 3 rows: no longer (O 3 -> 4)``."""
    changed = [k for k in f.before if f.before[k] != f.after[k]]
    moved = ", ".join(f"{COUNTS[k].symbol} {f.before[k]} -> {f.after[k]}" for k in changed)
    moved = f" ({moved})" if moved else ""
    if not with_case:
        return f"{f.rule.text}: {'now' if f.holds else 'no longer'}{moved}"
    return f"case {f.case}'s '{f.rule.text}' {'now holds' if f.holds else 'no longer holds'}{moved}"


@dataclass(frozen=True)
class Event:
    epoch: int
    kind: str  # action, dead, frozen, dies, revives, freezes, thaws, case, halts, nan
    subject: str
    text: str


def events(prev: Diagnosis | None, cur: Diagnosis, record: Record) -> list[Event]:
    """What changed from the previous epoch to this one (or what holds at the start)."""
    e = record.epoch
    out = [Event(e, "action", a.kind, a.describe()) for a in record.actions]
    if prev is None:
        for u in cur.dead:
            out.append(Event(e, "dead", u, f"{u} is dead at the start"))
        if record.grads is not None and cur.flowing != set() and cur.frozen:
            out.append(Event(e, "frozen", "", f"frozen at the start: {', '.join(sorted(cur.frozen))}"))
        elif record.grads is not None and not cur.flowing:
            out.append(Event(e, "frozen", "", "no parameter receives gradient"))
    else:
        for u in cur.dead:
            if u not in prev.dead:
                out.append(Event(e, "dies", u, f"{u} dies (inactive on all four rows)"))
        for u in prev.dead:
            if u not in cur.dead:
                out.append(Event(e, "revives", u, f"{u} revives"))
        if record.grads is not None and prev.flowing | prev.frozen:
            for name in sorted(cur.frozen & prev.flowing):
                out.append(Event(e, "freezes", name, f"{name} freezes (zero gradient)"))
            for name in sorted(cur.flowing & prev.frozen):
                out.append(Event(e, "thaws", name, f"{name} thaws (gradient again)"))
        if cur.classified and prev.classified and cur.case_text != prev.case_text:
            flips = flipped(prev, cur)
            main = prev.case or cur.case or prev.nearest  # the case left, else the one entered
            why = "; ".join(flipped_text(f, with_case=False) for f in flips if f.case == main)
            out.append(
                Event(
                    e,
                    "case",
                    str(cur.case or "none"),
                    f"{case_label(prev)} -> {case_label(cur)}" + (f": {why}" if why else ""),
                )
            )
    if record.halt is not None:
        has_nan = bool(torch.isnan(record.out[-1]).any()) or (record.loss is not None and math.isnan(record.loss))
        kind = "nan" if has_nan else "halts"
        out.append(Event(e, kind, "", f"halted: {record.halt.message} ({record.halt.reason})"))
    return out
