"""The rows table (per XOR row) and the parameters table (value, gradient, change)."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from ...core.view import Frame, Param
from . import style as S
from .lines import LinesWidget


class RowsTable(LinesWidget):
    """A header and the four XOR rows, as fixed-width text."""

    DEFAULT_CSS = "RowsTable { height: 5; }"

    def show(self, frame: Frame) -> None:
        self.frame = frame
        self.set_content(None)

    def build(self) -> Text:
        frame = getattr(self, "frame", None)
        if frame is None:
            return Text()
        hidden = [(li, j) for li, layer in enumerate(frame.rows[0].hidden_pre) for j in range(len(layer))]
        # the hidden activations are shown when there is room for them
        compact = 27 + 17 * len(hidden) + 2 > self.size.width
        t = Text(no_wrap=True, overflow="crop")
        head = " x1 x2  t"
        for li, j in hidden:
            head += f" {'z' + ('' if li == 0 else str(li + 1)) + 'h' + str(j):>8}"
            if not compact:
                head += f" {'h' + str(j):>7}"
        head += f" {'z_out':>8} {'ŷ':>8}"
        t.append(head + "\n", "bold")
        for r, row in enumerate(frame.rows):
            x1, x2, target = int(row.x1), int(row.x2), int(row.target)
            t.append(f"  {x1}  {x2}  {target}")
            for li, j in hidden:
                z = row.hidden_pre[li][j]
                t.append(" " + S.fmt(z, 8, 3), S.sign_style(z))
                if not compact:
                    a = row.hidden_out[li][j]
                    t.append(" " + S.fmt(a, 7, 3), "white" if a != 0 else "grey50")
            zo = row.output_pre
            t.append(" " + S.fmt(zo, 8, 3), S.sign_style(zo))
            p = row.prediction
            t.append(" " + S.fmt(p, 8, 3), "bold red reverse" if row.offending else "white")
            right = row.correct
            t.append(" ✓" if right else " ✗", "green" if right else "red")
            if r < 3:
                t.append("\n")
        return t


class ParamsTable(LinesWidget, can_focus=True):
    """One line per parameter; the cursor line is the selected parameter (enter edits it)."""

    DEFAULT_CSS = """
    ParamsTable { height: 1fr; }
    ParamsTable:focus { background: $boost; }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("home", "move(-99)", "First", show=False),
        Binding("end", "move(99)", "Last", show=False),
        Binding("enter", "choose", "Edit", show=False),
    ]

    class Highlighted(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    class Chosen(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.rows: tuple[Param, ...] = ()
        self.cursor = 0

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rows]

    def show(self, rows: tuple[Param, ...], selected: str | None) -> None:
        self.rows = rows
        if selected in self.names:
            self.cursor = self.names.index(selected)
        self.cursor = min(self.cursor, max(len(rows) - 1, 0))
        self.set_content(None)

    def build(self) -> Text:
        t = Text(no_wrap=True, overflow="crop")
        width = max((len(r.name) for r in self.rows), default=10)
        room_cols = self.size.width - width
        show_grad, show_change = room_cols >= 21, room_cols >= 39
        head = f"{'parameter':<{width}} {'value':>9}"
        head += f" {'gradient':>11}" if show_grad else ""
        head += f" {'change':>10}" if show_change else ""
        t.append(head + "\n", "bold")
        # keep the cursor line in view when the panel is short
        room = max(self.size.height - 1, 1)
        first = min(max(self.cursor - room + 1, 0), max(len(self.rows) - room, 0))
        for i, r in enumerate(self.rows[first : first + room], start=first):
            line = Text()
            line.append(f"{r.name:<{width}} ", S.FROZEN if r.frozen else "")
            line.append(S.fmt(r.value, 9, 4), S.W_POS if r.value >= 0 else S.W_NEG)
            if show_grad:
                line.append(" " + S.fmt(r.grad, 11, 6), S.FROZEN if r.frozen else "bold white")
            if show_change:
                line.append(
                    " " + (S.fmt(r.change, 10, 5) if r.change else "0".rjust(10)), "white" if r.change else "grey50"
                )
            line.append(" frozen" if r.frozen else "", S.FROZEN)
            if i == self.cursor:
                line.stylize("reverse")
            t.append_text(line)
            t.append("\n")
        return t

    def action_move(self, d: int) -> None:
        if not self.rows:
            return
        self.cursor = min(max(self.cursor + d, 0), len(self.rows) - 1)
        self.set_content(None)
        self.post_message(self.Highlighted(self.rows[self.cursor].name))

    def action_choose(self) -> None:
        if self.rows:
            self.post_message(self.Chosen(self.rows[self.cursor].name))

    def on_click(self, event) -> None:
        room = max(self.size.height - 1, 1)
        first = min(max(self.cursor - room + 1, 0), max(len(self.rows) - room, 0))
        i = first + event.y - 1
        if event.y >= 1 and 0 <= i < len(self.rows):
            self.cursor = i
            self.set_content(None)
            self.post_message(self.Highlighted(self.rows[i].name))
            if event.chain >= 2:
                self.post_message(self.Chosen(self.rows[i].name))
