""" "What is happening": the case checklist (each rule of the case, or of the nearest one, with
the live counts and ✓/✗; n/a with its reason; which rule flipped where the case just changed),
the diagnosis in words, then every event, newest first.

A scrolling panel (mouse wheel, or focus it and use the arrows, page keys, home and end):
nothing is cut; lines wrap at the panel's width. Only the newest ``Frame.MAX_EVENTS``
events travel in a Frame; the panel says how many earlier ones there are.
"""

from __future__ import annotations

from xor_tui.app.components import pixels as px
from xor_tui.app.components.panel import TextPanel
from xor_tui.app.components.why import Hanging, Ink, checklist
from xor_tui.core.view import Frame

KIND_VAR = {
    "halts": "error",
    "nan": "error",
    "dies": "error",
    "dead": "error",
    "revives": "success",
    "thaws": "success",
    "freezes": "warning",
    "frozen": "warning",
    "case": "accent",
    "action": "secondary",
    "undo": "secondary",
}


class EventPanel(TextPanel):
    """What is happening: the checklist, the diagnosis and the events; see the module's docstring."""

    def show(self, frame: Frame, message: str = "") -> None:
        c = frame.checklist
        key = (
            message,
            frame.explanation,
            frame.events_total,
            frame.events[:1],
            frame.epoch if message else None,
            None if c is None else (c.label, c.reason, c.counts, c.checks, c.changes),
        )
        if not self._changed((frame, message), key):
            return
        pal = px.theme_colours(self)
        fg = pal["foreground"]
        dim = px.style(fg.blend(pal["background"], 0.4))
        t = self._begin(message)
        if c is not None:
            for line in checklist(c, Ink.of(self)):
                t.append_text(line)
                t.append("\n")
        for point in frame.explanation:
            t.append("• ", "bold")
            t.append(point + "\n")
        if frame.events:
            t.append("events, newest first\n", "bold underline")
        for e in frame.events:
            t.append(f"epoch {e.epoch:>4}: ", dim)
            t.append(e.text + "\n", px.style(pal[KIND_VAR.get(e.kind, "foreground")]))
        earlier = frame.events_total - len(frame.events)
        if earlier > 0:
            t.append(f"… and {earlier} earlier event(s), not kept in this view\n", dim)
        t.rstrip()
        # a wrapped line goes on under its text, after its mark (✓, •, epoch)
        self._update(t, Hanging(t.split("\n"), every=False))
