""" "What is happening": the case checklist (each rule of the case, or of the nearest one, with
the live counts and ✓/✗; n/a with its reason; which rule flipped where the case just changed),
the diagnosis in words, then every event, newest first.

A scrolling panel (mouse wheel, or focus it and use the arrows, page keys, home and end):
nothing is cut; lines wrap at the panel's width. Only the newest ``Frame.MAX_EVENTS``
events travel in a Frame; the panel says how many earlier ones there are.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from xor_tui.app.components import pixels as px
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


class EventPanel(VerticalScroll, can_focus=True):
    ALLOW_MAXIMIZE = True  # (scroll containers say no by default); the panel around it grows
    DEFAULT_CSS = """
    EventPanel { height: 1fr; scrollbar-size-vertical: 1; }
    EventPanel > Static { width: 1fr; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._key: tuple[object, ...] | None = None  # what the text was made from
        self._last: tuple[Frame, str] | None = None  # show's arguments, to show again in a new theme
        self.text = Text()

    @property
    def content(self) -> Text:
        """What the panel holds (all of it, not only what is in view)."""
        return self.text

    def compose(self) -> ComposeResult:
        yield Static(id="events-text")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._again())

    def _again(self) -> None:
        if self._last is not None:
            self.show(*self._last)

    def show(self, frame: Frame, message: str = "") -> None:
        self._last = (frame, message)
        c = frame.checklist
        key = (
            self.app.theme,
            message,
            frame.explanation,
            frame.events_total,
            frame.events[:1],
            frame.epoch if message else None,
            None if c is None else (c.label, c.reason, c.counts, c.checks, c.changes),
        )
        if key == self._key:
            return
        self._key = key
        pal = px.theme_colours(self)
        fg = pal["foreground"]
        dim = px.style(fg.blend(pal["background"], 0.4))
        t = Text()
        if message:
            t.append(message + "\n", px.style(pal["warning"], bold=True))
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
        self.text = t
        if self.is_mounted:  # a wrapped line goes on under its text, after its mark (✓, •, epoch)
            self.query_one(Static).update(Hanging(t.split("\n"), every=False))
