"""Target mode's panel: the rules of the case asked for, each ✓ or ✗ on the state shown, and
for each failing rule the single parameters that make it hold and which way (the core's
``rule_report`` levers); above them, the fewest edits that make it the case (the core's
solver), which one key applies.

A scrolling panel, like "what is happening" (whose place it takes while target mode is on):
nothing is cut, lines wrap at the panel's width.
"""

from __future__ import annotations

from xor_tui.app.components import pixels as px
from xor_tui.app.components.panel import TextPanel
from xor_tui.core.view import Lever, RuleStatus, TargetResult

ARROWS = {"raise": "↑", "lower": "↓"}


def _num(v: float) -> str:
    """A value as the panel writes it: signed, four decimals at most, trailing zeros dropped, and
    exactly 0 as 0 (it read '+0')."""
    if v == 0:
        return "0"
    text = f"{v:+.4f}".rstrip("0").rstrip(".")
    return text if float(text) != 0 else f"{v:+.1e}"


def lever_text(lever: Lever) -> str:
    """``↑ output.bias[0] above +0.0015 (to +0.0515) → case 7``: the direction, the
    threshold beyond which the rule holds, a value that keeps the margin, and the case the
    start is then in (when one)."""
    side = "above" if lever.direction == "raise" else "below"
    said = f"{ARROWS[lever.direction]} {lever.param} {side} {_num(lever.threshold)} (to {_num(lever.suggested)})"
    if lever.case is not None:
        said += f" → case {lever.case}"
    return said


def _found(result: TargetResult) -> str:
    """``T applies 2 edits (no fewer can)``: the head of a found plan, in the line and the panel."""
    n = len(result.edits)
    fewer = "no fewer can" if result.proved else "fewer were not all ruled out"
    return f"T applies {n} edit{'s' if n != 1 else ''} ({fewer})"


def plan_text(result: TargetResult) -> str:
    """What the solver found, in one line (the edits it would apply, or why none)."""
    if result.status == "found":
        return _found(result) + ": " + "; ".join(
            f"{e.param} {e.before:+.4f} → {e.after:+.4g}" for e in result.edits
        )
    if result.status == "already":
        return f"Nothing to apply: {result.message}."
    if result.status == "exceeds":
        return f"Not within {result.max_edits} edits: {result.message}."
    if result.status == "unsupported":
        return f"Target mode does not apply here: {result.message}."
    return f"No answer: {result.message}."


class TargetPanel(TextPanel):
    """The target case's rules, live; see the module's docstring."""

    KEYS = (
        "[b]T[/] applies · [b]shift/alt+↑↓[/] nudge · [b]b[/] undoes · [b]t[/]/[b]esc[/] leave",
        "[b]T[/] apply · [b]⇧↑↓[/] nudge · [b]t[/] leave",
    )

    def show(
        self,
        case: int,
        rules: list[RuleStatus] | None,
        result: TargetResult | None,
        message: str = "",
        unsupported: str | None = None,
        selected: str = "",
    ) -> None:
        """Show the rules of ``case`` (None: still being worked out), the solver's ``result``
        (None: still searching), ``message`` first, ``unsupported`` (why the cases do not
        apply) instead of the rules, and the levers of the
        ``selected`` parameter marked. The rules that fail come first."""
        args = (case, rules, result, message, unsupported, selected)
        if not self._changed(args, args):
            return
        pal = px.theme_colours(self)
        fg, bg = pal["foreground"], pal["background"]
        dim = px.style(fg.blend(bg, 0.4))
        ok, bad = px.style(pal["success"], bold=True), px.style(pal["error"], bold=True)
        t = self._begin(message)
        if unsupported:
            t.append(f"Case {case} cannot be targeted here: {unsupported}.\n")
            t.append("The eight cases are the source's: a 2-2-1 network, ReLU in both layers, BCELoss.", dim)
            self._update(t)
            return
        if result is None:
            t.append("Searching for the fewest edits…\n", dim)
        elif result.status == "found":
            t.append(_found(result) + ":\n", px.style(fg, bold=True))
            for e in result.edits:
                t.append(f"  {e.param:<20} {_num(e.before)} → {_num(e.after)}\n")
        else:
            t.append(plan_text(result) + "\n")
        if rules is None:
            t.append("Reading the rules…\n", dim)
        else:
            # the case's own rules counted as the checklist counts them; BCELoss's range (kind
            # "bce", no rule of the case: an output above 1 halts at once) is said apart
            own = [r for r in rules if r.kind != "bce"]
            held = sum(r.holds for r in own)
            bce = next((r for r in rules if r.kind == "bce"), None)
            extra = "" if bce is None else f", and BCELoss's range {'holds' if bce.holds else 'does not'}"
            t.append(f"Rules of case {case}: {held} of {len(own)} hold{extra}\n", "bold underline")
            for r in sorted(rules, key=lambda r: r.holds):  # the failing ones first, with their levers
                t.append("✓ " if r.holds else "✗ ", ok if r.holds else bad)
                t.append(r.text + "\n", px.style(fg) if not r.holds else dim)
                if r.holds:
                    continue
                if not r.levers:
                    t.append("    no single parameter makes it hold: several must move\n", dim)
                for lv in r.levers:
                    mine = lv.param == selected
                    t.append("    " + lever_text(lv) + "\n", px.style(pal["accent"] if mine else fg, bold=mine))
        t.rstrip()
        self._update(t)
