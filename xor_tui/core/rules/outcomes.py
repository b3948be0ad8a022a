"""How a surveyed run ends: the four outcomes and what each means (no torch: the command
line's help shows them without importing it)."""

from __future__ import annotations

OUTCOMES = ("solved", "halted", "stuck", "learning")
OUTCOME_MEANING = {  # how a run ends, as survey._judge_end decides it
    "solved": "all four rows on the right side of 0.5",
    "halted": "BCELoss refused an output outside [0, 1], or the loss was not finite",
    "stuck": "no parameter has any gradient: nothing will change again",
    "learning": "some parameter still changes (not necessarily towards a solution)",
}


def outcome_legend(sep: str = "; ") -> str:
    return sep.join(f"{name}: {what}" for name, what in OUTCOME_MEANING.items())
