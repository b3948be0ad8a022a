"""The explanation of the current state and the events so far, newest first."""

from __future__ import annotations

from rich.text import Text

from ...core.view import Frame
from .lines import LinesWidget

KIND_STYLE = {
    "halts": "bold red",
    "nan": "bold red",
    "dies": "red",
    "revives": "green",
    "freezes": "yellow",
    "thaws": "green",
    "case": "cyan",
    "action": "magenta",
    "dead": "red",
    "frozen": "yellow",
}


class EventPanel(LinesWidget):
    """The explanation, then the events newest first, cropped to the panel."""

    DEFAULT_CSS = "EventPanel { height: 1fr; }"

    def show(self, frame: Frame, message: str = "") -> None:
        t = Text()
        if message:
            t.append(message + "\n", "bold yellow")
        for line in frame.explanation:
            t.append("• " + line + "\n")
        if frame.events:
            t.append("events (newest first)\n", "bold underline")
        for e in frame.events[:60]:
            t.append(f"epoch {e.epoch:>4}: ", "dim")
            t.append(e.text + "\n", KIND_STYLE.get(e.kind, ""))
        self.set_content(t)
