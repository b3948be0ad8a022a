"""Why, not only what: an explanation (``core.view``'s ``ParamExplanation``, ``UnitExplanation``,
``LossExplanation``, ``HaltExplanation``, ``CaseExplanation``) drawn with the theme's colours.

Every number and every sentence is the core's (``core.rules.explain``); this module only lays
them out and colours them: a factor that is 0 (and the row term it makes 0) in the theme's
error colour, bold, with its cause below it in the warning colour; ✓ in success, ✗ in error.
A row of the chain rule is one line where it fits the width, else one factor per line.

- ``WhyView``: a scrolling panel showing one explanation (or a one-line message), which the
  ``y`` screen fills;
- ``checklist(c, ink)``: the case checklist, compact, as the "what is happening" panel shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.style import Style
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from xor_tui.app.components import pixels as px
from xor_tui.core.view import (
    CaseExplanation,
    Explanation,
    HaltExplanation,
    LossExplanation,
    ParamExplanation,
    UnitExplanation,
    num,
    signed,
)


@dataclass(frozen=True)
class Ink:
    """The styles an explanation is drawn in, from the theme."""

    head: Style  # a title: bold accent
    strong: Style  # a result: bold text
    zero: Style  # a factor or term that is 0: bold error
    cause: Style  # why it is 0: warning
    ok: Style  # ✓, active: success
    bad: Style  # ✗, inactive, refused: error
    dim: Style  # context: text blended into the background
    plain: Style

    @classmethod
    def of(cls, widget: Widget) -> Ink:
        """The styles of ``widget``'s app's current theme."""
        pal = px.theme_colours(widget)
        fg, bg = pal["foreground"], pal["background"]
        return cls(
            head=px.style(pal["accent"], bold=True),
            strong=px.style(fg, bold=True),
            zero=px.style(pal["error"], bold=True),
            cause=px.style(pal["warning"]),
            ok=px.style(pal["success"], bold=True),
            bad=px.style(pal["error"], bold=True),
            dim=px.style(fg.blend(bg, 0.35)),
            plain=Style(),
        )


def _t(*parts: tuple[str, Style] | str | Text) -> Text:
    """A line of parts: plain strings, (string, style) pairs and Texts."""
    t = Text()
    for p in parts:
        if isinstance(p, (str, Text)):
            t.append(p)
        else:
            t.append(*p)
    return t


# ---------------------------------------------------------------- a parameter


def _param(e: ParamExplanation, ink: Ink, width: int) -> list[Text]:
    out = [_t((e.name, ink.head), (f" at epoch {e.epoch} ({e.setting})", ink.dim))]
    if e.halted:
        out.append(_t(f"value {num(e.value)}"))
        out.append(_t((e.halted, ink.cause)))
        out.append(_t(("h shows the halt; b steps back to the epoch before, where the gradient is", ink.dim)))
        return out
    grad = ink.zero if e.zero else ink.strong
    out.append(
        _t(
            f"value {num(e.value)}   ",
            ("gradient ", ink.strong),
            (num(e.gradient), grad),
            (f"   ({e.flowing} of {e.of} parameters receive gradient)", ink.dim),
        )
    )
    out.append(Text())
    out.append(_t(("the chain rule, row by row", ink.strong)))
    out.append(_t((f"  {e.formula}", ink.dim)))
    heads, ones = [], []
    for r in e.rows:
        head = _t(("row ", ink.strong), (r.row_text, ink.strong), f", t = {num(r.target)}, ŷ = {num(r.prediction)}")
        one = head.copy()
        one.append(": ")
        for i, f in enumerate(r.factors):
            if i:
                one.append(" × ")
            one.append(f.text, ink.zero if f.zero else ink.plain)
        one.append(" → ")
        one.append(num(r.term), ink.zero if r.zero else ink.strong)
        heads.append(head)
        ones.append(one)
    # the row whose term is the largest, where two or more rows give something: where the
    # gradient mostly comes from (case 7 at epoch 97: row (1,0)'s -1/(4ŷ) = -2637.1)
    nonzero = [r for r in e.rows if not r.zero]
    largest = max(nonzero, key=lambda r: abs(r.term) if r.term == r.term else 0.0) if len(nonzero) > 1 else None
    mark = Text("  ← the largest", style=ink.head)
    # every row on one line where all of them fit, else every row one factor per line: the rows
    # read alike, factor under factor
    compact = all(one.cell_len + (mark.cell_len if r is largest else 0) <= width for r, one in zip(e.rows, ones))
    compact = compact and not any(f.paths for r in e.rows for f in r.factors)
    for r, head, one in zip(e.rows, heads, ones):
        term_style = ink.zero if r.zero else (ink.head if r is largest else ink.strong)
        if compact:
            if r is largest:
                one.stylize(ink.head, len(one.plain) - len(num(r.term)))
                one.append_text(mark)
            out.append(one)
        else:
            out.append(head)
            for i, f in enumerate(r.factors):
                out.append(_t("      " if i == 0 else "    × ", (f.text, ink.zero if f.zero else ink.plain)))
                for p in f.paths:
                    via = Text(f"          via {p.via}: ", style=ink.dim)
                    for j, x in enumerate(p.factors):
                        if j:
                            via.append(" × ", ink.dim)
                        via.append(x.text, ink.zero if x.zero else ink.dim)
                    via.append(f" = {num(p.value)}", ink.dim)
                    out.append(via)
            out.append(_t("    = ", (num(r.term), term_style), mark if r is largest else ""))
        if r.zero and r.why:
            out.append(_t("      ", ("0 because ", ink.cause), (r.why, ink.cause)))
    terms = " + ".join(f"({num(r.term)})" if r.term < 0 else num(r.term) for r in e.rows)
    out.append(Text())
    out.append(
        _t(
            ("sum of the row terms", ink.strong),
            (" (in the engine's order, ((a + b) + c) + d)", ink.dim),
            f": {terms} = ",
            (num(e.total), grad),
        )
    )
    if e.zero and e.why:
        out.append(_t(("the gradient is 0: ", ink.zero), (e.why, ink.cause)))
    if e.update is not None:
        out.append(Text())
        lines = e.update.lines(e.name)
        for line in lines[:-1]:
            out.append(Text(line))
        last = lines[-1]
        moved = e.update.change != 0
        out.append(Text(last, style=ink.head if moved else ink.zero))
    return out


# ---------------------------------------------------------------- a unit


def _unit(e: UnitExplanation, ink: Ink, width: int) -> list[Text]:
    out = [_t((f"{e.short} ({e.name})", ink.head), (f" at epoch {e.epoch} ({e.setting})", ink.dim))]
    out.append(_t(f"{e.activation} unit; its pre-activation on each row: ", ("z = " + e.formula, ink.strong)))
    out.append(Text())
    for r in e.rows:
        mark = "active" if r.active else ("inactive (exactly 0)" if r.pre == 0 else "inactive")
        tag = _t((mark, ink.ok if r.active else ink.bad), f", outputs {num(r.out)}")
        sums = r.text(e.input_names)
        one = _t(("row ", ink.strong), (r.row_text, ink.strong), f": {sums}  ", tag)
        if one.cell_len <= width:
            out.append(one)
        else:
            out.append(_t(("row ", ink.strong), (r.row_text, ink.strong), ": ", tag))
            out.append(Text(f"    {sums}"))
    out.append(Text())
    state = ink.bad if e.state in ("dead", "inactive") else (ink.ok if e.state == "alive" else ink.cause)
    out.append(_t((e.state, state), f": {e.why}"))
    if e.frozen:
        out.append(_t(("no gradient this epoch: ", ink.zero), (", ".join(e.frozen), ink.cause)))
    if e.suggestion is not None:
        s = e.suggestion
        out.append(Text())
        out.append(_t(("the smallest single change that makes it active on a row:", ink.strong)))
        out.append(
            _t(
                "  ",
                (f"{s.param} from {num(s.value)} to {num(s.new_value)} ({signed(s.change)})", ink.head),
                f": on row {s.row_text} z goes {num(s.pre_before)} → {num(s.pre_after)}; then active on "
                f"{s.active_rows_after} of 4 rows (to try it: escape, select {s.param}, enter)",
            )
        )
    elif e.suggestion_note:
        out.append(Text(e.suggestion_note, style=ink.dim))
    return out


# ---------------------------------------------------------------- the loss


def _loss(e: LossExplanation, ink: Ink, width: int) -> list[Text]:
    out = [
        _t(("the loss", ink.head), (f" at epoch {e.epoch} ({e.setting})", ink.dim)),
        Text(f"{e.label}: the mean of the four row terms"),
        _t("each row: ", (e.formula, ink.strong)),
        Text(),
    ]
    for r in e.rows:
        style = ink.bad if r.term is None else (ink.cause if r.clamped else ink.plain)
        out.append(_t(("row ", ink.strong), (r.row_text, ink.strong), f", target {num(r.target)}: ", (r.text, style)))
    if any(r.clamped for r in e.rows):
        out.append(Text())
        out.append(
            Text(
                "BCELoss clamps each log at -100, so a row with ŷ exactly on the wrong side costs 100",
                style=ink.cause,
            )
        )
    out.append(Text())
    if e.mean is None:
        out.append(_t(("no loss: ", ink.bad), (e.refused or "", ink.bad)))
        return out
    terms = " + ".join(num(r.term) for r in e.rows)
    out.append(_t(("mean", ink.strong), (" (summed in the engine's order)", ink.dim), f": ({terms}) / 4 = ",
                  (num(e.mean), ink.head)))  # fmt: skip
    return out


# ---------------------------------------------------------------- a halt


def _halt(e: HaltExplanation, ink: Ink, width: int) -> list[Text]:
    out = [
        _t(
            ("why did it stop? ", ink.head),
            (f"training halted at epoch {e.epoch}", ink.bad),
            (f" ({e.setting})", ink.dim),
        ),
        _t("torch says: ", (e.message, ink.bad)),
    ]
    if "input" in e.message:  # torch's word for what BCELoss was given: the predictions
        gloss = "  (torch's 'input' is BCELoss's input: the network's outputs ŷ, not x1 and x2)"
        out.append(Text(gloss, style=ink.dim))
    out.append(Text(f"  {e.reason}"))
    if e.summary:
        out.append(Text())
        out.append(_t(("in short: ", ink.head), (e.summary, ink.strong)))
    if e.refused:
        out.append(Text())
        out.append(_t((f"outputs BCELoss refuses at epoch {e.epoch}", ink.strong)))
        for r in e.refused:
            out.append(_t(f"  row {r.row_text}, target {num(r.target)}: z = {num(r.z)}, ",
                          (f"ŷ = {num(r.value)}: {r.why}", ink.bad)))  # fmt: skip
    if e.nonfinite:
        out.append(_t(("numbers that are not finite: ", ink.bad), ", ".join(f"{w} = {v}" for w, v in e.nonfinite)))
    if e.actions:
        out.append(Text(f"changed at epoch {e.epoch}, before its forward pass: {'; '.join(e.actions)}"))
    if e.previous is None:
        out.append(Text(e.note, style=ink.dim))
        return out
    out.append(Text())
    out.append(_t((f"what carried it there: the SGD step of epoch {e.previous}", ink.strong), f" (lr {e.lr})"))
    out.append(Text(f"  at epoch {e.previous}, the loss's gradient per row:"))
    for g in e.row_gradients:
        big = g.row == e.driver
        out.append(
            _t(
                f"    row {g.row_text}, target {num(g.target)}, ŷ = {num(g.prediction)}: ",
                (g.text, ink.bad if big else ink.plain),
                ("   ← the largest" if big else "", ink.bad),
            )
        )
    out.append(Text("  each parameter's step, largest first (gradient: value → new value, change):"))
    for i, s in enumerate(e.steps):
        line = f"    {s.param}: {num(s.grad)}: {num(s.value)} → {num(s.new_value)} ({signed(s.change)})"
        out.append(Text(line, style=ink.strong if i == 0 else (ink.dim if s.change == 0 else ink.plain)))
    out.append(Text(f"  the output's pre-activation z per row, epoch {e.previous} → {e.epoch}:"))
    for row, a, b in zip(("(0,0)", "(0,1)", "(1,0)", "(1,1)"), e.z_before, e.z_after):
        out.append(Text(f"    {row}: {num(a)} → {num(b)}"))
    if e.note:
        out.append(Text(e.note, style=ink.dim))
    out.append(Text())
    out.append(
        Text(
            f"b steps back to epoch {e.previous}: there w shows a parameter's chain rule ([ ] picks one; the largest "
            f"step was {e.steps[0].param}'s), u a unit's z per row (the output's: how ŷ got where it was), l the "
            "loss row by row.",
            style=ink.dim,
        )
    )
    return out


# ---------------------------------------------------------------- the case


def _live(counts, ink: Ink, full: bool = True) -> Text:
    """Counts as ``O 2 of 4`` (a count the README names by a letter) or ``2 of 4``; ``full``:
    ``O = 2 of 4 (needs 1 to 3)``, a count without a letter named in words."""
    t = Text()
    for i, c in enumerate(counts):
        if i:
            t.append(", ")
        short = len(c.symbol) <= 2
        if full:
            t.append(f"{c.symbol} = {c.value} of {c.of}" if short else f"{c.value} of {c.of} {c.what}")
            if c.needs:
                t.append(f" (needs {c.needs})", ink.dim)
        else:
            t.append(f"{c.symbol} {c.value} of {c.of}" if short else f"{c.value} of {c.of}")
    return t


def checklist(c: CaseExplanation, ink: Ink, full: bool = False) -> list[Text]:
    """The case checklist: the case (or no case, nearest k), the live counts P, O, G, each rule
    of the case (or of the nearest case) with ✓/✗ and its counts; n/a with its reason; where the
    case changed in the epochs looked back over, which rules flipped. ``full``: each count with
    the range it needs, every count, and the case of each epoch looked back over (the ``y``
    screen's case view); else short, for the "what is happening" panel."""
    label = ink.ok if c.case is not None else (ink.cause if c.reason is None else ink.dim)
    if c.reason:
        return [_t((c.label, label), ": ", (c.reason, ink.dim))]
    main = [v for v in c.counts if v.key in ("p", "o", "n")]
    counts = ", ".join(f"{v.symbol} {v.value} of {v.of}" for v in main)
    failed = sum(not r.holds for r in c.checks)
    if c.case is not None:
        verdict = f"its {len(c.checks)} rules hold"
    else:
        verdict = f"{failed} of case {c.checked}'s {len(c.checks)} rules fail{'s' if failed == 1 else ''}"
    out = [_t((c.label, label), f": {verdict} ", (f"({counts})", ink.dim))]
    for r in c.checks:
        mark = (" ✓ " if r.holds else " ✗ ", ink.ok if r.holds else ink.bad)
        out.append(_t(mark, f"{r.text}: ", _live(r.counts, ink, full)))
    if full:
        out.append(Text())
        out.append(_t(("every count: ", ink.strong), _live(c.counts, ink)))
        if c.frozen:
            out.append(_t(("no gradient: ", ink.zero), (", ".join(c.frozen), ink.cause)))
        if c.history:
            first, last = c.history[0][0], c.history[-1][0]
            words = " ".join(
                lab[5:] if lab.startswith("case ") and lab != "case n/a" else ("none" if "nearest" in lab else "n/a")
                for _, lab in c.history
            )
            out.append(_t((f"epochs {first} to {last}: ", ink.strong), words))
    if c.flicker:
        out.append(
            Text(
                f" the case flickers: it changed {len(c.changes)} times in these epochs, near a rule's boundary",
                style=ink.cause,
            )
        )
    for ch in c.changes:
        flips = "; ".join(ch.flips) or "no rule flipped"
        out.append(_t((f" at epoch {ch.epoch}: {ch.before} → {ch.after}: ", ink.cause), flips))
    return out


def _case(e: CaseExplanation, ink: Ink, width: int) -> list[Text]:
    out = [_t(("the case", ink.head), (f" at epoch {e.epoch} ({e.setting})", ink.dim)), Text()]
    return out + checklist(e, ink, full=True)


# ---------------------------------------------------------------- drawing

DRAW: dict[type, Callable[[Any, Ink, int], list[Text]]] = {
    ParamExplanation: _param,
    UnitExplanation: _unit,
    LossExplanation: _loss,
    HaltExplanation: _halt,
    CaseExplanation: _case,
}


MARKS = ("✓ ", "✗ ", "• ")


def hanging(console: Console, lines: Iterable[Text], width: int, every: bool = True) -> Text:
    """``lines`` wrapped at ``width`` at spaces, each further line of a wrapped one indented two
    more than its first (a checklist's ``✓`` or a bullet's text stays in its column); ``every``
    False: only a line that begins with one of ``MARKS``, the others under their first line."""
    out = []
    for line in lines:
        if line.cell_len <= width:
            out.append(line)
            continue
        plain = line.plain
        indent = len(plain) - len(plain.lstrip(" "))
        more = 2 if every or plain[indent : indent + 2] in MARKS else 0  # after "✓ " or "• ": its text
        hang = min(indent + more, width // 3)
        pieces = line[indent:].wrap(console, max(width - hang, 8))
        for i, piece in enumerate(pieces):
            piece.rstrip()
            out.append(Text(" " * (indent if i == 0 else hang)) + piece)
    return Text("\n").join(out)


class Hanging:
    """A rich renderable: lines of text wrapped at the width they are drawn at with a hanging
    indent (see ``hanging``)."""

    def __init__(self, lines: Iterable[Text], every: bool = True) -> None:  # a list, or rich's Lines
        self.lines, self.every = lines, every

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield hanging(console, self.lines, options.max_width, self.every)


class Explained:
    """A rich renderable: one explanation laid out for the width it is drawn at (a chain-rule
    row on one line where it fits, else one factor per line), or a message; long lines wrap
    with a hanging indent."""

    def __init__(self, what: Explanation | str, ink: Ink) -> None:
        self.what, self.ink = what, ink

    def lines(self, width: int) -> list[Text]:
        """The lines at ``width`` columns (each may still wrap, at spaces, if longer)."""
        if isinstance(self.what, str):
            return [Text(self.what, style=self.ink.cause)]
        return DRAW[type(self.what)](self.what, self.ink, width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield hanging(console, self.lines(options.max_width), options.max_width)


class WhyView(VerticalScroll, can_focus=True):
    """A scrolling view of one explanation: the arrows, page keys, home and end and the wheel
    scroll it; long lines wrap at the width."""

    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    WhyView { height: 1fr; scrollbar-size-vertical: 1; padding: 0 1; }
    WhyView > Static { width: 1fr; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.what: Explanation | str = ""

    def compose(self):
        yield Static(id="why-text")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.show(self.what))

    @property
    def text(self) -> str:
        """What the view holds (all of it, not only what is in view), as plain text at its width."""
        width = max(self.scrollable_content_region.width, 20)
        return "\n".join(t.plain for t in Explained(self.what, Ink.of(self)).lines(width))

    def show(self, what: Explanation | str) -> None:
        """Show an explanation, or a one-line message."""
        self.what = what
        if self.is_mounted:
            self.query_one(Static).update(Explained(what, Ink.of(self)))
